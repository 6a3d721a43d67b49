/// One held task as the run queue's heaps order it: by `key`, then `tieBreak`, then `pid`,
/// lowest first.
///
/// The order is total, so the same records always come out in the same order.
///
/// 16 bytes: tie-break and pid share one word (`tieBreak << 22 | pid`; Linux pids are below
/// 2^22, PID_MAX_LIMIT), so four siblings fill one cache line and the whole order is one
/// 128-bit comparison, without a branch (heap comparisons are coin flips that a branch
/// predictor cannot learn). The price: `tieBreak` keeps its low 42 bits; a timestamp in
/// microseconds wraps after 51 days, and then orders exact key ties wrongly once.
@usableFromInline
struct HeapEntry: Sendable, Equatable, BitwiseCopyable {
    @usableFromInline var key: UInt64
    /// `tieBreak << 22 | pid`.
    @usableFromInline var order: UInt64

    @usableFromInline static var pidBits: UInt64 { 22 }
    @usableFromInline static var pidMask: UInt64 { 1 << pidBits - 1 }

    /// - Parameters:
    ///   - tieBreak: only its low 42 bits count.
    ///   - pid: 0 ..< 2^22.
    @inlinable init(key: UInt64, tieBreak: UInt64 = 0, pid: Int32) {
        assert(Self.canHold(pid: pid), "pid \(pid) is outside 0..<2^22")
        self.key = key
        order = tieBreak << Self.pidBits | UInt64(UInt32(bitPattern: pid)) & Self.pidMask
    }

    /// Whether an entry can hold `pid`: Linux pids are below 2^22 (PID_MAX_LIMIT). A record
    /// with any other pid is malformed.
    @inlinable static func canHold(pid: Int32) -> Bool {
        pid >= 0 && UInt64(pid) <= pidMask
    }

    @inlinable var tieBreak: UInt64 { order >> Self.pidBits }
    @inlinable var pid: Int32 { Int32(truncatingIfNeeded: order & Self.pidMask) }

    /// Whether `self` comes out of a heap before `other`.
    @inlinable @inline(__always)
    func precedes(_ other: HeapEntry) -> Bool {
        UInt128(key) << 64 | UInt128(order) < UInt128(other.key) << 64 | UInt128(other.order)
    }
}

/// A 4-ary min-heap of `HeapEntry` in storage allocated once, each entry with a `Payload`
/// that moves with it (the run queue's: the entry's slot and generation).
///
/// It keeps no index from task to position: its owner recognises a stale entry (a task
/// re-keyed, dispatched or removed since) when it comes out, or sweeps them all with
/// `removeAll(where:)` when the heap is full. An index would cost a scattered write for
/// every entry a sift moves, on every operation, to speed up removals, which are rare in a
/// scheduler.
///
/// Why 4-ary: half the depth of a binary heap, and one cache line per level (every group
/// of four siblings starts on a line boundary). The lines of the level after next are
/// prefetched while a level is compared.
///
/// The payloads are a parallel array, not part of the entries: the comparisons read only
/// the 16-byte entries, and a payload is read only to be moved with its entry, off the
/// chain of comparisons that decides where the hole goes.
///
/// Non-copyable: it allocates its two blocks in `init` and frees them in `deinit`, so a
/// push or a pop makes no reference counting and no uniqueness check. Its hot paths are
/// `@inlinable` for the run queue's, which are inlined into every policy (see `RunQueue`).
@usableFromInline
struct HeapStorage<Payload: BitwiseCopyable>: ~Copyable, @unchecked Sendable {
    @usableFromInline let capacity: Int
    /// Entry i lives at slot i + 3 of a 64-byte aligned block, so that the children
    /// of i (4i+1 ... 4i+4) start on a cache-line boundary.
    @usableFromInline let block: UnsafeMutableRawPointer
    @usableFromInline let entries: UnsafeMutablePointer<HeapEntry>
    /// Payload i lives at slot i + 3 of its own 64-byte aligned block, as the entries do:
    /// four siblings' payloads then share one line, and the 16 grandchildren's fill whole
    /// lines, the ones `prefetchGrandchildren` fetches.
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

    // Swift 6.3.1 workaround (it asserts "Should never be inlining a resilient function into a fragile function"): remove @inlinable when fixed.
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

    /// Removes every entry `shouldRemove` picks, in O(n).
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
    /// that the stores through them leave the storage's own fields alone. Indices stay in
    /// 0..<count, so the arithmetic is unchecked.
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
    /// into branches, which mispredict on a heap's coin-flip comparisons.
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
    /// then overlaps this level's work instead of following it.
    @inlinable @inline(__always) static func prefetchGrandchildren(
        of child: Int, _ entries: UnsafeMutablePointer<HeapEntry>, _ payloads: UnsafeMutablePointer<Payload>
    ) {
        let grandchild = child &<< 2 &+ 1
        prefetch(entries + grandchild)
        prefetch(entries + (grandchild &+ 4))
        prefetch(entries + (grandchild &+ 8))
        prefetch(entries + (grandchild &+ 12))
        if MemoryLayout<Payload>.size > 0 {
            // The 16 grandchildren's payloads span 16 x size bytes from a line boundary.
            let first = UnsafeRawPointer(payloads + grandchild)
            var offset = 0
            while offset < 16 * MemoryLayout<Payload>.stride {
                prefetch(first + offset)
                offset += 64
            }
        }
    }
}
