import SwiftlandABI

/// bpf mode's policy (bpf/main.bpf.c, after the 2024 scx_bpfland) in Swift, rule for
/// rule, so that user mode can run the same policy and the A/B experiment varies only the
/// transport.
///
/// - Interactive classification, at most once a second per task: an EWMA (3/4 old,
///   1/4 new) of the task's voluntary context switches per second, each sample capped at
///   8 x nvcswMaxThresh; a global moving threshold, the EWMA of those averages clamped to
///   [1, nvcswMaxThresh]; interactive when the average reaches the threshold.
///   nvcswMaxThresh 0: every task is regular. A sync wakeup (`SWL_QUEUED_SYNC_WAKEUP`)
///   promotes a task to interactive while the priority queue holds at most 4 tasks per CPU.
/// - Two queues, priority (interactive) and regular, both ordered by vruntime (ties by
///   enqueue_ts_ns in microseconds, then pid).
/// - vruntime: charged the last run x 100 / weight, then raised to at least
///   `vtimeNow - sliceLagNs`.
/// - next: the starvation guard first (regular, then priority, when not served for
///   starvationThreshNs; an empty queue counts as served), then priority, then regular.
/// - slice: max(sliceNs / (nrWaiting + 1), sliceMinNs), nrWaiting smoothed as bpf mode
///   does at each dispatch: (nrWaiting + held) / 2.
/// - CPU: always SWL_CPU_ANY. In bpf mode a task that reaches the priority or shared DSQ
///   goes to whichever CPU consumes it first; idle CPUs are found in the kernel
///   (select_cpu), before a task is ever sent to user space.
///
/// The vruntime contract with the kernel side is `VruntimePolicy`'s.
public struct BpflandPolicy: ~Copyable, SchedulingPolicy {
    public var name: String { PolicyName.bpfland.rawValue }
    public var count: Int { queue.count }
    public var counters: PolicyCounters {
        var c = queue.counters
        c.interactive = interactiveCount
        c.nrWaiting = nrWaiting
        c.nvcswAvgThresh = nvcswAvgThresh
        return c
    }

    /// The vruntime of the task dispatched most recently (the latest one): the reference
    /// of the sleep-credit cap (bpf mode's vtime_now).
    public private(set) var vtimeNow: UInt64 = 0

    private let config: PolicyConfig
    /// Two queues: `prio` (interactive) and `regular`.
    private var queue: RunQueue<TaskState>
    private static let prio = 0
    private static let regular = 1
    /// Tasks held in the priority queue.
    private var prioCount = 0
    private var interactiveCount = 0
    private var nrWaiting: UInt64 = 0
    private var nvcswAvgThresh: UInt64 = 0
    /// When each queue was last served or found empty; nil until the first `next`.
    private var prioServedNs: UInt64?
    private var regularServedNs: UInt64?

    private static let nsPerSecond: UInt64 = 1_000_000_000

    /// What the policy keeps of a task in its slot.
    struct TaskState {
        var vtime: UInt64 = 0
        var enqSeq: UInt64 = 0
        /// stop_ts_ns of the last run charged.
        var chargedStopNs: UInt64 = 0
        /// The switch count and time of the last rate sample.
        var nvcsw: UInt64 = 0
        var nvcswSampleNs: UInt64 = 0
        /// EWMA of voluntary context switches per second (at most 8 x nvcswMaxThresh).
        var avgNvcsw: UInt32 = 0
        var interactive = false
        /// Which queue holds it, while it is held.
        var inPrio = false
        /// It woke up: its decision asks to preempt a CPU whose running task comes after it.
        var wokeUp = false
    }

    /// Bytes of table per task (a test keeps it at one cache line).
    static var slotBytes: Int { RunQueue<TaskState>.slotBytes }

    /// - Parameter config: a valid one (`problem()` is nil); `PolicyName.make` checks.
    public init(config: PolicyConfig = PolicyConfig()) {
        self.config = config
        queue = RunQueue(capacity: config.maxTasks, queues: 2)
    }

    /// Whether the task of `pid` is classified interactive (false when unknown).
    public func isInteractive(pid: Int32) -> Bool {
        queue.state(of: pid)?.interactive ?? false
    }

    public mutating func enqueue(_ task: swl_queued_task, nowNs: UInt64) -> swl_dispatched_task? {
        let fresh = TaskState(nvcsw: task.nvcsw, nvcswSampleNs: nowNs)
        let acquired = queue.acquire(pid: task.pid, initial: fresh) { forgotten in
            if forgotten.interactive { interactiveCount -= 1 }
        }
        guard let slot = acquired else { return answerAtOnce(task) }
        var state = slot.state
        // A switch count that went backwards is a new task under a reused pid.
        // (Which queue holds it stays: the record below replaces the held one.)
        if task.nvcsw < state.nvcsw {
            if state.interactive { interactiveCount -= 1 }
            state = TaskState(nvcsw: task.nvcsw, nvcswSampleNs: nowNs, inPrio: state.inPrio)
        }

        var vtime: UInt64
        if slot.isNew || task.stop_ts_ns != state.chargedStopNs {
            vtime = task.vtime &+ Vruntime.charge(runtimeNs: Vruntime.lastRunNs(task), weight: task.weight)
            state.chargedStopNs = task.stop_ts_ns
        } else {
            // The same run again (see VruntimePolicy): charged once.
            vtime = Vruntime.later(task.vtime, state.vtime)
        }
        vtime = Vruntime.capped(vtime, reference: vtimeNow, lagNs: config.sliceLagNs)
        state.enqSeq = task.enq_seq
        state.wokeUp = task.wokeUp
        if config.nvcswMaxThresh > 0 { updateInteractive(&state, nvcsw: task.nvcsw, nowNs: nowNs) }
        // A sync wakeup (the waker is about to sleep and hand over) promotes the task, as
        // bpf mode does, unless the priority queue is already crowded. It stays
        // interactive until its average drops below the threshold.
        if config.nvcswMaxThresh > 0, task.flags & UInt32(SWL_QUEUED_SYNC_WAKEUP) != 0, !state.interactive,
            prioCount <= 4 * config.nrCPUs
        {
            state.interactive = true
            interactiveCount += 1
            queue.counters.syncPromotions += 1
        }

        // A record for a task already held replaces it, in whichever queue its class now
        // says.
        if slot.isHeld, state.inPrio { prioCount -= 1 }
        state.vtime = vtime
        state.inPrio = state.interactive
        if state.inPrio { prioCount += 1 }
        queue.hold(
            slot, state, key: vtime, tieBreak: task.enqueue_ts_ns / 1_000, in: state.inPrio ? Self.prio : Self.regular)
        return nil
    }

