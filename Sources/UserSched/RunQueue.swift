import SwiftlandABI

/// Held tasks by pid, in the order a policy chooses, with what a dispatch record needs
/// kept beside each task.
///
/// Every operation is O(log n) (insert, pop, remove by pid, re-key by pid; amortised, see
/// `TaskHeap`) and allocates nothing: storage for `capacity` tasks is made in `init`.
///
/// Laid out so that a pop never looks a pid up:
/// - Each known task has a *slot*, a 32-byte record that does not move while the task is
///   known: the generation of its current heap entry (0: not held), its last-seen stamp,
///   and what its dispatch record needs.
/// - Each heap entry carries its task's slot and the generation it was pushed with (an
///   8-byte payload that moves with the entry, see `HeapStorage`). The pop goes straight
///   to the slot: if the generations differ the entry is stale (the task was re-keyed,
///   dispatched or removed since) and is dropped, else the slot answers the dispatch
///   record and is marked not held. The slots of the entries likely to come out next
///   (the new first one and its children) are prefetched at the end of each pop.
/// - The pid index (open addressing, 8 bytes a bucket: pid and slot, at most half full)
///   is used by insert, remove and contains only.
///
/// A task popped stays known (it keeps its slot) until room is needed, so the cycle
/// enqueue -> dispatch -> enqueue of a task costs one index lookup and no allocation.
/// When every slot is taken, the tasks not held and not seen recently are forgotten.
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
    public var capacity: Int { storage.capacity }
    /// Known tasks forgotten to make room, since `init`.
    public var forgotten: UInt64 { storage.forgotten }

    private var storage: Storage

    /// Bytes of pid index per bucket (two buckets per task; a test keeps it at 8).
    static var indexBucketBytes: Int { MemoryLayout<Storage.Bucket>.stride }
    /// Bytes of slot per task (a test keeps it at 32).
    static var slotBytes: Int { MemoryLayout<Storage.Slot>.stride }
    /// Bytes a heap entry carries besides its order (a test keeps it at 8).
    static var payloadBytes: Int { MemoryLayout<Payload>.stride }

    /// What a heap entry carries besides its order.
    struct Payload: BitwiseCopyable {
        var slot: UInt32
        /// The slot's generation when the entry was pushed.
        var generation: UInt32
    }

    public init(capacity: Int) {
        precondition(capacity > 0 && capacity <= 1 << 28, "RunQueue capacity \(capacity) is outside 1...2^28")
        storage = Storage(capacity: capacity)
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
        makeUnique()
        let s = storage
        guard let slot = s.acquire(pid: task.pid) else { return .full }
        let wasHeld = s.slots[slot].generation != 0
        if s.heap.count == s.heap.capacity { s.dropStale() }
        let generation = s.nextGeneration()
        s.slots[slot] = Storage.Slot(
            generation: generation, lastSeen: s.stamp, prevCPU: task.prev_cpu, nrCPUsAllowed: task.nr_cpus_allowed,
            vtime: vtime ?? task.vtime, enqSeq: task.enq_seq)
        s.heap.push(
            HeapEntry(key: key, tieBreak: tieBreak, pid: task.pid),
            Payload(slot: UInt32(truncatingIfNeeded: slot), generation: generation))
        if wasHeld { return .replaced }
        count += 1
        return .inserted
    }

    /// Removes and returns the first task.
    public mutating func popMin() -> Task? {
        if storage.heap.count == 0 { return nil }
        makeUnique()
        let s = storage
        while s.heap.count > 0 {
            // The slot's fetch goes first: it then overlaps the sift's.
            let payload = s.heap.payloads[0]
            let slot = Int(payload.slot)
            let held = s.slots[slot]
            let entry = s.heap.popMin().entry
            // Stale: an older entry of a task re-keyed, dispatched or removed since.
            if held.generation != payload.generation { continue }
            s.slots[slot].generation = 0
            count -= 1
            s.prefetchNextSlots()
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
        guard let bucket = storage.find(pid) else { return false }
        makeUnique()
        let s = storage
        let slot = Int(s.index[bucket].slot)
        let wasHeld = s.slots[slot].generation != 0
        if wasHeld { count -= 1 }
        // Its entry, if any, is stale from now on; the slot goes back for another task.
        s.forget(bucket: bucket)
        return wasHeld
    }

    public func contains(pid: Int32) -> Bool {
        storage.find(pid).map { storage.slots[Int(storage.index[$0].slot)].generation != 0 } ?? false
    }

    private mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) { storage = Storage(copying: storage) }
    }

    /// Test hook: the generation counter, to test its wrap without 2^32 inserts.
    var lastGeneration: UInt32 {
        get { storage.generation }
        set {
            makeUnique()
            storage.generation = newValue
        }
    }
}

