import Foundation

/// Everything a report shows, computed once from an experiment's counted rounds (warm-up
/// rounds excluded), so the terminal, CSV, SVG and HTML outputs cannot disagree.
public struct Summary: Sendable {
    /// One arm on one workload: its description, without reference to other arms.
    public struct Row: Sendable {
        public let arm: Arm
        /// Figures of the counted rounds that gave one, in round order (a censored figure
        /// as its bound).
        public let figures: [Double]
        /// Counted rounds whose figure lay beyond the instrument's range (among `figures`).
        public let censoredRounds: Int
        /// Counted rounds without a figure (the workload failed or its output did not parse).
        public let failedRounds: Int
        public let median: MedianInterval?
        /// All counted rounds pooled.
        public let runQueueLatency: Log2Histogram?
        /// Median over counted rounds of each counter.
        public let counterMedians: [String: Double]
        /// The scheduler's own cost; nil for an arm without a sched_ext scheduler (eevdf),
        /// which has nothing to measure.
        public let cost: CostSummary?
    }

    public struct WorkloadSummary: Sendable {
        public let workload: WorkloadSpec
        /// From the rounds' figures; nil when no round gave one.
        public let figureName: String?
        public let unit: String?
        public let higherIsBetter: Bool
        /// In the settings' arm order.
        public let rows: [Row]
        /// The paired comparisons of the figure (and of any other per-round number), in
        /// `ComparisonRule.pairs` order for each.
        public let comparisons: [PairedComparison]

        /// The numbers compared, in order of first appearance: the figure's name first.
        public var comparedMetrics: [String] {
            var seen: [String] = []
            for c in comparisons where !seen.contains(c.metric) { seen.append(c.metric) }
            return seen
        }
    }

    public let settings: ExperimentSettings
    public let confidence: Double
    /// The main baseline every arm is compared against.
    public let baseline: Arm?
    /// The equivalence margin, e.g. 0.05.
    public let margin: Double
    public let workloads: [WorkloadSummary]
    /// Inconsistencies found in the data (e.g. a figure's unit changing between rounds).
    public let warnings: [String]

    /// Every comparison of every workload.
    public var comparisons: [PairedComparison] { workloads.flatMap(\.comparisons) }

    public init(_ experiment: Experiment, confidence: Double = 0.95) {
        settings = experiment.settings
        self.confidence = confidence
        let counted = experiment.countedRecords
        let baseline = experiment.settings.mainBaseline
        self.baseline = baseline
        let margin = experiment.settings.margin
        self.margin = margin
        var warnings: [String] = []
        if let chosen = experiment.settings.baseline, !experiment.settings.arms.contains(chosen) {
            warnings.append("the baseline \(chosen) is not one of the arms; arms are compared with each other only")
        }
        let pairs = baseline.map { ComparisonRule.pairs(arms: experiment.settings.arms, baseline: $0) } ?? []

        var workloads: [WorkloadSummary] = []
        for spec in experiment.settings.workloads {
            let records = counted.filter { $0.workload == spec.name }
            let figures = records.compactMap(\.figure)
            let first = figures.first
            if let first, figures.contains(where: { $0.unit != first.unit || $0.higherIsBetter != first.higherIsBetter }) {
                warnings.append("\(spec.name): the figure's unit or direction differs between rounds; compared as \(first.unit)")
            }
            let higherIsBetter = first?.higherIsBetter ?? false
            let rows = experiment.settings.arms.map { arm -> Row in
                let armRecords = records.filter { $0.arm == arm }
                let armFigures = armRecords.compactMap(\.figure)
                let latency = armRecords.compactMap(\.runQueueLatency).reduce(nil as Log2Histogram?) { pooled, next in
                    pooled.map { $0.merged(with: next) } ?? next
                }
                var counterMedians: [String: Double] = [:]
                for name in Set(armRecords.flatMap(\.counters.keys)) {
                    counterMedians[name] = OrderStatistics.median(armRecords.compactMap { $0.counters[name].map { Double($0) } })
                }
                return Row(
                    arm: arm, figures: armFigures.map(\.value), censoredRounds: armFigures.count(where: { $0.bound != nil }),
                    failedRounds: armRecords.count - armFigures.count,
                    median: OrderStatistics.medianInterval(bounds: armFigures.map(\.measured), confidence: confidence),
                    runQueueLatency: latency, counterMedians: counterMedians,
                    cost: arm.placement == .kernel ? nil : CostSummary(armRecords.compactMap(\.cost)))
            }
            var comparisons = first.map { figure in
                Self.compare(pairs, records: records, workload: spec.name, metric: figure.name,
                             higherIsBetter: figure.higherIsBetter, confidence: confidence, margin: margin) { $0.figure?.measured }
            } ?? []
            // The schedulers' own CPU cost, between arms that have a scheduler to measure
            // (peers count no decisions).
            if records.contains(where: { $0.cost?.totalMsPerThousandDecisions != nil }) {
                let schedulers = pairs.filter {
                    $0.arm.placement != .kernel && $0.reference.placement != .kernel && !$0.arm.isPeer && !$0.reference.isPeer
                }
                comparisons += Self.compare(
                    schedulers, records: records, workload: spec.name, metric: CostSummary.comparedMetric,
                    higherIsBetter: false, confidence: confidence, margin: margin
                ) { $0.cost?.totalMsPerThousandDecisions.map(Measured.exact) }
            }
            workloads.append(WorkloadSummary(workload: spec, figureName: first?.name, unit: first?.unit,
                                             higherIsBetter: higherIsBetter, rows: rows, comparisons: comparisons))
        }
        let known = Set(experiment.settings.workloads.map(\.name))
        for stray in Set(counted.map(\.workload)).subtracting(known).sorted() {
            warnings.append("rounds of workload '\(stray)' that the settings do not list were left out")
        }
        self.workloads = workloads
        self.warnings = warnings
    }

