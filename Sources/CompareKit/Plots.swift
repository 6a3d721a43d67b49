import Foundation

/// An axis of a chart, linear in whatever space the values are given in (log-scaled axes
/// receive log2 or log10 values and label the ticks with the real numbers).
struct Axis {
    var min: Double
    var max: Double
    var ticks: [(value: Double, label: String)]
    var title: String

    func fraction(_ v: Double) -> Double { (v - min) / (max - min) }

    /// Bounds widened to round numbers, about six ticks (steps of 1, 2 or 5 times 10^k),
    /// labelled with as many decimals as the step needs; `unit` is appended to each label.
    static func linear(from lo: Double, to hi: Double, title: String, unit: String = "") -> Axis {
        var lo = lo, hi = hi
        if !(hi > lo) { (lo, hi) = lo == 0 ? (0, 1) : (lo - abs(lo) * 0.1, hi + abs(hi) * 0.1) }
        let rough = (hi - lo) / 5
        let power = pow(10, floor(log10(rough)))
        let step = [1.0, 2, 5, 10].map { $0 * power }.first { $0 >= rough } ?? 10 * power
        let first = floor(lo / step) * step, last = ceil(hi / step) * step
        let decimals = Swift.max(0, -Int(floor(log10(step))))
        var ticks: [(Double, String)] = []
        var v = first
        while v <= last + step / 2 {
            ticks.append((v, String(format: "%.\(decimals)f", abs(v) < step / 1e6 ? 0 : v) + unit))
            v += step
        }
        return Axis(min: first, max: last, ticks: ticks, title: title)
    }
}

/// How an arm is drawn in every chart.
struct ArmStyle {
    var color: String
    /// The baseline is dashed, so that an arm whose line coincides with it stays visible.
    var dash: String?
}

/// One line of a line chart.
struct Series {
    var style: ArmStyle
    var points: [(x: Double, y: Double)]
    var markers: Bool = true
    var width: Double = 2
    var opacity: Double = 1
}

/// Chart geometry shared by the charts: a plot area with the legend to its right.
struct ChartFrame {
    var width: Double = 780
    var height: Double = 400
    var left: Double = 72
    var right: Double = 180
    var top: Double = 56
    var bottom: Double = 56

    var plotLeft: Double { left }
    var plotRight: Double { width - right }
    var plotTop: Double { top }
    var plotBottom: Double { height - bottom }
    func x(_ axis: Axis, _ v: Double) -> Double { plotLeft + axis.fraction(v) * (plotRight - plotLeft) }
    func y(_ axis: Axis, _ v: Double) -> Double { plotBottom - axis.fraction(v) * (plotBottom - plotTop) }
}

/// Styles by arm: the baseline dark grey and dashed, the others from a palette that stays
/// distinguishable in print and for the common color-vision deficiencies (Okabe-Ito).
func armStyles(_ arms: [Arm], baseline: Arm?) -> [Arm: ArmStyle] {
    let palette = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#8c564b", "#bcbd22", "#7f7f7f"]
    var styles: [Arm: ArmStyle] = [:]
    var next = 0
    for arm in arms {
        if arm == baseline {
            styles[arm] = ArmStyle(color: "#333333", dash: "7 4")
        } else {
            styles[arm] = ArmStyle(color: palette[next % palette.count])
            next += 1
        }
    }
    return styles
}

/// A line chart with title, grid, labelled axes and a legend.
func lineChart(title: String, subtitle: String, x: Axis, y: Axis, series: [Series],
               legend: [(name: String, style: ArmStyle)], frame: ChartFrame = ChartFrame()) -> String {
    var frame = frame
    frame.right = legendRoom(legend, frame.right)
    var svg = SVGWriter(width: frame.width, height: frame.height)
    svg.rect(0, 0, frame.width, frame.height, fill: "#ffffff")
    drawLineChart(&svg, frame: frame, title: title, subtitle: subtitle, x: x, y: y, series: series, legend: legend)
    return svg.document(title: title)
}