extension RunQueue {
    /// The pid index, the slots and the heap, allocated once. Copied only when a copy of
    /// the queue is mutated (copy on write), which the scheduling loop never does.
    final class Storage: @unchecked Sendable {
        /// A bucket of the pid index: a known task's pid and slot.
        struct Bucket: BitwiseCopyable {
            /// `Storage.emptyPID` when the bucket is free.
            var pid: Int32
            var slot: UInt32
        }

        /// A known task: 32 bytes, two to a cache line.
        struct Slot: BitwiseCopyable {
            /// The generation of the task's current heap entry; 0 when it is not held.
            var generation: UInt32 = 0
            /// `stamp` when the task was last inserted.
            var lastSeen: UInt32 = 0
            var prevCPU: Int32 = 0
            var nrCPUsAllowed: UInt32 = 0
            var vtime: UInt64 = 0
            var enqSeq: UInt64 = 0
        }

        static var emptyPID: Int32 { .min }

        let capacity: Int
        /// Open addressing with linear probing, at most half full, no tombstones.
        let index: UnsafeMutablePointer<Bucket>
        let bucketMask: Int
        let hashShift: UInt64
        let slots: UnsafeMutablePointer<Slot>
        /// A stack of the slots no known task has: `free[0..<freeCount]`.
        let free: UnsafeMutablePointer<UInt32>
        var freeCount: Int
        let heap: HeapStorage<Payload>
        /// Counts inserts; a slot's `lastSeen`.
        var stamp: UInt32 = 0
        /// The generation of the last entry pushed (never 0).
        var generation: UInt32 = 0
        var forgotten: UInt64 = 0

        var bucketCount: Int { bucketMask + 1 }
        /// Tasks known: held ones and remembered ones.
        var known: Int { capacity - freeCount }

        init(capacity: Int) {
            self.capacity = capacity
            var bucketCount = 2
            while bucketCount < 2 * capacity { bucketCount <<= 1 }
            bucketMask = bucketCount - 1
            hashShift = UInt64(64 - bucketCount.trailingZeroBitCount)
            index = UnsafeMutableRawPointer.allocate(byteCount: bucketCount * MemoryLayout<Bucket>.stride, alignment: 64)
                .bindMemory(to: Bucket.self, capacity: bucketCount)
            index.initialize(repeating: Bucket(pid: Self.emptyPID, slot: 0), count: bucketCount)
            slots = UnsafeMutableRawPointer.allocate(byteCount: capacity * MemoryLayout<Slot>.stride, alignment: 64)
                .bindMemory(to: Slot.self, capacity: capacity)
            slots.initialize(repeating: Slot(), count: capacity)
            free = .allocate(capacity: capacity)
            // Lowest slots first: a small queue uses the start of `slots` only.
            for i in 0..<capacity { free[i] = UInt32(capacity - 1 - i) }
            freeCount = capacity
            heap = HeapStorage(capacity: 2 * capacity)
        }

        init(copying other: Storage) {
            capacity = other.capacity
            bucketMask = other.bucketMask
            hashShift = other.hashShift
            index = UnsafeMutableRawPointer.allocate(
                byteCount: other.bucketCount * MemoryLayout<Bucket>.stride, alignment: 64
            ).bindMemory(to: Bucket.self, capacity: other.bucketCount)
            index.initialize(from: other.index, count: other.bucketCount)
            slots = UnsafeMutableRawPointer.allocate(byteCount: capacity * MemoryLayout<Slot>.stride, alignment: 64)
                .bindMemory(to: Slot.self, capacity: capacity)
            slots.initialize(from: other.slots, count: capacity)
            free = .allocate(capacity: capacity)
            free.initialize(from: other.free, count: capacity)
            freeCount = other.freeCount
            heap = HeapStorage(copying: other.heap)
            stamp = other.stamp
            generation = other.generation
            forgotten = other.forgotten
        }

        deinit {
            index.deallocate()
            slots.deallocate()
            free.deallocate()
        }

        /// Fibonacci hashing: consecutive pids land far apart.
        @inline(__always) func home(_ pid: Int32) -> Int {
            Int(truncatingIfNeeded: (UInt64(UInt32(bitPattern: pid)) &* 0x9E37_79B9_7F4A_7C15) >> hashShift)
        }

        /// The bucket of `pid`, if it is known.
        @inline(__always) func find(_ pid: Int32) -> Int? {
            var i = home(pid)
            while true {
                let found = index[i].pid
                if found == pid { return i }
                if found == Self.emptyPID { return nil }
                i = (i + 1) & bucketMask
            }
        }

