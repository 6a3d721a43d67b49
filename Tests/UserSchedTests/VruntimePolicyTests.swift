import SwiftlandABI
import Testing
@testable import UserSched

@Suite("vruntime policy")
struct VruntimePolicyTests {
    @Test("deadline order: vruntime + runtime since the last sleep")
    func deadlineOrder() {
        var policy = VruntimePolicy()
        _ = policy.enqueue(record(pid: 1, vtime: 100 * msNs, execRuntimeNs: 0), nowNs: 0)  // 100 ms
        _ = policy.enqueue(record(pid: 2, vtime: 90 * msNs, execRuntimeNs: 20 * msNs), nowNs: 0)  // 110 ms
        _ = policy.enqueue(record(pid: 3, vtime: 95 * msNs, execRuntimeNs: 1 * msNs), nowNs: 0)  // 96 ms
        #expect(drain(&policy).map(\.pid) == [3, 1, 2])
    }

    @Test("runtime credit is capped at 100 slices")
    func runtimeCap() {
        var policy = VruntimePolicy()
        let cap = 100 * PolicyConfig().sliceNs
        _ = policy.enqueue(record(pid: 1, vtime: 0, execRuntimeNs: 10 * cap, enqueueNs: 1_000), nowNs: 0)
        _ = policy.enqueue(record(pid: 2, vtime: 0, execRuntimeNs: cap, enqueueNs: 2_000), nowNs: 0)
        _ = policy.enqueue(record(pid: 3, vtime: 1, execRuntimeNs: cap, enqueueNs: 0), nowNs: 0)
        // 1 and 2 tie on the capped deadline and go by enqueue time; 3 is 1 ns later.
        #expect(drain(&policy).map(\.pid) == [1, 2, 3])
    }

    @Test("equal deadlines: earlier enqueue first (to the microsecond), then lower pid")
    func tieBreak() {
        var policy = VruntimePolicy()
        _ = policy.enqueue(record(pid: 30, vtime: msNs, enqueueNs: 5_000), nowNs: 0)
        _ = policy.enqueue(record(pid: 20, vtime: msNs, enqueueNs: 5_999), nowNs: 0)  // the same microsecond
        _ = policy.enqueue(record(pid: 10, vtime: msNs, enqueueNs: 6_000), nowNs: 0)
        _ = policy.enqueue(record(pid: 40, vtime: msNs, enqueueNs: 4_000), nowNs: 0)
        #expect(drain(&policy).map(\.pid) == [40, 20, 30, 10])
    }

    @Test("a task goes to its previous CPU when that one is idle, and claims it")
    func idleCPU() {
        var policy = VruntimePolicy()
        _ = policy.enqueue(record(pid: 1, vtime: 1, prevCPU: 1), nowNs: 0)
        _ = policy.enqueue(record(pid: 2, vtime: 2, prevCPU: 1), nowNs: 0)
        _ = policy.enqueue(record(pid: 3, vtime: 3, prevCPU: 0), nowNs: 0)
        var idle = CPUMask([1])
        let first = policy.next(nowNs: 0, idleCPUs: &idle)
        #expect(first?.cpu == 1)
        let second = policy.next(nowNs: 0, idleCPUs: &idle)
        #expect(second?.cpu == SWL_CPU_ANY, "CPU 1 was already claimed")
        let third = policy.next(nowNs: 0, idleCPUs: &idle)
        #expect(third?.cpu == SWL_CPU_ANY, "CPU 0 is busy")
        #expect(idle.isEmpty)
        #expect(policy.counters.idleCPUDispatches == 1)
    }

    @Test("slice = max(slice / (waiting + 1), min), waiting = tasks still held")
    func sliceFormula() {
        var policy = VruntimePolicy()
        for pid in Int32(1)...4 { _ = policy.enqueue(record(pid: pid, vtime: UInt64(pid)), nowNs: 0) }
        // 3, 2, 1, 0 still waiting.
        #expect(drain(&policy).map(\.slice_ns) == [1_250_000, 1_666_666, 2_500_000, 5_000_000])
    }
}
