/// One held task as a heap orders it: by `key`, then `tieBreak`, then `pid`, lowest first.
///
/// The order is total, so the same records always come out in the same order. A policy
/// puts what it orders by into `key` (a vruntime, a deadline, an arrival number) and
/// `tieBreak` (a timestamp, say).
///
/// 16 bytes: tie-break and pid share one word (`tieBreak << 22 | pid`; Linux pids are
/// below 2^22, PID_MAX_LIMIT). So four siblings fill one cache line, and the whole order is
/// one 128-bit comparison: two instructions and no branch. (Heap comparisons are coin
/// flips that a branch predictor cannot learn; a mispredicted branch costs ~15 cycles.)
/// The price: `tieBreak` keeps its low 42 bits; a timestamp in microseconds wraps after
/// 51 days, and then orders exact key ties wrongly once.
public struct HeapEntry: Sendable, Equatable, BitwiseCopyable {
    public var key: UInt64
    /// `tieBreak << 22 | pid`.
    public var order: UInt64

    @usableFromInline static var pidBits: UInt64 { 22 }
    @usableFromInline static var pidMask: UInt64 { 1 << pidBits - 1 }

    /// - Parameters:
    ///   - tieBreak: only its low 42 bits count.
    ///   - pid: 0 ..< 2^22.
    @inlinable public init(key: UInt64, tieBreak: UInt64 = 0, pid: Int32) {
        assert(Self.canHold(pid: pid), "pid \(pid) is outside 0..<2^22")
        self.key = key
        order = tieBreak << Self.pidBits | UInt64(UInt32(bitPattern: pid)) & Self.pidMask
    }

    /// Whether an entry can hold `pid`: Linux pids are below 2^22 (PID_MAX_LIMIT). A record
    /// with any other pid is malformed; policies answer it at once instead of holding it.
    @inlinable public static func canHold(pid: Int32) -> Bool {
        pid >= 0 && UInt64(pid) <= pidMask
    }

    @inlinable public var tieBreak: UInt64 { order >> Self.pidBits }
    @inlinable public var pid: Int32 { Int32(truncatingIfNeeded: order & Self.pidMask) }

    /// Whether `self` comes out of a heap before `other`.
    @inlinable @inline(__always)
    public func precedes(_ other: HeapEntry) -> Bool {
        UInt128(key) << 64 | UInt128(order) < UInt128(other.key) << 64 | UInt128(other.order)
    }
}

/// A 4-ary min-heap of `HeapEntry` in storage allocated once, with every group of four
/// siblings in one 64-byte cache line.
///
/// It keeps no index from task to position: a task is removed or re-keyed by leaving its
/// old entry in place and letting the owner recognise it as stale when it comes out (the
/// owner remembers each held task's current entry, as `VruntimePolicy` does; `RunQueue`
/// uses the same storage, `HeapStorage`, with a generation carried beside each entry
/// instead). Keeping an index
/// costs a scattered write for every entry a sift moves, on every operation, to speed up
/// removals, which are rare in a scheduler (task exit, re-enqueue before dispatch). Stale
/// entries leave when they reach the top, or all at once through `removeAll(where:)` when
/// the heap is full; with room for twice the tasks an owner can hold, that sweep is
/// amortised over at least as many insertions as it has slots.
///
/// Why 4-ary: half the depth of a binary heap, and one cache line per level. At 16,000
/// entries a pop reads 7 lines instead of 14, and the lines of the level after next are
/// prefetched while a level is compared.
///
/// Non-copyable: the heap owns its storage outright and frees it when it goes, so a push
/// or a pop makes no reference-count traffic and no uniqueness check (a copy-on-write
/// heap paid a runtime call per operation for copies the scheduling loop never makes).
/// Pass it `inout` or `borrowing`; a policy that holds one is non-copyable too.
public struct TaskHeap: ~Copyable, Sendable {
    public var count: Int { storage.count }
    public var isEmpty: Bool { storage.count == 0 }
    /// The most entries held at once.
    public var capacity: Int { storage.capacity }
    /// The first entry, stale or not.
    public var min: HeapEntry? { storage.count > 0 ? storage.entries[0] : nil }

