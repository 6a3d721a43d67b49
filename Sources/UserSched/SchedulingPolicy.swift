import SwiftlandABI

/// A scheduling policy of user mode: queued-task records in, dispatch records out.
///
/// Implement this to write a scheduler in Swift; `FifoPolicy` is the template, and every
/// policy here holds its tasks in a `RunQueue` as it does. A policy is pure: no I/O, no
/// clock of its own (time comes in as `nowNs`), and nothing allocated per task once it is
/// built, so it can be tested in microseconds and run on the scheduling thread without
/// page faults.
///
/// The scheduling loop calls it like this, once per wakeup:
///
/// ```swift
/// let now = monotonicNs()
/// for record in recordsReadFromTheKernelRing {         // swl_queued_task
///     if let atOnce = policy.enqueue(record, nowNs: now) { send(atOnce) }
/// }
/// var idle = CPUMask(bitmap: idleBitmapFromTheKernel)
/// for _ in 0..<batch {                                  // --batch N
///     guard let decision = policy.next(nowNs: now, idleCPUs: &idle) else { break }
///     send(decision)                                     // swl_dispatched_task
/// }
/// ```
///
/// (`dispatch(nowNs:idleCPUs:into:)` does the second loop into space reserved in the user
/// ring.) A loop generic over the policy, entered once per concrete type, calls it without
/// dynamic dispatch; through `any SchedulingPolicy & ~Copyable` every call is dynamic.
///
/// A policy need not be copyable, and the ones in this module are not: they own their
/// `RunQueue` outright. Code generic over policies therefore says
/// `<P: SchedulingPolicy & ~Copyable>` (or `some SchedulingPolicy & ~Copyable`) and takes
/// the policy `inout` or `borrowing`; an existential is `any SchedulingPolicy & ~Copyable`,
/// as `PolicyName.make` returns.
///
/// Whatever a policy answers, the kernel side checks it: a CPU the task may not use is
/// replaced (bounce), and a record whose `enq_seq` is no longer the task's latest is
/// dropped (cancel). So a policy must echo `enq_seq` from the record it answers.
///
/// The record's `vtime` is the task's vruntime as the policy charges it (runtime x 100 /
/// weight, as `Vruntime.charge` does). The kernel side uses it once more: when a running
/// task's slice ends, it charges that task for the slice the same way and lets it run on
/// while it still comes before the first task dispatched for its CPU (bounded; see
/// `keep_running` in bpf/main.bpf.c), so that weights hold between tasks that share a CPU
/// and never wait in the policy together. A policy that answers a constant vtime simply
/// lets every such task take its turn.
public protocol SchedulingPolicy: ~Copyable {
    /// The name `--policy` selects it by.
    var name: String { get }

    /// Tasks held: read from the kernel and not dispatched yet.
    var count: Int { get }

    /// The policy's counters, read by the stats output.
    var counters: PolicyCounters { get }

    /// Takes one record from the kernel.
    ///
    /// A record for a pid already held replaces the held one (the task was re-enqueued,
    /// and the kernel would cancel a dispatch carrying the older `enq_seq`).
    ///
    /// - Returns: nil when the task is now held. Otherwise the policy could not hold it
    ///   (every task it knows is held, or the pid is malformed) and returns a dispatch
    ///   record the loop must send at once, so a task is never lost.
    mutating func enqueue(_ task: swl_queued_task, nowNs: UInt64) -> swl_dispatched_task?

    /// The next task to run, or nil when none is held.
    ///
    /// - Parameter idleCPUs: CPUs idle now. A policy may send the task to one of them
    ///   (and must then claim it, see `CPUMask.claim`) or answer `SWL_CPU_ANY`.
    mutating func next(nowNs: UInt64, idleCPUs: inout CPUMask) -> swl_dispatched_task?

    /// Forgets a task that exited, held or not.
    ///
    /// - Returns: whether the task was held (its record is dropped, not dispatched).
    @discardableResult
    mutating func remove(pid: Int32) -> Bool
}

extension SchedulingPolicy where Self: ~Copyable {
    public var isEmpty: Bool { count == 0 }

    /// Dispatches up to `output.count` tasks into `output`, e.g. space reserved in the
    /// user ring, and returns how many it wrote.
    public mutating func dispatch(
        nowNs: UInt64, idleCPUs: inout CPUMask, into output: UnsafeMutableBufferPointer<swl_dispatched_task>
    ) -> Int {
        var written = 0
        while written < output.count, let task = next(nowNs: nowNs, idleCPUs: &idleCPUs) {
            output[written] = task
            written += 1
        }
        return written
    }
}

/// The counters of a policy, one set for every policy (a policy leaves the ones that do
/// not apply to it at 0). Gauges say so; every other counter only grows.
public struct PolicyCounters: Sendable, Equatable {
    /// Gauge: tasks held (the policy's run queue).
    public var held = 0
    /// Gauge, bpfland: tasks classified interactive.
    public var interactive = 0
    /// Gauge, bpfland: the smoothed number of held tasks that scales the slice.
    public var nrWaiting: UInt64 = 0
    /// Gauge, bpfland: the moving interactive threshold (switches/s).
    public var nvcswAvgThresh: UInt64 = 0
    /// Records taken by `enqueue`.
    public var enqueued: UInt64 = 0
    /// Records that replaced a held record of the same pid.
    public var replaced: UInt64 = 0
    /// Dispatch records returned by `next`.
    public var dispatched: UInt64 = 0
    /// Of those, sent to an idle CPU rather than to any CPU.
    public var idleCPUDispatches: UInt64 = 0
    /// bpfland: dispatched from the priority (interactive) queue.
    public var prioDispatches: UInt64 = 0
    /// bpfland: dispatched from the regular queue.
    public var regularDispatches: UInt64 = 0
    /// bpfland: the regular queue served first by the starvation guard.
    public var starvationRegular: UInt64 = 0
    /// bpfland: the priority queue served first by the starvation guard.
    public var starvationPrio: UInt64 = 0
    /// bpfland: tasks promoted to interactive by a sync wakeup.
    public var syncPromotions: UInt64 = 0
    /// Records the policy could not hold (every known task held) and dispatched at once.
    public var overflows: UInt64 = 0
    /// Records with a pid no Linux task has (outside 0..<2^22), dispatched at once for the
    /// kernel side to judge.
    public var invalidRecords: UInt64 = 0
    /// Calls of `remove(pid:)` (tasks that exited).
    public var removed: UInt64 = 0
    /// Tasks not held forgotten to make room in the run queue's table.
    public var forgotten: UInt64 = 0

    public init() {}
}
