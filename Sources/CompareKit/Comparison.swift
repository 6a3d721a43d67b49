import Foundation

/// What one comparison concludes about an arm against its reference arm.
public enum Verdict: String, Codable, Sendable, Equatable, CaseIterable {
    /// The interval for the ratio lies wholly on the better side of 1.
    case better
    /// The interval lies wholly on the worse side of 1.
    case worse
    /// The interval contains 1 and lies inside the equivalence margin.
    case same
    /// Neither: too few cycles, or an interval too wide for any of the above.
    case undecided
}

/// One cycle of a paired comparison: the arm's figure over the reference's, both from the
/// same cycle of interleaved rounds.
public struct PairedCycle: Codable, Sendable, Equatable {
    /// The cycle's round index (`RoundRecord.round`).
    public var round: Int
    /// Bounds where a figure is censored; exact otherwise.
    public var ratio: Measured

    public init(round: Int, ratio: Measured) {
        self.round = round
        self.ratio = ratio
    }

    /// +1 when the arm's figure is known to be higher than the reference's, -1 lower,
    /// 0 equal, nil when censoring hides the direction.
    public var direction: Int? {
        if ratio.lower > 1 { return 1 }
        if ratio.upper < 1 { return -1 }
        if ratio.lower == 1 && ratio.upper == 1 { return 0 }
        return nil
    }
}

/// An arm against a reference arm on one figure, paired by cycle.
///
/// Rounds are interleaved: in each cycle every arm runs once, back to back, so the drift of
/// a shared machine hits the arms of one cycle alike. Per counted cycle, the ratio of the
/// arm's figure to the reference's; the estimate is the median of these paired ratios (of
/// their logarithms, so that an arm at half and one at twice the reference weigh alike: for
/// an even count, the geometric mean of the two middle ratios) and the interval is the exact
/// sign-test interval for that median (`OrderStatistics`), which assumes only independent
/// cycles. A cycle in which either arm gave no figure is left out of this comparison alone.
/// A censored figure enters as its bound: its cycle counts when its direction is known
/// (a p99 past the histogram against a baseline inside it), and otherwise widens the
/// interval without deciding anything.
public struct PairedComparison: Codable, Sendable, Equatable {
    public let workload: String
    /// The figure compared, e.g. "time" or "p99 latency".
    public let metric: String
    public let arm: Arm
    public let reference: Arm
    public let higherIsBetter: Bool
    /// The cycles used, in round order.
    public let cycles: [PairedCycle]
    /// Rounds of counted cycles left out because either arm gave no figure there.
    public let leftOutRounds: [Int]
    /// The median paired ratio and its interval; nil without a usable cycle.
    public let interval: MedianInterval?
    /// The relative equivalence margin, e.g. 0.05: "same" needs the interval inside
    /// [1 / (1 + margin), 1 + margin], the margin either way on the log scale, so that
    /// "same" does not depend on which arm is the reference.
    public let margin: Double
    /// The exact two-sided sign test over the cycles of known, unequal direction (R's
    /// `binom.test`), for readers used to p-values; the verdict comes from the interval.
    public let signTestPValue: Double
    public let verdict: Verdict
    /// The interval lies inside [1 / (1 + margin), 1 + margin] (true for every `same`, and for a
    /// `better` or `worse` whose whole difference is smaller than the margin).
    public let withinMargin: Bool

    /// Cycles in which the arm's figure was higher, lower, equal, or of unknown direction.
    public var higherCycles: Int { cycles.count(where: { $0.direction == 1 }) }
    public var lowerCycles: Int { cycles.count(where: { $0.direction == -1 }) }
    public var tiedCycles: Int { cycles.count(where: { $0.direction == 0 }) }
    public var unknownCycles: Int { cycles.count(where: { $0.direction == nil }) }
    /// Cycles in which the arm did better, and worse, than the reference.
    public var betterCycles: Int { higherIsBetter ? higherCycles : lowerCycles }
    public var worseCycles: Int { higherIsBetter ? lowerCycles : higherCycles }

    /// The interval reaches its target coverage (enough cycles).
    public var reachesTarget: Bool { interval?.reachesTarget ?? false }