    private var storage: HeapStorage<NoPayload>

    public init(capacity: Int) {
        precondition(capacity > 0 && capacity <= 1 << 30, "TaskHeap capacity \(capacity) is outside 1...2^30")
        storage = HeapStorage(capacity: capacity)
    }

    /// Adds `entry`; the heap must not be full.
    public mutating func push(_ entry: HeapEntry) {
        precondition(storage.count < storage.capacity, "TaskHeap is full")
        storage.push(entry, NoPayload())
    }

    /// Adds `entry`, first dropping every stale entry if the heap is full.
    ///
    /// - Parameter currentIndex: the owner's test: where the entry's task is (in its
    ///   `TaskTable`) if the entry is that task's current one, nil if it is stale.
    public mutating func push(_ entry: HeapEntry, currentIndex: (HeapEntry) -> Int?) {
        if storage.count == storage.capacity { removeAll { currentIndex($0) == nil } }
        push(entry)
    }

    /// Removes and returns the first entry.
    public mutating func popMin() -> HeapEntry? {
        if storage.count == 0 { return nil }
        return storage.popMin().entry
    }

    /// Removes and returns the first current entry and where its task is, dropping the
    /// stale entries before it.
    ///
    /// - Parameter currentIndex: as in `push(_:currentIndex:)`.
    public mutating func popCurrent(_ currentIndex: (HeapEntry) -> Int?) -> (entry: HeapEntry, index: Int)? {
        while let top = min {
            // The owner's lookup goes first: its memory fetch then overlaps the sift's.
            let index = currentIndex(top)
            _ = popMin()
            if let index { return (top, index) }
        }
        return nil
    }

    /// Removes every entry `shouldRemove` picks, in O(n).
    public mutating func removeAll(where shouldRemove: (HeapEntry) -> Bool) {
        storage.removeAll { entry, _ in shouldRemove(entry) }
    }
}

/// What a heap entry carries besides its order: nothing (`TaskHeap`).
struct NoPayload: BitwiseCopyable {}

/// The storage of a 4-ary min-heap of `HeapEntry`, each entry with a `Payload` that moves
/// with it: `TaskHeap`'s (no payload) and `RunQueue`'s (what a dispatch record needs).
///
/// The payloads are a parallel array, not part of the entries: the comparisons read only
/// the 16-byte entries, four siblings per cache line, and a payload is read only to be
/// moved with its entry, off the chain of comparisons that decides where the hole goes.
/// With `NoPayload` (size 0) every payload access compiles to nothing.
///
/// Non-copyable, like its owners: it allocates its two blocks in `init` and frees them in
/// `deinit`, and being stored inline in its owner (no object in between) its pointers and
/// `count` are plain fields of that owner.
///
/// Its hot paths are `@inlinable` (and its fields `@usableFromInline`) for `RunQueue`'s,
/// which are inlined into policies written outside this module (see `RunQueue`).
@usableFromInline
struct HeapStorage<Payload: BitwiseCopyable>: ~Copyable, @unchecked Sendable {
    @usableFromInline let capacity: Int
    /// Entry i lives at slot i + 3 of a 64-byte aligned block, so that the children
    /// of i (4i+1 ... 4i+4) start on a cache-line boundary.
    @usableFromInline let block: UnsafeMutableRawPointer
    @usableFromInline let entries: UnsafeMutablePointer<HeapEntry>
    /// Payload i lives at slot i + 3 of its own 64-byte aligned block, as the entries
    /// do: the four children's payloads then share one line (with 8-byte payloads; from
    /// slot 0 they straddled two lines at every other level), and the 16 grandchildren's
    /// are whole lines, the ones `prefetchGrandchildren` fetches.
    @usableFromInline let payloadBlock: UnsafeMutableRawPointer
    @usableFromInline let payloads: UnsafeMutablePointer<Payload>
    @usableFromInline var count = 0

