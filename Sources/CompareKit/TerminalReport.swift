import Foundation

/// A log2 microsecond histogram drawn as bpftrace draws them (and as the 2024 bpfland post
/// shows its run-queue latencies), so the two can be read side by side:
///
///     [4, 8)              6944 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
///
/// Label left-aligned in 16 columns, count right-aligned in 8, a 52-column bar scaled to
/// the largest bucket, rows from the first to the last non-empty bucket, edges in K/M
/// (powers of 1024).
public enum HistogramText {
    public static let barWidth = 52

    public static func render(_ histogram: Log2Histogram, title: String? = nil) -> String {
        var lines: [String] = []
        if let title { lines += ["[\(title)]", ""] }
        lines.append("@usecs:")
        let counts = histogram.counts
        if let first = counts.firstIndex(where: { $0 > 0 }), let last = counts.lastIndex(where: { $0 > 0 }) {
            let largest = counts[first...last].max()!
            for n in first...last {
                let bar = Int(counts[n] * UInt64(barWidth) / largest)
                let label = bucketLabel(histogram, n)
                let count = String(counts[n])
                lines.append(label.padding(toLength: max(16, label.count), withPad: " ", startingAt: 0)
                    + String(repeating: " ", count: max(0, 8 - count.count)) + count
                    + " |" + String(repeating: "@", count: bar) + String(repeating: " ", count: barWidth - bar) + "|")
            }
        }
        lines += ["", "Total samples: \(formatCount(histogram.total))"]
        return lines.joined(separator: "\n")
    }

    /// "[0, 1)", "[512, 1K)", "[4M, ...)" for the open last bucket.
    static func bucketLabel(_ histogram: Log2Histogram, _ n: Int) -> String {
        let lower = formatEdgeUs(Log2Histogram.lowerEdgeUs(bucket: n))
        let upper = histogram.upperEdgeUs(bucket: n).map(formatEdgeUs) ?? "..."
        return "[\(lower), \(upper))"
    }
}

/// The summary printed at the end of `swiftland compare`: per workload the medians with
/// their intervals and the paired comparisons with their verdicts, the run-queue latency
/// percentiles, the method, and one histogram per arm.
public enum TerminalReport {
    public static func render(_ summary: Summary, histograms: Bool = true) -> String {
        var out: [String] = []
        let s = summary.settings
        out.append("swiftland compare: \(s.rounds) rounds (+\(s.warmupRounds) warm-up) of "
            + "\(s.arms.map(\.description).joined(separator: ", ")); kernel \(s.kernel); \(s.machine)")
        for warning in summary.warnings { out.append("warning: \(warning)") }

        for w in summary.workloads {
            out.append("")
            out.append(workloadHeading(w))
            out.append(renderTextTable(header: figureHeader(summary), rows: w.rows.map(figureCells),
                                       rightAligned: [1, 2, 3], indent: "  "))
            func comparisons(of metric: String) {
                out.append("")
                if metric != w.figureName { out.append("  \(metric):") }
                out.append(renderTextTable(header: comparisonHeader(summary),
                                           rows: w.comparisons.filter { $0.metric == metric }.map(comparisonCells),
                                           rightAligned: [1, 2, 3, 4, 5], indent: "  "))
            }
            // The figure's comparisons, the schedulers' own cost, then the comparisons of
            // other numbers (the cost's among them).
            for metric in w.comparedMetrics where metric == w.figureName { comparisons(of: metric) }
            out += costTable(w)
            for metric in w.comparedMetrics where metric != w.figureName { comparisons(of: metric) }
        }
        out.append("")
        out.append(wrap(summary.methodNote, width: 100))
        if summary.workloads.contains(where: hasCost) {
            out.append("")
            out.append(wrap(CostSummary.note, width: 100))
        }

        for w in summary.workloads where w.rows.contains(where: { $0.runQueueLatency != nil }) {
            out.append("")
            out.append("\(w.workload.name): run-queue latency, us" + (w.workload.tracedCommands.isEmpty ? "" : " (\(w.workload.tracedCommands.joined(separator: " and ")) only)"))
            out.append(renderTextTable(header: latencyHeader, rows: w.rows.map(latencyCells),
                                       rightAligned: [1, 2, 3, 4, 5], indent: "  "))
        }
        if summary.workloads.contains(where: { $0.rows.contains { $0.runQueueLatency != nil } }) {
            out.append("")
            out.append(wrap(Summary.latencyNote, width: 100))
        }

        if histograms {
            for w in summary.workloads {
                for row in w.rows {
                    guard let latency = row.runQueueLatency, !latency.isEmpty else { continue }
                    out.append("")
                    out.append(HistogramText.render(latency, title: "\(w.workload.name) - \(row.arm)"))
                }
            }
        }
        return out.joined(separator: "\n") + "\n"
    }

    /// "hackbench: time, s, lower is better (hackbench -g 4 -l 100)"
    static func workloadHeading(_ w: Summary.WorkloadSummary) -> String {
        let figure = [w.figureName, w.unit].compactMap { $0 }.joined(separator: ", ")
        let direction = w.figureName == nil ? "no figure in any round" : (w.higherIsBetter ? "higher is better" : "lower is better")
        return "\(w.workload.name): \([figure, direction].filter { !$0.isEmpty }.joined(separator: ", "))"
            + " (\(w.workload.command.joined(separator: " ")))"
    }

    static func figureHeader(_ summary: Summary) -> [String] {
        ["arm", "rounds", "median", "\(formatPercent(summary.confidence)) CI"]
    }