/// Right margin wide enough for the longest legend entry (about 7 px a character at 12 px).
func legendRoom(_ legend: [(name: String, style: ArmStyle)], _ atLeast: Double) -> Double {
    max(atLeast, 56 + 7.2 * Double(legend.map(\.name.count).max() ?? 0))
}

/// Draws one chart into `svg` inside `frame`, whose top margin holds the title: several
/// frames stacked in one document make small multiples.
func drawLineChart(_ svg: inout SVGWriter, frame: ChartFrame, title: String, subtitle: String, x: Axis, y: Axis,
                   series: [Series], legend: [(name: String, style: ArmStyle)]) {
    svg.text(title, x: frame.plotLeft, y: frame.plotTop - 32, size: 15, weight: "bold")
    svg.text(subtitle, x: frame.plotLeft, y: frame.plotTop - 14, size: 11, fill: "#555")
    for tick in y.ticks {
        let py = frame.y(y, tick.value)
        svg.line(frame.plotLeft, py, frame.plotRight, py, stroke: "#dddddd")
        svg.text(tick.label, x: frame.plotLeft - 6, y: py + 4, size: 11, anchor: "end")
    }
    for tick in x.ticks {
        let px = frame.x(x, tick.value)
        svg.line(px, frame.plotTop, px, frame.plotBottom, stroke: "#eeeeee")
        svg.line(px, frame.plotBottom, px, frame.plotBottom + 4, stroke: "#444")
        svg.text(tick.label, x: px, y: frame.plotBottom + 17, size: 11, anchor: "middle")
    }
    svg.line(frame.plotLeft, frame.plotBottom, frame.plotRight, frame.plotBottom, stroke: "#444")
    svg.line(frame.plotLeft, frame.plotTop, frame.plotLeft, frame.plotBottom, stroke: "#444")
    svg.text(x.title, x: (frame.plotLeft + frame.plotRight) / 2, y: frame.plotBottom + 42, size: 12, anchor: "middle")
    svg.text(y.title, x: 16, y: (frame.plotTop + frame.plotBottom) / 2, size: 12, anchor: "middle", rotate: true)
    // Dashed lines (the baseline) last: drawn over an identical solid line, both stay visible.
    for s in series.filter({ $0.style.dash == nil }) + series.filter({ $0.style.dash != nil }) {
        let points = s.points.map { (frame.x(x, $0.x), frame.y(y, $0.y)) }
        svg.polyline(points, stroke: s.style.color, width: s.width, dash: s.style.dash, opacity: s.opacity)
        if s.markers {
            for p in points { svg.circle(p.0, p.1, r: 3, fill: s.style.color) }
        }
    }
    drawLegend(&svg, legend, x: frame.plotRight + 16, y: frame.plotTop + 6)
}

private func drawLegend(_ svg: inout SVGWriter, _ entries: [(name: String, style: ArmStyle)], x: Double, y: Double) {
    for (i, entry) in entries.enumerated() {
        let ly = y + Double(i) * 20
        svg.line(x, ly, x + 22, ly, stroke: entry.style.color, width: 3, dash: entry.style.dash.map { _ in "5 3" })
        svg.text(entry.name, x: x + 28, y: ly + 4, size: 12)
    }
}

/// The report's pictures, as standalone SVG documents (nil when there is nothing to draw).
public enum Plots {
    /// Share of waits in each log2 bucket, one line per arm, on a log2 microsecond axis:
    /// where the bulk of the run-queue latency lies for each arm.
    public static func latencyDistribution(_ summary: Summary, workload: String) -> String? {
        guard let w = summary.workloads.first(where: { $0.workload.name == workload }) else { return nil }
        let rows = w.rows.filter { !($0.runQueueLatency?.isEmpty ?? true) }
        guard let range = bucketRange(rows) else { return nil }
        let styles = armStyles(summary.settings.arms, baseline: summary.baseline)
        var series: [Series] = []
        var top = 0.0
        for row in rows {
            let h = row.runQueueLatency!
            let total = Double(h.total)
            let points = range.map { n in (x: bucketCenterLog2(n), y: 100 * Double(h.counts[n]) / total) }
            top = max(top, points.map(\.y).max() ?? 0)
            series.append(Series(style: styles[row.arm]!, points: points))
        }
        return lineChart(
            title: "\(w.workload.name): run-queue latency distribution",
            subtitle: "share of waits in each log2 bucket, all counted rounds pooled; dots at bucket centers",
            x: log2Axis(range), y: Axis.linear(from: 0, to: top, title: "% of waits", unit: "%"),
            series: series, legend: rows.map { (legendName($0), styles[$0.arm]!) })
    }

