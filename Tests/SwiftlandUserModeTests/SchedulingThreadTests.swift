import BPFLoader
import Foundation
import RingBridge
@testable import SwiftlandUserMode
import SwiftlandABI
import TestObjects
import Testing
import UserSched

/// user mode's scheduling thread against real kernel rings on this host (no sched_ext):
/// the `produce` and `sink` programs of bpf/test_rings.bpf.c stand in for the scheduler's
/// enqueue and dispatch.
@Suite("Scheduling thread on the host kernel", .enabled(if: getuid() == 0, "needs root (CAP_BPF) to load BPF programs"))
struct SchedulingThreadTests {
    struct Produce { var count: UInt32; var first: UInt32 }
    struct Sink { var count: UInt64 = 0; var seqSum: UInt64 = 0; var pidSum: UInt64 = 0 }

    /// A policy that holds 16 tasks answers every other one at once, and a 4 KiB dispatch
    /// ring holds about 100 answers: most decisions wait in the thread while the kernel ring
    /// keeps delivering. Every record must come back exactly once.
    @Test func fullDispatchRingLosesAndDuplicatesNothing() throws {
        let object = try BPFObject(bytes: TestObjects.rings, name: "test_rings")
        try object.setMaxEntries("queued", 1024 * 1024)
        try object.setMaxEntries("dispatched", 4096)
        try object.load()

        var config = PolicyConfig()
        config.maxTasks = 16
        let policyConfig = config
        let thread = SchedulingThread(options: LoopOptions(batch: 8, wakeup: .spin), policyName: "fifo") {
            FifoPolicy(config: policyConfig)
        }
        _ = thread.start()
        let idle = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: Int(SWL_MAX_CPUS.rawValue) / 64)
        idle.initialize(repeating: 0)
        defer { idle.deallocate() }
        thread.begin(queuedFD: try object.mapFD("queued"), dispatchedFD: try object.mapFD("dispatched"),
                     idleCPUs: UnsafeBufferPointer(idle))

        // Two waves, the second while the thread still holds most answers to the first:
        // together more than one read of the kernel ring (4096 records) can take.
        let wave = 3000
        var sink = Sink()
        var produce = Produce(count: UInt32(wave), first: 1)
        _ = try object.run(program: "produce", context: &produce)
        let deadline = Date().addingTimeInterval(30)
        while thread.snapshot.queued > 0 || thread.snapshot.loops < 10, Date() < deadline { usleep(1000) }
        produce = Produce(count: UInt32(wave), first: UInt32(wave + 1))
        _ = try object.run(program: "produce", context: &produce)

        let total = UInt64(2 * wave)
        while sink.count < total, Date() < deadline, thread.error == nil {
            _ = try object.run(program: "sink", context: &sink)
            usleep(200)
        }
        // Anything more arriving now would be a duplicate.
        usleep(100_000)
        _ = try object.run(program: "sink", context: &sink)
        thread.stop()

        #expect(thread.error == nil)
        #expect(sink.count == total, "\(sink.count) of \(total) decisions came back")
        #expect(sink.seqSum == total * (total + 1) / 2)
        #expect(sink.pidSum == total * (total + 1) / 2)
        #expect(thread.snapshot.ringErrors > 0, "the dispatch ring never filled: the test did not test")
    }
}
