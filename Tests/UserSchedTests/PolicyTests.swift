import SwiftlandABI
import TestSupport
import Testing
@testable import UserSched

/// Rules every policy follows.
@Suite("Every policy")
struct PolicyTests {
    static let config = PolicyConfig()

    @Test("10,000 tasks: all held, all dispatched once, in the policy's order", arguments: PolicyName.allCases)
    func tenThousand(name: PolicyName) throws {
        var policy = try name.make()
        let n = 10_000
        var rng = SplitMix64(seed: 1)
        var arrival: [Int32] = []
        for i in 0..<n {
            let pid = Int32(1000 + i)
            arrival.append(pid)
            let task = record(pid: pid, vtime: .random(in: 0..<(1 << 40), using: &rng), enqSeq: UInt64(i))
            let dispatchedNow = policy.enqueue(task, nowNs: 0)
            #expect(dispatchedNow == nil)
        }
        #expect(policy.count == n && policy.counters.held == n)
        let out = drain(&policy)
        #expect(out.count == n)
        #expect(Set(out.map(\.pid)).count == n)
        let empty = policy.isEmpty
        #expect(empty)
        #expect(policy.counters.dispatched == UInt64(n))
        if name == .fifo {
            #expect(out.map(\.pid) == arrival)
        } else {
            // No runtime, no lag to apply: the order is the vruntime order.
            #expect(zip(out, out.dropFirst()).allSatisfy { $0.vtime <= $1.vtime })
        }
    }

    @Test("removal by pid from the middle of the queue", arguments: PolicyName.allCases)
    func removeFromMiddle(name: PolicyName) throws {
        var policy = try name.make()
        for pid in Int32(1)...50 { _ = policy.enqueue(record(pid: pid, vtime: UInt64(pid) * msNs), nowNs: 0) }
        let removed25 = policy.remove(pid: 25)
        #expect(removed25)
        let removed26 = policy.remove(pid: 26)
        #expect(removed26)
        let removedAgain = policy.remove(pid: 25)
        #expect(!removedAgain, "already removed")
        let removedUnknown = policy.remove(pid: 999)
        #expect(!removedUnknown, "never seen")
        #expect(policy.count == 48)
        let pids = drain(&policy).map(\.pid)
        #expect(pids == (Int32(1)...50).filter { $0 != 25 && $0 != 26 })
        #expect(policy.counters.removed == 4)
    }

    @Test("the dispatch record echoes pid and enq_seq", arguments: PolicyName.allCases)
    func echo(name: PolicyName) throws {
        var policy = try name.make()
        _ = policy.enqueue(record(pid: 42, enqSeq: 7), nowNs: 0)
        _ = policy.enqueue(record(pid: 42, enqSeq: 9), nowNs: 0)  // re-enqueued: replaces
        #expect(policy.count == 1)
        #expect(policy.counters.replaced == 1)
        let out = drain(&policy)
        #expect(out.count == 1 && out.first?.pid == 42 && out.first?.enq_seq == 9)
    }

    @Test("slices stay within [min, max] and shrink as more tasks wait", arguments: PolicyName.allCases)
    func sliceBounds(name: PolicyName) throws {
        var firstSlices: [UInt64] = []
        for held in 1...40 {
            var policy = try name.make()
            for pid in 1...Int32(held) { _ = policy.enqueue(record(pid: pid, vtime: UInt64(pid)), nowNs: 0) }
            let out = drain(&policy)
            #expect(out.count == held)
            for task in out {
                #expect(task.slice_ns >= Self.config.sliceMinNs, "\(held) held")
                #expect(task.slice_ns <= Self.config.sliceNs, "\(held) held")
            }
            firstSlices.append(out[0].slice_ns)
        }
        #expect(zip(firstSlices, firstSlices.dropFirst()).allSatisfy { $0 >= $1 }, "\(firstSlices)")
        if name != .fifo {
            #expect(firstSlices.first == Self.config.sliceNs, "one task alone gets the whole slice")
            #expect(firstSlices.last == Self.config.sliceMinNs, "40 tasks would get less than the minimum")
        }
    }

    @Test("a full policy dispatches the task at once rather than lose it", arguments: PolicyName.allCases)
    func overflow(name: PolicyName) throws {
        var config = PolicyConfig()
        config.maxTasks = 2
        var policy = try name.make(config: config)
        let first = policy.enqueue(record(pid: 1), nowNs: 0)
        #expect(first == nil)
        let second = policy.enqueue(record(pid: 2), nowNs: 0)
        #expect(second == nil)
        let now = policy.enqueue(record(pid: 3, enqSeq: 5), nowNs: 0)
        #expect(now?.pid == 3 && now?.enq_seq == 5 && now?.cpu == SWL_CPU_ANY)
        #expect(policy.counters.overflows == 1)
        #expect(drain(&policy).count == 2)
        // Once nothing is held, the table makes room again.
        let afterDrain = policy.enqueue(record(pid: 3), nowNs: 0)
        #expect(afterDrain == nil)
    }