    /// The paired comparisons of one per-round number (`value`: the workload's figure, or
    /// any other number a round records), cycle by cycle over the counted rounds.
    static func compare(
        _ pairs: [(arm: Arm, reference: Arm)], records: [RoundRecord], workload: String, metric: String,
        higherIsBetter: Bool, confidence: Double, margin: Double, value: (RoundRecord) -> Measured?
    ) -> [PairedComparison] {
        var byCycle: [Arm: [Int: Measured]] = [:]
        for r in records {
            if let v = value(r) { byCycle[r.arm, default: [:]][r.round] = v }
        }
        let cycles = Set(records.map(\.round)).sorted()
        return pairs.map { pair in
            PairedComparison(
                workload: workload, metric: metric, arm: pair.arm, reference: pair.reference, higherIsBetter: higherIsBetter,
                figures: cycles.map { ($0, byCycle[pair.arm]?[$0], byCycle[pair.reference]?[$0]) },
                confidence: confidence, margin: margin)
        }
    }

    /// The numbers of rounds behind the medians (usually one value: the settings' rounds).
    public var roundCounts: [Int] {
        Array(Set(workloads.flatMap { $0.rows.compactMap { $0.median?.n } })).sorted()
    }

    /// How the intervals and verdicts were computed and what they mean, for every report.
    /// Written for the person reading the tables, with the coverage of the rounds actually
    /// counted.
    public var methodNote: String {
        let percent = formatPercent(confidence)
        var text = "Per arm: the median over the counted rounds (warm-up rounds excluded) with its \(percent) "
            + "distribution-free interval: of the n rounds sorted, [x(l), x(n+1-l)] with the largest l whose exact "
            + "coverage 1 - 2 P(Binomial(n, 1/2) < l) reaches \(percent)."
        for n in roundCounts {
            let ranks = OrderStatistics.intervalRanks(n: n, confidence: confidence)
            if n == 1 {
                text += " With 1 round there is no interval."
            } else if ranks.coverage >= confidence - 1e-12 {
                text += " With n = \(n) it is [x(\(ranks.lower)), x(\(ranks.upper))], covering the true median "
                    + "with probability \(formatPercent(ranks.coverage))."
            } else {
                text += " With n = \(n) no interval reaches \(percent): the one shown (marked *) is [min, max], which covers "
                    + "the true median with probability only \(formatPercent(ranks.coverage))."
            }
        }
        let needed = PairedComparison.cyclesNeeded(confidence: confidence)
        let within = "+-" + formatPercent(margin)
        let hybrid = settings.arms.contains { $0.placement == .hybrid }
        text += " Comparisons (arm / reference): every arm against the baseline"
            + (baseline.map { " (\($0))" } ?? "") + (hybrid ? ", " : ", and ") + "every arm whose policy runs in user space against every "
            + "arm whose policy runs wholly in BPF (with the same policy, the cost of the trip through user space)"
            + (hybrid ? ", and every hybrid arm against the user arm of the same policy and settings (what the bypass changes)" : "")
            + ". The rounds ran in cycles, every arm once and back to back, so the "
            + "arms are compared cycle by cycle. Per cycle, the ratio of the arm's figure to the reference's; the "
            + "estimate is the median of these paired ratios (for an even count, the geometric mean of the middle "
            + "two), its interval the exact sign-test interval for that median: the same order statistics, of the "
            + "cycles' ratios. It assumes only independent cycles, no distribution and no symmetry. The sign test "
            + "rather than Wilcoxon's signed-rank test because it needs only the side of 1 each ratio lies on: a "
            + "figure beyond its instrument's range (shown as >=) still counts wherever its side is known, and with "
            + "\(needed) cycles the two tests' exact intervals are the same [min, max], covering "
            + "\(formatPercent(OrderStatistics.coverage(lowerRank: 1, n: needed))). A cycle in which either arm "
            + "gave no figure is left out of that comparison (the cycles column counts those used); a ratio of "
            + "exactly 1 is a tie, which keeps 1 inside the interval. Verdict: better or worse when the interval "
            + "reaches \(percent) and lies wholly on one side of 1; same within \(within) when it lies inside "
            + "[\(formatRatio(1 / (1 + margin))), \(formatRatio(1 + margin))] (--margin, the same distance either "
            + "way on a log scale); undecided otherwise. Fewer than "
            + "\(needed) cycles decide nothing."
        return text
    }

    /// The run-queue latency note: what the percentiles of a log2 histogram are.
    public static let latencyNote = "Run-queue latency: time from wake-up to running, from swiftland's tracer (the same "
        + "for every arm), all counted rounds pooled. Percentiles are the upper edges of the log2 bucket holding them "
        + "(true bounds: that share of waits was shorter); max is exact when the tracer kept it, else also a bucket edge."

    /// The percentiles every latency table shows.
    public static let latencyPercentiles: [Double] = [0.5, 0.9, 0.99]
}