    private static var padding: Int { 3 }

    @usableFromInline init(capacity: Int) {
        self.capacity = capacity
        let stride = MemoryLayout<HeapEntry>.stride
        block = .allocate(byteCount: (capacity + Self.padding) * stride, alignment: 64)
        entries = (block + Self.padding * stride).bindMemory(to: HeapEntry.self, capacity: capacity)
        let payloadStride = MemoryLayout<Payload>.stride
        payloadBlock = .allocate(byteCount: Swift.max(1, (capacity + Self.padding) * payloadStride), alignment: 64)
        payloads = (payloadBlock + Self.padding * payloadStride).bindMemory(to: Payload.self, capacity: capacity)
    }

    // Inlinable because the owners' inlinable code may replace a storage: a deinit the
    // compiler cannot see there made Swift 6.3.1 assert ("Should never be inlining a
    // resilient function into a fragile function").
    @inlinable deinit {
        block.deallocate()
        payloadBlock.deallocate()
    }

    @inlinable @inline(__always) mutating func push(_ entry: HeapEntry, _ payload: Payload) {
        count += 1
        siftUp(entry, payload, from: count - 1)
    }

    @inlinable @inline(__always) mutating func popMin() -> (entry: HeapEntry, payload: Payload) {
        let first = entries[0]
        let firstPayload = payloads[0]
        count -= 1
        if count > 0 { sinkHoleFromRoot(thenPlace: entries[count], payloads[count]) }
        return (first, firstPayload)
    }

    @usableFromInline mutating func removeAll(where shouldRemove: (HeapEntry, Payload) -> Bool) {
        var kept = 0
        for i in 0..<count where !shouldRemove(entries[i], payloads[i]) {
            entries[kept] = entries[i]
            payloads[kept] = payloads[i]
            kept += 1
        }
        count = kept
        // Floyd's heap construction: sift down every parent, last first; O(n).
        if count > 1 {
            for parent in stride(from: (count - 2) / 4, through: 0, by: -1) {
                siftDown(entries[parent], payloads[parent], from: parent)
            }
        }
    }

    /// Moves the entry at `i` and its payload into the hole at `hole`.
    @inline(__always) private func move(_ i: Int, to hole: Int) {
        entries[hole] = entries[i]
        payloads[hole] = payloads[i]
    }

    /// Moves the hole at `position` up until `entry` fits, then fills it.
    ///
    /// The storage pointers are read once into locals: the compiler cannot always tell
    /// that the stores through them leave the storage's own fields alone (they were
    /// reloaded at every level when the storage was a class). Indices stay in 0..<count,
    /// so the arithmetic is unchecked.
    @inlinable @inline(__always) func siftUp(_ entry: HeapEntry, _ payload: Payload, from position: Int) {
        let entries = self.entries, payloads = self.payloads
        var hole = position
        while hole > 0 {
            let parent = (hole &- 1) &>> 2
            let above = entries[parent]
            if !entry.precedes(above) { break }
            entries[hole] = above
            payloads[hole] = payloads[parent]
            hole = parent
        }
        entries[hole] = entry
        payloads[hole] = payload
    }

    /// The child of `parent` that comes first; `parent` must have at least one child.
    @inline(__always) private func firstChild(of parent: Int) -> Int {
        let child = parent << 2 + 1
        if child + 3 < count {
            // A full node: a two-round tournament of selects, no branches.
            let a = entries[child + 1].precedes(entries[child]) ? child + 1 : child
            let b = entries[child + 3].precedes(entries[child + 2]) ? child + 3 : child + 2
            return entries[b].precedes(entries[a]) ? b : a
        }
        var best = child
        var other = child + 1
        while other < count {
            if entries[other].precedes(entries[best]) { best = other }
            other += 1
        }
        return best
    }

    /// Moves the hole at `position` down until `entry` fits, then fills it.
    private func siftDown(_ entry: HeapEntry, _ payload: Payload, from position: Int) {
        var hole = position
        while hole << 2 + 1 < count {
            let child = firstChild(of: hole)
            if !entries[child].precedes(entry) { break }
            move(child, to: hole)
            hole = child
        }
        entries[hole] = entry
        payloads[hole] = payload
    }

