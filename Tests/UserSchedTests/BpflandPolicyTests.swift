import SwiftlandABI
import Testing
@testable import UserSched

@Suite("bpfland policy")
struct BpflandPolicyTests {
    /// Sends task `pid` once a second for `seconds` seconds, `rate` voluntary switches a
    /// second, dispatching it each time; returns whether it was interactive after each.
    static func sample(
        _ policy: inout BpflandPolicy, pid: Int32, rate: UInt64, seconds: Int, startNs: inout UInt64, nvcsw: inout UInt64
    ) -> [Bool] {
        var classes: [Bool] = []
        for _ in 0..<seconds {
            startNs += secondNs
            nvcsw += rate
            _ = policy.enqueue(record(pid: pid, nvcsw: nvcsw), nowNs: startNs)
            classes.append(policy.isInteractive(pid: pid))
            _ = drain(&policy, nowNs: startNs)
        }
        return classes
    }

    @Test("a task that switches often becomes interactive and goes first; one that stops drops back")
    func classification() {
        var policy = BpflandPolicy()
        var now: UInt64 = 0
        var nvcsw: UInt64 = 0
        _ = policy.enqueue(record(pid: 1, nvcsw: 0), nowNs: now)  // first sight: no rate yet
        let interactive = policy.isInteractive(pid: 1)
        #expect(!interactive)
        _ = drain(&policy, nowNs: now)

        let rising = Self.sample(&policy, pid: 1, rate: 200, seconds: 3, startNs: &now, nvcsw: &nvcsw)
        #expect(rising == [true, true, true])
        #expect(policy.counters.interactive == 1)

        // Interactive goes before regular even with a later vruntime.
        _ = policy.enqueue(record(pid: 2, vtime: 0, nvcsw: 0), nowNs: now)
        _ = policy.enqueue(record(pid: 1, vtime: 4 * msNs, nvcsw: nvcsw), nowNs: now)
        #expect(drain(&policy, nowNs: now).map(\.pid) == [1, 2])
        #expect(policy.counters.prioDispatches >= 1 && policy.counters.regularDispatches >= 1)

        // It stops switching: its average decays under the threshold within seconds.
        let falling = Self.sample(&policy, pid: 1, rate: 0, seconds: 20, startNs: &now, nvcsw: &nvcsw)
        #expect(falling.first == true, "one quiet second is not enough to drop")
        #expect(falling.last == false)
        #expect(policy.counters.interactive == 0)
        #expect((1...PolicyConfig().nvcswMaxThresh).contains(policy.counters.nvcswAvgThresh))
    }

    @Test("a sync wakeup promotes a task, as bpf mode does, unless the priority queue is crowded")
    func syncWakeup() {
        var config = PolicyConfig()
        config.nrCPUs = 1
        var policy = BpflandPolicy(config: config)
        var sync = record(pid: 1, nvcsw: 0)
        sync.flags = UInt32(SWL_QUEUED_SYNC_WAKEUP)
        _ = policy.enqueue(sync, nowNs: 0)
        let interactive = policy.isInteractive(pid: 1)
        #expect(interactive)
        #expect(policy.counters.syncPromotions == 1)
        // Goes before a regular task with an earlier vruntime.
        _ = policy.enqueue(record(pid: 2, vtime: 0, nvcsw: 0), nowNs: 0)
        #expect(drain(&policy).map(\.pid) == [1, 2])

        // Promoted while the priority queue holds at most 4 tasks per CPU (1 CPU here):
        // the sixth sync wakeup finds 5 there and stays regular.
        for pid in Int32(10)..<16 {
            var r = record(pid: pid, nvcsw: 0)
            r.flags = UInt32(SWL_QUEUED_SYNC_WAKEUP)
            _ = policy.enqueue(r, nowNs: 0)
        }
        #expect(policy.isInteractive(pid: 14) && !policy.isInteractive(pid: 15))

        // With classification off, a sync wakeup promotes nothing.
        config.nvcswMaxThresh = 0
        var off = BpflandPolicy(config: config)
        _ = off.enqueue(sync, nowNs: 0)
        let promoted = off.isInteractive(pid: 1)
        #expect(!promoted)
    }

    @Test("the rate is sampled at most once a second per task")
    func oncePerSecond() {
        var policy = BpflandPolicy()
        _ = policy.enqueue(record(pid: 1, nvcsw: 0), nowNs: 0)
        _ = drain(&policy)
        _ = policy.enqueue(record(pid: 1, nvcsw: 1000), nowNs: secondNs - 1)
        let early = policy.isInteractive(pid: 1)
        #expect(!early, "sampled before a second passed")
        _ = drain(&policy)
        _ = policy.enqueue(record(pid: 1, nvcsw: 1000), nowNs: secondNs)
        let afterASecond = policy.isInteractive(pid: 1)
        #expect(afterASecond)
    }

    @Test("nvcswMaxThresh 0: no task is ever interactive")
    func classificationOff() {
        var config = PolicyConfig()
        config.nvcswMaxThresh = 0
        var policy = BpflandPolicy(config: config)
        var now: UInt64 = 0
        var nvcsw: UInt64 = 0
        _ = policy.enqueue(record(pid: 1), nowNs: now)
        _ = drain(&policy, nowNs: now)
        let classes = Self.sample(&policy, pid: 1, rate: 10_000, seconds: 5, startNs: &now, nvcsw: &nvcsw)
        #expect(classes.allSatisfy { !$0 })
        #expect(policy.counters.interactive == 0 && policy.counters.prioDispatches == 0)
    }

