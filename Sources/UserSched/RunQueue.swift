/// A policy's run queue: the tasks it holds, in the order it chooses, and what it keeps of
/// every task it knows (`State`), found by pid. Every policy in this module is built on it.
///
/// A policy uses it like this (`FifoPolicy` is the smallest example):
/// - in `enqueue`, `acquire(pid:initial:)` finds the task, or gives it a slot, and returns
///   its state: what the policy stored for it last time, or `initial` for a task it does not
///   know. The policy computes the task's order and new state from the record and that
///   state, and `hold(_:_:key:tieBreak:in:)` stores the state and holds the task. A record
///   for a task already held replaces it: its earlier place, in whichever queue, is dropped.
///   `acquire` returns nil when the task cannot be held (its pid is no Linux pid, or every
///   known task is held); the policy then answers the record at once;
/// - in `next`, `popMin(from:)` takes out the first task held, with its state;
/// - in `remove`, `remove(pid:)` forgets a task that exited;
/// - `counters` is the policy's counters: the queue keeps `held`, `enqueued` (calls of
///   `acquire`), `replaced`, `dispatched` (pops), `overflows`, `invalidRecords`, `removed` and
///   `forgotten`; the policy adds its own.
///
/// Tasks are held in the order `(key, tieBreak, pid)`, lowest first; only the low 42 bits of
/// `tieBreak` count.
///
/// A task is *known* from its first `acquire` until it exits or is forgotten, and *held*
/// from `hold` until it is popped. A task popped keeps its slot and state, so the cycle
/// enqueue -> dispatch -> enqueue costs one probe and no allocation. When every slot is
/// taken, the tasks not held and not seen during the last capacity/2 holds are forgotten
/// (if that frees none, every task not held; never a held one), and `acquire`'s `forgetting`
/// sees the state of each.
///
/// A policy with several queues (bpfland: interactive and regular) makes one run queue
/// with that many (`queues`). They share the table, so a task is held in one queue at a
/// time: a `hold` in another queue moves it.
///
/// Every operation is O(log n) (amortised, see below) and nothing is allocated after
/// `init`. `acquire`, `hold` and `popMin` are `@inlinable` and always inlined, so a policy,
/// in this module or outside it, gets them compiled into its own code: no call, the state
/// kept in registers. The rare paths (making room, rebuilds, sweeps) stay out of line.
///
/// Non-copyable: the queue owns its memory outright (allocated in `init`, freed in
/// `deinit`), so an operation makes no reference counting and no uniqueness check. Pass it
/// `inout` or `borrowing`; a policy that holds one is non-copyable too.
///
/// Layout, so that a task costs one random cache line outside the heap per cycle:
/// - The *table* is one open-addressing hash table keyed by pid (linear probing, at most
///   half full of known tasks) whose buckets are the tasks' *slots*: pid, the generation of
///   the task's current heap entry (odd while it is held), and the policy's `State`, in a
///   power of two of bytes, so a slot of up to 64 bytes never straddles cache lines.
/// - A slot does not move while its task is known: removal leaves a tombstone, and an
///   occasional rebuild (when live buckets and tombstones fill 3/4 of the table) rewrites
///   the table without tombstones and the heap entries' slot numbers, in O(capacity).
/// - Each heap entry carries its task's slot and the generation it was pushed with. A pop
///   goes straight to the slot: if the generations differ the entry is stale (the task was
///   held again, popped or forgotten since) and is dropped, else the slot answers. The
///   slots of the entries likely to come out next are prefetched at the end of each pop.
/// - Each queue is a heap with room for twice `capacity` entries; when one is full its
///   stale entries are swept, so a sweep comes at most once per `capacity` holds.
public struct RunQueue<State: BitwiseCopyable>: ~Copyable {
    /// A task as it leaves the queue.
    public struct Task {
        public var pid: Int32
        public var key: UInt64
        /// The tie-break given to `hold` (its low 42 bits).
        public var tieBreak: UInt64
        /// The state given to `hold`.
        public var state: State

        @inlinable init(pid: Int32, key: UInt64, tieBreak: UInt64, state: State) {
            self.pid = pid
            self.key = key
            self.tieBreak = tieBreak
            self.state = state
        }
    }

    /// A known task's place in the table, as `acquire` returns it. Valid until the next
    /// `acquire` or `remove`.
    public struct Slot {
        @usableFromInline let index: Int
        public let pid: Int32
        /// Whether the task was not known: its state is the `initial` given to `acquire`.
        public let isNew: Bool
        /// Whether the task is held: `hold` replaces its place.
        public let isHeld: Bool
        /// What the policy stored for the task with its last `hold`, or `initial`.
        public let state: State