    public init(
        workload: String, metric: String, arm: Arm, reference: Arm, higherIsBetter: Bool,
        figures: [(round: Int, arm: Measured?, reference: Measured?)], confidence: Double = 0.95, margin: Double = 0.05
    ) {
        self.workload = workload
        self.metric = metric
        self.arm = arm
        self.reference = reference
        self.higherIsBetter = higherIsBetter
        self.margin = margin
        var cycles: [PairedCycle] = []
        var leftOut: [Int] = []
        for f in figures.sorted(by: { $0.round < $1.round }) {
            if let a = f.arm, let b = f.reference, let ratio = Self.ratio(a, b) {
                cycles.append(PairedCycle(round: f.round, ratio: ratio))
            } else {
                leftOut.append(f.round)
            }
        }
        self.cycles = cycles
        leftOutRounds = leftOut
        let logs = cycles.map { Measured(lower: log($0.ratio.lower), upper: log($0.ratio.upper)) }
        interval = OrderStatistics.medianInterval(bounds: logs, confidence: confidence).map { m in
            MedianInterval(n: m.n, median: exp(m.median), medianBound: m.medianBound, lower: exp(m.lower),
                           upper: exp(m.upper), lowerRank: m.lowerRank, upperRank: m.upperRank,
                           coverage: m.coverage, target: m.target)
        }
        let higher = cycles.count(where: { $0.direction == 1 }), lower = cycles.count(where: { $0.direction == -1 })
        signTestPValue = OrderStatistics.signTestPValue(higher, n: higher + lower)
        (verdict, withinMargin) = Self.verdict(interval, higherIsBetter: higherIsBetter, margin: margin)
    }

    /// The verdict from the interval: better or worse only when it reaches its coverage and
    /// excludes 1; same when it lies inside the margin; undecided otherwise.
    static func verdict(_ interval: MedianInterval?, higherIsBetter: Bool, margin: Double) -> (Verdict, Bool) {
        guard let m = interval, m.reachesTarget else { return (.undecided, false) }
        let within = m.lower >= 1 / (1 + margin) && m.upper <= 1 + margin
        if m.lower > 1 { return (higherIsBetter ? .better : .worse, within) }
        if m.upper < 1 { return (higherIsBetter ? .worse : .better, within) }
        return (within ? .same : .undecided, within)
    }

    /// a / b for non-negative figures, as bounds when either is censored; equal figures give
    /// exactly 1, a zero reference under a non-zero figure infinity. Nil for a negative
    /// figure and for 0 / 0 between bounds.
    static func ratio(_ a: Measured, _ b: Measured) -> Measured? {
        guard a.lower >= 0, b.lower >= 0, !a.lower.isNaN, !b.lower.isNaN, !a.upper.isNaN, !b.upper.isNaN else { return nil }
        if a.isExact, b.isExact, a.lower == b.lower { return .exact(1) }
        let lower = a.lower / b.upper, upper = a.upper / b.lower
        guard !lower.isNaN, !upper.isNaN else { return nil }
        return Measured(lower: lower, upper: upper)
    }

    /// The fewest cycles whose interval can reach `confidence`: 6 at 95% (96.9%).
    public static func cyclesNeeded(confidence: Double) -> Int {
        var n = 1
        while OrderStatistics.coverage(lowerRank: 1, n: n) < confidence - 1e-12 { n += 1 }
        return n
    }

    /// "better", "worse (within +-5%)", "same within +-5%", "undecided",
    /// "undecided: 5 cycles, 6 needed".
    public var verdictText: String {
        let margin = "+-" + formatPercent(self.margin)
        switch verdict {
        case .better, .worse: return verdict.rawValue + (withinMargin ? " (within \(margin))" : "")
        case .same: return "same within \(margin)"
        case .undecided:
            if let m = interval, !m.reachesTarget {
                return "undecided: \(m.n) cycle\(m.n == 1 ? "" : "s"), \(Self.cyclesNeeded(confidence: m.target)) needed"
            }
            return interval == nil ? "undecided: no cycle" : "undecided"
        }
    }

    /// "bpf / eevdf".
    public var label: String { "\(arm) / \(reference)" }

    /// Identifies the same comparison in another experiment.
    public var key: ComparisonKey { ComparisonKey(workload: workload, metric: metric, arm: arm, reference: reference) }

    private enum CodingKeys: String, CodingKey {
        case workload, metric, arm, reference, higherIsBetter, cycles, leftOutRounds, interval, margin
        case signTestPValue, verdict, withinMargin
    }