    /// The tail: share of waits at least as long as each bucket's lower edge, on a log
    /// scale, where the arms differ most (p99, p99.9) and a linear plot shows nothing.
    public static func latencyTail(_ summary: Summary, workload: String) -> String? {
        guard let w = summary.workloads.first(where: { $0.workload.name == workload }) else { return nil }
        let rows = w.rows.filter { !($0.runQueueLatency?.isEmpty ?? true) }
        guard let range = bucketRange(rows) else { return nil }
        let styles = armStyles(summary.settings.arms, baseline: summary.baseline)
        var series: [Series] = []
        var smallest = 1.0
        for row in rows {
            let h = row.runQueueLatency!
            let total = Double(h.total)
            var atLeast = total
            var points: [(x: Double, y: Double)] = []
            for n in range {
                if atLeast > 0 {
                    let share = atLeast / total
                    smallest = min(smallest, share)
                    points.append((x: n == 0 ? -1 : Double(n - 1), y: log10(share)))
                }
                atLeast -= Double(h.counts[n])
            }
            series.append(Series(style: styles[row.arm]!, points: points))
        }
        // A decade below the smallest share, so the last points do not sit on the axis.
        let lowest = min(-1, floor(log10(smallest) - 1e-9))
        let ticks = stride(from: lowest, through: 0, by: 1).map { (value: $0, label: formatShare(pow(10, $0))) }
        var x = log2Axis(range)
        x.title = "wait at least (us)"
        return lineChart(
            title: "\(w.workload.name): run-queue latency tail",
            subtitle: "share of waits at least as long as x (log scale); lower and further left is better",
            x: x, y: Axis(min: lowest, max: 0, ticks: ticks, title: "share of waits"),
            series: series, legend: rows.map { (legendName($0), styles[$0.arm]!) })
    }

    /// In-flight depth (tasks in user space) over time: one panel per user or hybrid arm, on
    /// shared axes so the panels compare at a glance, each counted round one line. The
    /// bufferbloat as it happened.
    public static func inFlight(_ experiment: Experiment, workload: String) -> String? {
        let styles = armStyles(experiment.settings.arms, baseline: experiment.settings.mainBaseline)
        let records = experiment.countedRecords.filter {
            $0.workload == workload && $0.arm.isUserMode && ($0.timeSeries[TimeSeriesName.inFlight]?.count ?? 0) > 0
        }
        guard !records.isEmpty else { return nil }
        let all = records.flatMap { $0.timeSeries[TimeSeriesName.inFlight]! }
        let x = Axis.linear(from: 0, to: all.map(\.tSeconds).max() ?? 1, title: "time since the workload started (s)")
        let y = Axis.linear(from: 0, to: max(1, all.map(\.value).max() ?? 1), title: "tasks in flight")
        let arms = experiment.settings.arms.filter { arm in records.contains { $0.arm == arm } }
        let panelHeight = 300.0
        var frame = ChartFrame(height: panelHeight, bottom: 56)
        frame.right = legendRoom(arms.map { ($0.description, styles[$0]!) }, frame.right)
        var svg = SVGWriter(width: frame.width, height: panelHeight * Double(arms.count))
        svg.rect(0, 0, svg.width, svg.height, fill: "#ffffff")
        for (i, arm) in arms.enumerated() {
            frame.height = panelHeight * Double(i + 1)
            frame.top = panelHeight * Double(i) + 56
            let rounds = records.filter { $0.arm == arm }
            let series = rounds.map { r in
                Series(style: styles[arm]!, points: r.timeSeries[TimeSeriesName.inFlight]!.map { ($0.tSeconds, $0.value) },
                       markers: false, width: 1.5, opacity: 0.6)
            }
            drawLineChart(&svg, frame: frame, title: "\(workload), \(arm): tasks in flight in user space",
                          subtitle: "nr_in_flight sampled during each counted round (\(rounds.count) rounds, one line each)",
                          x: x, y: y, series: series, legend: [(arm.description, styles[arm]!)])
        }
        return svg.document(title: "\(workload): tasks in flight in user space")
    }

