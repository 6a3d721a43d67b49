import SwiftlandABI

/// First come, first served: the smallest complete policy, and the template for writing
/// your own.
///
/// It works as the other policies do. To write a policy, copy this file, decide what you
/// keep of a task (`Task`) and in what order tasks go (`key` in `enqueue`), and what `next`
/// answers. What every policy gets right:
/// - it holds tasks in a `RunQueue`, which is non-copyable (it owns its memory, so the hot
///   path has no reference counting), so the policy is declared `~Copyable` too; the
///   scheduling loop and the tests take policies `inout` and never copy them;
/// - when the queue cannot hold a task, it answers the record at once rather than lose it;
/// - it echoes the record's `enq_seq` and hands back a vruntime (here the record's,
///   unchanged);
/// - it claims an idle CPU from `idleCPUs` if it sends a task there, or answers
///   `SWL_CPU_ANY`;
/// - its counters are the queue's, with its own added (`idleCPUDispatches`).
public struct FifoPolicy: ~Copyable, SchedulingPolicy {
    public var name: String { PolicyName.fifo.rawValue }
    public var count: Int { queue.count }
    public var counters: PolicyCounters { queue.counters }

    /// What the policy keeps of a task in its slot: what its dispatch record needs.
    struct Task {
        var vtime: UInt64 = 0
        var enqSeq: UInt64 = 0
        var prevCPU: Int32 = 0
    }

    private let config: PolicyConfig
    private var queue: RunQueue<Task>
    /// Arrival order: the key of the next record.
    private var arrivals: UInt64 = 0

    /// - Parameter config: a valid one (`problem()` is nil); `PolicyName.make` checks.
    public init(config: PolicyConfig = PolicyConfig()) {
        self.config = config
        queue = RunQueue(capacity: config.maxTasks)
    }

    // `@inline(__always)`: with `nowNs` unused, the optimiser otherwise emits a copy
    // without it behind a thunk, and every call from another module goes through both.
    @inline(__always)
    public mutating func enqueue(_ task: swl_queued_task, nowNs: UInt64) -> swl_dispatched_task? {
        guard let slot = queue.acquire(pid: task.pid, initial: Task()) else { return answerAtOnce(task) }
        arrivals += 1
        queue.hold(slot, Task(vtime: task.vtime, enqSeq: task.enq_seq, prevCPU: task.prev_cpu), key: arrivals)
        return nil
    }

    /// A task the queue cannot hold is dispatched now rather than lost; the kernel side
    /// judges the record as it judges every other.
    private func answerAtOnce(_ task: swl_queued_task) -> swl_dispatched_task {
        swl_dispatched_task(
            pid: task.pid, cpu: SWL_CPU_ANY, slice_ns: config.sliceNs, vtime: task.vtime, enq_seq: task.enq_seq)
    }

    @inline(__always)
    public mutating func next(nowNs: UInt64, idleCPUs: inout CPUMask) -> swl_dispatched_task? {
        guard let first = queue.popMin() else { return nil }
        let task = first.state
        // Its previous CPU if that one is idle (its cache may still be warm), else any.
        var cpu = SWL_CPU_ANY
        if idleCPUs.claim(task.prevCPU) {
            cpu = task.prevCPU
            queue.counters.idleCPUDispatches += 1
        }
        return swl_dispatched_task(
            pid: first.pid, cpu: cpu, slice_ns: config.sliceNs, vtime: task.vtime, enq_seq: task.enqSeq)
    }

    @discardableResult
    public mutating func remove(pid: Int32) -> Bool {
        queue.remove(pid: pid)?.wasHeld ?? false
    }
}