        @inlinable init(index: Int, pid: Int32, isNew: Bool, isHeld: Bool, state: State) {
            self.index = index
            self.pid = pid
            self.isNew = isNew
            self.isHeld = isHeld
            self.state = state
        }
    }

    /// The most tasks known at once.
    public let capacity: Int
    /// Queues, numbered from 0.
    public let queues: Int
    /// Tasks held, in all queues.
    @inlinable public var count: Int { counters.held }
    @inlinable public var isEmpty: Bool { counters.held == 0 }
    /// The policy's counters. The queue keeps `held`, `enqueued`, `replaced`, `dispatched`,
    /// `overflows`, `invalidRecords`, `removed` and `forgotten`; a policy counts the others
    /// here and leaves these alone.
    public var counters = PolicyCounters()

    @usableFromInline let bucketMask: Int
    @usableFromInline let hashShift: UInt64
    /// The table: `bucketMask + 1` slots of `slotBytes` each, 64-byte aligned.
    @usableFromInline var table: UnsafeMutableRawPointer
    /// A second table, the target of a rebuild (then the two swap): allocated in `init` so
    /// that a rebuild allocates nothing.
    private var spare: UnsafeMutableRawPointer
    /// Known tasks: held ones and remembered ones.
    private var known = 0
    /// Buckets not empty: known tasks and tombstones.
    private var used = 0
    /// Queue 0's heap, inline, so that its hot paths load nothing more than a field.
    @usableFromInline var heap: HeapStorage<Payload>
    /// The heaps of queues 1..<queues.
    @usableFromInline let otherHeaps: UnsafeMutablePointer<HeapStorage<Payload>>
    /// The generation of the last entry pushed: odd, advancing by 2 per hold, so it is also
    /// the clock of when a task was last seen.
    @usableFromInline var generation: UInt32 = 1
    /// Rebuilds since `init` (a test hook).
    private(set) var rebuilds = 0

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

    /// The start of a slot; the policy's state follows at `stateOffset`.
    @usableFromInline struct Header: BitwiseCopyable {
        /// The task's pid; `emptyPID` or `tombstonePID` (both negative) when none.
        @usableFromInline var pid: Int32
        /// Odd while the task is held: the generation of its current heap entry. Even when
        /// it is not: that generation less one, so the last time it was seen stays known.
        /// 0 for a task never held.
        @usableFromInline var generation: UInt32

        @inlinable init(pid: Int32, generation: UInt32) {
            self.pid = pid
            self.generation = generation
        }

        @inlinable var isHeld: Bool { generation & 1 != 0 }
    }

    @inlinable static var emptyPID: Int32 { .min }
    @inlinable static var tombstonePID: Int32 { -1 }
    @inlinable static var stateOffset: Int {
        let align = MemoryLayout<State>.alignment
        return (MemoryLayout<Header>.size + align - 1) / align * align
    }
    /// Bytes per slot: the header and the state, rounded up to a power of two.
    @inlinable static var slotBytes: Int {
        let bytes = stateOffset + MemoryLayout<State>.size
        return 1 &<< (Int.bitWidth &- (bytes &- 1).leadingZeroBitCount)
    }

    /// - Parameters:
    ///   - capacity: the most tasks known at once, 1...2^28.
    ///   - queues: how many queues, 1...64.
    public init(capacity: Int, queues: Int = 1) {
        precondition(capacity > 0 && capacity <= 1 << 28, "RunQueue capacity \(capacity) is outside 1...2^28")
        precondition(queues > 0 && queues <= 64, "RunQueue queues \(queues) is outside 1...64")
        self.capacity = capacity
        self.queues = queues
        var bucketCount = 2
        while bucketCount < 2 * capacity { bucketCount <<= 1 }
        bucketMask = bucketCount - 1
        hashShift = UInt64(64 - bucketCount.trailingZeroBitCount)
        table = Self.allocateTable(bucketCount)
        spare = Self.allocateTable(bucketCount)
        heap = HeapStorage(capacity: 2 * capacity)
        otherHeaps = .allocate(capacity: queues - 1)
        for queue in 1..<queues { (otherHeaps + queue - 1).initialize(to: HeapStorage(capacity: 2 * capacity)) }
    }

