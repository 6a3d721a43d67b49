import SwiftlandABI
import TestSupport
import Testing
@testable import UserSched

/// What the queue tests keep of a task: what its dispatch record needs.
struct Held: Equatable {
    var enqSeq: UInt64 = 0
    var vtime: UInt64 = 0
}

/// What became of a record handed to `RunQueue.insert`.
enum InsertOutcome: Equatable {
    case inserted, replaced, full, invalidPID
}

extension RunQueue where State == Held {
    /// `acquire` and `hold` in one, as a policy's `enqueue` does them.
    mutating func insert(_ task: swl_queued_task, key: UInt64, tieBreak: UInt64 = 0, in queue: Int = 0) -> InsertOutcome {
        let invalidBefore = counters.invalidRecords
        guard let slot = acquire(pid: task.pid, initial: Held()) else {
            return counters.invalidRecords > invalidBefore ? .invalidPID : .full
        }
        hold(slot, Held(enqSeq: task.enq_seq, vtime: task.vtime), key: key, tieBreak: tieBreak, in: queue)
        return slot.isHeld ? .replaced : .inserted
    }
}

extension RunQueue {
    /// `acquire` and `hold` in one, for a task that can be held.
    mutating func hold(pid: Int32, _ state: State, key: UInt64, in queue: Int = 0) {
        let slot = acquire(pid: pid, initial: state)!
        hold(slot, state, key: key, in: queue)
    }
}

extension HeapStorage where Payload == Int32 {
    /// Pushes `entry` with its pid as the payload.
    mutating func push(_ entry: HeapEntry) { push(entry, entry.pid) }

    /// The first entry, checking that its payload moved with it; nil when empty.
    mutating func popFirst() -> HeapEntry? {
        guard count > 0 else { return nil }
        let (entry, payload) = popMin()
        #expect(payload == entry.pid, "a payload left its entry")
        return entry
    }
}

@Suite("Run queue")
struct RunQueueTests {
    @Test("entries leave in key order, then tie-break, then pid")
    func heapOrder() {
        var heap = HeapStorage<Int32>(capacity: 8)
        heap.push(HeapEntry(key: 5, tieBreak: 0, pid: 10))
        heap.push(HeapEntry(key: 3, tieBreak: 9, pid: 11))
        heap.push(HeapEntry(key: 3, tieBreak: 2, pid: 12))
        heap.push(HeapEntry(key: 3, tieBreak: 2, pid: 7))
        heap.push(HeapEntry(key: 1, tieBreak: 100, pid: 13))
        var pids: [Int32] = []
        while let entry = heap.popFirst() { pids.append(entry.pid) }
        #expect(pids == [13, 7, 12, 11, 10])
    }

    @Test("an entry packs tie-break and pid without losing either")
    func entryPacking() {
        let entry = HeapEntry(key: .max, tieBreak: 1 << 41 | 5, pid: 4_194_303)
        #expect(entry.key == .max && entry.tieBreak == 1 << 41 | 5 && entry.pid == 4_194_303)
        #expect(MemoryLayout<HeapEntry>.stride == 16, "four siblings per cache line")
    }

    @Test("the heap matches a sorted model through random pushes, pops and sweeps")
    func heapAgainstModel() {
        var heap = HeapStorage<Int32>(capacity: 500)
        var model: [HeapEntry] = []
        var rng = SplitMix64(seed: 42)
        for step in 0..<20_000 {
            switch UInt64.random(in: 0..<10, using: &rng) {
            case 0..<5 where model.count < 500:
                // Small keys, so ties (and the tie-breaks) happen often.
                let entry = HeapEntry(
                    key: .random(in: 0..<50, using: &rng), tieBreak: .random(in: 0..<3, using: &rng),
                    pid: .random(in: 0..<8, using: &rng))
                heap.push(entry)
                model.append(entry)
            case 9:
                let pid = Int32.random(in: 0..<8, using: &rng)
                heap.removeAll { entry, _ in entry.pid == pid }
                model.removeAll { $0.pid == pid }
            default:
                let expected = model.indices.min { model[$0].precedes(model[$1]) }
                let popped = heap.popFirst()
                #expect(popped == expected.map { model[$0] }, "step \(step)")
                if let expected { model.remove(at: expected) }
            }
            #expect(heap.count == model.count, "step \(step)")
        }
    }

