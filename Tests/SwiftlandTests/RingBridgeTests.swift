import BPFLoader
import CLibbpf
import Foundation
import RingBridge
import SwiftlandABI
import TestObjects
import Testing

/// RingBridge against the real kernel rings, on this host's kernel (no sched_ext needed):
/// SEC("syscall") programs from bpf/test_rings.bpf.c stand in for the scheduler.
@Suite("RingBridge on the host kernel", .enabled(if: getuid() == 0, "needs root (CAP_BPF) to load BPF programs"))
struct RingBridgeTests {
    /// Ring sizes: 64 KiB holds 585 queued records (104 bytes + 8 of header each) and
    /// 1638 dispatch records (32 + 8).
    static let ringBytes: UInt32 = 64 * 1024
    static let queuedFit = 65536 / (MemoryLayout<swl_queued_task>.size + 8)
    static let dispatchedFit = 65536 / (MemoryLayout<swl_dispatched_task>.size + 8)
    let object: BPFObject
    let queued: RingConsumer<swl_queued_task>
    let dispatched: RingProducer<swl_dispatched_task>

    init() throws {
        object = try BPFObject(bytes: TestObjects.rings, name: "test_rings")
        try object.setMaxEntries("queued", Self.ringBytes)
        try object.setMaxEntries("dispatched", Self.ringBytes)
        try object.load()
        queued = try RingConsumer(mapFD: try object.mapFD("queued"), capacity: 1024)
        dispatched = try RingProducer(mapFD: try object.mapFD("dispatched"))
    }

    func record(_ i: Int, cpu: Int32 = SWL_CPU_ANY) -> swl_dispatched_task {
        swl_dispatched_task(pid: Int32(i), cpu: cpu, slice_ns: UInt64(i) * 7, vtime: UInt64(i) * 3, enq_seq: UInt64(i))
    }

    @Test func hundredThousandRecordsRoundTripInOrder() throws {
        let total = 100_000
        var sent = 1, received = 1
        while received <= total {
            let before = received
            // Fill the user ring as far as it goes, let the kernel echo, read all back.
            while sent <= total {
                do { try dispatched.send(record(sent)) } catch .full { break }
                sent += 1
            }
            var none: Int32 = 0
            _ = try object.run(program: "echo", context: &none)
            while try queued.consume() > 0 {
                for r in queued.records {
                    guard r.pid == Int32(received), r.enq_seq == UInt64(received), r.vtime == UInt64(received) * 3,
                        r.exec_runtime_ns == UInt64(received) * 7, r.prev_cpu == SWL_CPU_ANY
                    else {
                        Issue.record("record \(received) came back as pid \(r.pid) seq \(r.enq_seq)")
                        return
                    }
                    received += 1
                }
            }
            guard received > before else {
                Issue.record("no progress after \(received - 1) records: lost in a ring")
                return
            }
        }
        #expect(received == total + 1)
        #expect(sent == total + 1)
    }