    public mutating func next(nowNs: UInt64, idleCPUs: inout CPUMask) -> swl_dispatched_task? {
        let prioServed = prioServedNs ?? nowNs
        let regularServed = regularServedNs ?? nowNs
        nrWaiting = (nrWaiting + UInt64(count)) / 2

        if isPast(regularServed, by: config.starvationThreshNs, nowNs: nowNs) {
            regularServedNs = nowNs
            if let task = queue.popMin(from: Self.regular) {
                queue.counters.starvationRegular += 1
                return dispatch(task)
            }
        }
        if isPast(prioServed, by: config.starvationThreshNs, nowNs: nowNs) {
            prioServedNs = nowNs
            if let task = queue.popMin(from: Self.prio) {
                queue.counters.starvationPrio += 1
                return dispatch(task)
            }
        }
        prioServedNs = nowNs
        if let task = queue.popMin(from: Self.prio) { return dispatch(task) }
        regularServedNs = nowNs
        if let task = queue.popMin(from: Self.regular) { return dispatch(task) }
        return nil
    }

    @discardableResult
    public mutating func remove(pid: Int32) -> Bool {
        guard let (state, wasHeld) = queue.remove(pid: pid) else { return false }
        if wasHeld, state.inPrio { prioCount -= 1 }
        if state.interactive { interactiveCount -= 1 }
        return wasHeld
    }

    /// A task the policy cannot hold is dispatched now rather than lost; the kernel side
    /// judges the record as it judges every other.
    private func answerAtOnce(_ task: swl_queued_task) -> swl_dispatched_task {
        let vtime = Vruntime.capped(task.vtime, reference: vtimeNow, lagNs: config.sliceLagNs)
        return swl_dispatched_task(
            pid: task.pid, cpu: SWL_CPU_ANY, slice_ns: config.slice(waiting: nrWaiting), vtime: vtime,
            enq_seq: task.enq_seq)
    }

    private mutating func dispatch(_ task: RunQueue<TaskState>.Task) -> swl_dispatched_task {
        let state = task.state
        if state.inPrio {
            prioCount -= 1
            queue.counters.prioDispatches += 1
        } else {
            queue.counters.regularDispatches += 1
        }
        vtimeNow = Vruntime.later(vtimeNow, state.vtime)
        return swl_dispatched_task(
            pid: task.pid, cpu: SWL_CPU_ANY, slice_ns: config.slice(waiting: nrWaiting), vtime: state.vtime,
            enq_seq: state.enqSeq, preempt: state.wokeUp)
    }

    /// Whether more than `thresholdNs` passed since `thenNs` (a clock going backwards reads
    /// as no time passed).
    private func isPast(_ thenNs: UInt64, by thresholdNs: UInt64, nowNs: UInt64) -> Bool {
        let elapsed = Int64(bitPattern: nowNs &- thenNs)
        return elapsed > 0 && UInt64(elapsed) > thresholdNs
    }

    /// bpf mode's update_interactive: refresh the task's switch rate and the global
    /// threshold, at most once a second per task.
    private mutating func updateInteractive(_ state: inout TaskState, nvcsw: UInt64, nowNs: UInt64) {
        let elapsedSigned = Int64(bitPattern: nowNs &- state.nvcswSampleNs)
        guard elapsedSigned >= Int64(Self.nsPerSecond) else { return }
        let elapsedNs = UInt64(elapsedSigned)

        let cap = config.nvcswMaxThresh &* 8
        let (scaled, overflow) = (nvcsw &- state.nvcsw).multipliedReportingOverflow(by: Self.nsPerSecond)
        let rate = overflow ? cap : Swift.min(scaled / elapsedNs, cap)
        let avg = (UInt64(state.avgNvcsw) &* 3 &+ rate) / 4
        state.avgNvcsw = UInt32(truncatingIfNeeded: avg)
        state.nvcsw = nvcsw
        state.nvcswSampleNs = nowNs

        nvcswAvgThresh = Swift.min(Swift.max((nvcswAvgThresh &* 3 &+ avg) / 4, 1), config.nvcswMaxThresh)
        let interactive = avg >= nvcswAvgThresh
        if interactive != state.interactive {
            state.interactive = interactive
            interactiveCount += interactive ? 1 : -1
        }
    }
}