    @Test("the run queue matches a model through random inserts, re-keys, removals and pops")
    func runQueueAgainstModel() {
        // Few slots, many re-keys: stale entries fill the heap and force its sweeps.
        var queue = RunQueue<Held>(capacity: 40)
        var model: [Int32: (key: UInt64, tieBreak: UInt64, enqSeq: UInt64)] = [:]
        var rng = SplitMix64(seed: 99)
        for step in 0..<50_000 {
            let pid = Int32.random(in: 1...40, using: &rng)
            switch UInt64.random(in: 0..<8, using: &rng) {
            case 0..<4:
                let key = UInt64.random(in: 0..<20, using: &rng)
                let enqSeq = UInt64(step)
                let outcome = queue.insert(record(pid: pid, enqSeq: enqSeq), key: key, tieBreak: key % 3)
                #expect(outcome == (model[pid] == nil ? .inserted : .replaced), "step \(step)")
                model[pid] = (key, key % 3, enqSeq)
            case 4:
                let removed = queue.remove(pid: pid)?.wasHeld ?? false
                #expect(removed == (model.removeValue(forKey: pid) != nil), "step \(step)")
            default:
                let expected = model.min { ($0.value.key, $0.value.tieBreak, $0.key) < ($1.value.key, $1.value.tieBreak, $1.key) }
                let popped = queue.popMin()
                #expect(popped?.pid == expected?.key, "step \(step)")
                #expect(popped?.key == expected?.value.key && popped?.state.enqSeq == expected?.value.enqSeq, "step \(step)")
                if let expected { model[expected.key] = nil }
            }
            #expect(queue.count == model.count, "step \(step)")
        }
    }

    @Test("the states kept agree with a dictionary through random acquires, holds and removals")
    func statesAgainstModel() {
        var queue = RunQueue<Int>(capacity: 256)
        var model: [Int32: Int] = [:]
        var rng = SplitMix64(seed: 7)
        for step in 0..<30_000 {
            let pid = Int32.random(in: 1...400, using: &rng)
            if Bool.random(using: &rng), model.count < 256 || model[pid] != nil {
                let slot = queue.acquire(pid: pid, initial: -1)
                #expect(slot != nil, "step \(step)")
                guard let slot else { continue }
                #expect(slot.isNew == (model[pid] == nil), "step \(step)")
                #expect(slot.isHeld == (model[pid] != nil), "step \(step)")
                #expect(slot.state == (model[pid] ?? -1), "step \(step)")
                queue.hold(slot, step, key: UInt64(step))
                model[pid] = step
            } else if let removed = queue.remove(pid: pid) {
                #expect(removed.wasHeld && removed.state == model.removeValue(forKey: pid), "step \(step)")
            } else {
                #expect(model[pid] == nil, "step \(step)")
            }
            #expect(queue.count == model.count)
        }
        for (pid, value) in model {
            #expect(queue.state(of: pid) == value)
        }
        #expect(queue.counters.forgotten == 0)
    }

