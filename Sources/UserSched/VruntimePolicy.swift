import SwiftlandABI

/// The rustland design: one queue ordered by deadline, where the deadline is the task's
/// vruntime plus how long it has run since it last slept.
///
/// - vruntime: the record's, charged the task's last run scaled by weight
///   (runtime x 100 / weight), then raised to at least `vruntimeNow - sliceLagNs`
///   (a sleeper keeps at most that much credit).
/// - deadline: vruntime + min(exec_runtime_ns, 100 x sliceNs). A task that sleeps often
///   (short runs between sleeps) gets an early deadline: good for latency-sensitive tasks,
///   without any classification.
/// - order: (deadline, enqueue_ts_ns in microseconds, pid), lowest first.
/// - slice: max(sliceNs / (waiting + 1), sliceMinNs), waiting = tasks still held.
/// - CPU: the task's previous CPU if it is idle, else any.
///
/// vruntime contract with the kernel side: the kernel keeps the vtime of the last
/// dispatch record in p->scx.dsq_vtime and sends it back in the task's next record; it
/// does not charge runtime itself. Each run is charged once, when the first record after
/// it arrives (a record with the same stop_ts_ns is not charged again).
public struct VruntimePolicy: ~Copyable, SchedulingPolicy {
    public var name: String { PolicyName.vruntime.rawValue }
    public private(set) var count = 0
    public var counters: PolicyCounters {
        var c = stats
        c.held = count
        c.forgotten = table.forgotten
        return c
    }

    /// The vruntime of the task dispatched most recently: the reference of the
    /// sleep-credit cap.
    ///
    /// Not the largest vruntime dispatched, as bpfland keeps: deadline order lets a task
    /// far ahead in vruntime (a low-weight one, charged 100x its runtime at weight 1) go
    /// before the others, and a maximum would then raise every other task's floor to it.
    /// In the weight-fairness test that gave a nice-19 task twice its share.
    public private(set) var vruntimeNow: UInt64 = 0

    private let config: PolicyConfig
    private var table: TaskTable<TaskState>
    private var heap: TaskHeap
    private var stats = PolicyCounters()

    // Internal, not private: Swift 6.3.1 (debug builds) references the type descriptor of
    // a private type used in a non-copyable `TaskTable` from other files of the module and
    // then fails ("Global is external, but doesn't have external or weak linkage").
    struct TaskState {
        /// The task's current heap entry; any other entry of it is stale.
        var entry = HeapEntry(key: 0, pid: 0)
        var vtime: UInt64 = 0
        var enqSeq: UInt64 = 0
        /// stop_ts_ns of the last run charged.
        var chargedStopNs: UInt64 = 0
        var prevCPU: Int32 = 0
        var isHeld = false
    }

    /// Bytes of table per task (a test keeps it at one cache line).
    static var taskBucketBytes: Int { TaskTable<TaskState>.bucketBytes }

    /// - Parameter config: a valid one (`problem()` is nil); `PolicyName.make` checks.
    public init(config: PolicyConfig = PolicyConfig()) {
        self.config = config
        table = TaskTable(capacity: config.maxTasks)
        heap = TaskHeap(capacity: 2 * config.maxTasks)
    }

    @inline(__always)  // as FifoPolicy's: no trimmed copy behind a thunk (nowNs is unused)
    public mutating func enqueue(_ task: swl_queued_task, nowNs: UInt64) -> swl_dispatched_task? {
        stats.enqueued += 1
        guard HeapEntry.canHold(pid: task.pid) else {
            stats.invalidRecords += 1
            return answerAtOnce(task)
        }
        guard let (index, isNew) = table.acquire(pid: task.pid, initial: TaskState(), isHeld: \.isHeld) else {
            stats.overflows += 1
            return answerAtOnce(task)
        }
        var state = table[index]
        var vtime: UInt64
        if isNew || task.stop_ts_ns != state.chargedStopNs {
            vtime = task.vtime &+ Vruntime.charge(runtimeNs: Vruntime.lastRunNs(task), weight: task.weight)
            state.chargedStopNs = task.stop_ts_ns
        } else {
            // The same run again (re-enqueued before running): the record carries the
            // vruntime before our charge if the kernel never stored it, after it if it did.
            vtime = Vruntime.later(task.vtime, state.vtime)
        }
        vtime = Vruntime.capped(vtime, reference: vruntimeNow, lagNs: config.sliceLagNs)
        let runtimeCredit = Swift.min(task.exec_runtime_ns, config.sliceNs &* 100)
        let entry = HeapEntry(key: vtime &+ runtimeCredit, tieBreak: task.enqueue_ts_ns / 1_000, pid: task.pid)
        if state.isHeld { stats.replaced += 1 } else { count += 1 }
        state.entry = entry
        state.isHeld = true
        state.vtime = vtime
        state.enqSeq = task.enq_seq
        state.prevCPU = task.prev_cpu
        table[index] = state
        heap.push(entry) { Self.currentIndex(of: $0, in: table) }
        return nil
    }

    @inline(__always)  // as FifoPolicy's: no trimmed copy behind a thunk (nowNs is unused)
    public mutating func next(nowNs: UInt64, idleCPUs: inout CPUMask) -> swl_dispatched_task? {
        guard let (entry, index) = heap.popCurrent({ Self.currentIndex(of: $0, in: table) }) else { return nil }
        table[index].isHeld = false
        count -= 1
        let state = table[index]
        vruntimeNow = state.vtime
        stats.dispatched += 1

        var cpu = SWL_CPU_ANY
        if idleCPUs.claim(state.prevCPU) {
            cpu = state.prevCPU
            stats.idleCPUDispatches += 1
        }
        return swl_dispatched_task(
            pid: entry.pid, cpu: cpu, slice_ns: config.slice(waiting: UInt64(count)),
            vtime: state.vtime, enq_seq: state.enqSeq)
    }

    @discardableResult
    public mutating func remove(pid: Int32) -> Bool {
        stats.removed += 1
        guard let index = table.index(of: pid) else { return false }
        let wasHeld = table[index].isHeld
        if wasHeld { count -= 1 }
        table.remove(at: index)
        return wasHeld
    }

    /// A task the policy cannot hold is dispatched now rather than lost; the kernel side
    /// judges the record as it judges every other.
    private func answerAtOnce(_ task: swl_queued_task) -> swl_dispatched_task {
        let vtime = Vruntime.capped(task.vtime, reference: vruntimeNow, lagNs: config.sliceLagNs)
        return swl_dispatched_task(
            pid: task.pid, cpu: SWL_CPU_ANY, slice_ns: config.slice(waiting: UInt64(count)), vtime: vtime,
            enq_seq: task.enq_seq)
    }

    /// Where `entry`'s task is in `table` if `entry` is its current entry, nil if it is
    /// stale. (Static, so it can run while the heap is being modified.)
    private static func currentIndex(of entry: HeapEntry, in table: borrowing TaskTable<TaskState>) -> Int? {
        guard let index = table.index(of: entry.pid), table[index].isHeld, table[index].entry == entry else { return nil }
        return index
    }
}
