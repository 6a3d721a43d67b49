import Foundation

/// One self-contained HTML page with everything: settings, tables, method, histograms,
/// plots (inline SVG) and the experimenter's notes. No scripts, fonts or style sheets are
/// fetched, so the file can be mailed or opened offline. It is also well-formed XML
/// (polyglot markup), which lets the tests check its structure with an XML parser.
public enum HTMLReport {
    /// Shown until the experiment's `notes` are written.
    public static let notesPlaceholder = "To be written by whoever ran this experiment: what these numbers show and "
        + "what they do not. For example: timing inside a QEMU TCG guest is not bare-metal timing (every instruction is "
        + "emulated, and the host's own scheduling shows up as latency); a 2-CPU machine has little room for the "
        + "scheduler to choose; n rounds bound how sure the medians can be."

    public static func render(_ experiment: Experiment, summary: Summary? = nil) -> String {
        let summary = summary ?? Summary(experiment)
        let s = experiment.settings
        var h: [String] = []
        let title = "swiftland compare, \(isoDate(s.date))"
        h.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\" />")
        h.append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\" />")
        h.append("<title>\(escapeMarkup(title))</title>\n<style>\n\(css)</style>\n</head>\n<body>")
        h.append("<h1>\(escapeMarkup(title))</h1>")

        h.append("<section id=\"settings\">\n<h2>Settings</h2>\n<table class=\"settings\">")
        var settings: [(String, String)] = [
            ("date", isoDate(s.date)), ("machine", s.machine), ("kernel", s.kernel),
            ("arms", s.arms.map(\.description).joined(separator: ", ")),
            ("rounds", "\(s.rounds) counted per arm and workload, after \(s.warmupRounds) warm-up, interleaved"),
        ]
        for w in s.workloads {
            settings.append(("workload \(w.name)", w.settingDescription))
        }
        if let line = s.commandLine { settings.append(("command", line)) }
        for (key, value) in settings {
            h.append("<tr><th>\(escapeMarkup(key))</th><td><code>\(escapeMarkup(value))</code></td></tr>")
        }
        h.append("</table>")
        for warning in summary.warnings { h.append("<p class=\"warning\">\(escapeMarkup(warning))</p>") }
        h.append("</section>")

        h.append("<section id=\"results\">\n<h2>Results</h2>")
        for w in summary.workloads {
            h.append("<h3>\(escapeMarkup(TerminalReport.workloadHeading(w)))</h3>")
            h.append(table(header: TerminalReport.figureHeader(summary), rows: w.rows.map(TerminalReport.figureCells),
                           numeric: [1, 2, 3]))
            func comparisons(of metric: String) {
                let group = w.comparisons.filter { $0.metric == metric }
                if metric != w.figureName { h.append("<p>\(escapeMarkup(metric)):</p>") }
                h.append(table(header: TerminalReport.comparisonHeader(summary),
                               rows: group.map(TerminalReport.comparisonCells), numeric: [1, 2, 3, 4, 5],
                               rowClasses: group.map { "verdict-\($0.verdict.rawValue)" }))
            }
            // As in the terminal: the figure's comparisons, the cost, the other numbers'.
            for metric in w.comparedMetrics where metric == w.figureName { comparisons(of: metric) }
            if TerminalReport.hasCost(w) {
                h.append("<p>\(escapeMarkup(TerminalReport.costHeading(w))):</p>")
                h.append(table(header: TerminalReport.costHeader, rows: w.rows.map(TerminalReport.costCells), numeric: [1, 2]))
            }
            for metric in w.comparedMetrics where metric != w.figureName { comparisons(of: metric) }
        }
        h.append("<p class=\"method\">\(escapeMarkup(summary.methodNote))</p>")
        if summary.workloads.contains(where: TerminalReport.hasCost) {
            h.append("<p class=\"method\">\(escapeMarkup(CostSummary.note))</p>")
        }
        if let svg = Plots.comparisons(summary) { h.append(figure(svg)) }
        if let svg = Plots.medians(summary) { h.append(figure(svg)) }
        h.append("</section>")

        let traced = summary.workloads.filter { $0.rows.contains { !($0.runQueueLatency?.isEmpty ?? true) } }
        if !traced.isEmpty {
            h.append("<section id=\"latency\">\n<h2>Run-queue latency</h2>")
            h.append("<p class=\"method\">\(escapeMarkup(Summary.latencyNote))</p>")
            for w in traced {
                h.append("<h3>\(escapeMarkup(w.workload.name))</h3>")
                h.append(table(header: TerminalReport.latencyHeader, rows: w.rows.map(TerminalReport.latencyCells),
                               numeric: [1, 2, 3, 4, 5]))
                for svg in [Plots.latencyDistribution(summary, workload: w.workload.name),
                            Plots.latencyTail(summary, workload: w.workload.name)].compactMap({ $0 }) {
                    h.append(figure(svg))
                }
                h.append("<div class=\"histograms\">")
                for row in w.rows {
                    guard let latency = row.runQueueLatency, !latency.isEmpty else { continue }
                    let text = HistogramText.render(latency, title: "\(w.workload.name) - \(row.arm)")
                    h.append("<pre>\(escapeMarkup(text))</pre>")
                }
                h.append("</div>")
            }
            h.append("</section>")
        }

        let flights = s.workloads.flatMap {
            [Plots.inFlight(experiment, workload: $0.name), Plots.decisionLatency(experiment, workload: $0.name)].compactMap { $0 }
        }
        if !flights.isEmpty {
            h.append("<section id=\"in-flight\">\n<h2>In flight (user and hybrid modes)</h2>")
            h.append("<p>Tasks sent to user space and not dispatched back yet, over each round: how deep the queue "
                + "between the kernel and the Swift process grew; and how long a task waited there for the policy's "
                + "decision.</p>")
            h.append(contentsOf: flights.map(figure))
            h.append("</section>")
        }

        let withCounters = summary.workloads.filter { $0.rows.contains { !$0.counterMedians.isEmpty } }
        if !withCounters.isEmpty {
            h.append("<section id=\"counters\">\n<h2>Counters</h2>\n<p>Median over the counted rounds; "
                + "empty where the arm does not have the counter.</p>")
            for w in withCounters {
                let names = Set(w.rows.flatMap(\.counterMedians.keys)).sorted()
                let rows = names.map { name in
                    [name] + w.rows.map { $0.counterMedians[name].map(formatNumber) ?? "" }
                }
                h.append("<h3>\(escapeMarkup(w.workload.name))</h3>")
                h.append(table(header: ["counter"] + w.rows.map(\.arm.description), rows: rows,
                               numeric: Set(1...max(1, w.rows.count))))
            }
            h.append("</section>")
        }

        h.append("<section id=\"notes\">\n<h2>What this shows and what it does not</h2>")
        if let notes = experiment.notes, !notes.isEmpty {
            for paragraph in notes.components(separatedBy: "\n\n") {
                h.append("<p>\(escapeMarkup(paragraph))</p>")
            }
        } else {
            h.append("<p class=\"placeholder\">\(escapeMarkup(notesPlaceholder))</p>")
        }
        h.append("</section>")
        h.append("<footer>Raw data: <a href=\"\(ReportFiles.jsonName)\">\(ReportFiles.jsonName)</a> (everything), "
            + "<a href=\"\(ReportFiles.csvName)\">\(ReportFiles.csvName)</a> (one row per round), "
            + "<a href=\"\(ReportFiles.comparisonsName)\">\(ReportFiles.comparisonsName)</a> (one row per comparison).</footer>")
        h.append("</body>\n</html>\n")
        return h.joined(separator: "\n")
    }

    static func table(header: [String], rows: [[String]], numeric: Set<Int>, rowClasses: [String]? = nil) -> String {
        var t = "<table>\n<thead><tr>"
        for (i, cell) in header.enumerated() {
            t += "<th\(numeric.contains(i) ? " class=\"num\"" : "")>\(escapeMarkup(cell))</th>"
        }
        t += "</tr></thead>\n<tbody>\n"
        for (r, row) in rows.enumerated() {
            t += rowClasses.map { "<tr class=\"\($0[r])\">" } ?? "<tr>"
            for (i, cell) in row.enumerated() {
                t += "<td\(numeric.contains(i) ? " class=\"num\"" : "")>\(escapeMarkup(cell))</td>"
            }
            t += "</tr>\n"
        }
        return t + "</tbody>\n</table>"
    }

    /// An SVG document inline: its XML prolog-free text goes into the HTML as is.
    static func figure(_ svg: String) -> String {
        "<figure>\n\(svg)</figure>"
    }

    static func isoDate(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: date)
    }

    static let css = """
        body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; max-width: 960px; margin: 2em auto;
               padding: 0 1em; color: #222; line-height: 1.45; }
        h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
        h3 { font-size: 1.05em; margin-top: 1.5em; }
        table { border-collapse: collapse; margin: .5em 0 1em; font-size: .92em; }
        th, td { padding: .25em .7em; border-bottom: 1px solid #e2e2e2; text-align: left; vertical-align: top; }
        thead th { border-bottom: 2px solid #999; }
        td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
        table.settings th { font-weight: normal; color: #555; white-space: nowrap; }
        code, pre { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .9em; }
        pre { background: #f6f6f6; padding: .6em; overflow-x: auto; }
        figure { margin: 1em 0; overflow-x: auto; } figure svg { max-width: 100%; height: auto; }
        p.method { font-size: .9em; color: #444; }
        p.warning { color: #a00; }
        /* The verdicts' colors, as in the comparisons picture (Plots.verdictColors). */
        tr.verdict-better td:last-child { color: #1b7837; font-weight: bold; }
        tr.verdict-worse td:last-child { color: #b2182b; font-weight: bold; }
        tr.verdict-same td:last-child { color: #2166ac; }
        tr.verdict-undecided td:last-child { color: #777; }
        p.placeholder { color: #777; font-style: italic; border-left: 3px solid #ccc; padding-left: .8em; }
        footer { margin-top: 3em; font-size: .85em; color: #666; }

        """
}