    /// user mode's queueing as a distribution: the time from a task's enqueue to the
    /// policy's decision about it (`decision_hist`), share per log2 bucket, one line per
    /// user or hybrid arm, counted rounds pooled. bpf mode decides inside enqueue, so it has none.
    public static func decisionLatency(_ experiment: Experiment, workload: String) -> String? {
        let styles = armStyles(experiment.settings.arms, baseline: experiment.settings.mainBaseline)
        var pooled: [(arm: Arm, histogram: Log2Histogram)] = []
        for arm in experiment.settings.arms where arm.isUserMode {
            let hs = experiment.countedRecords.filter { $0.arm == arm && $0.workload == workload }.compactMap(\.decisionLatency)
            guard let first = hs.first else { continue }
            let h = hs.dropFirst().reduce(first) { $0.merged(with: $1) }
            if !h.isEmpty { pooled.append((arm, h)) }
        }
        let hs = pooled.map(\.histogram)
        guard let firstBucket = hs.compactMap({ $0.counts.firstIndex { $0 > 0 } }).min(),
              let lastBucket = hs.compactMap({ $0.counts.lastIndex { $0 > 0 } }).max()
        else { return nil }
        let count = hs.map(\.counts.count).max()!
        let range = firstBucket...min(count - 1, max(lastBucket, firstBucket + 3))
        var series: [Series] = []
        var top = 0.0
        for (arm, h) in pooled {
            let total = Double(h.total)
            let points = range.map { n in (x: bucketCenterLog2(n), y: n < h.counts.count ? 100 * Double(h.counts[n]) / total : 0) }
            top = max(top, points.map(\.y).max() ?? 0)
            series.append(Series(style: styles[arm]!, points: points))
        }
        var x = log2Axis(range)
        x.title = "enqueue to decision (us, log2 buckets)"
        return lineChart(
            title: "\(workload): time in user space before the decision",
            subtitle: "enqueue to the policy's dispatch decision, share per log2 bucket, all counted rounds pooled",
            x: x, y: Axis.linear(from: 0, to: top, title: "% of decisions", unit: "%"),
            series: series, legend: pooled.map { ("\($0.arm) (\(formatCount($0.histogram.total)))", styles[$0.arm]!) })
    }