    @Test("a full queue forgets tasks that are not held, least recently seen first, never held ones")
    func forgetsLeastRecentlySeen() {
        // The state is the pid.
        var queue = RunQueue<Int32>(capacity: 4)
        for pid in Int32(1)...4 { queue.hold(pid: pid, pid, key: pid == 1 ? 100 : UInt64(pid)) }
        // 1 stays held; 2, 3 and 4 are dispatched, then 4 is seen again: recent.
        let dispatched = (0..<3).compactMap { _ in queue.popMin()?.pid }
        #expect(dispatched == [2, 3, 4])
        queue.hold(pid: 4, 4, key: 4)
        let fourAgain = queue.popMin()
        #expect(fourAgain?.pid == 4)
        var forgotten: [Int32] = []
        let slot = queue.acquire(pid: 5, initial: 5) { forgotten.append($0) }
        #expect(slot?.isNew == true)
        #expect(forgotten.sorted() == [2, 3] && queue.counters.forgotten == 2, "the tasks not seen recently go")
        #expect(queue.state(of: 2) == nil && queue.state(of: 3) == nil)
        #expect(queue.state(of: 1) == 1 && queue.state(of: 4) == 4 && queue.state(of: 5) == 5)
    }

    @Test("a queue whose every task is held refuses a new task, and counts it")
    func fullOfHeld() {
        var queue = RunQueue<Int32>(capacity: 2)
        for pid in Int32(1)...2 { queue.hold(pid: pid, pid, key: 0) }
        let third = queue.acquire(pid: 3, initial: 3)
        #expect(third == nil && queue.counters.overflows == 1)
        let again = queue.acquire(pid: 2, initial: 0)
        #expect(again?.isNew == false && again?.isHeld == true && again?.state == 2)
    }

    @Test("what each policy keeps of a task fits one 64-byte cache line; fifo's slot and every payload stay small")
    func slotSize() {
        #expect(RunQueue<FifoPolicy.Task>.slotBytes == 32 && MemoryLayout<RunQueue<Held>.Payload>.stride == 8)
        #expect(VruntimePolicy.slotBytes == 64)
        #expect(BpflandPolicy.slotBytes == 64)
        #expect(RunQueue<Void>.slotBytes == 8 && RunQueue<UInt64>.slotBytes == 16)
        #expect(RunQueue<(UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)>.slotBytes == 128)
    }

    @Test("removal by pid from the middle of the queue")
    func removeFromMiddle() {
        var queue = RunQueue<Held>(capacity: 128)
        for pid in Int32(1)...100 {
            let outcome = queue.insert(record(pid: pid, enqSeq: UInt64(pid)), key: UInt64(pid) * 10)
            #expect(outcome == .inserted)
        }
        let gone: [Int32] = [50, 51, 2, 99, 73]
        for pid in gone {
            let removed = queue.remove(pid: pid)?.wasHeld ?? false
            #expect(removed)
        }
        let removedTwice = queue.remove(pid: 50)?.wasHeld ?? false
        #expect(!removedTwice, "removed twice")
        let removedUnknown = queue.remove(pid: 1000)?.wasHeld ?? false
        #expect(!removedUnknown, "never held")
        #expect(!queue.contains(pid: 50) && queue.contains(pid: 49))
        var pids: [Int32] = []
        while let task = queue.popMin() { pids.append(task.pid) }
        #expect(pids == (Int32(1)...100).filter { !gone.contains($0) })
    }

    @Test("a record for a pid already held replaces it")
    func replace() {
        var queue = RunQueue<Held>(capacity: 8)
        let first = queue.insert(record(pid: 1, enqSeq: 1), key: 10)
        #expect(first == .inserted)
        let second = queue.insert(record(pid: 2, enqSeq: 1), key: 20)
        #expect(second == .inserted)
        let third = queue.insert(record(pid: 1, enqSeq: 2), key: 30)
        #expect(third == .replaced)
        #expect(queue.count == 2)
        let popped = queue.popMin()
        #expect(popped?.pid == 2)
        let task = queue.popMin()
        #expect(task?.pid == 1 && task?.state.enqSeq == 2 && task?.key == 30)
    }

