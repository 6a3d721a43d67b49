import BPFLoader
import ChildProcess
import CLibbpf
import Foundation
import RingBridge
import SwiftlandABI
import TestObjects
import Testing
import UserSched

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

    /// The check program's argument: CPU ids 0..<nrCPUs exist, those in `online` are online.
    struct CheckArgs {
        var nrCPUs: UInt32
        var pad: UInt32 = 0
        var online: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                     UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

        init(nrCPUs: UInt32, online: [Int]) {
            self.nrCPUs = nrCPUs
            withUnsafeMutableBytes(of: &self.online) { raw in
                let words = raw.bindMemory(to: UInt64.self)
                for cpu in online { words[cpu / 64] |= 1 << UInt64(cpu % 64) }
            }
        }
    }

    /// Runs every record through the validation with 4 CPUs, all online unless `online` says.
    func check(_ records: [swl_dispatched_task], trips: [Int32: UInt64] = [:], nrCPUs: UInt32 = 4,
               online: [Int] = [0, 1, 2, 3]) throws -> [Verdict] {
        let fd = try object.mapFD("trips")
        for (pid, seq) in trips {
            var k = pid, v = seq
            #expect(bpf_map_update_elem(fd, &k, &v, 0) == 0)
        }
        var verdicts: [Verdict] = []
        // The kernel ring holds fewer verdicts than the user ring holds records: check in
        // chunks that fit.
        for start in stride(from: 0, to: records.count, by: 500) {
            for r in records[start..<min(start + 500, records.count)] { try dispatched.send(r) }
            var args = CheckArgs(nrCPUs: nrCPUs, online: online)
            _ = try object.run(program: "check", context: &args)
            while try queued.consume() > 0 {
                verdicts += queued.records.map { Verdict(verdict: $0.enq_flags, cpu: $0.prev_cpu) }
            }
        }
        return verdicts
    }

    static let dispatch = UInt64(0), bounce = UInt64(1), cancel = UInt64(2), noTask = UInt64(3), invalid = UInt64(4)

    @Test func validationRejectsHostileRecords() throws {
        let me = getpid()
        let stranger = try Subprocess.spawn("/bin/sleep", ["30"])  // a live task with no trip to user space
        defer {
            kill(stranger, SIGTERM)
            _ = Subprocess.wait(stranger)
        }
        let v = try check([
            swl_dispatched_task(pid: me, cpu: SWL_CPU_ANY, slice_ns: 0, vtime: 0, enq_seq: 42),  // ok
            swl_dispatched_task(pid: me, cpu: 0, slice_ns: 0, vtime: 0, enq_seq: 41),  // stale
            swl_dispatched_task(pid: 0x3fff_fff0, cpu: 0, slice_ns: 0, vtime: 0, enq_seq: 1),  // no such pid
            swl_dispatched_task(pid: stranger, cpu: 0, slice_ns: 0, vtime: 0, enq_seq: 1),  // not ours
            swl_dispatched_task(pid: me, cpu: 4, slice_ns: 0, vtime: 0, enq_seq: 42),  // CPU out of range
            swl_dispatched_task(pid: me, cpu: -7, slice_ns: 0, vtime: 0, enq_seq: 42),  // negative CPU
            swl_dispatched_task(pid: -5, cpu: 0, slice_ns: 0, vtime: 0, enq_seq: 42),  // negative pid
            swl_dispatched_task(pid: me, cpu: SWL_CPU_ANY, slice_ns: 5_000_000_000, vtime: 0, enq_seq: 42),  // 5 s slice
            swl_dispatched_task(pid: me, cpu: SWL_CPU_ANY, slice_ns: 0, vtime: 0, enq_seq: 0),  // no sequence
            swl_dispatched_task(pid: me, cpu: SWL_CPU_ANY, slice_ns: 0, vtime: 0, enq_seq: 42, preempt: true),  // ok
            swl_dispatched_task(pid: me, cpu: SWL_CPU_ANY, slice_ns: 0, vtime: 0, enq_seq: 42, flags: 2),  // unknown flag
            swl_dispatched_task(pid: me, cpu: 0, slice_ns: 0, vtime: 0, enq_seq: 42, flags: .max),  // every flag
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
            Verdict(verdict: Self.dispatch, cpu: SWL_CPU_ANY),
            Verdict(verdict: Self.invalid, cpu: -2),
            Verdict(verdict: Self.invalid, cpu: -2),
        ])
    }

    /// What the validation must answer, written independently of it: the test's model of
    /// bpf/dispatch_check.bpf.h for a task that may run on every CPU.
    static func expected(_ r: swl_dispatched_task, me: Int32, trip: UInt64, nrCPUs: Int32, online: Set<Int32>,
                         allowed: Set<Int32>) -> Verdict {
        let none: Int32 = -2
        if r.pid <= 0 || r.enq_seq == 0 || r.slice_ns > 1_000_000_000 || r.flags & ~UInt64(SWL_DISPATCH_PREEMPT) != 0 {
            return Verdict(verdict: invalid, cpu: none)
        }
        if r.cpu != SWL_CPU_ANY && (r.cpu < 0 || r.cpu >= min(nrCPUs, 1024)) { return Verdict(verdict: invalid, cpu: none) }
        if r.pid != me {
            // Random pids are above any pid_max nearly always; one that exists has no trip.
            let exists = kill(r.pid, 0) == 0 || errno == EPERM
            return Verdict(verdict: exists ? cancel : noTask, cpu: none)
        }
        if r.enq_seq != trip { return Verdict(verdict: cancel, cpu: none) }
        if r.cpu == SWL_CPU_ANY { return Verdict(verdict: dispatch, cpu: SWL_CPU_ANY) }
        return online.contains(r.cpu) && allowed.contains(r.cpu)
            ? Verdict(verdict: dispatch, cpu: r.cpu) : Verdict(verdict: bounce, cpu: SWL_CPU_ANY)
    }

    /// The CPUs this process may run on, from /proc/self/status ("Cpus_allowed_list: 0-3,6").
    static func allowedCPUs() throws -> Set<Int32> {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") })
        var cpus = Set<Int32>()
        for range in line.dropFirst("Cpus_allowed_list:".count).trimmingCharacters(in: .whitespaces).split(separator: ",") {
            let ends = range.split(separator: "-").compactMap { Int32($0) }
            if let lo = ends.first, let hi = ends.last { cpus.formUnion(lo...hi) }
        }
        return cpus
    }

    @Test func randomRecordsGetTheVerdictsOfTheModel() throws {
        let allowed = try Self.allowedCPUs()
        let me = getpid(), trip: UInt64 = 0x5eed
        let cpus = Int32(ProcessInfo.processInfo.activeProcessorCount)
        // CPU ids 0..<cpus+2 exist; every other online CPU is taken offline in the model.
        let nrCPUs = UInt32(cpus + 2)
        let online = (0..<cpus).filter { $0 % 2 == 0 }
        var rng = SystemRandomNumberGenerator()
        var records: [swl_dispatched_task] = []
        for i in 0..<2000 {
            var r = swl_dispatched_task()
            withUnsafeMutableBytes(of: &r) { for j in $0.indices { $0[j] = rng.next() } }
            if i % 8 == 4 {
                // Random pids with an otherwise well-formed record: most name no task.
                r.cpu = SWL_CPU_ANY
                r.slice_ns = 0
                r.enq_seq |= 1
                r.flags = 0
            } else if i % 4 != 0 {
                // Most records name this task and its trip, so that they reach the CPU and
                // slice checks with values near the limits.
                r.pid = me
                r.enq_seq = i % 4 == 1 ? trip : (i % 8 == 2 ? trip &+ 1 : trip)
                r.cpu = Int32.random(in: -3...(Int32(nrCPUs) + 2), using: &rng)
                if i % 16 == 3 { r.cpu = SWL_CPU_ANY }
                r.slice_ns = [0, 1, 999_999_999, 1_000_000_000, 1_000_000_001, UInt64.max, r.slice_ns].randomElement(using: &rng)!
                // The one known flag, none, an unknown bit, or random bits.
                r.flags = [0, UInt64(SWL_DISPATCH_PREEMPT), 2, 1 << 63, r.flags].randomElement(using: &rng)!
            }
            records.append(r)
        }
        let verdicts = try check(records, trips: [me: trip], nrCPUs: nrCPUs, online: online.map(Int.init))
        let want = records.map {
            Self.expected($0, me: me, trip: trip, nrCPUs: Int32(nrCPUs), online: Set(online), allowed: allowed)
        }
        try #require(verdicts.count == records.count)
        let wrong = zip(records, zip(verdicts, want)).filter { $0.1.0 != $0.1.1 }
        #expect(wrong.count == 0, "\(wrong.count) records judged otherwise than the model, e.g. \(wrong.prefix(3).map { "pid \($0.0.pid) cpu \($0.0.cpu) slice \($0.0.slice_ns) seq \($0.0.enq_seq): got \($0.1.0), want \($0.1.1)" })")
        // The mix reaches every verdict, so each check above was exercised.
        for v in [Self.dispatch, Self.bounce, Self.cancel, Self.noTask, Self.invalid] {
            #expect(verdicts.contains { $0.verdict == v }, "no record got verdict \(v)")
        }
    }

    @Test func offlineAndUncappedCPUsNeverDispatch() throws {
        let me = getpid()
        let v = try check([
            swl_dispatched_task(pid: me, cpu: 1, slice_ns: 0, vtime: 0, enq_seq: 7),  // offline: bounce
            swl_dispatched_task(pid: me, cpu: 0, slice_ns: 0, vtime: 0, enq_seq: 7),  // online: go
            swl_dispatched_task(pid: me, cpu: 1500, slice_ns: 0, vtime: 0, enq_seq: 7),  // above the 1024 DSQs
        ], trips: [me: 7], nrCPUs: 4096, online: [0])
        #expect(v == [Verdict(verdict: Self.bounce, cpu: SWL_CPU_ANY), Verdict(verdict: Self.dispatch, cpu: 0),
                      Verdict(verdict: Self.invalid, cpu: -2)])
    }

    @Test(.enabled(if: ProcessInfo.processInfo.activeProcessorCount >= 2, "needs 2 CPUs"))
    func cpuOutsideAffinityBounces() throws {
        // A child pinned to CPU 0; a dispatch to CPU 1 must bounce to "any CPU".
        let pid = try Subprocess.spawn("/usr/bin/taskset", ["-c", "0", "sleep", "30"])
        defer {
            kill(pid, SIGTERM)
            _ = Subprocess.wait(pid)
        }
        // taskset execs sleep in the same process after setting the affinity.
        Thread.sleep(forTimeInterval: 0.2)
        let v = try check([
            swl_dispatched_task(pid: pid, cpu: 1, slice_ns: 0, vtime: 0, enq_seq: 9),
            swl_dispatched_task(pid: pid, cpu: 0, slice_ns: 0, vtime: 0, enq_seq: 9),
        ], trips: [pid: 9])
        #expect(v == [Verdict(verdict: Self.bounce, cpu: SWL_CPU_ANY), Verdict(verdict: Self.dispatch, cpu: 0)])
    }
}

@Suite("RingBridge errors")
struct RingErrorTests {
    @Test func systemErrorNamesTheCallAndTheErrno() {
        #expect(RingError.system(call: "ring_buffer__new", errno: .invalidArgument).description
            == "ring_buffer__new failed: Invalid argument (errno 22)")
    }
}
