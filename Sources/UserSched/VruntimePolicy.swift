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
    public var count: Int { queue.count }
    public var counters: PolicyCounters { queue.counters }

    /// The vruntime of the task dispatched most recently: the reference of the
    /// sleep-credit cap.
    ///
    /// Not the largest vruntime dispatched, as bpfland keeps: deadline order lets a task
    /// far ahead in vruntime (a low-weight one, charged 100x its runtime at weight 1) go
    /// before the others, and a maximum would then raise every other task's floor to it,
    /// giving a nice-19 task more than its share.
    public private(set) var vruntimeNow: UInt64 = 0

    private let config: PolicyConfig
    private var queue: RunQueue<TaskState>

    /// What the policy keeps of a task in its slot.
    struct TaskState {
        var vtime: UInt64 = 0
        var enqSeq: UInt64 = 0
        /// stop_ts_ns of the last run charged.
        var chargedStopNs: UInt64 = 0
        var prevCPU: Int32 = 0
        /// It woke up: its decision asks to preempt a CPU whose running task comes after it.
        var wokeUp = false
    }

    /// Bytes of table per task (a test keeps it at one cache line).
    static var slotBytes: Int { RunQueue<TaskState>.slotBytes }

    /// - Parameter config: a valid one (`problem()` is nil); `PolicyName.make` checks.
    public init(config: PolicyConfig = PolicyConfig()) {
        self.config = config
        queue = RunQueue(capacity: config.maxTasks)
    }

    @inline(__always)  // as FifoPolicy's: no copy without the unused `nowNs` behind a thunk
    public mutating func enqueue(_ task: swl_queued_task, nowNs: UInt64) -> swl_dispatched_task? {
        guard let slot = queue.acquire(pid: task.pid, initial: TaskState()) else { return answerAtOnce(task) }
        var state = slot.state
        var vtime: UInt64
        if slot.isNew || task.stop_ts_ns != state.chargedStopNs {
            vtime = task.vtime &+ Vruntime.charge(runtimeNs: Vruntime.lastRunNs(task), weight: task.weight)
            state.chargedStopNs = task.stop_ts_ns
        } else {
            // The same run again (re-enqueued before running): the record carries the
            // vruntime before our charge if the kernel never stored it, after it if it did.
            vtime = Vruntime.later(task.vtime, state.vtime)
        }
        vtime = Vruntime.capped(vtime, reference: vruntimeNow, lagNs: config.sliceLagNs)
        let runtimeCredit = Swift.min(task.exec_runtime_ns, config.sliceNs &* 100)
        state.vtime = vtime
        state.enqSeq = task.enq_seq
        state.wokeUp = task.wokeUp
        state.prevCPU = task.prev_cpu
        queue.hold(slot, state, key: vtime &+ runtimeCredit, tieBreak: task.enqueue_ts_ns / 1_000)
        return nil
    }

    @inline(__always)  // as FifoPolicy's: no copy without the unused `nowNs` behind a thunk
    public mutating func next(nowNs: UInt64, idleCPUs: inout CPUMask) -> swl_dispatched_task? {
        guard let first = queue.popMin() else { return nil }
        let state = first.state
        vruntimeNow = state.vtime
        var cpu = SWL_CPU_ANY
        if idleCPUs.claim(state.prevCPU) {
            cpu = state.prevCPU
            queue.counters.idleCPUDispatches += 1
        }
        return swl_dispatched_task(
            pid: first.pid, cpu: cpu, slice_ns: config.slice(waiting: UInt64(queue.count)),
            vtime: state.vtime, enq_seq: state.enqSeq, preempt: state.wokeUp)
    }

    @discardableResult
    public mutating func remove(pid: Int32) -> Bool {
        queue.remove(pid: pid)?.wasHeld ?? false
    }

    /// A task the policy cannot hold is dispatched now rather than lost; the kernel side
    /// judges the record as it judges every other.
    private func answerAtOnce(_ task: swl_queued_task) -> swl_dispatched_task {
        let vtime = Vruntime.capped(task.vtime, reference: vruntimeNow, lagNs: config.sliceLagNs)
        return swl_dispatched_task(
            pid: task.pid, cpu: SWL_CPU_ANY, slice_ns: config.slice(waiting: UInt64(queue.count)), vtime: vtime,
            enq_seq: task.enq_seq)
    }
}