    @Test("re-keying a task again and again leaves one entry to pop (stale entries are swept)")
    func reKeyManyTimes() {
        // The heap has room for 2 x 4 entries: without sweeping stale ones it would overflow.
        var queue = RunQueue<Held>(capacity: 4)
        _ = queue.insert(record(pid: 2), key: 500)
        for key in UInt64(0)..<1_000 {
            let outcome = queue.insert(record(pid: 1, enqSeq: key), key: 1_000 - key)
            #expect(outcome == (key == 0 ? .inserted : .replaced))
        }
        #expect(queue.count == 2)
        let first = queue.popMin()
        #expect(first?.pid == 1 && first?.key == 1 && first?.state.enqSeq == 999)
        let second = queue.popMin()
        #expect(second?.pid == 2)
        let none = queue.popMin()
        #expect(none == nil)
    }

    @Test("the generation counter wraps without a stale entry coming back to life")
    func generationWrap() {
        var queue = RunQueue<Held>(capacity: 8)
        for pid in Int32(1)...4 { _ = queue.insert(record(pid: pid, enqSeq: 1), key: UInt64(pid)) }
        queue.lastGeneration = .max - 6
        // Re-key every task across the wrap: each leaves stale entries behind.
        for round in UInt64(1)...5 {
            for pid in Int32(1)...4 {
                let outcome = queue.insert(record(pid: pid, enqSeq: round + 1), key: 100 * round + UInt64(5 - pid))
                #expect(outcome == .replaced)
            }
        }
        #expect(queue.lastGeneration > 0 && queue.lastGeneration < 100)
        var pids: [Int32] = []
        while let task = queue.popMin() {
            #expect(task.state.enqSeq == 6 && task.key == 500 + UInt64(5 - task.pid))
            pids.append(task.pid)
        }
        #expect(pids == [4, 3, 2, 1])
    }

    @Test("a task re-keyed by the insert that wraps the generation counter leaves its old place")
    func reKeyAtWrap() {
        var queue = RunQueue<Held>(capacity: 8)
        _ = queue.insert(record(pid: 1, enqSeq: 1), key: 10)
        _ = queue.insert(record(pid: 2, enqSeq: 1), key: 20)
        queue.lastGeneration = .max  // the next insert wraps
        let outcome = queue.insert(record(pid: 1, enqSeq: 2), key: 30)
        #expect(outcome == .replaced)
        var out: [(pid: Int32, key: UInt64, enqSeq: UInt64)] = []
        while let task = queue.popMin() { out.append((task.pid, task.key, task.state.enqSeq)) }
        #expect(out.map(\.pid) == [2, 1] && out.map(\.key) == [20, 30] && out.last?.enqSeq == 2)
    }

    @Test("a full queue forgets tasks it does not hold, and a reused slot leaves no stale entry alive")
    func forgetAndReuse() {
        var queue = RunQueue<Held>(capacity: 4)
        for pid in Int32(1)...4 { _ = queue.insert(record(pid: pid), key: UInt64(pid)) }
        // Re-key 1 (a stale entry stays in the heap), then dispatch 1 and 2.
        _ = queue.insert(record(pid: 1, enqSeq: 2), key: 0)
        let first = queue.popMin()
        let second = queue.popMin()
        #expect(first?.pid == 1 && first?.state.enqSeq == 2 && second?.pid == 2)
        // Two new tasks: the table is full of known tasks, so 1 and 2 (not held) are forgotten.
        let five = queue.insert(record(pid: 5), key: 10)
        let six = queue.insert(record(pid: 6), key: 11)
        #expect(five == .inserted && six == .inserted)
        #expect(queue.counters.forgotten == 2 && queue.count == 4)
        #expect(!queue.contains(pid: 1) && queue.contains(pid: 5))
        var pids: [Int32] = []
        while let task = queue.popMin() { pids.append(task.pid) }
        #expect(pids == [3, 4, 5, 6])
    }

    /// Builds a queue holding pids 1...n, keyed in reverse, and hands it to the caller.
    private static func filledQueue(_ n: Int32) -> RunQueue<Held> {
        var queue = RunQueue<Held>(capacity: Int(n) + 4)
        for pid in 1...n { _ = queue.insert(record(pid: pid, enqSeq: UInt64(pid)), key: UInt64(100 - pid)) }
        return queue
    }

