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
/// their intervals and the ratio against EEVDF, the run-queue latency percentiles, the
/// method, and one histogram per arm.
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
            out.append(renderTextTable(header: figureHeader(summary), rows: w.rows.map { figureCells($0, w, summary) },
                                       rightAligned: [1, 2, 3, 4, 5], indent: "  "))
        }
        out.append("")
        out.append(wrap(summary.methodNote, width: 100))

        for w in summary.workloads where w.rows.contains(where: { $0.runQueueLatency != nil }) {
            out.append("")
            out.append("\(w.workload.name): run-queue latency, us" + (w.workload.tracedCommand.map { " (\($0) only)" } ?? ""))
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
        let ci = "\(formatPercent(summary.confidence)) CI"
        let base = summary.baseline?.description ?? "baseline"
        return ["arm", "rounds", "median", ci, "vs \(base)", "ratio CI", "verdict"]
    }

    /// Cells of one arm's figure row, shared with the HTML table.
    static func figureCells(_ row: Summary.Row, _ w: Summary.WorkloadSummary, _ summary: Summary) -> [String] {
        let rounds = row.failedRounds > 0 ? "\(row.figures.count) (\(row.failedRounds) failed)" : "\(row.figures.count)"
        guard let m = row.median else { return [row.arm.description, rounds, "-", "-", "-", "-", ""] }
        let ci = m.n < 2 ? "-" : "[\(formatNumber(m.lower)), \(formatNumber(m.upper))]" + (m.reachesTarget ? "" : "*")
        var ratio = "", ratioCI = "", verdict = ""
        if row.arm == summary.baseline {
            ratio = "1"
        } else if let r = row.ratio {
            ratio = formatRatio(r.ratio)
            ratioCI = "[\(formatRatio(r.lower)), \(r.upper.map(formatRatio) ?? "inf")] >=\(formatPercent(r.coverageAtLeast))"
                + (r.reachesTarget ? "" : "*")
            verdict = r.verdict(higherIsBetter: w.higherIsBetter).rawValue
        }
        return [row.arm.description, rounds, formatNumber(m.median), ci, ratio, ratioCI, verdict]
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
