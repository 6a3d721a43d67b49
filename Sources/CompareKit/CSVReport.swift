import Foundation

/// Every round as one CSV row (RFC 4180), for spreadsheets and scripts: the figure, the
/// run-queue latency summary, the scheduler's own cost and the counters. Warm-up rounds are included and marked, so
/// the file is the raw data; the JSON file additionally holds the histograms, parser
/// details and time series.
public enum CSVReport {
    /// Counters placed first because they tell the bufferbloat story; the others follow
    /// in name order.
    static let keyCounters = [
        "nr_sent", "nr_user_dispatches", "nr_kernel_dispatches", "nr_ring_full", "nr_user_timeouts",
        "idle_in_flight_ns", "nr_direct_dispatches", "nr_prio_dispatches", "nr_shared_dispatches",
    ]

    public static let fixedColumns = [
        "round", "warmup", "arm", "workload", "figure", "value", "bound", "unit", "higher_is_better", "failure",
        "rqlat_samples", "rqlat_p50_us", "rqlat_p90_us", "rqlat_p99_us", "rqlat_max_us",
    ] + costColumns + ["scheduler_exit_status"]

    /// The scheduler's own cost while the workload ran (`SchedulerCost`): the raw numbers,
    /// then each part as a percentage of one CPU and in CPU ms per 1,000 decisions. Empty
    /// where not measured (eevdf, BPF statistics off, bpf mode's absent scheduling thread).
    static let costColumns = [
        "cost_window_ns", "process_user_ns", "process_system_ns", "sched_thread_ns", "bpf_run_ns", "bpf_run_cnt",
        "decisions",
    ] + costParts.map { "\($0.column)_cpu_pct" } + costParts.map { "\($0.column)_ms_per_1k_decisions" }

    private static let costParts: [(part: SchedulerCost.Part, column: String)] = [
        (.bpf, "bpf"), (.schedulingThread, "sched_thread"), (.process, "process"),
    ]

    /// The counter columns of `experiment`: key counters present first, then the rest.
    public static func counterColumns(_ experiment: Experiment) -> [String] {
        let present = Set(experiment.records.flatMap(\.counters.keys))
        let key = keyCounters.filter(present.contains)
        return key + present.subtracting(key).sorted()
    }

    public static func render(_ experiment: Experiment) -> String {
        let counters = counterColumns(experiment)
        var lines = [(fixedColumns + counters).map(field).joined(separator: ",")]
        for r in experiment.records {
            let h = r.runQueueLatency
            // Percentiles as bucket upper edges, like the tables; empty when unknown.
            func edge(_ q: Double) -> String {
                h?.percentile(q)?.upperEdgeUs.map(formatNumber) ?? ""
            }
            var cells = [
                String(r.round), r.isWarmup ? "1" : "0", r.arm.description, r.workload,
                r.figure?.name ?? "", r.figure.map { numberCell($0.value) } ?? "", r.figure?.bound?.rawValue ?? "",
                r.figure?.unit ?? "",
                r.figure.map { $0.higherIsBetter ? "1" : "0" } ?? "", r.failure ?? "",
                h.map { String($0.total) } ?? "", edge(0.5), edge(0.9), edge(0.99),
                h?.largestUs.map { formatNumber($0.value) } ?? "",
            ]
            let c = r.cost
            cells += [c?.windowNs, c?.processUserNs, c?.processSystemNs, c?.schedulingThreadNs, c?.bpfRunNs, c?.bpfRunCount,
                      c?.decisions].map { $0.map(String.init) ?? "" }
            cells += costParts.map { p in c?.shareOfCPU(p.part).map { numberCell($0 * 100) } ?? "" }
            cells += costParts.map { p in c?.msPerThousandDecisions(p.part).map(numberCell) ?? "" }
            cells.append(r.schedulerExitStatus.map(String.init) ?? "")
            cells += counters.map { r.counters[$0].map(String.init) ?? "" }
            lines.append(cells.map(field).joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    public static let comparisonColumns = [
        "workload", "figure", "arm", "reference", "higher_is_better", "cycles_used", "cycles_left_out", "better_cycles",
        "worse_cycles", "tied_cycles", "unknown_cycles", "ratio", "ratio_bound", "ci_lower", "ci_upper", "coverage",
        "sign_test_p", "margin", "verdict", "within_margin",
    ]

    /// One row per paired comparison, with its verdict and the cycles it used.
    public static func comparisons(_ summary: Summary) -> String {
        var lines = [comparisonColumns.map(field).joined(separator: ",")]
        for c in summary.comparisons {
            let m = c.interval
            func number(_ x: Double?) -> String { x.map(numberCell) ?? "" }
            let counts: [Int] = [c.cycles.count, c.leftOutRounds.count, c.betterCycles, c.worseCycles, c.tiedCycles, c.unknownCycles]
            var cells: [String] = [c.workload, c.metric, c.arm.description, c.reference.description, c.higherIsBetter ? "1" : "0"]
            cells += counts.map { String($0) }
            cells += [number(m?.median), m?.medianBound?.rawValue ?? "", number(m?.lower), number(m?.upper), number(m?.coverage)]
            cells += [numberCell(c.signTestPValue), numberCell(c.margin), c.verdict.rawValue, c.withinMargin ? "1" : "0"]
            lines.append(cells.map(field).joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    /// Full precision, so the CSV loses nothing the JSON has; infinity as "inf".
    static func numberCell(_ x: Double) -> String {
        if x.isInfinite { return x > 0 ? "inf" : "-inf" }
        return x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : String(x)
    }

    /// Quoted when it holds a comma, a quote or a line break; quotes doubled.
    static func field(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