    @Test("starvation guard: a regular task is served within the threshold while interactive tasks keep arriving")
    func starvationGuard() {
        var policy = BpflandPolicy()
        let interactivePIDs: [Int32] = [10, 11, 12]
        // Make them interactive: two samples a second apart with many switches.
        for pid in interactivePIDs { _ = policy.enqueue(record(pid: pid, nvcsw: 0), nowNs: 0) }
        _ = drain(&policy)
        for pid in interactivePIDs { _ = policy.enqueue(record(pid: pid, nvcsw: 500), nowNs: secondNs) }
        #expect(interactivePIDs.allSatisfy { policy.isInteractive(pid: $0) })
        _ = drain(&policy, nowNs: secondNs)

        var now = 2 * secondNs
        let thresh = PolicyConfig().starvationThreshNs
        _ = drain(&policy, nowNs: now)  // both queues found empty: served now
        for pid in interactivePIDs { _ = policy.enqueue(record(pid: pid, vtime: 100 * msNs, nvcsw: 500), nowNs: now) }
        _ = policy.enqueue(record(pid: 1, vtime: 0), nowNs: now)  // regular, lowest vruntime
        var idle = CPUMask()
        var servedAtNs: UInt64?
        let startNs = now
        // Every 1 ms: one dispatch, and the interactive task dispatched comes straight back.
        for _ in 0..<20 {
            guard let task = policy.next(nowNs: now, idleCPUs: &idle) else { break }
            if task.pid == 1 {
                servedAtNs = now
                break
            }
            _ = policy.enqueue(record(pid: task.pid, vtime: task.vtime + msNs, nvcsw: 500), nowNs: now)
            now += msNs
        }
        #expect(servedAtNs != nil, "the regular task starved")
        if let served = servedAtNs {
            #expect(served - startNs > thresh, "served before the threshold: the priority queue was not preferred")
            #expect(served - startNs <= thresh + 2 * msNs)
        }
        #expect(policy.counters.starvationRegular == 1)
    }

    @Test("a queue found empty counts as served")
    func emptyQueueIsServed() {
        var idle = CPUMask()
        // Found empty at 100 ms: a task arriving then has not starved.
        var checked = BpflandPolicy()
        _ = checked.next(nowNs: 0, idleCPUs: &idle)
        _ = checked.next(nowNs: 100 * msNs, idleCPUs: &idle)
        _ = checked.enqueue(record(pid: 1), nowNs: 100 * msNs)
        let fromChecked = checked.next(nowNs: 100 * msNs, idleCPUs: &idle)
        #expect(fromChecked?.pid == 1)
        #expect(checked.counters.starvationRegular == 0)
        // Last looked at 100 ms before: the guard takes it.
        var unchecked = BpflandPolicy()
        _ = unchecked.next(nowNs: 0, idleCPUs: &idle)
        _ = unchecked.enqueue(record(pid: 1), nowNs: 100 * msNs)
        let fromUnchecked = unchecked.next(nowNs: 100 * msNs, idleCPUs: &idle)
        #expect(fromUnchecked?.pid == 1)
        #expect(unchecked.counters.starvationRegular == 1)
    }

    @Test("every dispatch goes to any CPU, as bpf mode's shared queues do")
    func anyCPU() {
        var policy = BpflandPolicy()
        _ = policy.enqueue(record(pid: 1, prevCPU: 0), nowNs: 0)
        var idle = CPUMask([0, 1])
        let dispatched = policy.next(nowNs: 0, idleCPUs: &idle)
        #expect(dispatched?.cpu == SWL_CPU_ANY)
        #expect(idle.count == 2)
    }

    @Test("slice shrinks with the smoothed number of waiting tasks")
    func sliceSmoothing() {
        var policy = BpflandPolicy()
        for pid in Int32(1)...6 { _ = policy.enqueue(record(pid: pid, vtime: UInt64(pid)), nowNs: 0) }
        var idle = CPUMask()
        // nrWaiting: (0 + 6) / 2 = 3, then (3 + 5) / 2 = 4.
        let first = policy.next(nowNs: 0, idleCPUs: &idle)
        #expect(first?.slice_ns == 5_000_000 / 4)
        let second = policy.next(nowNs: 0, idleCPUs: &idle)
        #expect(second?.slice_ns == 5_000_000 / 5)
        #expect(policy.counters.nrWaiting == 4)
    }

    @Test("a pid reused by a new task starts with no history")
    func pidReuse() {
        var policy = BpflandPolicy()
        _ = policy.enqueue(record(pid: 1, nvcsw: 0), nowNs: 0)
        _ = drain(&policy)
        _ = policy.enqueue(record(pid: 1, nvcsw: 1000), nowNs: secondNs)
        let before = policy.isInteractive(pid: 1)
        #expect(before)
        _ = drain(&policy)
        _ = policy.enqueue(record(pid: 1, nvcsw: 3), nowNs: 2 * secondNs)  // fewer switches than before
        let reused = policy.isInteractive(pid: 1)
        #expect(!reused)
        #expect(policy.counters.interactive == 0)
    }
}