    /// Each workload's medians with their confidence intervals as whiskers, one panel per
    /// workload (their units differ), the baseline's median as a dashed line.
    public static func medians(_ summary: Summary) -> String? {
        let panels = summary.workloads.filter { $0.rows.contains { $0.median != nil } }
        guard !panels.isEmpty else { return nil }
        let styles = armStyles(summary.settings.arms, baseline: summary.baseline)
        let rowHeight = 26.0, left = 150.0, right = 250.0, width = 900.0
        let panelHeights = panels.map { 70 + Double($0.rows.count) * rowHeight + 30 }
        var svg = SVGWriter(width: width, height: 40 + panelHeights.reduce(0, +))
        svg.rect(0, 0, svg.width, svg.height, fill: "#ffffff")
        svg.text("Medians with \(formatPercent(summary.confidence)) confidence intervals", x: 16, y: 24, size: 15, weight: "bold")
        var top = 40.0
        for (panel, panelHeight) in zip(panels, panelHeights) {
            let rows = panel.rows
            let values = rows.compactMap(\.median).flatMap { [$0.lower, $0.median, $0.upper] }.filter(\.isFinite)
            let axis = Axis.linear(from: min(0, values.min()!), to: values.max()!, title: panel.unit ?? "")
            let frame = ChartFrame(width: width, height: top + 70 + Double(rows.count) * rowHeight + 30,
                                   left: left, right: right, top: top + 48, bottom: 30)
            let heading = "\(panel.workload.name): \(panel.figureName ?? "figure")" + (panel.unit.map { " (\($0))" } ?? "")
                + (panel.higherIsBetter ? ", higher is better" : ", lower is better")
            svg.text(heading, x: 16, y: top + 22, size: 13, weight: "bold")
            for tick in axis.ticks {
                let px = frame.x(axis, tick.value)
                svg.line(px, frame.plotTop - 6, px, frame.plotBottom, stroke: "#e4e4e4")
                svg.text(tick.label, x: px, y: frame.plotBottom + 16, size: 11, anchor: "middle")
            }
            svg.line(frame.plotLeft, frame.plotBottom, frame.plotRight, frame.plotBottom, stroke: "#444")
            if let base = rows.first(where: { $0.arm == summary.baseline })?.median {
                let px = frame.x(axis, base.median)
                svg.line(px, frame.plotTop - 6, px, frame.plotBottom, stroke: "#333", dash: "4 3")
            }
            for (i, row) in rows.enumerated() {
                let cy = frame.plotTop + rowHeight * (Double(i) + 0.5)
                let color = styles[row.arm]!.color
                svg.text(row.arm.description, x: left - 10, y: cy + 4, size: 12, anchor: "end")
                guard let m = row.median else {
                    svg.text("no figure", x: frame.plotLeft + 4, y: cy + 4, size: 11, fill: "#888")
                    continue
                }
                // An interval end beyond the instrument's range runs to the plot's edge, open.
                let x1 = frame.x(axis, max(m.lower, axis.min)), x2 = frame.x(axis, min(m.upper, axis.max))
                svg.line(x1, cy, x2, cy, stroke: color, width: 2)
                if m.lower.isFinite { svg.line(x1, cy - 6, x1, cy + 6, stroke: color, width: 2) }
                if m.upper.isFinite { svg.line(x2, cy - 6, x2, cy + 6, stroke: color, width: 2) }
                svg.circle(frame.x(axis, m.median), cy, r: 5, fill: color)
                var label = TerminalReport.formatEstimate(m, formatNumber) + "  " + TerminalReport.formatInterval(m, formatNumber)
                if !m.reachesTarget { label += "*" }
                if let c = panel.comparisons.first(where: { $0.arm == row.arm && $0.reference == summary.baseline }),
                   let ratio = c.interval {
                    label += "  " + TerminalReport.formatEstimate(ratio, formatRatio) + "x"
                }
                svg.text(label, x: frame.plotRight + 12, y: cy + 4, size: 11)
            }
            top += panelHeight
        }
        return svg.document(title: "Medians with confidence intervals")
    }

    /// Buckets from the first to the last non-empty one over all rows, at least 4 wide.
    private static func bucketRange(_ rows: [Summary.Row]) -> ClosedRange<Int>? {
        let hs = rows.compactMap(\.runQueueLatency)
        guard let first = hs.compactMap({ $0.counts.firstIndex { $0 > 0 } }).min(),
              let last = hs.compactMap({ $0.counts.lastIndex { $0 > 0 } }).max()
        else { return nil }
        let count = hs.map(\.counts.count).max()!
        return first...min(count - 1, max(last, first + 3))
    }

    /// Bucket n spans [n-1, n] in log2(us) (bucket 0, [0, 1) us, is drawn as [-1, 0]).
    private static func bucketCenterLog2(_ n: Int) -> Double { Double(n) - 0.5 }

