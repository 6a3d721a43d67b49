import SwiftlandABI

/// Held tasks by pid, in the order a policy chooses, with what a dispatch record needs
/// kept beside each task.
///
/// Every operation is O(log n) (insert, pop, remove by pid, re-key by pid; amortised, see
/// `TaskHeap`) and allocates nothing: storage for `capacity` tasks is made in `init`.
///
/// Laid out so that a task costs one random cache line outside the heap per cycle:
/// - The *table* is one open-addressing hash table keyed by pid (linear probing, at most
///   half full of known tasks) whose 32-byte buckets are the tasks' *slots*: pid, the
///   generation of the task's current heap entry (odd while it is held), and what its
///   dispatch record needs. Finding a pid and reading or writing its task's data touch the
///   same line.
/// - A slot does not move while its task is known: removal leaves a tombstone, and an
///   occasional rebuild (when live buckets and tombstones fill 3/4 of the table) rewrites
///   the table without tombstones and the heap entries' slot numbers, in O(capacity).
/// - Each heap entry carries its task's slot and the generation it was pushed with (an
///   8-byte payload that moves with the entry, see `HeapStorage`). The pop goes straight
///   to the slot: if the generations differ the entry is stale (the task was re-keyed,
///   dispatched or removed since) and is dropped, else the slot answers the dispatch
///   record and is marked not held. The slots of the entries likely to come out next
///   (the new first one and its children) are prefetched at the end of each pop.
///
/// A task popped stays known (it keeps its slot) until room is needed, so the cycle
/// enqueue -> dispatch -> enqueue of a task costs one probe and no allocation. When every
/// slot is taken, the tasks not held and not seen recently are forgotten.
///
/// Non-copyable: the queue owns its table and heap outright (allocated in `init`, freed in
/// `deinit`), with no object in between, so an insert or a pop makes no reference-count
/// traffic and no uniqueness check (the copy-on-write queue paid two runtime calls per
/// cycle, 5-7 ns, for copies the scheduling loop never makes; see bench/README.md). Pass
/// it `inout` or `borrowing`; a policy that holds one is non-copyable too (`FifoPolicy`).
///
/// `insert` and `popMin` are `@inlinable` and always inlined, so every caller, a policy
/// written outside this module (and the benchmark) as much as `FifoPolicy`, gets them
/// compiled into its own code: no call, the record's unused fields never stored, the task
/// returned in registers. The table and heap internals they use are `@usableFromInline`
/// for that; the rare paths (making room, rebuilds, sweeps) stay out of line.
///
/// The building block for a policy with one queue; `FifoPolicy` shows its use.
public struct RunQueue: ~Copyable, @unchecked Sendable {
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

        @inlinable init(
            pid: Int32, prevCPU: Int32, nrCPUsAllowed: UInt32, enqSeq: UInt64, vtime: UInt64, key: UInt64,
            tieBreak: UInt64
        ) {
            self.pid = pid
            self.prevCPU = prevCPU
            self.nrCPUsAllowed = nrCPUsAllowed
            self.enqSeq = enqSeq
            self.vtime = vtime
            self.key = key
            self.tieBreak = tieBreak
        }
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
    @inlinable public var count: Int { heldCount }
    @inlinable public var isEmpty: Bool { heldCount == 0 }
    /// The most tasks held at once.
    public let capacity: Int
    /// Known tasks forgotten to make room, since `init`.
    public private(set) var forgotten: UInt64 = 0

    /// Tasks held (`count`).
    @usableFromInline var heldCount = 0
    @usableFromInline let bucketMask: Int
    @usableFromInline let hashShift: UInt64
    /// The table: open addressing with linear probing, at most `capacity` known tasks in
    /// twice as many buckets or more.
    @usableFromInline var slots: UnsafeMutablePointer<Slot>
    /// A second table, the target of a rebuild (then the two swap): allocated in `init` so
    /// that a rebuild allocates nothing.
    private var spare: UnsafeMutablePointer<Slot>
    /// Known tasks: held ones and remembered ones.
    private var known = 0
    /// Buckets not empty: known tasks and tombstones.
    private var used = 0
    @usableFromInline var heap: HeapStorage<Payload>
    /// The generation of the last entry pushed: odd, advancing by 2 per insert, so it is
    /// also the clock of when a task was last seen.
    @usableFromInline var generation: UInt32 = 1
    /// Rebuilds since `init` (a test hook).
    private(set) var rebuilds = 0

