import SwiftlandABI
import TestSupport
import Testing
@testable import UserSched

@Suite("Run queue")
struct RunQueueTests {
    @Test("entries leave in key order, then tie-break, then pid")
    func heapOrder() {
        var heap = TaskHeap(capacity: 8)
        heap.push(HeapEntry(key: 5, tieBreak: 0, pid: 10))
        heap.push(HeapEntry(key: 3, tieBreak: 9, pid: 11))
        heap.push(HeapEntry(key: 3, tieBreak: 2, pid: 12))
        heap.push(HeapEntry(key: 3, tieBreak: 2, pid: 7))
        heap.push(HeapEntry(key: 1, tieBreak: 100, pid: 13))
        var pids: [Int32] = []
        while let entry = heap.popMin() { pids.append(entry.pid) }
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
        var heap = TaskHeap(capacity: 500)
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
                heap.removeAll { $0.pid == pid }
                model.removeAll { $0.pid == pid }
            default:
                let expected = model.indices.min { model[$0].precedes(model[$1]) }
                let popped = heap.popMin()
                #expect(popped == expected.map { model[$0] }, "step \(step)")
                if let expected { model.remove(at: expected) }
            }
            #expect(heap.count == model.count, "step \(step)")
        }
    }

    @Test("the run queue matches a model through random inserts, re-keys, removals and pops")
    func runQueueAgainstModel() {
        // Few slots, many re-keys: stale entries fill the heap and force its sweeps.
        var queue = RunQueue(capacity: 40)
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
                let removed = queue.remove(pid: pid)
                #expect(removed == (model.removeValue(forKey: pid) != nil), "step \(step)")
            default:
                let expected = model.min { ($0.value.key, $0.value.tieBreak, $0.key) < ($1.value.key, $1.value.tieBreak, $1.key) }
                let popped = queue.popMin()
                #expect(popped?.pid == expected?.key, "step \(step)")
                #expect(popped?.key == expected?.value.key && popped?.enqSeq == expected?.value.enqSeq, "step \(step)")
                if let expected { model[expected.key] = nil }
            }
            #expect(queue.count == model.count, "step \(step)")
        }
    }

    @Test("the task table agrees with a dictionary through random acquires, updates and removals")
    func tableAgainstModel() {
        var table = TaskTable<Int>(capacity: 256)
        var model: [Int32: Int] = [:]
        var rng = SplitMix64(seed: 7)
        for step in 0..<30_000 {
            let pid = Int32.random(in: 1...400, using: &rng)
            if Bool.random(using: &rng), model.count < 256 || model[pid] != nil {
                let result = table.acquire(pid: pid, initial: -1, isHeld: { _ in true })
                #expect(result != nil, "step \(step)")
                guard let (index, isNew) = result else { continue }
                #expect(isNew == (model[pid] == nil), "step \(step)")
                #expect(table[index] == (model[pid] ?? -1), "step \(step)")
                table[index] = step
                model[pid] = step
            } else if let index = table.index(of: pid) {
                #expect(model.removeValue(forKey: pid) != nil, "step \(step)")
                table.remove(at: index)
            } else {
                #expect(model[pid] == nil, "step \(step)")
            }
            #expect(table.count == model.count)
        }
        for (pid, value) in model {
            let index = table.index(of: pid)
            #expect(index.map { table[$0] } == value)
            #expect(index.map { table.pid(at: $0) } == pid)
        }
        #expect(table.forgotten == 0)
    }

    @Test("a full table forgets tasks that are not held, least recently seen first, never held ones")
    func tableForgets() {
        // The state is whether the task is held.
        var table = TaskTable<Bool>(capacity: 4)
        for pid in Int32(1)...4 { _ = table.acquire(pid: pid, initial: pid == 1, isHeld: { $0 }) }
        _ = table.acquire(pid: 4, initial: false, isHeld: { $0 })  // seen again: recent
        var forgotten = 0
        let result = table.acquire(pid: 5, initial: false, isHeld: { $0 }) { held in
            #expect(!held, "a held task was forgotten")
            forgotten += 1
        }
        #expect(result?.isNew == true)
        #expect(forgotten == 2 && table.forgotten == 2)
        #expect(table.index(of: 2) == nil && table.index(of: 3) == nil, "the tasks not seen recently go")
        #expect(table.index(of: 1) != nil && table.index(of: 4) != nil && table.index(of: 5) != nil)
    }

    @Test("a table whose every task is held refuses a new task")
    func tableFullOfHeld() {
        var table = TaskTable<Bool>(capacity: 2)
        for pid in Int32(1)...2 { _ = table.acquire(pid: pid, initial: true, isHeld: { $0 }) }
        let third = table.acquire(pid: 3, initial: true, isHeld: { $0 })
        #expect(third == nil)
        let again = table.acquire(pid: 2, initial: true, isHeld: { $0 })
        #expect(again?.isNew == false)
    }

    @Test("what each policy keeps of a task fits one 64-byte cache line; the run queue's slot and payload stay small")
    func bucketSize() {
        #expect(RunQueue.slotBytes == 32 && RunQueue.payloadBytes == 8)
        #expect(VruntimePolicy.taskBucketBytes == 64)
        #expect(BpflandPolicy.taskBucketBytes == 64)
        #expect(TaskTable<(UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)>.bucketBytes == 128)
    }

    @Test("removal by pid from the middle of the queue")
    func removeFromMiddle() {
        var queue = RunQueue(capacity: 128)
        for pid in Int32(1)...100 {
            let outcome = queue.insert(record(pid: pid, enqSeq: UInt64(pid)), key: UInt64(pid) * 10)
            #expect(outcome == .inserted)
        }
        let gone: [Int32] = [50, 51, 2, 99, 73]
        for pid in gone {
            let removed = queue.remove(pid: pid)
            #expect(removed)
        }
        let removedTwice = queue.remove(pid: 50)
        #expect(!removedTwice, "removed twice")
        let removedUnknown = queue.remove(pid: 1000)
        #expect(!removedUnknown, "never held")
        #expect(!queue.contains(pid: 50) && queue.contains(pid: 49))
        var pids: [Int32] = []
        while let task = queue.popMin() { pids.append(task.pid) }
        #expect(pids == (Int32(1)...100).filter { !gone.contains($0) })
    }

    @Test("a record for a pid already held replaces it")
    func replace() {
        var queue = RunQueue(capacity: 8)
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
        #expect(task?.pid == 1 && task?.enqSeq == 2 && task?.key == 30)
    }

    @Test("re-keying a task again and again leaves one entry to pop (stale entries are swept)")
    func reKeyManyTimes() {
        // The heap has room for 2 x 4 entries: without sweeping stale ones it would overflow.
        var queue = RunQueue(capacity: 4)
        _ = queue.insert(record(pid: 2), key: 500)
        for key in UInt64(0)..<1_000 {
            let outcome = queue.insert(record(pid: 1, enqSeq: key), key: 1_000 - key)
            #expect(outcome == (key == 0 ? .inserted : .replaced))
        }
        #expect(queue.count == 2)
        let first = queue.popMin()
        #expect(first?.pid == 1 && first?.key == 1 && first?.enqSeq == 999)
        let second = queue.popMin()
        #expect(second?.pid == 2)
        let none = queue.popMin()
        #expect(none == nil)
    }

    @Test("the generation counter wraps without a stale entry coming back to life")
    func generationWrap() {
        var queue = RunQueue(capacity: 8)
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
            #expect(task.enqSeq == 6 && task.key == 500 + UInt64(5 - task.pid))
            pids.append(task.pid)
        }
        #expect(pids == [4, 3, 2, 1])
    }

    @Test("a full queue forgets tasks it does not hold, and a reused slot leaves no stale entry alive")
    func forgetAndReuse() {
        var queue = RunQueue(capacity: 4)
        for pid in Int32(1)...4 { _ = queue.insert(record(pid: pid), key: UInt64(pid)) }
        // Re-key 1 (a stale entry stays in the heap), then dispatch 1 and 2.
        _ = queue.insert(record(pid: 1, enqSeq: 2), key: 0)
        let first = queue.popMin()
        let second = queue.popMin()
        #expect(first?.pid == 1 && first?.enqSeq == 2 && second?.pid == 2)
        // Two new tasks: the table is full of known tasks, so 1 and 2 (not held) are forgotten.
        let five = queue.insert(record(pid: 5), key: 10)
        let six = queue.insert(record(pid: 6), key: 11)
        #expect(five == .inserted && six == .inserted)
        #expect(queue.forgotten == 2 && queue.count == 4)
        #expect(!queue.contains(pid: 1) && queue.contains(pid: 5))
        var pids: [Int32] = []
        while let task = queue.popMin() { pids.append(task.pid) }
        #expect(pids == [3, 4, 5, 6])
    }

    /// Builds a queue holding pids 1...n, keyed in reverse, and hands it to the caller.
    private static func filledQueue(_ n: Int32) -> RunQueue {
        var queue = RunQueue(capacity: Int(n) + 4)
        for pid in 1...n { _ = queue.insert(record(pid: pid, enqSeq: UInt64(pid)), key: UInt64(100 - pid)) }
        return queue
    }

    /// Owns a queue, as a policy does.
    private struct Owner: ~Copyable {
        var queue: RunQueue
        var heap: TaskHeap
        var table: TaskTable<Int>

        consuming func takeQueue() -> RunQueue { queue }
    }

    @Test("queues, heaps and tables handed from owner to owner keep their contents (non-copyable moves)")
    func ownershipMoves() {
        // Returned from a function, stored in an owner, taken out again: one value moved,
        // its memory freed once when the last owner goes (a double free would crash here).
        let queue = Self.filledQueue(6)
        var heap = TaskHeap(capacity: 8)
        heap.push(HeapEntry(key: 2, pid: 7))
        var table = TaskTable<Int>(capacity: 4)
        _ = table.acquire(pid: 7, initial: 42, isHeld: { _ in true })
        var owner = Owner(queue: queue, heap: heap, table: table)
        let replaced = owner.queue.insert(record(pid: 1, enqSeq: 9), key: 0)
        #expect(replaced == .replaced)
        let top = owner.heap.popMin()
        #expect(top?.pid == 7)
        let index = owner.table.index(of: 7)
        let state = index.map { owner.table[$0] }
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
        var queue = RunQueue(capacity: 16)
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
                let removed = queue.remove(pid: pid)
                #expect(removed, "step \(step)")
                model[pid] = nil
                #expect(!queue.contains(pid: pid) && queue.slot(of: pid) == nil, "step \(step)")
            }
            #expect(queue.count == model.count && queue.tombstones <= 24 - model.count, "step \(step)")
        }
        #expect(queue.rebuilds > 0, "removals never filled the table with tombstones")
        #expect(queue.forgotten == 0)
        let expected = model.sorted { ($0.value, $0.key) < ($1.value, $1.key) }.map(\.key)
        var pids: [Int32] = []
        while let task = queue.popMin() {
            #expect(task.enqSeq == UInt64(task.pid))
            pids.append(task.pid)
        }
        #expect(pids == expected)
    }

    @Test("a rebuild rewrites the slot numbers of held entries")
    func rebuildKeepsEntries() {
        var queue = RunQueue(capacity: 4)
        // 8 buckets: a rebuild when known tasks and tombstones would pass 6. Three held, one
        // slot for tasks that come and go.
        for pid in Int32(1)...3 { _ = queue.insert(record(pid: pid, enqSeq: UInt64(pid)), key: UInt64(10 * pid)) }
        var pid: Int32 = 100
        var rebuildsSeen = 0
        while rebuildsSeen < 3 {
            // One task comes and goes: its bucket is a tombstone unless the probe ends there.
            _ = queue.insert(record(pid: pid, enqSeq: 0), key: 1)
            let removed = queue.remove(pid: pid)
            #expect(removed)
            pid += 1
            rebuildsSeen = queue.rebuilds
            #expect(pid < 10_000, "no rebuild")
            if pid >= 10_000 { break }
        }
        #expect(queue.count == 3)
        var out: [Int32] = []
        while let task = queue.popMin() {
            #expect(task.enqSeq == UInt64(task.pid) && task.key == UInt64(10 * task.pid))
            out.append(task.pid)
        }
        #expect(out == [1, 2, 3])
    }

    @Test("a full queue forgets through tombstones and keeps matching a model")
    func forgetAgainstModel() {
        // Many pids, few slots: forgetting, tombstones and rebuilds all happen.
        var queue = RunQueue(capacity: 24)
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
                let removed = queue.remove(pid: pid)
                #expect(removed == (model.removeValue(forKey: pid) != nil), "step \(step)")
            default:
                let expected = model.min { ($0.value.key, $0.key) < ($1.value.key, $1.key) }
                let popped = queue.popMin()
                #expect(popped?.pid == expected?.key && popped?.enqSeq == expected?.value.enqSeq, "step \(step)")
                if let expected { model[expected.key] = nil }
            }
            #expect(queue.count == model.count, "step \(step)")
            #expect(queue.contains(pid: pid) == (model[pid] != nil), "step \(step)")
        }
        #expect(queue.forgotten > 0 && queue.rebuilds > 0)
    }

    @Test(
        "forgetting, tombstones, rebuilds and a generation wrap together, against a model",
        arguments: [(1, UInt64(6)), (2, 7), (3, 1), (7, 2), (24, 3), (100, 5)])
    func everythingAgainstModel(capacity: Int, seed: UInt64) {
        var queue = RunQueue(capacity: capacity)
        var model: [Int32: (key: UInt64, tieBreak: UInt64, enqSeq: UInt64)] = [:]
        var rng = SplitMix64(seed: seed)
        var failures = 0
        for step in 0..<30_000 {
            let pid = Int32.random(in: 0...Int32(capacity * 4), using: &rng)
            // The counter wraps a few thousand inserts later.
            if step == 15_000 { queue.lastGeneration = .max - 2 * UInt32(capacity) }
            switch UInt64.random(in: 0..<12, using: &rng) {
            case 0..<6:
                let key = UInt64.random(in: 0..<10, using: &rng)
                let tieBreak = UInt64.random(in: 0..<2, using: &rng)
                let outcome = queue.insert(record(pid: pid, enqSeq: UInt64(step)), key: key, tieBreak: tieBreak)
                if model[pid] != nil {
                    if outcome != .replaced { failures += 1 }
                } else if model.count == capacity {
                    if outcome != .full { failures += 1 }
                    continue
                } else if outcome != .inserted {
                    failures += 1
                }
                model[pid] = (key, tieBreak, UInt64(step))
            case 6:
                let removed = queue.remove(pid: pid)
                if removed != (model.removeValue(forKey: pid) != nil) { failures += 1 }
            default:
                let expected = model.min {
                    ($0.value.key, $0.value.tieBreak, $0.key) < ($1.value.key, $1.value.tieBreak, $1.key)
                }
                let popped = queue.popMin()
                if popped?.pid != expected?.key || popped?.enqSeq != expected?.value.enqSeq { failures += 1 }
                if let expected { model[expected.key] = nil }
            }
            if queue.count != model.count || queue.contains(pid: pid) != (model[pid] != nil) { failures += 1 }
        }
        #expect(failures == 0)
        #expect(queue.forgotten > 0 && queue.lastGeneration < 1 << 20, "forgot nothing or did not wrap")
        #expect(capacity == 1 || queue.rebuilds > 0)
    }

    @Test("a pid outside 0..<2^22 is refused")
    func invalidPID() {
        var queue = RunQueue(capacity: 4)
        let negative = queue.insert(record(pid: -1), key: 0)
        let tooLarge = queue.insert(record(pid: 1 << 22), key: 0)
        #expect(negative == .invalidPID && tooLarge == .invalidPID && queue.isEmpty)
    }

    @Test("a full queue says so and changes nothing")
    func full() {
        var queue = RunQueue(capacity: 2)
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
        var queue = RunQueue(capacity: n)
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