    /// Ticks at powers of two, labelled 1, 2, 4, ..., 1K, ...; every other one when crowded.
    private static func log2Axis(_ range: ClosedRange<Int>) -> Axis {
        let lo = Double(range.lowerBound) - 1, hi = Double(range.upperBound)
        let every = (hi - lo) > 12 ? 2 : 1
        let ticks = stride(from: Int(lo), through: Int(hi), by: every).map { e in
            (value: Double(e), label: e < 0 ? "0" : formatEdgeUs(pow(2, Double(e))))
        }
        return Axis(min: lo, max: hi, ticks: ticks, title: "wait (us, log2 buckets)")
    }

    private static func legendName(_ row: Summary.Row) -> String {
        "\(row.arm) (\(formatCount(row.runQueueLatency?.total ?? 0)))"
    }

    /// 1 -> "100%", 0.001 -> "0.1%", 1e-6 -> "0.0001%".
    private static func formatShare(_ share: Double) -> String {
        let percent = share * 100
        if percent >= 1 { return "\(Int(percent.rounded()))%" }
        let decimals = Int(-floor(log10(percent)))
        return String(format: "%.\(decimals)f%%", percent)
    }
}

extension Plots {
    /// Colors of the verdicts, in the comparisons picture and the HTML tables.
    static let verdictColors: [Verdict: String] = [
        .better: "#1b7837", .worse: "#b2182b", .same: "#2166ac", .undecided: "#777777",
    ]

    /// Every paired comparison as a row on a log axis of the ratio: each cycle's ratio as a
    /// small dot, the median ratio with its interval in the verdict's color, 1 as a line
    /// and the equivalence margin as a band; one panel per workload.
    public static func comparisons(_ summary: Summary) -> String? {
        let panels = summary.workloads.filter { $0.comparisons.contains { $0.interval != nil } }
        guard !panels.isEmpty else { return nil }
        var ends = [1 / (1 + summary.margin), 1 + summary.margin]
        for c in panels.flatMap(\.comparisons) {
            ends += c.cycles.flatMap { [$0.ratio.lower, $0.ratio.upper] }
            if let m = c.interval { ends += [m.lower, m.upper] }
        }
        let finite = ends.filter { $0.isFinite && $0 > 0 }
        let axis = ratioAxis(from: finite.min()!, to: finite.max()!)
        let rowHeight = 26.0, left = 190.0, right = 250.0, width = 900.0
        let panelHeights = panels.map { 60 + Double($0.comparisons.count) * rowHeight + 30 }
        var svg = SVGWriter(width: width, height: 64 + panelHeights.reduce(0, +))
        svg.rect(0, 0, svg.width, svg.height, fill: "#ffffff")
        let title = "Paired comparisons: arm / reference, cycle by cycle"
        svg.text(title, x: 16, y: 24, size: 15, weight: "bold")
        svg.text("dots: each cycle's ratio; bar: the \(formatPercent(summary.confidence)) interval of the median ratio; "
                 + "band: the margin (+-\(formatPercent(summary.margin)))", x: 16, y: 44, size: 11, fill: "#555")
        var top = 64.0
        for (panel, panelHeight) in zip(panels, panelHeights) {
            let rows = panel.comparisons
            let frame = ChartFrame(width: width, height: top + panelHeight, left: left, right: right, top: top + 40, bottom: 30)
            let heading = "\(panel.workload.name): \(panel.figureName ?? "figure")"
                + (panel.higherIsBetter ? ", higher is better" : ", lower is better")
            svg.text(heading, x: 16, y: top + 22, size: 13, weight: "bold")
            let band1 = frame.x(axis, log10(1 / (1 + summary.margin))), band2 = frame.x(axis, log10(1 + summary.margin))
            svg.rect(band1, frame.plotTop - 6, band2 - band1, frame.plotBottom - frame.plotTop + 6, fill: "#e8eef7")
            for tick in axis.ticks {
                let px = frame.x(axis, tick.value)
                svg.line(px, frame.plotTop - 6, px, frame.plotBottom, stroke: "#e4e4e4")
                svg.text(tick.label, x: px, y: frame.plotBottom + 16, size: 11, anchor: "middle")
            }
            svg.line(frame.plotLeft, frame.plotBottom, frame.plotRight, frame.plotBottom, stroke: "#444")
            let one = frame.x(axis, 0)
            svg.line(one, frame.plotTop - 6, one, frame.plotBottom, stroke: "#333", dash: "4 3")
            func x(_ ratio: Double) -> Double {
                guard ratio > 0 else { return frame.plotLeft }
                return frame.x(axis, min(max(log10(ratio), axis.min), axis.max))
            }
            for (i, c) in rows.enumerated() {
                let cy = frame.plotTop + rowHeight * (Double(i) + 0.5)
                let color = verdictColors[c.verdict]!
                if c.metric == panel.figureName {
                    svg.text(c.label, x: left - 10, y: cy + 4, size: 12, anchor: "end")
                } else {
                    // Another number than the figure: its name above the pair, so both fit.
                    svg.text(c.metric, x: left - 10, y: cy - 5, size: 10, anchor: "end", fill: "#666")
                    svg.text(c.label, x: left - 10, y: cy + 9, size: 12, anchor: "end")
                }
                for cycle in c.cycles {
                    // A cycle known only on one side sits at its known end.
                    let r = cycle.ratio.isExact ? cycle.ratio.lower : (cycle.ratio.upper.isFinite ? cycle.ratio.upper : cycle.ratio.lower)
                    svg.circle(x(r), cy - 8, r: 2.5, fill: "#999999")
                }
                guard let m = c.interval else {
                    svg.text("no cycle", x: frame.plotLeft + 4, y: cy + 4, size: 11, fill: "#888")
                    continue
                }
                let x1 = x(m.lower), x2 = x(m.upper)
                svg.line(x1, cy, x2, cy, stroke: color, width: 2.5)
                if m.lower > 0 && m.lower.isFinite { svg.line(x1, cy - 5, x1, cy + 5, stroke: color, width: 2) }
                if m.upper.isFinite { svg.line(x2, cy - 5, x2, cy + 5, stroke: color, width: 2) }
                svg.circle(x(m.median), cy, r: 5, fill: color)
                let label = TerminalReport.formatEstimate(m, formatRatio) + "x  " + c.verdictText
                svg.text(label, x: frame.plotRight + 12, y: cy + 4, size: 11, fill: color)
            }
            top += panelHeight
        }
        return svg.document(title: title)
    }