    deinit {
        table.deallocate()
        spare.deallocate()
        otherHeaps.deinitialize(count: queues - 1)
        otherHeaps.deallocate()
    }

    private static func allocateTable(_ count: Int) -> UnsafeMutableRawPointer {
        let table = UnsafeMutableRawPointer.allocate(
            byteCount: count * slotBytes, alignment: Swift.max(64, MemoryLayout<State>.alignment))
        for i in 0..<count {
            (table + i * slotBytes).initializeMemory(as: Header.self, to: Header(pid: emptyPID, generation: 0))
        }
        return table
    }

    /// Finds the task of `pid`, or gives it a slot with state `initial`, for `hold`.
    /// Counts one record enqueued.
    ///
    /// - Parameter forgetting: sees the state of each task forgotten to make room.
    /// - Returns: nil, counted, when the task cannot be held: its pid is outside 0..<2^22
    ///   (`invalidRecords`: no Linux task has it) or every known task is held (`overflows`).
    @inlinable @inline(__always)
    public mutating func acquire(pid: Int32, initial: State, forgetting: (State) -> Void = { _ in }) -> Slot? {
        counters.enqueued &+= 1
        guard HeapEntry.canHold(pid: pid) else {
            counters.invalidRecords &+= 1
            return nil
        }
        if let i = find(pid) {
            return Slot(index: i, pid: pid, isNew: false, isHeld: header(i).pointee.isHeld, state: state(i).pointee)
        }
        guard let i = add(pid: pid, initial: initial, forgetting: forgetting) else {
            counters.overflows &+= 1
            return nil
        }
        return Slot(index: i, pid: pid, isNew: true, isHeld: false, state: initial)
    }

    /// Holds the task of `slot` in `queue`, ordered by `key`, then `tieBreak`, then pid, and
    /// stores `state` for it. A task already held leaves the place it had, in whichever
    /// queue (counted as replaced).
    @inlinable @inline(__always)
    public mutating func hold(_ slot: Slot, _ state: State, key: UInt64, tieBreak: UInt64 = 0, in queue: Int = 0) {
        precondition(queue == 0 || UInt(bitPattern: queue) < UInt(bitPattern: queues), "no queue \(queue)")
        let i = slot.index
        if withHeap(queue, { $0.count == $0.capacity }) { dropStale() }
        let wasHeld = header(i).pointee.isHeld
        let generation = nextGeneration()
        header(i).pointee.generation = generation
        self.state(i).pointee = state
        let entry = HeapEntry(key: key, tieBreak: tieBreak, pid: slot.pid)
        let payload = Payload(slot: UInt32(truncatingIfNeeded: i), generation: generation)
        withHeap(queue) { $0.push(entry, payload) }
        if wasHeld { counters.replaced &+= 1 } else { counters.held &+= 1 }
    }

    /// Removes and returns the first task of `queue`; nil when it holds none.
    @inlinable @inline(__always)
    public mutating func popMin(from queue: Int = 0) -> Task? {
        precondition(queue == 0 || UInt(bitPattern: queue) < UInt(bitPattern: queues), "no queue \(queue)")
        let table = self.table
        guard let (entry, i) = withHeap(queue, { Self.popCurrent(&$0, table) }) else { return nil }
        let state = self.state(i).pointee
        counters.held &-= 1
        counters.dispatched &+= 1
        return Task(pid: entry.pid, key: entry.key, tieBreak: entry.tieBreak, state: state)
    }

    /// Forgets the task of `pid` (it exited), held or not. Counts one removal.
    ///
    /// - Returns: its state and whether it was held; nil when it was not known.
    @discardableResult
    public mutating func remove(pid: Int32) -> (state: State, wasHeld: Bool)? {
        counters.removed &+= 1
        guard HeapEntry.canHold(pid: pid), let i = find(pid) else { return nil }
        let wasHeld = header(i).pointee.isHeld
        if wasHeld { counters.held -= 1 }
        let state = self.state(i).pointee
        // Its entry, if any, is stale from now on; the slot becomes a tombstone.
        forget(slot: i)
        return (state, wasHeld)
    }

    /// The state of the task of `pid`, held or not; nil when it is not known.
    public func state(of pid: Int32) -> State? {
        guard HeapEntry.canHold(pid: pid), let i = find(pid) else { return nil }
        return state(i).pointee
    }

    /// Whether the task of `pid` is held.
    public func contains(pid: Int32) -> Bool {
        guard HeapEntry.canHold(pid: pid), let i = find(pid) else { return false }
        return header(i).pointee.isHeld
    }