    /// Owns queues and a heap, as a policy does.
    private struct Owner: ~Copyable {
        var queue: RunQueue<Held>
        var heap: HeapStorage<Int32>
        var twoQueues: RunQueue<Int>

        consuming func takeQueue() -> RunQueue<Held> { queue }
    }

    @Test("queues and heaps handed from owner to owner keep their contents (non-copyable moves)")
    func ownershipMoves() {
        // Returned from a function, stored in an owner, taken out again: one value moved,
        // its memory freed once when the last owner goes (a double free would crash here).
        let queue = Self.filledQueue(6)
        var heap = HeapStorage<Int32>(capacity: 8)
        heap.push(HeapEntry(key: 2, pid: 7))
        var twoQueues = RunQueue<Int>(capacity: 4, queues: 2)
        twoQueues.hold(pid: 7, 42, key: 0, in: 1)
        var owner = Owner(queue: queue, heap: heap, twoQueues: twoQueues)
        let replaced = owner.queue.insert(record(pid: 1, enqSeq: 9), key: 0)
        #expect(replaced == .replaced)
        let top = owner.heap.popFirst()
        #expect(top?.pid == 7)
        let state = owner.twoQueues.popMin(from: 1)?.state
        #expect(state == 42)
        var moved = owner.takeQueue()  // the owner ends; its queue lives on
        #expect(moved.count == 6)
        var pids: [Int32] = []
        while let task = moved.popMin() { pids.append(task.pid) }
        #expect(pids == [1, 6, 5, 4, 3, 2])
        // Many queues made and dropped while holding tasks: each frees its own memory.
        for round in 0..<50 {
            var q = Self.filledQueue(Int32(round % 10 + 1))
            _ = q.popMin()
        }
    }

    @Test("removals leave tombstones that new tasks reuse, and a rebuild moves slots without losing an entry")
    func tombstonesAndRebuild() {
        // 32 buckets for 16 tasks: a rebuild when known tasks and tombstones reach 24.
        var queue = RunQueue<Held>(capacity: 16)
        var model: [Int32: UInt64] = [:]
        var nextPID: Int32 = 1
        var rng = SplitMix64(seed: 5)
        for step in 0..<4_000 {
            if model.count < 16, Bool.random(using: &rng) {
                // A new pid every time: each takes a bucket, tombstone or empty.
                let key = UInt64.random(in: 0..<1_000, using: &rng)
                let outcome = queue.insert(record(pid: nextPID, enqSeq: UInt64(nextPID)), key: key)
                #expect(outcome == .inserted, "step \(step)")
                model[nextPID] = key
                nextPID += 1
            } else if let pid = model.keys.randomElement(using: &rng) {
                // Re-key some first, so stale entries point at slots that become tombstones.
                if Bool.random(using: &rng) { _ = queue.insert(record(pid: pid, enqSeq: UInt64(pid)), key: 5) }
                let removed = queue.remove(pid: pid)?.wasHeld ?? false
                #expect(removed, "step \(step)")
                model[pid] = nil
                #expect(!queue.contains(pid: pid) && queue.slot(of: pid) == nil, "step \(step)")
            }
            #expect(queue.count == model.count && queue.tombstones <= 24 - model.count, "step \(step)")
        }
        #expect(queue.rebuilds > 0, "removals never filled the table with tombstones")
        #expect(queue.counters.forgotten == 0)
        let expected = model.sorted { ($0.value, $0.key) < ($1.value, $1.key) }.map(\.key)
        var pids: [Int32] = []
        while let task = queue.popMin() {
            #expect(task.state.enqSeq == UInt64(task.pid))
            pids.append(task.pid)
        }
        #expect(pids == expected)
    }

