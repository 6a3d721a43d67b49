import Foundation

/// Whether two experiments reach the same verdicts, comparison by comparison.
///
/// Both are summarized with the same margin and, where the earlier experiment ran it, the
/// same main baseline, so that a difference in the table is a difference in the data.
/// Comparisons are matched by workload, figure, arm and reference.
public struct Agreement: Sendable {
    public enum Outcome: String, Sendable, Equatable {
        /// The same verdict in both.
        case agree = "agree"
        /// Both undecided: neither run tells the direction from the noise.
        case bothUndecided = "both undecided"
        /// One run decides, the other does not: not contradicted, not confirmed.
        case oneDecides = "decided in one run only"
        /// `same` in one, a difference smaller than the margin in the other.
        case agreeWithinMargin = "agree within the margin"
        /// Opposite directions, or `same` against a difference larger than the margin.
        case contradict = "CONTRADICT"
    }

    public struct Entry: Sendable {
        public let key: ComparisonKey
        public let current: PairedComparison?
        public let previous: PairedComparison?
        /// Nil when the comparison is in one experiment only.
        public let outcome: Outcome?
    }

    public let entries: [Entry]
    /// Differences in how the two experiments ran that bear on reading the table.
    public let notes: [String]
    /// Where the earlier experiment came from, for the heading.
    public let previousName: String

    public enum Failure: Error, CustomStringConvertible {
        /// No comparison in common: different arms or workloads.
        case notComparable(String)

        public var description: String {
            switch self {
            case .notComparable(let why): "not comparable: \(why)"
            }
        }
    }

    /// Throws `notComparable` when the two share no comparison.
    public init(current: Experiment, previous: Experiment, previousName: String, confidence: Double = 0.95) throws(Failure) {
        var earlier = previous
        earlier.settings.marginPercent = current.settings.marginPercent
        if let baseline = current.settings.mainBaseline, previous.settings.arms.contains(baseline) {
            earlier.settings.baseline = baseline
        }
        let now = Summary(current, confidence: confidence), then = Summary(earlier, confidence: confidence)
        let mine = Dictionary(now.comparisons.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        let theirs = Dictionary(then.comparisons.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        guard !Set(mine.keys).isDisjoint(with: theirs.keys) else {
            func ran(_ s: ExperimentSettings) -> String {
                "\(s.arms.map(\.description).joined(separator: ",")) on \(s.workloads.map(\.name).joined(separator: ","))"
            }
            throw .notComparable("\(previousName) ran \(ran(previous.settings)), this run \(ran(current.settings)): "
                + "no comparison in common")
        }
        let keys = now.comparisons.map(\.key) + then.comparisons.map(\.key).filter { mine[$0] == nil }
        entries = keys.map { key in
            let a = mine[key], b = theirs[key]
            return Entry(key: key, current: a, previous: b, outcome: a.flatMap { a in b.map { Self.outcome(a, $0) } })
        }
        var notes: [String] = []
        for w in current.settings.workloads {
            if let p = previous.settings.workloads.first(where: { $0.name == w.name }), p.command != w.command {
                notes.append("\(w.name) ran as `\(p.command.joined(separator: " "))` in \(previousName) and as "
                    + "`\(w.command.joined(separator: " "))` here: the ratios compare, the absolute figures do not")
            }
        }
        if previous.settings.machine != current.settings.machine || previous.settings.kernel != current.settings.kernel {
            notes.append("\(previousName) ran on \(previous.settings.machine), kernel \(previous.settings.kernel)")
        }
        self.notes = notes
        self.previousName = previousName
    }

    static func outcome(_ a: PairedComparison, _ b: PairedComparison) -> Outcome {
        switch (a.verdict, b.verdict) {
        case _ where a.verdict == b.verdict: return a.verdict == .undecided ? .bothUndecided : .agree
        case (.undecided, _), (_, .undecided): return .oneDecides
        case (.same, _): return b.withinMargin ? .agreeWithinMargin : .contradict
        case (_, .same): return a.withinMargin ? .agreeWithinMargin : .contradict
        default: return .contradict
        }
    }

    /// How many entries had each outcome.
    public func count(_ outcome: Outcome) -> Int { entries.count(where: { $0.outcome == outcome }) }

    /// The table for the terminal: one row per comparison with both verdicts.
    public func render() -> String {
        var out = ["Verdicts against \(previousName):"]
        let both = entries.filter { $0.outcome != nil }.count
        var counts = [Outcome.agree, .agreeWithinMargin, .bothUndecided, .oneDecides, .contradict]
            .filter { count($0) > 0 }.map { "\(count($0)) \($0.rawValue)" }
        if both < entries.count { counts.append("\(entries.count - both) in one run only") }
        out.append("  \(both) comparison\(both == 1 ? "" : "s") in both: " + counts.joined(separator: ", "))
        func cell(_ c: PairedComparison?) -> String {
            guard let c else { return "not run" }
            let ratio = c.interval.map { TerminalReport.formatEstimate($0, formatRatio) } ?? "-"
            return "\(ratio) \(c.verdictText), \(c.cycles.count) cycles"
        }
        let rows = entries.map { e in
            [e.key.description, cell(e.current), cell(e.previous),
             e.outcome?.rawValue ?? "not comparable: in one run only"]
        }
        out.append(renderTextTable(header: ["comparison", "this run", previousName, "agreement"], rows: rows,
                                   rightAligned: [], indent: "  "))
        for note in notes { out.append("  note: \(note)") }
        return out.joined(separator: "\n") + "\n"
    }
}
