import BPFLoader
import CompareKit
import Foundation
import Glibc
import ScxStats

/// What the attached scheduler has cost so far: the process's CPU time, user mode's
/// scheduling thread's, and the BPF programs' run time when the kernel counts it, each a
/// total since the attachment. `swiftland run` serves these fields on its stats socket
/// (compare reads them just before and just after a workload) and prints them at exit.
struct CostMeter {
    /// One reading of every clock, absolute.
    struct Reading: Equatable {
        var monotonicNs: UInt64
        var processUserNs: UInt64
        var processSystemNs: UInt64
        /// Nil in bpf mode, or when the thread's schedstat cannot be read.
        var threadNs: UInt64?
        /// The scheduler's programs' run time as the kernel counted it; nil when unreadable.
        var bpf: ProgramRunTime?
    }

    private let scheduler: BPFScheduler
    /// user mode's scheduling thread; nil in bpf mode.
    private let schedTid: Int32?
    private let attached: Reading

    /// Reads every clock now: call it right after the scheduler attached.
    init(scheduler: BPFScheduler, schedTid: Int32?) {
        self.scheduler = scheduler
        self.schedTid = schedTid
        attached = Self.read(scheduler, schedTid)
    }

    /// What was spent from the attachment until now (no decisions: those are counters).
    func spent() -> SchedulerCost {
        Self.cost(since: attached, now: Self.read(scheduler, schedTid))
    }

    /// The BPF figures are there only when the kernel counted run time: the scheduler's
    /// programs run all the time while it is attached, so a run count that did not grow
    /// means that counting was off (the sysctl cannot tell: see `BPFStatistics`).
    static func cost(since a: Reading, now b: Reading) -> SchedulerCost {
        var cost = SchedulerCost(
            windowNs: b.monotonicNs &- a.monotonicNs, processUserNs: b.processUserNs &- a.processUserNs,
            processSystemNs: b.processSystemNs &- a.processSystemNs)
        if let t0 = a.threadNs, let t1 = b.threadNs { cost.schedulingThreadNs = t1 &- t0 }
        if let p0 = a.bpf, let p1 = b.bpf, p1.runCount > p0.runCount {
            let ran = p1.since(p0)
            cost.bpfRunNs = ran.runTimeNs
            cost.bpfRunCount = ran.runCount
        }
        return cost
    }

    /// The fields (`SchedulerCost.Field`), totals since the attachment, in order:
    /// `bpf_stats=1` and the BPF figures, or `bpf_stats=0` when the kernel did not count
    /// (`cost(since:now:)`); no `sched_thread_ns` without the thread's figure.
    static func values(_ cost: SchedulerCost) -> [(name: String, value: UInt64)] {
        typealias F = SchedulerCost.Field
        var out: [(name: String, value: UInt64)] = [
            (F.elapsedNs, cost.windowNs), (F.processUserNs, cost.processUserNs), (F.processSystemNs, cost.processSystemNs),
        ]
        if let t = cost.schedulingThreadNs { out.append((F.schedulingThreadNs, t)) }
        if let ns = cost.bpfRunNs, let count = cost.bpfRunCount {
            out += [(F.bpfStats, 1), (F.bpfRunNs, ns), (F.bpfRunCount, count)]
        } else {
            out.append((F.bpfStats, 0))
        }
        return out
    }

    /// The same as `name=value` words, for the `cost:` line.
    static func fields(_ cost: SchedulerCost) -> String {
        values(cost).map { "\($0.name)=\($0.value)" }.joined(separator: " ")
    }

    /// What the stats schema says of each of `values`' fields.
    static let statsFields: [StatsSchema.Field] = {
        typealias F = SchedulerCost.Field
        let since = "since the scheduler attached"
        return [
            .init(name: F.elapsedNs, desc: "time \(since) (CLOCK_MONOTONIC), the clock of the cost fields", unit: "ns", kind: .counter),
            .init(name: F.processUserNs, desc: "user CPU time of the swiftland process, every thread, \(since)", unit: "ns", kind: .counter),
            .init(name: F.processSystemNs, desc: "system CPU time of the swiftland process, every thread, \(since)", unit: "ns", kind: .counter),
            .init(name: F.schedulingThreadNs, desc: "CPU time of the scheduling thread \(since) [user, hybrid mode; absent when unreadable]", unit: "ns", kind: .counter),
            .init(name: F.bpfStats, desc: "1 when the kernel counted the BPF programs' run time \(since) (kernel.bpf_stats_enabled=1, or another process holds BPF statistics on), 0 when it did not; bpf_run_ns and bpf_run_cnt are there only with 1", unit: "0 or 1", kind: .gauge),
            .init(name: F.bpfRunNs, desc: "run time of the scheduler's BPF programs \(since), every callback on every CPU, as the kernel counted it", unit: "ns", kind: .counter),
            .init(name: F.bpfRunCount, desc: "runs of the scheduler's BPF programs \(since), as the kernel counted them", unit: "runs", kind: .counter),
        ]
    }()

    /// The same in words, for the log: shares of one CPU.
    static func summary(_ cost: SchedulerCost) -> String {
        func share(_ part: SchedulerCost.Part) -> String {
            cost.shareOfCPU(part).map { String(format: "%.2f%%", $0 * 100) } ?? "?"
        }
        var text = "own CPU time over \(String(format: "%.1f", Double(cost.windowNs) / 1e9)) s attached, "
            + "as shares of one CPU: process \(share(.process))"
        if cost.schedulingThreadNs != nil { text += " (scheduling thread \(share(.schedulingThread)))" }
        text += cost.bpfRunNs != nil
            ? ", BPF programs \(share(.bpf))"
            : ", BPF programs not counted (BPF statistics were off: sysctl kernel.bpf_stats_enabled=1 turns them on)"
        return text
    }

    static func read(_ scheduler: BPFScheduler, _ schedTid: Int32?) -> Reading {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func ns(_ t: timeval) -> UInt64 { UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_usec) * 1000 }
        return Reading(
            monotonicNs: UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec),
            processUserNs: ns(usage.ru_utime), processSystemNs: ns(usage.ru_stime),
            threadNs: schedTid.flatMap { threadCPUNs(tid: $0) },
            bpf: try? scheduler.programRunTime())
    }

    /// A thread of this process's CPU time in nanoseconds: the first field of its
    /// schedstat (time spent on a CPU), which the kernel keeps to the nanosecond, where
    /// its stat file rounds to clock ticks.
    static func threadCPUNs(tid: Int32, procRoot: String = "/proc/self/task") -> UInt64? {
        guard let text = try? String(contentsOfFile: "\(procRoot)/\(tid)/schedstat", encoding: .utf8) else { return nil }
        return text.split(separator: " ").first.flatMap { UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }
}

/// The attached scheduler's meter, read by the stats server's thread for each request: the
/// cost fields are as fresh as the request, and nothing is spent on them between requests
/// (each reading is a dozen system calls, a share of a CPU if taken every tick). The runner
/// clears it before it detaches, so no reading touches a scheduler on its way out.
final class LiveCost: @unchecked Sendable {
    private let lock = NSLock()
    private var meter: CostMeter?

    func set(_ meter: CostMeter?) {
        lock.withLock { self.meter = meter }
    }

    /// Spent since the attachment; nil while none is attached.
    func spent() -> SchedulerCost? {
        lock.withLock { meter?.spent() }
    }
}
