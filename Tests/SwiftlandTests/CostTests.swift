import BPFLoader
import CBPFShim
import CompareKit
import Foundation
import Glibc
@testable import SwiftlandUserMode
@testable import swiftland
import Testing

@Suite("the scheduler's own cost: run's snapshot and cost lines, compare's reading of them")
struct CostLineTests {
    typealias Reading = CostMeter.Reading

    @Test("run: the fields since the attachment, and bpf_stats=0 when the kernel did not count")
    func fields() {
        let attached = Reading(monotonicNs: 5_000_000_000, processUserNs: 7_000_000, processSystemNs: 3_000_000,
                               threadNs: 1_000_000, bpf: ProgramRunTime(runTimeNs: 400, runCount: 4))
        let now = Reading(monotonicNs: 7_500_000_000, processUserNs: 57_000_000, processSystemNs: 28_000_000,
                          threadNs: 51_000_000, bpf: ProgramRunTime(runTimeNs: 9_000_400, runCount: 3004))
        let cost = CostMeter.cost(since: attached, now: now)
        #expect(CostMeter.fields(cost) == "elapsed_ns=2500000000 process_user_ns=50000000 process_system_ns=25000000 "
            + "sched_thread_ns=50000000 bpf_stats=1 bpf_run_ns=9000000 bpf_run_cnt=3000")
        #expect(CostMeter.summary(cost)
            == "own CPU time over 2.5 s attached, as shares of one CPU: process 3.00% (scheduling thread 2.00%), BPF programs 0.36%")
        var off = now
        off.bpf = attached.bpf  // no run counted: counting was off
        off.threadNs = nil
        let unCounted = CostMeter.cost(since: attached, now: off)
        #expect(CostMeter.fields(unCounted) == "elapsed_ns=2500000000 process_user_ns=50000000 process_system_ns=25000000 bpf_stats=0")
        #expect(CostMeter.summary(unCounted).hasSuffix("BPF programs not counted (BPF statistics were off: sysctl kernel.bpf_stats_enabled=1 turns them on)"))
    }

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

    @Test("a thread's CPU time from its schedstat, to the nanosecond; nil when unreadable")
    func threadTime() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftland-task-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("42"), withIntermediateDirectories: true)
        try "123456789 2000 17\n".write(to: dir.appendingPathComponent("42/schedstat"), atomically: true, encoding: .utf8)
        #expect(CostMeter.threadCPUNs(tid: 42, procRoot: dir.path) == 123_456_789)
        #expect(CostMeter.threadCPUNs(tid: 43, procRoot: dir.path) == nil)
        #expect(CostMeter.threadCPUNs(tid: swl_gettid()) != nil)
    }

    @Test("the snapshot signal is waited for, not fatal, once added to the waiter")
    func snapshotSignal() {
        let waiter = SignalWaiter([]).adding([RunOutput.snapshotSignal])
        // raise() sends to this thread, which now blocks the signal: it stays pending for the waiter.
        raise(RunOutput.snapshotSignal)
        #expect(waiter.wait(milliseconds: 1000) == RunOutput.snapshotSignal)
        #expect(waiter.wait(milliseconds: 10) == nil)
    }
}