    @Test func fullUserRingRefusesAndLosesNothing() throws {
        var sent = 0
        while sent < 100_000 {
            do { try dispatched.send(record(sent + 1)) } catch .full { break }
            sent += 1
        }
        #expect(sent == Self.dispatchedFit, "user ring took \(sent) records before full")
        // The kernel ring holds fewer records: what fits comes back, in order, and the
        // rest waits in the user ring for the next drains.
        var pids: [Int32] = []
        for drain in 1...10 where pids.count < sent {
            pids += try echoAndRead()
            if drain == 1 { #expect(pids.count == Self.queuedFit, "the first drain fills the kernel ring") }
        }
        #expect(pids == Array(1...Int32(sent)))
    }

    /// Runs `echo` once and reads every record it wrote; returns their pids in order.
    func echoAndRead() throws -> [Int32] {
        var none: Int32 = 0
        _ = try object.run(program: "echo", context: &none)
        var pids: [Int32] = []
        while try queued.consume() > 0 { pids += queued.records.map(\.pid) }
        return pids
    }

    @Test func fullKernelRingIsReported() throws {
        struct Args { var count: UInt32; var first: UInt32 }
        var args = Args(count: 2000, first: 1)
        _ = try object.run(program: "produce", context: &args)
        let got = try queued.consume()
        #expect(got == Self.queuedFit)
        #expect(queued.records.first?.pid == 1 && queued.records.last?.pid == Int32(Self.queuedFit))
        #expect(try queued.consume() == 0)
    }

    // MARK: dispatch validation (dispatch_check.bpf.h), fed crafted records

    struct Verdict: Equatable { var verdict: UInt64; var cpu: Int32 }

    func check(_ records: [swl_dispatched_task], trips: [Int32: UInt64] = [:]) throws -> [Verdict] {
        let fd = try object.mapFD("trips")
        for (pid, seq) in trips {
            var k = pid, v = seq
            #expect(bpf_map_update_elem(fd, &k, &v, 0) == 0)
        }
        for r in records { try dispatched.send(r) }
        struct Args { var nrCPUs: UInt32 }
        var args = Args(nrCPUs: 4)
        _ = try object.run(program: "check", context: &args)
        try queued.consume()
        return queued.records.map { Verdict(verdict: $0.enq_flags, cpu: $0.prev_cpu) }
    }

    static let dispatch = UInt64(0), bounce = UInt64(1), cancel = UInt64(2), noTask = UInt64(3), invalid = UInt64(4)

    @Test func validationRejectsHostileRecords() throws {
        let me = getpid()
        let stranger = Process()  // a live task with no trip to user space
        stranger.executableURL = URL(fileURLWithPath: "/bin/sleep")
        stranger.arguments = ["30"]
        try stranger.run()
        defer { stranger.terminate() }
        let v = try check([
            swl_dispatched_task(pid: me, cpu: SWL_CPU_ANY, slice_ns: 0, vtime: 0, enq_seq: 42),  // ok
            swl_dispatched_task(pid: me, cpu: 0, slice_ns: 0, vtime: 0, enq_seq: 41),  // stale
            swl_dispatched_task(pid: 0x3fff_fff0, cpu: 0, slice_ns: 0, vtime: 0, enq_seq: 1),  // no such pid
            swl_dispatched_task(pid: stranger.processIdentifier, cpu: 0, slice_ns: 0, vtime: 0, enq_seq: 1),  // not ours
            swl_dispatched_task(pid: me, cpu: 4, slice_ns: 0, vtime: 0, enq_seq: 42),  // CPU out of range
            swl_dispatched_task(pid: me, cpu: -7, slice_ns: 0, vtime: 0, enq_seq: 42),  // negative CPU
            swl_dispatched_task(pid: -5, cpu: 0, slice_ns: 0, vtime: 0, enq_seq: 42),  // negative pid
            swl_dispatched_task(pid: me, cpu: SWL_CPU_ANY, slice_ns: 5_000_000_000, vtime: 0, enq_seq: 42),  // 5 s slice
            swl_dispatched_task(pid: me, cpu: SWL_CPU_ANY, slice_ns: 0, vtime: 0, enq_seq: 0),  // no sequence
        ], trips: [me: 42])
        #expect(v == [
            Verdict(verdict: Self.dispatch, cpu: SWL_CPU_ANY),
            Verdict(verdict: Self.cancel, cpu: -2),
            Verdict(verdict: Self.noTask, cpu: -2),
            Verdict(verdict: Self.cancel, cpu: -2),
            Verdict(verdict: Self.invalid, cpu: -2),
            Verdict(verdict: Self.invalid, cpu: -2),
            Verdict(verdict: Self.invalid, cpu: -2),
            Verdict(verdict: Self.invalid, cpu: -2),
            Verdict(verdict: Self.invalid, cpu: -2),
        ])
    }

    @Test func randomBytesAreRejected() throws {
        var rng = SystemRandomNumberGenerator()
        var records: [swl_dispatched_task] = []
        for _ in 0..<200 {
            var r = swl_dispatched_task()
            withUnsafeMutableBytes(of: &r) { for i in $0.indices { $0[i] = rng.next() } }
            records.append(r)
        }
        let verdicts = try check(records)
        #expect(verdicts.count == 200)
        // No trip is registered, so nothing random may be dispatched.
        #expect(verdicts.allSatisfy { $0.verdict != Self.dispatch && $0.verdict != Self.bounce })
    }

    @Test(.enabled(if: ProcessInfo.processInfo.activeProcessorCount >= 2, "needs 2 CPUs"))
    func cpuOutsideAffinityBounces() throws {
        // A child pinned to CPU 0; a dispatch to CPU 1 must bounce to "any CPU".
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/usr/bin/taskset")
        child.arguments = ["-c", "0", "sleep", "30"]
        try child.run()
        defer { child.terminate() }
        let pid = child.processIdentifier
        // taskset execs sleep in the same process after setting the affinity.
        Thread.sleep(forTimeInterval: 0.2)
        let v = try check([
            swl_dispatched_task(pid: pid, cpu: 1, slice_ns: 0, vtime: 0, enq_seq: 9),
            swl_dispatched_task(pid: pid, cpu: 0, slice_ns: 0, vtime: 0, enq_seq: 9),
        ], trips: [pid: 9])
        #expect(v == [Verdict(verdict: Self.bounce, cpu: SWL_CPU_ANY), Verdict(verdict: Self.dispatch, cpu: 0)])
    }
}