    /// A log10 axis of ratios from `lo` to `hi` with ticks at round ratios (0.5x, 1x, 2x,
    /// ...), finer ones when the range is narrow.
    static func ratioAxis(from lo: Double, to hi: Double) -> Axis {
        let lo = log10(lo) - 0.02, hi = log10(hi) + 0.02
        let mantissaSets: [[Double]] = [[1], [1, 2, 5], [1, 1.5, 2, 3, 5, 7], [1, 1.1, 1.2, 1.3, 1.5, 1.7, 2, 2.5, 3, 4, 5, 6, 7, 8, 9]]
        var ticks: [(Double, String)] = []
        for mantissas in mantissaSets {
            ticks = []
            for power in Int(floor(lo))...Int(ceil(hi)) {
                for m in mantissas {
                    let ratio = m * pow(10, Double(power))
                    let v = log10(ratio)
                    if v >= lo, v <= hi { ticks.append((v, formatTickRatio(ratio))) }
                }
            }
            if ticks.count >= 4 { break }
        }
        if ticks.count < 2 { ticks = [(lo, formatTickRatio(pow(10, lo))), (hi, formatTickRatio(pow(10, hi)))] }
        return Axis(min: lo, max: hi, ticks: ticks, title: "ratio")
    }

    /// "0.5x", "1x", "1.1x", "20x".
    static func formatTickRatio(_ r: Double) -> String {
        var s = String(format: r < 0.1 ? "%.3f" : "%.2f", r)
        while s.contains("."), s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s + "x"
    }
}