    /// Bytes of table per task slot (a test keeps it at 32).
    static var slotBytes: Int { MemoryLayout<Slot>.stride }
    /// Bytes a heap entry carries besides its order (a test keeps it at 8).
    static var payloadBytes: Int { MemoryLayout<Payload>.stride }

    /// What a heap entry carries besides its order.
    @usableFromInline struct Payload: BitwiseCopyable {
        @usableFromInline var slot: UInt32
        /// The slot's generation when the entry was pushed.
        @usableFromInline var generation: UInt32

        @inlinable init(slot: UInt32, generation: UInt32) {
            self.slot = slot
            self.generation = generation
        }
    }

    /// A bucket of the table: a known task, or empty, or a tombstone. 32 bytes, two to a
    /// cache line.
    @usableFromInline struct Slot: BitwiseCopyable {
        /// The task's pid; `emptyPID` or `tombstonePID` (both negative) when none.
        @usableFromInline var pid: Int32
        /// Odd while the task is held: the generation of its current heap entry. Even when
        /// it is not: that generation less one, so the last time it was seen stays known.
        /// 0 for no task.
        @usableFromInline var state: UInt32
        @usableFromInline var prevCPU: Int32
        @usableFromInline var nrCPUsAllowed: UInt32
        @usableFromInline var vtime: UInt64
        @usableFromInline var enqSeq: UInt64

        @inlinable init(
            pid: Int32 = RunQueue.emptyPID, state: UInt32 = 0, prevCPU: Int32 = 0, nrCPUsAllowed: UInt32 = 0,
            vtime: UInt64 = 0, enqSeq: UInt64 = 0
        ) {
            self.pid = pid
            self.state = state
            self.prevCPU = prevCPU
            self.nrCPUsAllowed = nrCPUsAllowed
            self.vtime = vtime
            self.enqSeq = enqSeq
        }

        @inlinable var isHeld: Bool { state & 1 != 0 }
    }

    @inlinable static var emptyPID: Int32 { .min }
    @inlinable static var tombstonePID: Int32 { -1 }

    public init(capacity: Int) {
        precondition(capacity > 0 && capacity <= 1 << 28, "RunQueue capacity \(capacity) is outside 1...2^28")
        self.capacity = capacity
        var bucketCount = 2
        while bucketCount < 2 * capacity { bucketCount <<= 1 }
        bucketMask = bucketCount - 1
        hashShift = UInt64(64 - bucketCount.trailingZeroBitCount)
        slots = Self.allocateTable(bucketCount)
        spare = Self.allocateTable(bucketCount)
        heap = HeapStorage(capacity: 2 * capacity)
    }

    deinit {
        slots.deallocate()
        spare.deallocate()
    }