    @Test("a record with a pid no task can have is answered at once, not held", arguments: PolicyName.allCases)
    func invalidPID(name: PolicyName) throws {
        var policy = try name.make()
        for pid in [Int32(-5), 1 << 22, .max] {
            let now = policy.enqueue(record(pid: pid, enqSeq: 3), nowNs: 0)
            #expect(now?.pid == pid && now?.enq_seq == 3, "pid \(pid)")
        }
        let empty = policy.isEmpty
        #expect(empty)
        #expect(policy.counters.invalidRecords == 3 && policy.counters.overflows == 0)
    }

    @Test("dispatch(into:) fills at most the space given", arguments: PolicyName.allCases)
    func batch(name: PolicyName) throws {
        var policy = try name.make()
        for pid in Int32(1)...5 { _ = policy.enqueue(record(pid: pid, vtime: UInt64(pid)), nowNs: 0) }
        var buffer = [swl_dispatched_task](repeating: swl_dispatched_task(), count: 3)
        var idle = CPUMask()
        let written = buffer.withUnsafeMutableBufferPointer { policy.dispatch(nowNs: 0, idleCPUs: &idle, into: $0) }
        #expect(written == 3 && buffer.map(\.pid) == [1, 2, 3])
        #expect(policy.count == 2)
    }
}

@Suite("vruntime charging")
struct ChargingTests {
    @Test("the last run is charged x 100 / weight, once", arguments: [PolicyName.bpfland, .vruntime])
    func charge(name: PolicyName) throws {
        var policy = try name.make()
        // 2 ms run at weight 200 (about nice -5): charged 1 ms.
        let task = record(pid: 1, vtime: 10 * msNs, weight: 200, startNs: 5 * msNs, stopNs: 7 * msNs)
        _ = policy.enqueue(task, nowNs: 0)
        // The same run reported again (a re-enqueue that did not run): not charged twice.
        _ = policy.enqueue(task, nowNs: 0)
        #expect(drain(&policy).first?.vtime == 11 * msNs)
        // The next run is charged against the vruntime the kernel sent back.
        _ = policy.enqueue(record(pid: 1, vtime: 11 * msNs, weight: 100, startNs: 8 * msNs, stopNs: 10 * msNs), nowNs: 0)
        #expect(drain(&policy).first?.vtime == 13 * msNs)
    }

    @Test("hybrid mode: a record whose vtime the kernel side charged (SWL_QUEUED_CHARGED) is charged nothing more",
          arguments: [PolicyName.bpfland, .vruntime, .fifo])
    func chargedByTheKernel(name: PolicyName) throws {
        var policy = try name.make()
        // vtime 12 ms already includes the 2 ms run (and any the BPF policy scheduled in bypass).
        var task = record(pid: 1, vtime: 12 * msNs, startNs: 5 * msNs, stopNs: 7 * msNs)
        task.flags |= UInt32(SWL_QUEUED_CHARGED)
        #expect(task.isCharged)
        _ = policy.enqueue(task, nowNs: 0)
        #expect(drain(&policy).first?.vtime == 12 * msNs)
    }

    @Test("a sleeper keeps at most sliceLagNs of credit", arguments: [PolicyName.bpfland, .vruntime])
    func lagCap(name: PolicyName) throws {
        let lag = PolicyConfig().sliceLagNs
        var policy = try name.make()
        // Dispatching a task at vruntime 1 s makes 1 s the reference.
        _ = policy.enqueue(record(pid: 1, vtime: secondNs), nowNs: 0)
        #expect(drain(&policy).first?.vtime == secondNs)
        // Slept long: raised to 1 s - lag.
        _ = policy.enqueue(record(pid: 2, vtime: 0), nowNs: 0)
        #expect(drain(&policy).first?.vtime == secondNs - lag)
        // Within the lag: kept.
        _ = policy.enqueue(record(pid: 3, vtime: secondNs - lag / 2), nowNs: 0)
        #expect(drain(&policy).first?.vtime == secondNs - lag / 2)
        // Ahead of the reference: kept.
        _ = policy.enqueue(record(pid: 4, vtime: 2 * secondNs), nowNs: 0)
        #expect(drain(&policy).first?.vtime == 2 * secondNs)
    }
}