    /// Also writes the counts, so that a reader of the JSON need not recount them.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(workload, forKey: .workload)
        try c.encode(metric, forKey: .metric)
        try c.encode(arm, forKey: .arm)
        try c.encode(reference, forKey: .reference)
        try c.encode(higherIsBetter, forKey: .higherIsBetter)
        try c.encode(cycles, forKey: .cycles)
        try c.encode(leftOutRounds, forKey: .leftOutRounds)
        try c.encodeIfPresent(interval, forKey: .interval)
        try c.encode(margin, forKey: .margin)
        try c.encode(signTestPValue, forKey: .signTestPValue)
        try c.encode(verdict, forKey: .verdict)
        try c.encode(withinMargin, forKey: .withinMargin)
        var counts = encoder.container(keyedBy: CountKeys.self)
        try counts.encode(cycles.count, forKey: .cyclesUsed)
        try counts.encode(betterCycles, forKey: .betterCycles)
        try counts.encode(worseCycles, forKey: .worseCycles)
        try counts.encode(tiedCycles, forKey: .tiedCycles)
        try counts.encode(unknownCycles, forKey: .unknownCycles)
        try counts.encode(verdictText, forKey: .verdictText)
    }

    private enum CountKeys: String, CodingKey {
        case cyclesUsed, betterCycles, worseCycles, tiedCycles, unknownCycles, verdictText
    }
}

/// What makes two comparisons the same comparison, across experiments.
public struct ComparisonKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var workload: String
    public var metric: String
    public var arm: Arm
    public var reference: Arm

    public var description: String { "\(workload) \(metric): \(arm) / \(reference)" }

    public static func < (a: ComparisonKey, b: ComparisonKey) -> Bool {
        (a.workload, a.metric, a.arm.description, a.reference.description)
            < (b.workload, b.metric, b.arm.description, b.reference.description)
    }
}

/// Which comparisons a report shows: a rule on the arms' properties, not a list of names,
/// so that a new kind of arm takes part by saying where its policy runs (`Arm.placement`).
public enum ComparisonRule {
    /// (arm, reference) pairs, in this order:
    /// 1. every arm against the main baseline, in the order the arms were given;
    /// 2. every swiftland arm whose policy runs in user space (user and hybrid arms) against
    ///    every swiftland arm whose policy runs wholly in BPF: the trip through user space
    ///    (the bufferbloat), isolated when both run the same policy (`user:bpfland` against `bpf`);
    /// 3. every hybrid arm against the user arm with the same policy, batch, wakeup policy
    ///    and options, when that ran: what the kernel-side bypass changes
    ///    (`hybrid:bpfland:8` against `user:bpfland:8`);
    /// 4. every arm with options against the same arm with the defaults, when that ran:
    ///    what an option changes (`bpf:preempt=off` against `bpf`);
    /// 5. every swiftland arm against every peer (`scx:`, `ext:`) whose policy runs where
    ///    its own does (`Placement.peerPlacement`): `bpf` against `scx:simple`,
    ///    `user:bpfland:8` and `hybrid:bpfland:8` against `scx:userland`.
    /// A pair already listed is not repeated.
    public static func pairs(arms: [Arm], baseline: Arm) -> [(arm: Arm, reference: Arm)] {
        var pairs: [(arm: Arm, reference: Arm)] = []
        func add(_ arm: Arm, _ reference: Arm) {
            guard arm != reference, !pairs.contains(where: { $0.arm == arm && $0.reference == reference }) else { return }
            pairs.append((arm, reference))
        }
        if arms.contains(baseline) {
            for arm in arms { add(arm, baseline) }
        }
        for reference in arms where reference.placement == .bpf && !reference.isPeer {
            for arm in arms where [.user, .hybrid].contains(arm.placement) && !arm.isPeer { add(arm, reference) }
        }
        for arm in arms {
            guard case .hybrid(let policy, let batch, let wakeup) = arm.kind else { continue }
            let user = Arm(.user(policy: policy, batch: batch, wakeup: wakeup), options: arm.options)
            if arms.contains(user) { add(arm, user) }
        }
        for arm in arms where !arm.options.isEmpty && arms.contains(arm.withDefaults) {
            add(arm, arm.withDefaults)
        }
        for reference in arms where reference.isPeer && reference.placement != .unknown {
            for arm in arms where !arm.isPeer && arm.placement.peerPlacement == reference.placement { add(arm, reference) }
        }
        return pairs
    }

    /// The main baseline: `chosen` when given, else eevdf when it ran, else the first arm.
    public static func baseline(arms: [Arm], chosen: Arm?) -> Arm? {
        chosen ?? arms.first(where: { $0.kind == .eevdf }) ?? arms.first
    }
}
