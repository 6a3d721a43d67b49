import SwiftlandABI

/// Held tasks by pid, in the order a policy chooses: a `TaskTable` and a `TaskHeap` put
/// together, with what a dispatch record needs kept beside each task.
///
/// Every operation is O(log n) (insert, pop, remove by pid, re-key by pid; amortised, see
/// `TaskHeap`) and allocates nothing: storage for `capacity` tasks is made in `init`. A
/// task popped stays known until room is needed, so the cycle enqueue -> dispatch ->
/// enqueue of a task costs one table lookup each way and no allocation.
///
/// The building block for a policy with one queue; `FifoPolicy` shows its use.
public struct RunQueue: Sendable {
    /// A held task, as it leaves the queue.
    public struct Task: Sendable, Equatable {
        public var pid: Int32
        public var prevCPU: Int32
        public var nrCPUsAllowed: UInt32
        /// The record's enq_seq, to echo in the dispatch record.
        public var enqSeq: UInt64
        /// The vruntime given at `insert`.
        public var vtime: UInt64
        /// The order it was held in.
        public var key: UInt64
        public var tieBreak: UInt64
    }

    public enum InsertOutcome: Sendable, Equatable {
        /// The task was not held before.
        case inserted
        /// The task was held: its record and place were replaced.
        case replaced
        /// Every slot holds a task; nothing changed.
        case full
        /// The pid is outside 0..<2^22 (see `HeapEntry.canHold(pid:)`); nothing changed.
        case invalidPID
    }

    /// Tasks held.
    public private(set) var count = 0
    public var isEmpty: Bool { count == 0 }
    /// The most tasks held at once.
    public var capacity: Int { table.capacity }
    /// Known tasks forgotten to make room, since `init`.
    public var forgotten: UInt64 { table.forgotten }

    private var table: TaskTable<Held>
    private var heap: TaskHeap

    /// Per task: its current heap entry (any other entry of it is stale) and what its
    /// dispatch record needs.
    private struct Held {
        var entry = HeapEntry(key: 0, pid: 0)
        var vtime: UInt64 = 0
        var enqSeq: UInt64 = 0
        var prevCPU: Int32 = 0
        var nrCPUsAllowed: UInt32 = 0
        var isHeld = false
    }

    /// Bytes of table per task (a test keeps it at one cache line).
    static var taskBucketBytes: Int { TaskTable<Held>.bucketBytes }

    public init(capacity: Int) {
        table = TaskTable(capacity: capacity)
        heap = TaskHeap(capacity: 2 * capacity)
    }

    /// Holds `task`, ordered by `key`, then `tieBreak` (its low 42 bits), then pid, lowest
    /// first.
    ///
    /// - Parameter vtime: the vruntime to carry into the dispatch record; the record's own
    ///   when nil.
    public mutating func insert(
        _ task: swl_queued_task, key: UInt64, tieBreak: UInt64 = 0, vtime: UInt64? = nil
    ) -> InsertOutcome {
        guard HeapEntry.canHold(pid: task.pid) else { return .invalidPID }
        guard let (index, _) = table.acquire(pid: task.pid, initial: Held(), isHeld: \.isHeld) else { return .full }
        let entry = HeapEntry(key: key, tieBreak: tieBreak, pid: task.pid)
        let wasHeld = table[index].isHeld
        table[index] = Held(
            entry: entry, vtime: vtime ?? task.vtime, enqSeq: task.enq_seq, prevCPU: task.prev_cpu,
            nrCPUsAllowed: task.nr_cpus_allowed, isHeld: true)
        heap.push(entry) { Self.currentIndex(of: $0, in: table) }
        if wasHeld { return .replaced }
        count += 1
        return .inserted
    }

    /// Removes and returns the first task.
    public mutating func popMin() -> Task? {
        guard let (entry, index) = heap.popCurrent({ Self.currentIndex(of: $0, in: table) }) else { return nil }
        table[index].isHeld = false
        count -= 1
        let h = table[index]
        return Task(
            pid: entry.pid, prevCPU: h.prevCPU, nrCPUsAllowed: h.nrCPUsAllowed, enqSeq: h.enqSeq, vtime: h.vtime,
            key: entry.key, tieBreak: entry.tieBreak)
    }

    /// Removes the task of `pid` if it is held, and forgets it either way (it exited).
    ///
    /// - Returns: whether it was held.
    @discardableResult
    public mutating func remove(pid: Int32) -> Bool {
        guard let index = table.index(of: pid) else { return false }
        let wasHeld = table[index].isHeld
        if wasHeld { count -= 1 }
        table.remove(at: index)
        return wasHeld
    }

    public func contains(pid: Int32) -> Bool {
        table.index(of: pid).map { table[$0].isHeld } ?? false
    }

    /// Where `entry`'s task is in `table` if `entry` is its current entry, nil if it is
    /// stale. (Static, so it can run while the heap is being modified.)
    private static func currentIndex(of entry: HeapEntry, in table: TaskTable<Held>) -> Int? {
        guard let index = table.index(of: entry.pid), table[index].isHeld, table[index].entry == entry else { return nil }
        return index
    }
}

extension swl_dispatched_task {
    /// A dispatch record answering a held task.
    public init(_ task: RunQueue.Task, cpu: Int32, sliceNs: UInt64) {
        self.init(pid: task.pid, cpu: cpu, slice_ns: sliceNs, vtime: task.vtime, enq_seq: task.enqSeq)
    }
}
