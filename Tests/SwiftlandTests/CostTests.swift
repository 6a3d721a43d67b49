import CompareKit
@testable import swiftland
import Testing

/// compare's reading of the cost lines of its `swiftland run` children.
@Suite("the scheduler's own cost, as compare reads it from run's snapshot lines")
struct CostLineTests {
    /// What `swiftland run --stats 1` printed in a compare round: two snapshots around the
    /// workload, stats lines, the final counters and cost.
    static let output = """
        swiftland: attached, mode user, policy bpfland, batch 8
        swiftland: nr_running=1 nr_direct_dispatches=3 nr_in_flight=0 nr_sent=10
        swiftland: snapshot: elapsed_ns=1000000000 process_user_ns=4000000 process_system_ns=6000000 sched_thread_ns=2000000 bpf_stats=1 bpf_run_ns=1000000 bpf_run_cnt=100 nr_running=1 nr_direct_dispatches=40 nr_kernel_dispatches=40 nr_sent=60
        swiftland: nr_running=2 nr_direct_dispatches=900 nr_in_flight=4 nr_sent=1200
        swiftland: snapshot: elapsed_ns=5000000000 process_user_ns=84000000 process_system_ns=46000000 sched_thread_ns=102000000 bpf_stats=1 bpf_run_ns=41000000 bpf_run_cnt=20100 nr_running=1 nr_direct_dispatches=2040 nr_kernel_dispatches=2100 nr_sent=6060
        swiftland: counters: nr_running=0 nr_direct_dispatches=2100 nr_kernel_dispatches=2160 nr_sent=6100
        swiftland: cost: elapsed_ns=5100000000 process_user_ns=85000000 process_system_ns=47000000 sched_thread_ns=103000000 bpf_stats=1 bpf_run_ns=42000000 bpf_run_cnt=20500
        """

    @Test("compare: the cost between the two snapshots, over the workload alone")
    func snapshots() throws {
        #expect(ChildScheduler.snapshots(in: Self.output).count == 2)
        let cost = try #require(ChildScheduler.cost(in: Self.output))
        #expect(cost == SchedulerCost(windowNs: 4_000_000_000, processUserNs: 80_000_000, processSystemNs: 40_000_000,
                                      schedulingThreadNs: 100_000_000, bpfRunNs: 40_000_000, bpfRunCount: 20_000,
                                      decisions: 8000))
        #expect(cost.shareOfCPU(.schedulingThread) == 0.025)
        #expect(cost.msPerThousandDecisions(.schedulingThread) == 12.5)
    }

    @Test("compare: no snapshots (eevdf, a child that printed none) or only one give no cost")
    func missingSnapshots() {
        #expect(ChildScheduler.cost(in: "") == nil)
        let withoutSnapshots = Self.output.split(separator: "\n").filter { !$0.contains("snapshot:") }.joined(separator: "\n")
        #expect(ChildScheduler.cost(in: withoutSnapshots) == nil)
        let oneSnapshot = Self.output.split(separator: "\n").filter { !$0.contains("elapsed_ns=5000000000") }.joined(separator: "\n")
        #expect(ChildScheduler.cost(in: oneSnapshot) == nil)
        // The counters line is still the final one: a snapshot line is not a counters line.
        #expect(!Self.output.split(separator: "\n").contains { $0.contains("snapshot:") && $0.contains("counters:") })
    }
}
