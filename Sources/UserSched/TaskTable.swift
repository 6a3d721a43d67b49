/// A bounded hash map from pid to a task's state, stored inline, allocated once.
///
/// Policies keep everything they know of a task (vruntime bookkeeping, the context-switch
/// rate, its current heap entry, ...) here. The state sits in the hash bucket itself, one
/// 64-byte cache line when it is small enough, so finding a task and reading or updating
/// its state costs one memory fetch. Nothing is allocated after `init`: the scheduling
/// thread must not page-fault or call malloc while tasks wait on it.
///
/// User space hears of a task only when it is enqueued; it is not told reliably when a
/// task exits. So when the table runs out of room it forgets tasks the owner does not hold
/// (no queue refers to them), least recently seen first. Forgetting a task only loses its
/// history; held tasks are never forgotten.
///
/// An index (what `acquire` and `index(of:)` return) stays valid until the next `acquire`
/// or `remove(at:)`: removing a task can move others.
///
/// Non-copyable: the table owns its buckets outright (allocated in `init`, freed in
/// `deinit`), so a lookup or an update makes no reference-count traffic and no uniqueness
/// check (the copy-on-write table paid a runtime call per `acquire` and per write through
/// the subscript). A policy that holds one is non-copyable too.
public struct TaskTable<State: BitwiseCopyable & Sendable>: ~Copyable, @unchecked Sendable {
    /// The most tasks known at once.
    public let capacity: Int
    /// Tasks the table knows: held ones and remembered ones.
    public private(set) var count = 0
    /// Tasks forgotten to make room, since `init`.
    public private(set) var forgotten: UInt64 = 0

    private let stateOffset: Int
    private let bucketStride: Int
    private let bucketMask: Int
    private let hashShift: UInt64
    /// The buckets: open addressing with linear probing, at most half full. Each bucket is
    /// a header followed by the state, at a stride that is a power of two of at least 64
    /// bytes, in 64-byte aligned memory, so a small bucket never straddles cache lines.
    private let block: UnsafeMutableRawPointer
    /// The clock of `Header.lastSeen`: advances at every `acquire`.
    private var stamp: UInt32 = 0

    /// - Parameter capacity: the most tasks known at once, at least 1.
    public init(capacity: Int) {
        precondition(capacity > 0 && capacity <= 1 << 28, "TaskTable capacity \(capacity) is outside 1...2^28")
        self.capacity = capacity
        stateOffset = Self.stateOffset
        bucketStride = Self.bucketBytes
        var bucketCount = 2
        while bucketCount < 2 * capacity { bucketCount <<= 1 }
        bucketMask = bucketCount - 1
        hashShift = UInt64(64 - bucketCount.trailingZeroBitCount)
        block = .allocate(byteCount: bucketCount * bucketStride, alignment: 64)
        for i in 0..<bucketCount { header(i).initialize(to: Header(pid: Self.emptyPID, lastSeen: 0)) }
    }

    deinit { block.deallocate() }

    /// Where the state of `pid` is, if the table knows it.
    public func index(of pid: Int32) -> Int? {
        find(pid)
    }

    /// The state of the task at `index`.
    ///
    /// An index out of range stops the program; one of a bucket that holds no task (an
    /// index kept across an `acquire` or `remove(at:)`) is caught in debug builds.
    public subscript(index: Int) -> State {
        get {
            checkIndex(index)
            return state(index).pointee
        }
        _modify {
            checkIndex(index)
            yield &state(index).pointee
        }
    }

    /// The pid of the task at `index`.
    public func pid(at index: Int) -> Int32 {
        checkIndex(index)
        return header(index).pointee.pid
    }

    @inline(__always) private func checkIndex(_ index: Int) {
        precondition(index >= 0 && index <= bucketMask, "index \(index) is out of range")
        assert(isUsed(index), "index \(index) holds no task")
    }

