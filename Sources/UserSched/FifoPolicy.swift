import SwiftlandABI

/// First come, first served: the smallest complete policy, and the template for writing
/// your own.
///
/// To write a policy, copy this file and change the order (`key` in `enqueue`) and what
/// `next` answers. Everything a policy must get right is here:
/// - hold tasks in a `RunQueue` (O(log n), no allocation), keyed by what you order by.
///   The queue is non-copyable (it owns its memory, so the hot path has no reference
///   counting), so your policy is declared `~Copyable` too, as this one is; the scheduling
///   loop and the tests take policies `inout` and never copy them;
/// - when the queue is full, answer the task at once rather than drop it;
/// - echo the record's `enq_seq` and hand back a vruntime (here the record's, unchanged);
/// - claim an idle CPU from `idleCPUs` if you send a task to it, or answer SWL_CPU_ANY;
/// - keep your counters up to date.
public struct FifoPolicy: ~Copyable, SchedulingPolicy {
    public var name: String { PolicyName.fifo.rawValue }
    public var count: Int { queue.count }
    public var counters: PolicyCounters {
        var c = stats
        c.held = queue.count
        c.forgotten = queue.forgotten
        return c
    }

    private let config: PolicyConfig
    private var queue: RunQueue
    /// Arrival order: the key of the next record.
    private var arrivals: UInt64 = 0
    private var stats = PolicyCounters()

    /// - Parameter config: a valid one (`problem()` is nil); `PolicyName.make` checks.
    public init(config: PolicyConfig = PolicyConfig()) {
        self.config = config
        queue = RunQueue(capacity: config.maxTasks)
    }

    // `@inline(__always)` on `enqueue` and `next`: they ignore `nowNs`, and for a method
    // with an unused parameter the optimiser otherwise emits a trimmed copy behind a thunk.
    // Every call from another module (the scheduling thread, the benchmark) then makes two
    // calls and copies the returned record between them, most likely stalling on store
    // forwarding: 8-10 ns per task in the benchmark (bench/README.md). A policy of your
    // own that ignores a parameter may want the same.
    @inline(__always)
    public mutating func enqueue(_ task: swl_queued_task, nowNs: UInt64) -> swl_dispatched_task? {
        stats.enqueued += 1
        arrivals += 1
        switch queue.insert(task, key: arrivals) {
        case .inserted: return nil
        case .replaced:
            stats.replaced += 1
            return nil
        case .full:
            stats.overflows += 1
            return answerAtOnce(task)
        case .invalidPID:
            stats.invalidRecords += 1
            return answerAtOnce(task)
        }
    }

    /// A task the queue cannot hold is dispatched now rather than lost; the kernel side
    /// judges the record as it judges every other.
    private func answerAtOnce(_ task: swl_queued_task) -> swl_dispatched_task {
        swl_dispatched_task(
            pid: task.pid, cpu: SWL_CPU_ANY, slice_ns: config.sliceNs, vtime: task.vtime, enq_seq: task.enq_seq)
    }

    @inline(__always)
    public mutating func next(nowNs: UInt64, idleCPUs: inout CPUMask) -> swl_dispatched_task? {
        guard let task = queue.popMin() else { return nil }
        stats.dispatched += 1
        // Its previous CPU if that one is idle (its cache may still be warm), else any.
        var cpu = SWL_CPU_ANY
        if idleCPUs.claim(task.prevCPU) {
            cpu = task.prevCPU
            stats.idleCPUDispatches += 1
        }
        return swl_dispatched_task(task, cpu: cpu, sliceNs: config.sliceNs)
    }

    @discardableResult
    public mutating func remove(pid: Int32) -> Bool {
        stats.removed += 1
        return queue.remove(pid: pid)
    }
}
