import SwiftlandABI

/// bpf mode's policy (bpf/main.bpf.c, after the 2024 scx_bpfland) in Swift, rule for
/// rule, so that user mode can run the same policy and the A/B experiment varies only the
/// transport.
///
/// - Interactive classification, at most once a second per task: an EWMA (3/4 old,
///   1/4 new) of the task's voluntary context switches per second, each sample capped at
///   8 x nvcswMaxThresh; a global moving threshold, the EWMA of those averages clamped to
///   [1, nvcswMaxThresh]; interactive when the average reaches the threshold.
///   nvcswMaxThresh 0: every task is regular.
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
/// Not reproduced: bpf mode promotes a task woken by a sync wakeup to interactive; the
/// queued-task record does not carry the wakeup flags.
///
/// The vruntime contract with the kernel side is `VruntimePolicy`'s.
public struct BpflandPolicy: ~Copyable, SchedulingPolicy {
    public var name: String { PolicyName.bpfland.rawValue }
    public var count: Int { prioCount + regularCount }
    public var counters: PolicyCounters {
        var c = stats
        c.held = count
        c.interactive = interactiveCount
        c.nrWaiting = nrWaiting
        c.nvcswAvgThresh = nvcswAvgThresh
        c.forgotten = table.forgotten
        return c
    }

    /// The vruntime of the task dispatched most recently (the latest one): the reference
    /// of the sleep-credit cap (bpf mode's vtime_now).
    public private(set) var vtimeNow: UInt64 = 0

    private let config: PolicyConfig
    private var table: TaskTable<TaskState>
    private var prio: TaskHeap
    private var regular: TaskHeap
    /// Tasks held in each queue (the heaps also hold stale entries).
    private var prioCount = 0
    private var regularCount = 0
    private var interactiveCount = 0
    private var nrWaiting: UInt64 = 0
    private var nvcswAvgThresh: UInt64 = 0
    /// When each queue was last served or found empty; nil until the first `next`.
    private var prioServedNs: UInt64?
    private var regularServedNs: UInt64?
    private var stats = PolicyCounters()

    private static let nsPerSecond: UInt64 = 1_000_000_000

    // Internal, not private: Swift 6.3.1 (debug builds) references the type descriptor of
    // a private type used in a non-copyable `TaskTable` from other files of the module and
    // then fails ("Global is external, but doesn't have external or weak linkage").
    /// Everything known of a task, in one 64-byte bucket of the table.
    struct TaskState {
        /// The task's current heap entry (its key is the task's vruntime), and which heap
        /// it is in; any other entry of it is stale.
        var entry = HeapEntry(key: 0, pid: 0)
        var enqSeq: UInt64 = 0
        /// stop_ts_ns of the last run charged.
        var chargedStopNs: UInt64 = 0
        /// The switch count and time of the last rate sample.
        var nvcsw: UInt64 = 0
        var nvcswSampleNs: UInt64 = 0
        /// EWMA of voluntary context switches per second (at most 8 x nvcswMaxThresh).
        var avgNvcsw: UInt32 = 0
        var interactive = false
        var isHeld = false
        var inPrio = false

        var vtime: UInt64 { entry.key }
    }

    /// Bytes of table per task (a test keeps it at one cache line).
    static var taskBucketBytes: Int { TaskTable<TaskState>.bucketBytes }

    /// - Parameter config: a valid one (`problem()` is nil); `PolicyName.make` checks.
    public init(config: PolicyConfig = PolicyConfig()) {
        self.config = config
        table = TaskTable(capacity: config.maxTasks)
        prio = TaskHeap(capacity: 2 * config.maxTasks)
        regular = TaskHeap(capacity: 2 * config.maxTasks)
    }

    /// Whether the task of `pid` is classified interactive (false when unknown).
    public func isInteractive(pid: Int32) -> Bool {
        table.index(of: pid).map { table[$0].interactive } ?? false
    }