    private static func allocateTable(_ count: Int) -> UnsafeMutablePointer<Slot> {
        let table = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Slot>.stride, alignment: 64)
            .bindMemory(to: Slot.self, capacity: count)
        table.initialize(repeating: Slot(), count: count)
        return table
    }

    /// Holds `task`, ordered by `key`, then `tieBreak` (its low 42 bits), then pid, lowest
    /// first.
    ///
    /// - Parameter vtime: the vruntime to carry into the dispatch record; the record's own
    ///   when nil.
    @inlinable @inline(__always)
    public mutating func insert(
        _ task: swl_queued_task, key: UInt64, tieBreak: UInt64 = 0, vtime: UInt64? = nil
    ) -> InsertOutcome {
        guard HeapEntry.canHold(pid: task.pid) else { return .invalidPID }
        guard let slot = acquire(pid: task.pid) else { return .full }
        let wasHeld = slots[slot].isHeld
        if heap.count == heap.capacity { dropStale() }
        let generation = nextGeneration()
        slots[slot] = Slot(
            pid: task.pid, state: generation, prevCPU: task.prev_cpu, nrCPUsAllowed: task.nr_cpus_allowed,
            vtime: vtime ?? task.vtime, enqSeq: task.enq_seq)
        heap.push(
            HeapEntry(key: key, tieBreak: tieBreak, pid: task.pid),
            Payload(slot: UInt32(truncatingIfNeeded: slot), generation: generation))
        if wasHeld { return .replaced }
        heldCount &+= 1
        return .inserted
    }

    /// Removes and returns the first task.
    @inlinable @inline(__always)
    public mutating func popMin() -> Task? {
        while heap.count > 0 {
            // The slot's fetch goes first: it then overlaps the sift's. Only its state is
            // read now; the rest, read after the sift from the same line, would otherwise
            // stay live in registers (or spilled) through it.
            let payload = heap.payloads[0]
            let slot = Int(payload.slot)
            let state = slots[slot].state
            let entry = heap.popMin().entry
            // Stale: an older entry of a task re-keyed, dispatched or removed since.
            if state != payload.generation { continue }
            // Not held any more; the even state still says when it was last seen.
            slots[slot].state = state &- 1
            let held = slots[slot]
            heldCount &-= 1
            prefetchNextSlots()
            return Task(
                pid: entry.pid, prevCPU: held.prevCPU, nrCPUsAllowed: held.nrCPUsAllowed, enqSeq: held.enqSeq,
                vtime: held.vtime, key: entry.key, tieBreak: entry.tieBreak)
        }
        return nil
    }

    /// Removes the task of `pid` if it is held, and forgets it either way (it exited).
    ///
    /// - Returns: whether it was held.
    @discardableResult
    public mutating func remove(pid: Int32) -> Bool {
        guard let slot = find(pid) else { return false }
        let wasHeld = slots[slot].isHeld
        if wasHeld { heldCount -= 1 }
        // Its entry, if any, is stale from now on; the slot becomes a tombstone.
        forget(slot: slot)
        return wasHeld
    }

    public func contains(pid: Int32) -> Bool {
        find(pid).map { slots[$0].isHeld } ?? false
    }

    /// Test hook: the generation counter, to test its wrap without 2^31 inserts.
    var lastGeneration: UInt32 {
        get { generation }
        set {
            precondition(newValue & 1 == 1, "generations are odd")
            generation = newValue
        }
    }

    /// Test hooks: tombstones in the table now, and the slot of `pid` if it is known.
    var tombstones: Int { used - known }
    func slot(of pid: Int32) -> Int? { find(pid) }
}

extension RunQueue {
    private var bucketCount: Int { bucketMask + 1 }
    /// A rebuild clears the tombstones when `used` would pass this: 3/4 of the buckets.
    private var maxUsed: Int { bucketCount - bucketCount >> 2 }

    /// Fibonacci hashing: consecutive pids land far apart.
    @inlinable @inline(__always) func home(_ pid: Int32) -> Int {
        Int(truncatingIfNeeded: (UInt64(UInt32(bitPattern: pid)) &* 0x9E37_79B9_7F4A_7C15) &>> hashShift)
    }

    /// The slot of `pid`, if it is known.
    @inlinable @inline(__always) func find(_ pid: Int32) -> Int? {
        let slots = self.slots
        var i = home(pid)
        while true {
            let found = slots[i].pid
            if found == pid { return i }
            if found == Self.emptyPID { return nil }
            i = (i &+ 1) & bucketMask
        }
    }

    /// The slot of `pid`, given one if it is new (making room if needed); nil when every
    /// slot holds a held task.
    @inlinable @inline(__always) mutating func acquire(pid: Int32) -> Int? {
        if let slot = find(pid) { return slot }
        return add(pid: pid)
    }

    /// Gives `pid`, not known, a slot: the first tombstone or empty bucket of its probe.
    @usableFromInline mutating func add(pid: Int32) -> Int? {
        if known == capacity {
            makeRoom()
            if known == capacity { return nil }
        }
        var i = firstFree(for: pid)
        if slots[i].pid == Self.emptyPID {
            if used + 1 > maxUsed {
                rebuild()
                i = firstFree(for: pid)
            }
            used += 1
        }
        slots[i] = Slot(pid: pid)
        known += 1
        return i
    }

    /// The first bucket on `pid`'s probe that holds no task.
    @inline(__always) private func firstFree(for pid: Int32) -> Int {
        var i = home(pid)
        // Valid pids are not negative; empty and tombstone are.
        while slots[i].pid >= 0 { i = (i + 1) & bucketMask }
        return i
    }

