import BPFLoader
import CBPFShim
import Foundation
import Glibc
@testable import SwiftlandUserMode
import Testing

@Suite("the scheduler's own cost: run's snapshot and cost lines")
struct CostMeterTests {
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