    /// Cells of one arm's figure row, shared with the HTML table.
    static func figureCells(_ row: Summary.Row) -> [String] {
        var notes: [String] = []
        if row.failedRounds > 0 { notes.append("\(row.failedRounds) failed") }
        if row.censoredRounds > 0 { notes.append("\(row.censoredRounds) beyond range") }
        let rounds = "\(row.figures.count)" + (notes.isEmpty ? "" : " (\(notes.joined(separator: ", ")))")
        guard let m = row.median else { return [row.arm.description, rounds, "-", "-"] }
        let ci = m.n < 2 ? "-" : formatInterval(m, formatNumber) + (m.reachesTarget ? "" : "*")
        return [row.arm.description, rounds, formatEstimate(m, formatNumber), ci]
    }

    static func comparisonHeader(_ summary: Summary) -> [String] {
        ["paired by cycle", "cycles", "better:worse", "ratio", "\(formatPercent(summary.confidence)) CI", "covers", "verdict"]
    }

    /// Cells of one comparison's row, shared with the HTML table.
    static func comparisonCells(_ c: PairedComparison) -> [String] {
        let cycles = "\(c.cycles.count)" + (c.leftOutRounds.isEmpty ? "" : " (\(c.leftOutRounds.count) left out)")
        var split = "\(c.betterCycles):\(c.worseCycles)"
        if c.tiedCycles > 0 { split += " \(c.tiedCycles) tied" }
        if c.unknownCycles > 0 { split += " \(c.unknownCycles) unknown" }
        guard let m = c.interval else { return [c.label, cycles, split, "-", "-", "-", c.verdictText] }
        return [c.label, cycles, split, formatEstimate(m, formatRatio), formatInterval(m, formatRatio) + (m.reachesTarget ? "" : "*"),
                formatPercent(m.coverage), c.verdictText]
    }

    /// "3.924", or ">=100000" when censored values leave only a bound.
    static func formatEstimate(_ m: MedianInterval, _ format: (Double) -> String) -> String {
        switch m.medianBound {
        case nil: format(m.median)
        case .atLeast: ">=" + format(m.median)
        case .atMost: "<=" + format(m.median)
        }
    }

    /// "[2.691, 8.385]", "[17.70, inf]".
    static func formatInterval(_ m: MedianInterval, _ format: (Double) -> String) -> String {
        func end(_ x: Double) -> String { x.isInfinite ? (x > 0 ? "inf" : "-inf") : format(x) }
        return "[\(end(m.lower)), \(end(m.upper))]"
    }

    /// A workload has a cost table when a round of it measured a scheduler's cost (files
    /// from before the cost was measured have none).
    static func hasCost(_ w: Summary.WorkloadSummary) -> Bool {
        w.rows.contains { ($0.cost?.rounds ?? 0) > 0 }
    }

    /// The cost table with its heading and a blank line before, or nothing.
    private static func costTable(_ w: Summary.WorkloadSummary) -> [String] {
        guard hasCost(w) else { return [] }
        return ["", "  " + costHeading(w) + ":", renderTextTable(header: costHeader, rows: w.rows.map(costCells), rightAligned: [1, 2], indent: "  ")]
    }

    static func costHeading(_ w: Summary.WorkloadSummary) -> String {
        "the scheduler's own CPU time while \(w.workload.name) ran, medians: % of one CPU, CPU ms per 1,000 decisions"
    }

    static let costHeader = ["arm", "rounds", "decisions"] + SchedulerCost.Part.allCases.map(\.rawValue)

    /// Cells of one arm's cost row, shared with the HTML table: "not measured" for an arm
    /// without a scheduler, never a 0 that would read as free.
    static func costCells(_ row: Summary.Row) -> [String] {
        guard let cost = row.cost else {
            return [row.arm.description, "-", "-"] + SchedulerCost.Part.allCases.map { _ in "not measured" }
        }
        var rounds = "\(cost.rounds)"
        if cost.roundsWithoutBPF > 0, cost.roundsWithoutBPF < cost.rounds { rounds += " (\(cost.roundsWithoutBPF) without BPF)" }
        let decisions = cost.decisions.map { formatCount(UInt64($0.rounded())) } ?? "-"
        let parts = SchedulerCost.Part.allCases.map { part -> String in
            if part == .bpf, row.arm.isPeer { return "not measured" }
            if part == .bpf, cost.rounds > 0, cost.roundsWithoutBPF == cost.rounds { return "stats off" }
            guard let share = cost.shares[part] else { return "-" }
            return formatShare(share) + (cost.msPerThousand[part].map { ", " + formatNumber($0) + " ms" } ?? "")
        }
        return [row.arm.description, rounds, decisions] + parts
    }

    static let latencyHeader = ["arm", "samples", "p50", "p90", "p99", "max"]

    static func latencyCells(_ row: Summary.Row) -> [String] {
        guard let h = row.runQueueLatency else { return [row.arm.description, "-", "-", "-", "-", "-"] }
        return [row.arm.description, formatCount(h.total)]
            + Summary.latencyPercentiles.map { formatPercentileUs(h.percentile($0)) } + [formatLargestUs(h)]
    }

    /// Breaks a paragraph into lines of at most `width` characters.
    static func wrap(_ text: String, width: Int) -> String {
        var lines: [String] = []
        var current = ""
        for word in text.split(separator: " ") {
            if !current.isEmpty, current.count + 1 + word.count > width {
                lines.append(current)
                current = ""
            }
            current += (current.isEmpty ? "" : " ") + word
        }
        if !current.isEmpty { lines.append(current) }
        return lines.joined(separator: "\n")
    }
}
