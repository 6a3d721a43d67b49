import Foundation
import Testing
@testable import CompareKit

@Suite("the schedulers' own CPU cost: snapshots, shares, per 1,000 decisions, reports")
struct CostTests {
    typealias F = SchedulerCost.Field

    /// Two snapshots 2 s apart: process 30 ms user + 20 ms system, thread 40 ms, BPF 10 ms
    /// over 1,000 runs, 2,000 decisions (1,000 direct, 1,000 sent).
    static let start: [String: UInt64] = [
        F.elapsedNs: 1_000_000_000, F.processUserNs: 100_000_000, F.processSystemNs: 50_000_000,
        F.schedulingThreadNs: 20_000_000, F.bpfStats: 1, F.bpfRunNs: 3_000_000, F.bpfRunCount: 100,
        "nr_direct_dispatches": 10, "nr_sent": 20, "nr_kernel_dispatches": 99, "nr_user_timeouts": 5,
    ]
    static let end: [String: UInt64] = [
        F.elapsedNs: 3_000_000_000, F.processUserNs: 130_000_000, F.processSystemNs: 70_000_000,
        F.schedulingThreadNs: 60_000_000, F.bpfStats: 1, F.bpfRunNs: 13_000_000, F.bpfRunCount: 1100,
        "nr_direct_dispatches": 1010, "nr_sent": 1020, "nr_kernel_dispatches": 2000, "nr_user_timeouts": 900,
    ]