    /// Test hook: the generation counter, to test its wrap without 2^31 holds.
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

extension RunQueue: @unchecked Sendable where State: Sendable {}

extension RunQueue {
    private var bucketCount: Int { bucketMask + 1 }
    /// A rebuild clears the tombstones when `used` would pass this: 3/4 of the buckets.
    private var maxUsed: Int { bucketCount - bucketCount >> 2 }

    @inlinable @inline(__always) func header(_ i: Int) -> UnsafeMutablePointer<Header> {
        Self.header(table, i)
    }

    @inlinable @inline(__always) static func header(_ table: UnsafeMutableRawPointer, _ i: Int) -> UnsafeMutablePointer<Header> {
        (table + i &* slotBytes).assumingMemoryBound(to: Header.self)
    }

    @inlinable @inline(__always) func state(_ i: Int) -> UnsafeMutablePointer<State> {
        (table + (i &* Self.slotBytes &+ Self.stateOffset)).assumingMemoryBound(to: State.self)
    }

    /// Fibonacci hashing: consecutive pids land far apart.
    @inlinable @inline(__always) func home(_ pid: Int32) -> Int {
        Int(truncatingIfNeeded: (UInt64(UInt32(bitPattern: pid)) &* 0x9E37_79B9_7F4A_7C15) &>> hashShift)
    }

    /// The slot of `pid`, a valid pid, if it is known.
    @inlinable @inline(__always) func find(_ pid: Int32) -> Int? {
        var i = home(pid)
        while true {
            let found = header(i).pointee.pid
            if found == pid { return i }
            if found == Self.emptyPID { return nil }
            i = (i &+ 1) & bucketMask
        }
    }

    /// Gives `pid`, not known, a slot with state `initial`: the first tombstone or empty
    /// bucket of its probe. Makes room if needed; nil when every known task is held.
    @usableFromInline mutating func add(pid: Int32, initial: State, forgetting: (State) -> Void) -> Int? {
        if known == capacity {
            makeRoom(forgetting: forgetting)
            if known == capacity { return nil }
        }
        var i = firstFree(for: pid)
        if header(i).pointee.pid == Self.emptyPID {
            if used + 1 > maxUsed {
                rebuild()
                i = firstFree(for: pid)
            }
            used += 1
        }
        header(i).pointee = Header(pid: pid, generation: 0)
        state(i).initialize(to: initial)
        known += 1
        return i
    }

    /// The first bucket on `pid`'s probe that holds no task.
    private func firstFree(for pid: Int32) -> Int {
        var i = home(pid)
        // Valid pids are not negative; empty and tombstone are.
        while header(i).pointee.pid >= 0 { i = (i + 1) & bucketMask }
        return i
    }

    /// Forgets the task in `slot`: any entry of it becomes stale (no generation is 0) and
    /// the bucket becomes a tombstone, or empty if the probe ends after it.
    private mutating func forget(slot: Int) {
        known -= 1
        header(slot).pointee.generation = 0
        if header((slot + 1) & bucketMask).pointee.pid != Self.emptyPID {
            header(slot).pointee.pid = Self.tombstonePID
            return
        }
        // Nothing probes past an empty bucket: this one and the tombstones before it can
        // be empty.
        var i = slot
        repeat {
            header(i).pointee.pid = Self.emptyPID
            used -= 1
            i = (i - 1) & bucketMask
        } while header(i).pointee.pid == Self.tombstonePID
    }

    /// Forgets the tasks not held and not seen during the last capacity/2 holds; if that
    /// frees nothing, every task not held. One sweep frees many tasks, so its O(capacity)
    /// cost is spread over the holds that follow.
    private mutating func makeRoom(forgetting: (State) -> Void) {
        let horizon = generation &- UInt32(truncatingIfNeeded: capacity)
        for pass in 0..<2 {
            let recentToo = pass == 1
            // Slots do not move, so the sweep sees every task once.
            for i in 0..<bucketCount {
                let slot = header(i).pointee
                guard slot.pid >= 0, !slot.isHeld else { continue }
                if recentToo || Int32(bitPattern: slot.generation &- horizon) <= 0 {
                    forgetting(state(i).pointee)
                    forget(slot: i)
                    counters.forgotten &+= 1
                }
            }
            if known < capacity { return }
        }
    }