        /// The slot of `pid`, given one if it is new (making room if needed); nil when every
        /// slot holds a held task.
        @inline(__always) func acquire(pid: Int32) -> Int? {
            stamp &+= 1
            var i = home(pid)
            while true {
                let found = index[i]
                if found.pid == pid { return Int(found.slot) }
                if found.pid == Self.emptyPID { break }
                i = (i + 1) & bucketMask
            }
            return add(pid: pid, at: i)
        }

        /// Gives `pid`, not known, a slot and the free bucket `i` at the end of its probe.
        private func add(pid: Int32, at free: Int) -> Int? {
            var i = free
            if freeCount == 0 {
                makeRoom()
                if freeCount == 0 { return nil }
                // Forgetting moved buckets around: find the insertion point again.
                i = home(pid)
                while index[i].pid != Self.emptyPID { i = (i + 1) & bucketMask }
            }
            freeCount -= 1
            let slot = self.free[freeCount]
            index[i] = Bucket(pid: pid, slot: slot)
            slots[Int(slot)].generation = 0
            return Int(slot)
        }

        /// Forgets the task in `bucket`: its slot goes back (any entry of it becomes
        /// stale) and the bucket is freed.
        func forget(bucket: Int) {
            let slot = index[bucket].slot
            slots[Int(slot)].generation = 0
            free[freeCount] = slot
            freeCount += 1
            removeBucket(at: bucket)
        }

        /// Forgets the tasks not held and not seen during the last capacity/2 inserts; if
        /// that frees nothing, every task not held. One sweep frees many tasks, so its
        /// O(capacity) cost is spread over the inserts that follow.
        private func makeRoom() {
            let horizon = stamp &- UInt32(truncatingIfNeeded: capacity / 2)
            for pass in 0..<2 {
                let recentToo = pass == 1
                var i = 0
                while i < bucketCount {
                    let bucket = index[i]
                    if bucket.pid != Self.emptyPID {
                        let slot = slots[Int(bucket.slot)]
                        if slot.generation == 0, recentToo || Int32(bitPattern: slot.lastSeen &- horizon) <= 0 {
                            forget(bucket: i)
                            forgotten &+= 1
                            // Another bucket may have moved into i: look at it again.
                            continue
                        }
                    }
                    i += 1
                }
                if freeCount > 0 { return }
            }
        }

        /// Backward-shift deletion: keeps every probe chain unbroken without tombstones, so
        /// lookups never slow down as tasks come and go. Slots do not move.
        private func removeBucket(at bucket: Int) {
            var hole = bucket
            var next = (hole + 1) & bucketMask
            while index[next].pid != Self.emptyPID {
                let want = home(index[next].pid)
                // Move the bucket into the hole unless its home lies cyclically in (hole, next].
                if (hole - want) & bucketMask < (next - want) & bucketMask {
                    index[hole] = index[next]
                    hole = next
                }
                next = (next + 1) & bucketMask
            }
            index[hole].pid = Self.emptyPID
        }

        /// Starts fetching the slots of the entries that come out next: the first and its
        /// four children (one of which is first after it, unless an insert goes before).
        /// A slot read at a pop then comes from the cache, even with the pops close
        /// together.
        @inline(__always) func prefetchNextSlots() {
            let n = Swift.min(heap.count, 5)
            for i in 0..<n { prefetch(slots + Int(heap.payloads[i].slot)) }
        }

        /// The generation for a new entry. When the 32-bit counter wraps, every stale
        /// entry is dropped and the held ones are renumbered 1, so a stale entry can never
        /// carry its slot's current generation (once per 2^32 inserts: O(n) then).
        @inline(__always) func nextGeneration() -> UInt32 {
            generation &+= 1
            if generation == 0 { renumber() }
            return generation
        }

        private func renumber() {
            dropStale()
            for i in 0..<heap.count {
                heap.payloads[i].generation = 1
                slots[Int(heap.payloads[i].slot)].generation = 1
            }
            generation = 2
        }

        /// Drops every stale entry from the heap, in O(n): done when the heap is full (it
        /// has room for twice the tasks, so at least `capacity` inserts pass between sweeps).
        func dropStale() {
            let slots = self.slots
            heap.removeAll { _, payload in slots[Int(payload.slot)].generation != payload.generation }
        }
    }
}

extension swl_dispatched_task {
    /// A dispatch record answering a held task.
    public init(_ task: RunQueue.Task, cpu: Int32, sliceNs: UInt64) {
        self.init(pid: task.pid, cpu: cpu, slice_ns: sliceNs, vtime: task.vtime, enq_seq: task.enqSeq)
    }
}
