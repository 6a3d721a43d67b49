import SwiftlandABI
import Testing
@testable import UserSched

@Suite("fifo policy")
struct FifoPolicyTests {
    @Test("tasks leave in arrival order, whatever their vruntime")
    func order() {
        var policy = FifoPolicy()
        for (pid, vtime) in [(Int32(5), UInt64(9)), (3, 1), (8, 5), (1, 0)] {
            let dispatchedNow = policy.enqueue(record(pid: pid, vtime: vtime), nowNs: 0)
            #expect(dispatchedNow == nil)
        }
        let out = drain(&policy)
        #expect(out.map(\.pid) == [5, 3, 8, 1])
        #expect(out.map(\.vtime) == [9, 1, 5, 0], "the vruntime goes back unchanged")
        #expect(out.allSatisfy { $0.slice_ns == PolicyConfig().sliceNs })
    }

    @Test("a re-enqueued task moves to the back with its newer record")
    func reEnqueue() {
        var policy = FifoPolicy()
        _ = policy.enqueue(record(pid: 1, enqSeq: 1), nowNs: 0)
        _ = policy.enqueue(record(pid: 2, enqSeq: 1), nowNs: 0)
        _ = policy.enqueue(record(pid: 1, enqSeq: 2), nowNs: 0)
        let out = drain(&policy)
        #expect(out.map(\.pid) == [2, 1] && out.last?.enq_seq == 2)
    }

    @Test("its previous CPU when idle, else any")
    func idleCPU() {
        var policy = FifoPolicy()
        _ = policy.enqueue(record(pid: 1, prevCPU: 3), nowNs: 0)
        _ = policy.enqueue(record(pid: 2, prevCPU: 3), nowNs: 0)
        var idle = CPUMask([3])
        let first = policy.next(nowNs: 0, idleCPUs: &idle)
        #expect(first?.cpu == 3)
        let second = policy.next(nowNs: 0, idleCPUs: &idle)
        #expect(second?.cpu == SWL_CPU_ANY)
    }
}

@Suite("Policy factory")
struct FactoryTests {
    @Test("each name makes its policy", arguments: PolicyName.allCases)
    func names(name: PolicyName) throws {
        let policy = try makePolicy(named: name.rawValue)
        let (madeName, empty) = (policy.name, policy.isEmpty)
        #expect(madeName == name.rawValue)
        #expect(empty)
    }

    @Test("an unknown name is refused with the names that exist")
    func unknown() {
        #expect(throws: PolicyError.unknownPolicy("cfs")) { _ = try makePolicy(named: "cfs") }
        #expect(throws: PolicyError.unknownPolicy("")) { _ = try makePolicy(named: "") }
        #expect(throws: PolicyError.unknownPolicy("FIFO")) { _ = try makePolicy(named: "FIFO") }
        #expect(PolicyError.unknownPolicy("cfs").description == "unknown policy \"cfs\": choose one of bpfland, vruntime, fifo")
    }

    @Test("a configuration that makes no sense is refused")
    func invalidConfig() {
        var config = PolicyConfig()
        config.sliceMinNs = config.sliceNs + 1
        #expect(throws: PolicyError.self) { _ = try makePolicy(named: "vruntime", config: config) }
        config = PolicyConfig()
        config.maxTasks = 0
        #expect(throws: PolicyError.self) { _ = try makePolicy(named: "fifo", config: config) }
    }

    @Test("the defaults are bpf mode's")
    func defaults() {
        let config = PolicyConfig()
        #expect(config.sliceNs == 5_000_000 && config.sliceMinNs == 500_000 && config.sliceLagNs == 5_000_000)
        #expect(config.nvcswMaxThresh == 10 && config.starvationThreshNs == 5_000_000)
        var bpf = swl_config()
        bpf.slice_ns = 20_000_000
        bpf.slice_min_ns = 1_000_000
        bpf.slice_lag_ns = 3_000_000
        bpf.starvation_thresh_ns = 1_000_000
        bpf.nvcsw_max_thresh = 0
        let converted = PolicyConfig(bpf)
        #expect(converted.sliceNs == 20_000_000 && converted.sliceMinNs == 1_000_000 && converted.sliceLagNs == 3_000_000)
        #expect(converted.starvationThreshNs == 1_000_000 && converted.nvcswMaxThresh == 0)
    }
}