    @Test("between two snapshots: the differences, as shares of one CPU and per 1,000 decisions")
    func arithmetic() throws {
        let cost = try #require(SchedulerCost.between(Self.start, Self.end))
        #expect(cost == SchedulerCost(windowNs: 2_000_000_000, processUserNs: 30_000_000, processSystemNs: 20_000_000,
                                      schedulingThreadNs: 40_000_000, bpfRunNs: 10_000_000, bpfRunCount: 1000,
                                      decisions: 2000))
        #expect(cost.shareOfCPU(.process) == 0.025)
        #expect(cost.shareOfCPU(.schedulingThread) == 0.02)
        #expect(cost.shareOfCPU(.bpf) == 0.005)
        // 50 ms of CPU over 2,000 decisions: 25 ms per 1,000 (25 us each).
        #expect(cost.msPerThousandDecisions(.process) == 25)
        #expect(cost.msPerThousandDecisions(.schedulingThread) == 20)
        #expect(cost.msPerThousandDecisions(.bpf) == 5)
        #expect(cost.totalMsPerThousandDecisions == 30)
    }

    @Test("decisions: every placement once; fallback dispatches and other counters are not added")
    func decisions() {
        #expect(SchedulerCost.decisions(in: ["nr_direct_dispatches": 5, "nr_prio_dispatches": 7, "nr_shared_dispatches": 11,
                                             "nr_kthread_dispatches": 2, "nr_kept": 1000]) == 25)
        #expect(SchedulerCost.decisions(in: ["nr_direct_dispatches": 5, "nr_sent": 40, "nr_ring_full": 3,
                                             "nr_kernel_dispatches": 60, "nr_user_timeouts": 52]) == 48)
        #expect(SchedulerCost.decisions(in: ["nr_running": 3]) == nil)
    }

    @Test("BPF statistics off at either snapshot, or no run counted between: no BPF figure, and no total to compare")
    func statisticsOff() throws {
        var frozen = Self.end
        frozen[F.bpfRunCount] = Self.start[F.bpfRunCount]
        frozen[F.bpfRunNs] = Self.start[F.bpfRunNs]
        #expect(try #require(SchedulerCost.between(Self.start, frozen)).bpfRunNs == nil)
        var start = Self.start
        start[F.bpfStats] = 0
        start[F.bpfRunNs] = nil
        start[F.bpfRunCount] = nil
        let cost = try #require(SchedulerCost.between(start, Self.end))
        #expect(cost.bpfRunNs == nil && cost.bpfRunCount == nil)
        #expect(cost.shareOfCPU(.bpf) == nil && cost.msPerThousandDecisions(.bpf) == nil)
        #expect(cost.totalMsPerThousandDecisions == nil)
        #expect(cost.shareOfCPU(.process) == 0.025)
    }

    @Test("snapshots missing the process's figures, or going backwards, give no cost")
    func unusable() {
        var partial = Self.end
        partial[F.processSystemNs] = nil
        #expect(SchedulerCost.between(Self.start, partial) == nil)
        #expect(SchedulerCost.between(Self.end, Self.start) == nil)
        #expect(SchedulerCost.between([:], [:]) == nil)
        // bpf mode: no scheduling thread, and no decisions without counters.
        var start = Self.start, end = Self.end
        for name in [F.schedulingThreadNs, "nr_direct_dispatches", "nr_sent"] {
            start[name] = nil
            end[name] = nil
        }
        let cost = SchedulerCost.between(start, end)
        #expect(cost?.schedulingThreadNs == nil && cost?.decisions == nil)
        #expect(cost?.msPerThousandDecisions(.process) == nil && cost?.shareOfCPU(.process) == 0.025)
    }

    /// The sample experiment with costs: bpf mode's BPF programs at 2% of a CPU and 0.4 ms
    /// per 1,000 decisions, user mode's thread at 3%; user:bpfland's round 4 without BPF
    /// figures (statistics off).
    static func experimentWithCosts() throws -> Experiment {
        var experiment = try sampleExperiment()
        for i in experiment.records.indices where experiment.records[i].arm.placement != .kernel {
            let r = experiment.records[i]
            let user = r.arm.isUserMode
            var cost = SchedulerCost(
                windowNs: 1_000_000_000, processUserNs: user ? 30_000_000 : 1_000_000, processSystemNs: user ? 10_000_000 : 1_000_000,
                schedulingThreadNs: user ? 30_000_000 + UInt64(r.round) * 1_000_000 : nil,
                bpfRunNs: user ? 30_000_000 : 20_000_000, bpfRunCount: 10_000, decisions: 50_000)
            if r.arm.description == "user:bpfland", r.round == 4 {
                cost.bpfRunNs = nil
                cost.bpfRunCount = nil
            }
            experiment.records[i].cost = cost
        }
        return experiment
    }

    @Test("the summary: medians per arm, none for eevdf, and user against bpf compared per 1,000 decisions")
    func summary() throws {
        let summary = Summary(try Self.experimentWithCosts())
        let hackbench = summary.workloads[0]
        #expect(hackbench.rows[0].cost == nil)
        let bpf = try #require(hackbench.rows[1].cost)
        #expect(bpf.rounds == 7 && bpf.roundsWithoutBPF == 0 && bpf.decisions == 50_000)
        #expect(bpf.shares[.bpf] == 0.02 && bpf.shares[.process] == 0.002 && bpf.shares[.schedulingThread] == nil)
        #expect(bpf.msPerThousand[.bpf] == 0.4)
        let user = try #require(hackbench.rows[2].cost)
        #expect(user.roundsWithoutBPF == 1)
        // Thread 31 ... 37 ms over rounds 1 ... 7: the median is round 4's.
        #expect(abs(user.shares[.schedulingThread]! - 0.034) < 1e-12)
        let costs = hackbench.comparisons.filter { $0.metric == CostSummary.comparedMetric }
        #expect(costs.map(\.label) == ["user:bpfland / bpf", "user:bpfland:8 / bpf"])
        // (30 + 40) / (20 + 2) ms per 50,000 decisions, every cycle: worse.
        #expect(abs(costs[1].interval!.median - 70.0 / 22) < 1e-12 && costs[1].verdict == .worse)
        #expect(costs[0].leftOutRounds == [4] && costs[0].cycles.count == 6)
        #expect(hackbench.comparedMetrics == ["time", CostSummary.comparedMetric])
    }

    @Test("an experiment without costs (an older file) shows no cost table and compares only the figure")
    func olderFile() throws {
        let summary = Summary(try sampleExperiment())
        #expect(summary.workloads[0].comparedMetrics == ["time"])
        #expect(summary.workloads[0].rows[1].cost?.rounds == 0)
        let text = TerminalReport.render(summary, histograms: false)
        #expect(!text.contains("the scheduler's own CPU time") && !text.contains("not measured"))
        let json = try sampleExperiment().jsonData()
        #expect(!String(decoding: json, as: UTF8.self).contains("\"cost\""))
        #expect(try Experiment.decode(json: json).records.allSatisfy { $0.cost == nil })
    }

    @Test("terminal: the cost table between the figure's comparisons and the cost's; eevdf not measured, not 0")
    func terminal() throws {
        let text = TerminalReport.render(Summary(try Self.experimentWithCosts()), histograms: false)
        let lines = text.split(separator: "\n").map(String.init)
        let heading = try #require(lines.firstIndex { $0.hasPrefix("  the scheduler's own CPU time while hackbench ran") })
        #expect(lines[heading + 1].split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            == "arm rounds decisions BPF programs scheduling thread process")
        #expect(lines[heading + 2].hasPrefix("  eevdf ") && lines[heading + 2].contains("not measured"))
        #expect(!lines[heading + 2].contains("0%"))
        #expect(lines[heading + 3].split(separator: " ").map(String.init)
            == ["bpf", "7", "50,000", "2.00%,", "0.400", "ms", "-", "0.20%,", "0.0400", "ms"])
        #expect(lines[heading + 4].hasPrefix("  user:bpfland ") && lines[heading + 4].contains("7 (1 without BPF)")
            && lines[heading + 4].contains("3.40%, 0.680 ms"))
        let figureComparison = try #require(lines.firstIndex { $0.hasPrefix("  bpf / eevdf ") })
        let costComparison = try #require(lines.firstIndex { $0 == "  \(CostSummary.comparedMetric):" })
        #expect(figureComparison < heading && heading < costComparison)
        #expect(text.replacingOccurrences(of: "\n", with: " ").contains("eevdf is not measured"))
    }

    @Test("CSV: the raw numbers, shares and per-1,000 columns; empty where not measured")
    func csv() throws {
        let csv = CSVReport.render(try Self.experimentWithCosts())
        let lines = csv.components(separatedBy: "\r\n").dropLast()
        let header = lines.first!.split(separator: ",").map(String.init)
        let columns = Dictionary(uniqueKeysWithValues: header.enumerated().map { ($1, $0) })
        func cell(_ line: String, _ column: String) -> String {
            line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)[columns[column]!]
        }
        let bpf = try #require(lines.first { $0.hasPrefix("3,0,bpf,hackbench,") })
        #expect(cell(bpf, "bpf_run_ns") == "20000000" && cell(bpf, "bpf_cpu_pct") == "2")
        #expect(cell(bpf, "bpf_ms_per_1k_decisions") == "0.4" && cell(bpf, "sched_thread_cpu_pct") == "")
        #expect(cell(bpf, "decisions") == "50000" && cell(bpf, "cost_window_ns") == "1000000000")
        let eevdf = try #require(lines.first { $0.hasPrefix("3,0,eevdf,hackbench,") })
        #expect(cell(eevdf, "process_cpu_pct") == "" && cell(eevdf, "decisions") == "")
        let user = try #require(lines.first { $0.hasPrefix("4,0,user:bpfland,hackbench,") })
        #expect(cell(user, "bpf_run_ns") == "" && cell(user, "sched_thread_ns") == "34000000")
    }

    @Test("JSON keeps every cost; HTML shows the table and the note")
    func jsonAndHTML() throws {
        let experiment = try Self.experimentWithCosts()
        #expect(try Experiment.decode(json: experiment.jsonData()) == experiment)
        let html = HTMLReport.render(experiment)
        #expect(parseXML(html).error == nil)
        #expect(html.contains("the scheduler&#39;s own CPU time while hackbench ran") || html.contains("the scheduler's own CPU time while hackbench ran"))
        #expect(html.contains("<td>not measured</td>") && !html.contains("<td>stats off</td>"))
        #expect(html.contains(escapeMarkup(CostSummary.comparedMetric)))
    }

    @Test("a share is shown as a percentage, never as 0 when it is not")
    func shares() {
        #expect(formatShare(0.0251) == "2.51%")
        #expect(formatShare(0.123) == "12.3%")
        #expect(formatShare(0.00001) == "<0.01%")
        #expect(formatShare(0) == "0%")
    }
}