    public mutating func enqueue(_ task: swl_queued_task, nowNs: UInt64) -> swl_dispatched_task? {
        stats.enqueued += 1
        guard HeapEntry.canHold(pid: task.pid) else {
            stats.invalidRecords += 1
            return answerAtOnce(task)
        }
        let fresh = TaskState(nvcsw: task.nvcsw, nvcswSampleNs: nowNs)
        let acquired = table.acquire(pid: task.pid, initial: fresh, isHeld: \.isHeld) { forgotten in
            if forgotten.interactive { interactiveCount -= 1 }
        }
        guard let (index, isNew) = acquired else {
            stats.overflows += 1
            return answerAtOnce(task)
        }
        var state = table[index]
        // A switch count that went backwards is a new task under a reused pid.
        // (Whether it is held stays: the record below replaces the held one.)
        if task.nvcsw < state.nvcsw {
            if state.interactive { interactiveCount -= 1 }
            state = TaskState(
                nvcsw: task.nvcsw, nvcswSampleNs: nowNs, isHeld: state.isHeld, inPrio: state.inPrio)
        }

        var vtime: UInt64
        if isNew || task.stop_ts_ns != state.chargedStopNs {
            vtime = task.vtime &+ Vruntime.charge(runtimeNs: Vruntime.lastRunNs(task), weight: task.weight)
            state.chargedStopNs = task.stop_ts_ns
        } else {
            // The same run again (see VruntimePolicy): charged once.
            vtime = Vruntime.later(task.vtime, state.vtime)
        }
        vtime = Vruntime.capped(vtime, reference: vtimeNow, lagNs: config.sliceLagNs)
        state.enqSeq = task.enq_seq
        if config.nvcswMaxThresh > 0 { updateInteractive(&state, nvcsw: task.nvcsw, nowNs: nowNs) }
        // A sync wakeup (the waker is about to sleep and hand over) promotes the task, as
        // bpf mode does, unless the priority queue is already crowded. It stays
        // interactive until its average drops below the threshold.
        if config.nvcswMaxThresh > 0, task.flags & UInt32(SWL_QUEUED_SYNC_WAKEUP) != 0, !state.interactive,
            prioCount <= 4 * config.nrCPUs
        {
            state.interactive = true
            interactiveCount += 1
            stats.syncPromotions += 1
        }

        // A record for a task already held replaces it (in whichever queue its class now
        // says); its older entry becomes stale.
        if state.isHeld {
            stats.replaced += 1
            countHeld(inPrio: state.inPrio, by: -1)
        }
        let entry = HeapEntry(key: vtime, tieBreak: task.enqueue_ts_ns / 1_000, pid: task.pid)
        state.entry = entry
        state.isHeld = true
        state.inPrio = state.interactive
        table[index] = state
        countHeld(inPrio: state.inPrio, by: 1)
        if state.inPrio {
            prio.push(entry) { Self.currentIndex(of: $0, inPrio: true, in: table) }
        } else {
            regular.push(entry) { Self.currentIndex(of: $0, inPrio: false, in: table) }
        }
        return nil
    }

    public mutating func next(nowNs: UInt64, idleCPUs: inout CPUMask) -> swl_dispatched_task? {
        let prioServed = prioServedNs ?? nowNs
        let regularServed = regularServedNs ?? nowNs
        nrWaiting = (nrWaiting + UInt64(count)) / 2

        if isPast(regularServed, by: config.starvationThreshNs, nowNs: nowNs) {
            regularServedNs = nowNs
            if let (entry, index) = popRegular() {
                stats.starvationRegular += 1
                return dispatch(entry, index: index)
            }
        }
        if isPast(prioServed, by: config.starvationThreshNs, nowNs: nowNs) {
            prioServedNs = nowNs
            if let (entry, index) = popPrio() {
                stats.starvationPrio += 1
                return dispatch(entry, index: index)
            }
        }
        prioServedNs = nowNs
        if let (entry, index) = popPrio() { return dispatch(entry, index: index) }
        regularServedNs = nowNs
        if let (entry, index) = popRegular() { return dispatch(entry, index: index) }
        return nil
    }

    @discardableResult
    public mutating func remove(pid: Int32) -> Bool {
        stats.removed += 1
        guard let index = table.index(of: pid) else { return false }
        let state = table[index]
        if state.isHeld { countHeld(inPrio: state.inPrio, by: -1) }
        if state.interactive { interactiveCount -= 1 }
        table.remove(at: index)
        return state.isHeld
    }

    /// A task the policy cannot hold is dispatched now rather than lost; the kernel side
    /// judges the record as it judges every other.
    private func answerAtOnce(_ task: swl_queued_task) -> swl_dispatched_task {
        let vtime = Vruntime.capped(task.vtime, reference: vtimeNow, lagNs: config.sliceLagNs)
        return swl_dispatched_task(
            pid: task.pid, cpu: SWL_CPU_ANY, slice_ns: config.slice(waiting: nrWaiting), vtime: vtime,
            enq_seq: task.enq_seq)
    }

    private mutating func countHeld(inPrio: Bool, by delta: Int) {
        if inPrio { prioCount += delta } else { regularCount += delta }
    }

    private mutating func popPrio() -> (entry: HeapEntry, index: Int)? {
        prio.popCurrent { Self.currentIndex(of: $0, inPrio: true, in: table) }
    }

    private mutating func popRegular() -> (entry: HeapEntry, index: Int)? {
        regular.popCurrent { Self.currentIndex(of: $0, inPrio: false, in: table) }
    }

    /// Where `entry`'s task is in `table` if `entry` is its current entry in the queue
    /// `inPrio` says, nil if it is stale. (Static, so it can run while a heap is being
    /// modified.)
    private static func currentIndex(of entry: HeapEntry, inPrio: Bool, in table: borrowing TaskTable<TaskState>) -> Int? {
        guard let index = table.index(of: entry.pid) else { return nil }
        let state = table[index]
        return state.isHeld && state.inPrio == inPrio && state.entry == entry ? index : nil
    }

    private mutating func dispatch(_ entry: HeapEntry, index: Int) -> swl_dispatched_task {
        table[index].isHeld = false
        let state = table[index]
        countHeld(inPrio: state.inPrio, by: -1)
        if state.inPrio { stats.prioDispatches += 1 } else { stats.regularDispatches += 1 }
        vtimeNow = Vruntime.later(vtimeNow, state.vtime)
        stats.dispatched += 1
        return swl_dispatched_task(
            pid: entry.pid, cpu: SWL_CPU_ANY, slice_ns: config.slice(waiting: nrWaiting), vtime: state.vtime,
            enq_seq: state.enqSeq)
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