    /// Rewrites the table without tombstones (into `spare`, then swapped) and every heap
    /// entry's slot number; stale entries are dropped first, since their slots may be
    /// gone. O(capacity + entries).
    private mutating func rebuild() {
        dropStale()
        let old = table
        let slotBytes = Self.slotBytes
        table = spare
        for i in 0..<bucketCount { header(i).pointee = Header(pid: Self.emptyPID, generation: 0) }
        for i in 0..<bucketCount {
            let moving = Self.header(old, i)
            guard moving.pointee.pid >= 0 else { continue }
            var j = home(moving.pointee.pid)
            while header(j).pointee.pid != Self.emptyPID { j = (j + 1) & bucketMask }
            (table + j * slotBytes).copyMemory(from: old + i * slotBytes, byteCount: slotBytes)
            // The old table is scrap from here: it keeps the new slot number.
            moving.pointee.generation = UInt32(truncatingIfNeeded: j)
        }
        for queue in 0..<queues {
            withHeap(queue) { heap in
                for k in 0..<heap.count {
                    // The old slot's generation holds the new slot number.
                    heap.payloads[k].slot = Self.header(old, Int(heap.payloads[k].slot)).pointee.generation
                }
            }
        }
        spare = old
        used = known
        rebuilds += 1
    }

    /// The heap of `queue`, to `body`.
    @inlinable @inline(__always)
    mutating func withHeap<R>(_ queue: Int, _ body: (inout HeapStorage<Payload>) -> R) -> R {
        queue == 0 ? body(&heap) : body(&otherHeaps[queue &- 1])
    }

    /// Removes the first current entry of `heap` and marks its task not held, dropping the
    /// stale entries before it; returns the entry and its slot.
    @inlinable @inline(__always)
    static func popCurrent(_ heap: inout HeapStorage<Payload>, _ table: UnsafeMutableRawPointer) -> (HeapEntry, Int)? {
        while heap.count > 0 {
            // The slot's fetch goes first, to overlap the sift's. Only its generation is
            // read now; the state, read after the sift from the same line, would otherwise
            // stay live in registers (or spilled) through it.
            let payload = heap.payloads[0]
            let i = Int(payload.slot)
            let generation = header(table, i).pointee.generation
            let entry = heap.popMin().entry
            // Stale: an older entry of a task held again, popped or forgotten since.
            if generation != payload.generation { continue }
            // Not held any more; the even generation still says when it was last seen.
            header(table, i).pointee.generation = generation &- 1
            prefetchNextSlots(heap, table)
            return (entry, i)
        }
        return nil
    }

    /// Starts fetching the slots of the entries that come out of `heap` next: the first and
    /// its four children (one of which is first after it, unless a hold goes before). A
    /// slot read at a pop then comes from the cache, even with the pops close together.
    @inlinable @inline(__always)
    static func prefetchNextSlots(_ heap: borrowing HeapStorage<Payload>, _ table: UnsafeMutableRawPointer) {
        let payloads = heap.payloads
        let n = Swift.min(heap.count, 5)
        var k = 0
        while k < n {
            prefetch(header(table, Int(payloads[k].slot)))
            k &+= 1
        }
    }

    /// The generation for a new entry. When the 32-bit counter wraps, every stale entry is
    /// dropped and the held tasks renumbered, so a stale entry can never carry its slot's
    /// current generation (once per 2^31 holds: O(capacity) then).
    @inlinable @inline(__always) mutating func nextGeneration() -> UInt32 {
        generation &+= 2
        if generation == 1 { renumber() }
        return generation
    }

    /// Gives every held task and its entry one generation, and every task not held 0 (seen
    /// long ago); the next generation is the one after.
    @usableFromInline mutating func renumber() {
        dropStale()
        let held = UInt32(truncatingIfNeeded: 2 * capacity + 1)
        for i in 0..<bucketCount where header(i).pointee.pid >= 0 {
            header(i).pointee.generation = header(i).pointee.isHeld ? held : 0
        }
        for queue in 0..<queues {
            withHeap(queue) { heap in
                for k in 0..<heap.count { heap.payloads[k].generation = held }
            }
        }
        generation = held &+ 2
    }

    /// Drops every stale entry from every heap, in O(entries).
    @usableFromInline mutating func dropStale() {
        let table = self.table
        for queue in 0..<queues {
            withHeap(queue) { heap in
                heap.removeAll { _, payload in
                    Self.header(table, Int(payload.slot)).pointee.generation != payload.generation
                }
            }
        }
    }
}