    @Test("a rebuild rewrites the slot numbers of held entries")
    func rebuildKeepsEntries() {
        var queue = RunQueue<Held>(capacity: 4)
        // 8 buckets: a rebuild when known tasks and tombstones would pass 6. Three held, one
        // slot for tasks that come and go.
        for pid in Int32(1)...3 { _ = queue.insert(record(pid: pid, enqSeq: UInt64(pid)), key: UInt64(10 * pid)) }
        var pid: Int32 = 100
        var rebuildsSeen = 0
        while rebuildsSeen < 3 {
            // One task comes and goes: its bucket is a tombstone unless the probe ends there.
            _ = queue.insert(record(pid: pid, enqSeq: 0), key: 1)
            let removed = queue.remove(pid: pid)?.wasHeld ?? false
            #expect(removed)
            pid += 1
            rebuildsSeen = queue.rebuilds
            #expect(pid < 10_000, "no rebuild")
            if pid >= 10_000 { break }
        }
        #expect(queue.count == 3)
        var out: [Int32] = []
        while let task = queue.popMin() {
            #expect(task.state.enqSeq == UInt64(task.pid) && task.key == UInt64(10 * task.pid))
            out.append(task.pid)
        }
        #expect(out == [1, 2, 3])
    }

    @Test("a full queue forgets through tombstones and keeps matching a model")
    func forgetAgainstModel() {
        // Many pids, few slots: forgetting, tombstones and rebuilds all happen.
        var queue = RunQueue<Held>(capacity: 24)
        var model: [Int32: (key: UInt64, enqSeq: UInt64)] = [:]
        var rng = SplitMix64(seed: 1234)
        for step in 0..<40_000 {
            let pid = Int32.random(in: 1...200, using: &rng)
            switch UInt64.random(in: 0..<10, using: &rng) {
            case 0..<5:
                let key = UInt64.random(in: 0..<30, using: &rng)
                let outcome = queue.insert(record(pid: pid, enqSeq: UInt64(step)), key: key)
                if model[pid] != nil {
                    #expect(outcome == .replaced, "step \(step)")
                } else if model.count == 24 {
                    #expect(outcome == .full, "step \(step)")
                    continue
                } else {
                    #expect(outcome == .inserted, "step \(step)")
                }
                model[pid] = (key, UInt64(step))
            case 5:
                let removed = queue.remove(pid: pid)?.wasHeld ?? false
                #expect(removed == (model.removeValue(forKey: pid) != nil), "step \(step)")
            default:
                let expected = model.min { ($0.value.key, $0.key) < ($1.value.key, $1.key) }
                let popped = queue.popMin()
                #expect(popped?.pid == expected?.key && popped?.state.enqSeq == expected?.value.enqSeq, "step \(step)")
                if let expected { model[expected.key] = nil }
            }
            #expect(queue.count == model.count, "step \(step)")
            #expect(queue.contains(pid: pid) == (model[pid] != nil), "step \(step)")
        }
        #expect(queue.counters.forgotten > 0 && queue.rebuilds > 0)
    }

    @Test("queues share one table: a task is held in one queue at a time, and a hold in another moves it")
    func twoQueues() {
        var queue = RunQueue<Held>(capacity: 8, queues: 2)
        _ = queue.insert(record(pid: 1, enqSeq: 1), key: 10, in: 0)
        _ = queue.insert(record(pid: 2, enqSeq: 1), key: 20, in: 0)
        _ = queue.insert(record(pid: 3, enqSeq: 1), key: 5, in: 1)
        let moved = queue.insert(record(pid: 1, enqSeq: 2), key: 1, in: 1)
        #expect(moved == .replaced && queue.count == 3)
        var first: [Int32] = []
        while let task = queue.popMin(from: 0) { first.append(task.pid) }
        #expect(first == [2], "the task moved is still in the queue it left")
        let one = queue.popMin(from: 1)
        #expect(one?.pid == 1 && one?.state.enqSeq == 2 && one?.key == 1)
        let three = queue.popMin(from: 1)
        #expect(three?.pid == 3 && queue.isEmpty)
        // Removal finds a task whichever queue holds it.
        _ = queue.insert(record(pid: 4), key: 0, in: 1)
        let removed = queue.remove(pid: 4)
        #expect(removed?.wasHeld == true && queue.popMin(from: 1) == nil)
    }

