import BPFLoader
import CBPFShim
import CompareKit
import Foundation
import Glibc
import ScxStats
import SwiftlandABI
@testable import SwiftlandUserMode
import Testing

@Suite("the scheduler's own cost: run's cost line and stats fields")
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

    @Test("the stats socket serves the cost fields beside the counters, each described once")
    func servedFields() {
        let names = RunStats.schema.fields.map(\.name)
        #expect(Set(names).count == names.count, "names are unique")
        #expect(names == CounterDefinition.schema.fields.map(\.name) + CostMeter.statsFields.map(\.name))
        for f in CostMeter.statsFields { #expect(!f.desc.isEmpty && !f.unit.isEmpty && f.kind != .info, "\(f.name)") }
        typealias F = SchedulerCost.Field
        let kinds = Dictionary(uniqueKeysWithValues: CostMeter.statsFields.map { ($0.name, $0.kind) })
        #expect(kinds[F.bpfStats] == .gauge && kinds[F.processUserNs] == .counter && kinds[F.bpfRunCount] == .counter)

        let cost = SchedulerCost(windowNs: 2_500_000_000, processUserNs: 50_000_000, processSystemNs: 25_000_000,
                                 schedulingThreadNs: 50_000_000, bpfRunNs: 9_000_000, bpfRunCount: 3000)
        let counted = RunStats.sample(Counters(swl_stats()), mode: .user, cost: cost)
        #expect(counted[F.elapsedNs] == .u64(2_500_000_000) && counted[F.schedulingThreadNs] == .u64(50_000_000))
        #expect(counted[F.bpfStats] == .u64(1) && counted[F.bpfRunNs] == .u64(9_000_000) && counted[F.bpfRunCount] == .u64(3000))
        #expect(counted.restricted(to: RunStats.schema) == counted, "every field the schema's")
        #expect(RunStats.costLine(counted) == CostMeter.fields(cost))
        // Without the thread's figure or BPF statistics, those fields are absent, not 0.
        var off = cost
        off.schedulingThreadNs = nil
        off.bpfRunNs = nil
        off.bpfRunCount = nil
        let uncounted = RunStats.sample(Counters(swl_stats()), mode: .bpf, cost: off)
        #expect(uncounted[F.bpfStats] == .u64(0))
        #expect(uncounted[F.bpfRunNs] == nil && uncounted[F.bpfRunCount] == nil && uncounted[F.schedulingThreadNs] == nil)
        #expect(RunStats.costLine(uncounted) == "elapsed_ns=2500000000 process_user_ns=50000000 process_system_ns=25000000 bpf_stats=0")
        #expect(RunStats.mode(of: uncounted) == .bpf && RunStats.mode(of: counted) == .user)
    }
}