    /// After the root was taken: moves the hole all the way down along the first
    /// children, then lets `entry` (the former last one) rise from there.
    ///
    /// The last entry nearly always belongs near the bottom (a task just charged for
    /// its run has one of the largest vruntimes), so this saves the comparison against
    /// it at every level that a plain sift-down would make (Floyd's bottom-up deletion).
    @inlinable @inline(__always) func sinkHoleFromRoot(thenPlace entry: HeapEntry, _ payload: Payload) {
        // Locals, unchecked arithmetic: see `siftUp`. count >= 1 here, indices < count.
        let entries = self.entries, payloads = self.payloads, count = self.count
        var hole = 0
        // Nodes up to lastFull have four children: the loop needs no bounds checks.
        let lastFull = (count &- 5) &>> 2
        // Nodes below this one have their 16 grandchildren all present.
        let lastWithGrandchildren = (count &- 21) &>> 4
        while hole <= lastFull {
            let child = hole &<< 2 &+ 1
            if hole <= lastWithGrandchildren { Self.prefetchGrandchildren(of: child, entries, payloads) }
            let first = Self.firstOfFour(child, entries)
            entries[hole] = entries[first]
            payloads[hole] = payloads[first]
            hole = first
        }
        if hole &<< 2 &+ 1 < count {
            // A node with one to three children, all of them leaves.
            var first = hole &<< 2 &+ 1
            var other = first &+ 1
            while other < count {
                if entries[other].precedes(entries[first]) { first = other }
                other &+= 1
            }
            entries[hole] = entries[first]
            payloads[hole] = payloads[first]
            hole = first
        }
        siftUp(entry, payload, from: hole)
    }

    /// The first of the four entries from `child` on: a two-round tournament.
    ///
    /// Written as index arithmetic, not `c ? x : y`: the compiler turns those selects
    /// into branches, and a heap's comparisons are coin flips that a branch predictor
    /// cannot learn (each miss costs ~15 cycles, three per level).
    @inlinable @inline(__always) static func firstOfFour(_ child: Int, _ entries: UnsafeMutablePointer<HeapEntry>) -> Int {
        let a = child &+ bit(entries[child &+ 1].precedes(entries[child]))
        let b = child &+ 2 &+ bit(entries[child &+ 3].precedes(entries[child &+ 2]))
        // b is after a: a + (b - a) when b comes first.
        return a &+ ((b &- a) & (0 &- bit(entries[b].precedes(entries[a]))))
    }

    @inlinable @inline(__always) static func bit(_ condition: Bool) -> Int {
        Int(truncatingIfNeeded: UInt8(truncatingIfNeeded: unsafeBitCast(condition, to: UInt8.self)))
    }

    /// Starts fetching the four cache lines of the grandchildren below `child`'s group
    /// (and their payloads') while the children are compared: the next level's fetch
    /// then overlaps this level's work instead of following it. Pays off once the heap
    /// outgrows L1.
    @inlinable @inline(__always) static func prefetchGrandchildren(
        of child: Int, _ entries: UnsafeMutablePointer<HeapEntry>, _ payloads: UnsafeMutablePointer<Payload>
    ) {
        let grandchild = child &<< 2 &+ 1
        prefetch(entries + grandchild)
        prefetch(entries + (grandchild &+ 4))
        prefetch(entries + (grandchild &+ 8))
        prefetch(entries + (grandchild &+ 12))
        if MemoryLayout<Payload>.size > 0 {
            // The 16 grandchildren's payloads span 16 x size bytes from a line boundary
            // (the padding): two lines for 8-byte payloads.
            let first = UnsafeRawPointer(payloads + grandchild)
            var offset = 0
            while offset < 16 * MemoryLayout<Payload>.stride {
                prefetch(first + offset)
                offset += 64
            }
        }
    }
}
