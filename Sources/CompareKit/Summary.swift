import Foundation

/// Everything a report shows, computed once from an experiment's counted rounds (warm-up
/// rounds excluded), so the terminal, CSV, SVG and HTML outputs cannot disagree.
public struct Summary: Sendable {
    /// One arm on one workload.
    public struct Row: Sendable {
        public let arm: Arm
        /// Figures of the counted rounds that gave one, in round order.
        public let figures: [Double]
        /// Counted rounds without a figure (the workload failed or its output did not parse).
        public let failedRounds: Int
        public let median: MedianInterval?
        /// Against the baseline arm; nil for the baseline itself or without one.
        public let ratio: RatioInterval?
        /// All counted rounds pooled.
        public let runQueueLatency: Log2Histogram?
        /// Median over counted rounds of each counter.
        public let counterMedians: [String: Double]
    }

    public struct WorkloadSummary: Sendable {
        public let workload: WorkloadSpec
        /// From the rounds' figures; nil when no round gave one.
        public let figureName: String?
        public let unit: String?
        public let higherIsBetter: Bool
        /// In the settings' arm order.
        public let rows: [Row]
    }

    public let settings: ExperimentSettings
    public let confidence: Double
    /// The arm ratios are taken against: eevdf when it ran.
    public let baseline: Arm?
    public let workloads: [WorkloadSummary]
    /// Inconsistencies found in the data (e.g. a figure's unit changing between rounds).
    public let warnings: [String]

    public init(_ experiment: Experiment, confidence: Double = 0.95) {
        settings = experiment.settings
        self.confidence = confidence
        let counted = experiment.countedRecords
        let baseline = experiment.settings.arms.first(where: \.isBaseline)
        self.baseline = baseline
        var warnings: [String] = []

        var workloads: [WorkloadSummary] = []
        for spec in experiment.settings.workloads {
            let records = counted.filter { $0.workload == spec.name }
            let figures = records.compactMap(\.figure)
            let first = figures.first
            if let first, figures.contains(where: { $0.unit != first.unit || $0.higherIsBetter != first.higherIsBetter }) {
                warnings.append("\(spec.name): the figure's unit or direction differs between rounds; compared as \(first.unit)")
            }
            let higherIsBetter = first?.higherIsBetter ?? false
            func values(_ arm: Arm) -> [Double] {
                records.filter { $0.arm == arm }.compactMap { $0.figure?.value }
            }
            let baseValues = baseline.map(values) ?? []
            let rows = experiment.settings.arms.map { arm -> Row in
                let armRecords = records.filter { $0.arm == arm }
                let armValues = values(arm)
                let latency = armRecords.compactMap(\.runQueueLatency).reduce(nil as Log2Histogram?) { pooled, next in
                    pooled.map { $0.merged(with: next) } ?? next
                }
                var counterMedians: [String: Double] = [:]
                for name in Set(armRecords.flatMap(\.counters.keys)) {
                    counterMedians[name] = OrderStatistics.median(armRecords.compactMap { $0.counters[name].map { Double($0) } })
                }
                return Row(
                    arm: arm, figures: armValues, failedRounds: armRecords.count - armValues.count,
                    median: OrderStatistics.medianInterval(armValues, confidence: confidence),
                    ratio: arm.isBaseline ? nil : RatioInterval.ofMedians(armValues, over: baseValues, confidence: confidence),
                    runQueueLatency: latency, counterMedians: counterMedians)
            }
            workloads.append(WorkloadSummary(workload: spec, figureName: first?.name, unit: first?.unit,
                                             higherIsBetter: higherIsBetter, rows: rows))
        }
        let known = Set(experiment.settings.workloads.map(\.name))
        for stray in Set(counted.map(\.workload)).subtracting(known).sorted() {
            warnings.append("rounds of workload '\(stray)' that the settings do not list were left out")
        }
        self.workloads = workloads
        self.warnings = warnings
    }

    /// The numbers of rounds behind the medians (usually one value: the settings' rounds).
    public var roundCounts: [Int] {
        Array(Set(workloads.flatMap { $0.rows.compactMap { $0.median?.n } })).sorted()
    }

    /// How the intervals were computed and what they mean, for every report. Written for
    /// the person reading the table, with the coverage of the rounds actually counted.
    public var methodNote: String {
        let percent = formatPercent(confidence)
        var text = "Median over the counted rounds (warm-up rounds excluded). \(percent) CI: the distribution-free "
            + "order-statistic (binomial) interval for the median: of the n rounds sorted, [x(l), x(n+1-l)] with the "
            + "largest l whose exact coverage 1 - 2 P(Binomial(n, 1/2) < l) reaches \(percent). It assumes only "
            + "independent rounds, no distribution."
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
        if let baseline {
            let each = 1 - (1 - confidence) / 2
            text += " Ratio: median / \(baseline)'s median. Its interval divides the two arms' \(formatPercent(each)) "
                + "intervals ([lower / baseline upper, upper / baseline lower]); by Bonferroni it covers the ratio of the "
                + "true medians with at least the probability shown (conservative: wide). 'better' or 'worse' only where "
                + "the whole interval lies on one side of 1 and reaches \(percent)."
        }
        return text
    }

    /// The run-queue latency note: what the percentiles of a log2 histogram are.
    public static let latencyNote = "Run-queue latency: time from wake-up to running, from swiftland's tracer (the same "
        + "for every arm), all counted rounds pooled. Percentiles are the upper edges of the log2 bucket holding them "
        + "(true bounds: that share of waits was shorter); max is exact when the tracer kept it, else also a bucket edge."

    /// The percentiles every latency table shows.
    public static let latencyPercentiles: [Double] = [0.5, 0.9, 0.99]
}