    @Test(
        "forgetting, tombstones, rebuilds, a generation wrap and moves between queues, against a model",
        arguments: [
            (1, UInt64(6), 1), (2, 7, 1), (3, 1, 1), (7, 2, 1), (24, 3, 1), (100, 5, 1), (2, 11, 3), (5, 12, 3),
            (24, 13, 3), (100, 14, 3),
        ])
    func everythingAgainstModel(capacity: Int, seed: UInt64, queues: Int) {
        var queue = RunQueue<Held>(capacity: capacity, queues: queues)
        var model: [Int32: (queue: Int, key: UInt64, tieBreak: UInt64, enqSeq: UInt64)] = [:]
        var rng = SplitMix64(seed: seed)
        var failures = 0
        for step in 0..<30_000 {
            let pid = Int32.random(in: 0...Int32(capacity * 4), using: &rng)
            let which = queues == 1 ? 0 : Int.random(in: 0..<queues, using: &rng)
            // The counter wraps a few thousand inserts later.
            if step == 15_000 { queue.lastGeneration = .max - 2 * UInt32(capacity) }
            switch UInt64.random(in: 0..<12, using: &rng) {
            case 0..<6:
                let key = UInt64.random(in: 0..<10, using: &rng)
                let tieBreak = UInt64.random(in: 0..<2, using: &rng)
                let outcome = queue.insert(record(pid: pid, enqSeq: UInt64(step)), key: key, tieBreak: tieBreak, in: which)
                if model[pid] != nil {
                    if outcome != .replaced { failures += 1 }
                } else if model.count == capacity {
                    if outcome != .full { failures += 1 }
                    continue
                } else if outcome != .inserted {
                    failures += 1
                }
                model[pid] = (which, key, tieBreak, UInt64(step))
            case 6:
                let removed = queue.remove(pid: pid)?.wasHeld ?? false
                if removed != (model.removeValue(forKey: pid) != nil) { failures += 1 }
            default:
                let expected = model.filter { $0.value.queue == which }.min {
                    ($0.value.key, $0.value.tieBreak, $0.key) < ($1.value.key, $1.value.tieBreak, $1.key)
                }
                let popped = queue.popMin(from: which)
                if popped?.pid != expected?.key || popped?.state.enqSeq != expected?.value.enqSeq { failures += 1 }
                if let expected { model[expected.key] = nil }
            }
            if queue.count != model.count || queue.contains(pid: pid) != (model[pid] != nil) { failures += 1 }
        }
        #expect(failures == 0)
        #expect(queue.counters.forgotten > 0 && queue.lastGeneration < 1 << 20, "forgot nothing or did not wrap")
        #expect(capacity == 1 || queue.rebuilds > 0)
    }

    @Test("the queue keeps its share of the policy's counters")
    func counters() {
        var queue = RunQueue<Held>(capacity: 2)
        _ = queue.insert(record(pid: 1), key: 1)
        _ = queue.insert(record(pid: 1), key: 2)
        _ = queue.insert(record(pid: 2), key: 3)
        _ = queue.insert(record(pid: 3), key: 4)  // full
        _ = queue.insert(record(pid: -3), key: 4)  // invalid
        _ = queue.popMin()
        _ = queue.remove(pid: 9)
        _ = queue.insert(record(pid: 3), key: 5)  // forgets 1, dispatched
        _ = queue.remove(pid: 2)
        queue.counters.idleCPUDispatches = 7  // a policy's own
        var c = queue.counters
        #expect(c.held == 1 && c.enqueued == 6 && c.replaced == 1 && c.dispatched == 1)
        #expect(c.overflows == 1 && c.invalidRecords == 1 && c.removed == 2 && c.forgotten == 1)
        #expect(c.idleCPUDispatches == 7)
        (c.held, c.enqueued, c.replaced, c.dispatched, c.idleCPUDispatches) = (0, 0, 0, 0, 0)
        (c.overflows, c.invalidRecords, c.removed, c.forgotten) = (0, 0, 0, 0)
        #expect(c == PolicyCounters(), "a counter the queue does not keep changed")
    }