    /// Finds `pid`, or makes room for it with state `initial`.
    ///
    /// When the table is full, tasks for which `isHeld` is false are forgotten, those not
    /// seen recently first; `forget` sees the state of each before it goes, so the caller
    /// can settle its own counters. The two closures run only then.
    ///
    /// - Returns: where its state is, and whether it is new (its state is `initial`); nil
    ///   when every known task is held.
    public mutating func acquire(
        pid: Int32, initial: State, isHeld: (State) -> Bool, forget: (State) -> Void = { _ in }
    ) -> (index: Int, isNew: Bool)? {
        precondition(pid != Self.emptyPID, "pid \(pid) is reserved")
        stamp &+= 1
        var i = home(pid)
        while true {
            let found = header(i).pointee.pid
            if found == pid {
                header(i).pointee.lastSeen = stamp
                return (i, false)
            }
            if found == Self.emptyPID { break }
            i = (i + 1) & bucketMask
        }
        if count == capacity {
            makeRoom(isHeld: isHeld, forget: forget)
            if count == capacity { return nil }
            // Forgetting moved buckets around: find the insertion point again.
            i = home(pid)
            while header(i).pointee.pid != Self.emptyPID { i = (i + 1) & bucketMask }
        }
        header(i).pointee = Header(pid: pid, lastSeen: stamp)
        state(i).initialize(to: initial)
        count += 1
        return (i, true)
    }

    /// Forgets the task at `index` (it exited). Other tasks may move.
    ///
    /// Backward-shift deletion: keeps every probe chain unbroken without tombstones, so
    /// lookups never slow down as tasks come and go.
    public mutating func remove(at index: Int) {
        precondition(isUsed(index), "index \(index) holds no task")
        var hole = index
        var next = (hole + 1) & bucketMask
        while header(next).pointee.pid != Self.emptyPID {
            let want = home(header(next).pointee.pid)
            // Move the bucket into the hole unless its home lies cyclically in (hole, next].
            if (hole - want) & bucketMask < (next - want) & bucketMask {
                (block + hole * bucketStride).copyMemory(from: block + next * bucketStride, byteCount: bucketStride)
                hole = next
            }
            next = (next + 1) & bucketMask
        }
        header(hole).pointee.pid = Self.emptyPID
        count -= 1
    }

    /// Bytes per bucket, one bucket per task (a power of two, at least 64): a test keeps
    /// each policy's at 64, one cache line.
    static var bucketBytes: Int {
        var stride = 64
        while stride < stateOffset + MemoryLayout<State>.size { stride <<= 1 }
        return stride
    }
}

extension TaskTable {
    struct Header {
        /// `emptyPID` when the bucket is free.
        var pid: Int32
        /// `stamp` when the task was last acquired.
        var lastSeen: UInt32
    }

    static var emptyPID: Int32 { .min }
    static var stateOffset: Int {
        let align = MemoryLayout<State>.alignment
        return (MemoryLayout<Header>.size + align - 1) / align * align
    }

    private var bucketCount: Int { bucketMask + 1 }

    @inline(__always) private func header(_ i: Int) -> UnsafeMutablePointer<Header> {
        (block + i * bucketStride).assumingMemoryBound(to: Header.self)
    }

    @inline(__always) private func state(_ i: Int) -> UnsafeMutablePointer<State> {
        (block + i * bucketStride + stateOffset).assumingMemoryBound(to: State.self)
    }

    private func isUsed(_ i: Int) -> Bool {
        i >= 0 && i <= bucketMask && header(i).pointee.pid != Self.emptyPID
    }

    /// Fibonacci hashing: consecutive pids land far apart.
    @inline(__always) private func home(_ pid: Int32) -> Int {
        Int(truncatingIfNeeded: (UInt64(UInt32(bitPattern: pid)) &* 0x9E37_79B9_7F4A_7C15) >> hashShift)
    }

    @inline(__always) private func find(_ pid: Int32) -> Int? {
        var i = home(pid)
        while true {
            let found = header(i).pointee.pid
            if found == pid { return i }
            if found == Self.emptyPID { return nil }
            i = (i + 1) & bucketMask
        }
    }

    /// Forgets the tasks not held and not seen during the last capacity/2 acquisitions;
    /// if that frees nothing, every task not held. One sweep frees many tasks, so its
    /// O(capacity) cost is spread over the acquisitions that follow.
    private mutating func makeRoom(isHeld: (State) -> Bool, forget: (State) -> Void) {
        let horizon = stamp &- UInt32(truncatingIfNeeded: capacity / 2)
        for pass in 0..<2 {
            let recentToo = pass == 1
            var i = 0
            while i < bucketCount {
                let h = header(i).pointee
                if h.pid != Self.emptyPID, !isHeld(state(i).pointee),
                    recentToo || Int32(bitPattern: h.lastSeen &- horizon) <= 0
                {
                    forget(state(i).pointee)
                    remove(at: i)
                    forgotten &+= 1
                    // Another bucket may have moved into i: look at it again.
                    continue
                }
                i += 1
            }
            if count < capacity { return }
        }
    }
}