    /// Forgets the task in `slot`: any entry of it becomes stale (no generation is 0) and
    /// the bucket becomes a tombstone, or empty if the probe ends after it.
    private mutating func forget(slot: Int) {
        known -= 1
        slots[slot].state = 0
        if slots[(slot + 1) & bucketMask].pid != Self.emptyPID {
            slots[slot].pid = Self.tombstonePID
            return
        }
        // Nothing probes past an empty bucket: this one and the tombstones before it can
        // be empty.
        var i = slot
        repeat {
            slots[i].pid = Self.emptyPID
            used -= 1
            i = (i - 1) & bucketMask
        } while slots[i].pid == Self.tombstonePID
    }

    /// Forgets the tasks not held and not seen during the last capacity/2 inserts; if that
    /// frees nothing, every task not held. One sweep frees many tasks, so its O(capacity)
    /// cost is spread over the inserts that follow.
    private mutating func makeRoom() {
        let horizon = generation &- UInt32(truncatingIfNeeded: capacity)
        for pass in 0..<2 {
            let recentToo = pass == 1
            // Slots do not move, so the sweep sees every task once.
            for i in 0..<bucketCount {
                let slot = slots[i]
                guard slot.pid >= 0, !slot.isHeld else { continue }
                if recentToo || Int32(bitPattern: slot.state &- horizon) <= 0 {
                    forget(slot: i)
                    forgotten &+= 1
                }
            }
            if known < capacity { return }
        }
    }

    /// Rewrites the table without tombstones (into `spare`, then swapped) and every heap
    /// entry's slot number; stale entries are dropped first, since their slots may be
    /// gone. O(capacity + heap).
    private mutating func rebuild() {
        dropStale()
        let slots = self.slots, spare = self.spare
        spare.update(repeating: Slot(), count: bucketCount)
        for i in 0..<bucketCount where slots[i].pid >= 0 {
            var j = home(slots[i].pid)
            while spare[j].pid != Self.emptyPID { j = (j + 1) & bucketMask }
            spare[j] = slots[i]
            // The old table is scrap from here: it keeps the new slot number.
            slots[i].nrCPUsAllowed = UInt32(truncatingIfNeeded: j)
        }
        for i in 0..<heap.count {
            heap.payloads[i].slot = slots[Int(heap.payloads[i].slot)].nrCPUsAllowed
        }
        self.slots = spare
        self.spare = slots
        used = known
        rebuilds += 1
    }

    /// Starts fetching the slots of the entries that come out next: the first and its four
    /// children (one of which is first after it, unless an insert goes before). A slot
    /// read at a pop then comes from the cache, even with the pops close together.
    @inlinable @inline(__always) func prefetchNextSlots() {
        let slots = self.slots, payloads = heap.payloads
        let n = Swift.min(heap.count, 5)
        var i = 0
        while i < n {
            prefetch(slots + Int(payloads[i].slot))
            i &+= 1
        }
    }

    /// The generation for a new entry. When the 32-bit counter wraps, every stale entry is
    /// dropped and the held tasks renumbered, so a stale entry can never carry its slot's
    /// current generation (once per 2^31 inserts: O(capacity) then).
    @inlinable @inline(__always) mutating func nextGeneration() -> UInt32 {
        generation &+= 2
        if generation == 1 { renumber() }
        return generation
    }

    @usableFromInline mutating func renumber() {
        dropStale()
        // Every held task gets one generation, later than every task not held (which all
        // count as seen long ago: 0). The entry being pushed gets the next one, so that the
        // entry it replaces is stale.
        let held = UInt32(truncatingIfNeeded: 2 * capacity + 1)
        for i in 0..<bucketCount where slots[i].pid >= 0 {
            slots[i].state = slots[i].isHeld ? held : 0
        }
        for i in 0..<heap.count { heap.payloads[i].generation = held }
        generation = held &+ 2
    }

    /// Drops every stale entry from the heap, in O(n): done when the heap is full (it has
    /// room for twice the tasks, so at least `capacity` inserts pass between sweeps).
    @usableFromInline mutating func dropStale() {
        let slots = self.slots
        heap.removeAll { _, payload in slots[Int(payload.slot)].state != payload.generation }
    }
}

extension swl_dispatched_task {
    /// A dispatch record answering a held task.
    public init(_ task: RunQueue.Task, cpu: Int32, sliceNs: UInt64) {
        self.init(pid: task.pid, cpu: cpu, slice_ns: sliceNs, vtime: task.vtime, enq_seq: task.enqSeq)
    }
}