    @Test("pids no task has are never found: removal and lookups leave the table alone")
    func foreignPIDs() {
        var queue = RunQueue<Held>(capacity: 64)
        // Leave tombstones (pid -1 inside) with known tasks after them.
        for pid in Int32(1)...64 { _ = queue.insert(record(pid: pid), key: UInt64(pid)) }
        for pid in Int32(1)...64 where pid % 2 == 0 { _ = queue.remove(pid: pid) }
        #expect(queue.tombstones > 0)
        let tombstonesBefore = queue.tombstones
        for pid in [Int32(-1), .min, -5, 1 << 22, .max] {
            let removed = queue.remove(pid: pid)
            let state = queue.state(of: pid)
            #expect(removed == nil && state == nil && !queue.contains(pid: pid), "pid \(pid)")
        }
        #expect(queue.tombstones == tombstonesBefore && queue.count == 32)
        var pids: [Int32] = []
        while let task = queue.popMin() { pids.append(task.pid) }
        #expect(pids == (Int32(1)...64).filter { $0 % 2 == 1 })
    }

    @Test("a pid outside 0..<2^22 is refused")
    func invalidPID() {
        var queue = RunQueue<Held>(capacity: 4)
        let negative = queue.insert(record(pid: -1), key: 0)
        let tooLarge = queue.insert(record(pid: 1 << 22), key: 0)
        #expect(negative == .invalidPID && tooLarge == .invalidPID && queue.isEmpty)
    }

    @Test("a full queue says so and changes nothing")
    func full() {
        var queue = RunQueue<Held>(capacity: 2)
        let first = queue.insert(record(pid: 1), key: 1)
        #expect(first == .inserted)
        let second = queue.insert(record(pid: 2), key: 2)
        #expect(second == .inserted)
        let third = queue.insert(record(pid: 3), key: 0)
        #expect(third == .full)
        #expect(queue.count == 2)
        let popped = queue.popMin()
        #expect(popped?.pid == 1)
    }

    @Test("10,000 tasks: all held, all out, in order, each once")
    func tenThousand() {
        let n = 10_000
        var queue = RunQueue<Held>(capacity: n)
        var rng = SplitMix64(seed: 10_000)
        for pid in 1...Int32(n) {
            let outcome = queue.insert(record(pid: pid), key: .random(in: 0..<1_000_000, using: &rng))
            #expect(outcome == .inserted)
        }
        #expect(queue.count == n)
        var seen = Set<Int32>()
        var lastKey: UInt64 = 0
        var ordered = true
        while let task = queue.popMin() {
            ordered = ordered && task.key >= lastKey
            lastKey = task.key
            seen.insert(task.pid)
        }
        #expect(ordered)
        #expect(seen.count == n)
        let empty = queue.isEmpty
        #expect(empty)
    }

    @Test("CPUMask holds SWL_MAX_CPUS CPUs and claims them once")
    func cpuMask() {
        #expect(CPUMask.capacity == Int(SWL_MAX_CPUS.rawValue))
        var mask = CPUMask([0, 63, 64, 1023, 1024, -1])
        #expect(mask.count == 4)
        let claimed = mask.claim(64)
        #expect(claimed)
        let claimedAgain = mask.claim(64)
        #expect(!claimedAgain)
        let lowest = mask.claimFirst()
        #expect(lowest == 0)
        let next = mask.claimFirst()
        #expect(next == 63)
        let last = mask.claimFirst()
        #expect(last == 1023)
        let none = mask.claimFirst()
        #expect(none == nil && mask.isEmpty)
        let words: [UInt64] = [0b101, 0, 1]
        let fromBitmap = words.withUnsafeBufferPointer { CPUMask(bitmap: $0) }
        #expect(fromBitmap == CPUMask([0, 2, 128]))
    }
}
