import Glibc
import Synchronization
import SwiftlandABI
import UserSched

/// How many hostile records `HostilePolicy` handed to the loop, and how many calls
/// `SlowPolicy` slowed, readable from another thread.
final class Tally: Sendable {
    let hostileRecords = Atomic<Int>(0)
    let slowCalls = Atomic<Int>(0)
}

/// A policy that hands the scheduling loop, once (after `after` genuine decisions), a set of
/// dispatch records the kernel side must reject, just before a genuine decision, and
/// otherwise decides as the policy it wraps. They travel through the real user ring like
/// every decision. The fault suite (Tests/vm/faults.sh) checks that each one is counted and
/// that nothing else changes: the genuine decision after them still goes through, no task
/// is lost.
///
/// The records, and the counter each must land in:
/// - a pid that does not exist (above any pid_max)            -> nr_missing_tasks
/// - pid 1, a task swiftland does not have in user space       -> nr_cancel_dispatches
/// - the genuine decision with an out-of-range CPU             -> nr_invalid_dispatches
/// - the genuine decision with a stale sequence number         -> nr_cancel_dispatches
/// - the genuine decision with a flag that does not exist      -> nr_invalid_dispatches
/// - a negative pid                                            -> nr_invalid_dispatches
/// - two records of random bytes                               -> nr_invalid_dispatches
struct HostilePolicy<Inner: SchedulingPolicy & ~Copyable>: SchedulingPolicy, ~Copyable {
    private var inner: Inner
    private let tally: Tally
    private let after: Int
    private var decided = 0
    /// The hostile records and the genuine decision, in the order they are handed out.
    private var pending: [swl_dispatched_task] = []

    init(wrapping inner: consuming Inner, tally: Tally, after: Int = 100) {
        self.inner = inner
        self.tally = tally
        self.after = after
    }

    var name: String { "hostile(\(inner.name))" }
    var count: Int { inner.count + pending.count }
    var counters: PolicyCounters { inner.counters }

    mutating func enqueue(_ task: swl_queued_task, nowNs: UInt64) -> swl_dispatched_task? {
        inner.enqueue(task, nowNs: nowNs)
    }

    mutating func next(nowNs: UInt64, idleCPUs: inout CPUMask) -> swl_dispatched_task? {
        if pending.isEmpty {
            guard let genuine = inner.next(nowNs: nowNs, idleCPUs: &idleCPUs) else { return nil }
            decided += 1
            guard decided == after else { return genuine }
            pending = Self.records(genuine: genuine) + [genuine]
            tally.hostileRecords.store(pending.count - 1, ordering: .relaxed)
        }
        return pending.removeFirst()
    }

    @discardableResult
    mutating func remove(pid: Int32) -> Bool {
        inner.remove(pid: pid)
    }

    /// The records for the genuine decision `genuine` (which is handed out after them).
    static func records(genuine: swl_dispatched_task) -> [swl_dispatched_task] {
        var gone = swl_dispatched_task()
        gone.pid = 0x3fff_fff0  // pid_max is at most 2^22
        gone.cpu = -1
        gone.enq_seq = 1
        var unmanaged = gone
        unmanaged.pid = 1
        var badCPU = genuine
        badCPU.cpu = 1 << 20
        var stale = genuine
        stale.enq_seq = genuine.enq_seq &- 1
        var negative = gone
        negative.pid = -5
        var badFlags = genuine
        badFlags.flags = 1 << 40
        return [gone, unmanaged, badCPU, stale, badFlags, negative, random(), random()]
    }

    private static func random() -> swl_dispatched_task {
        var r = swl_dispatched_task()
        var g = SystemRandomNumberGenerator()
        withUnsafeMutableBytes(of: &r) { bytes in
            for i in bytes.indices { bytes[i] = g.next() }
        }
        // Random bytes are malformed with near certainty (a slice above 1 s); make sure.
        r.slice_ns |= 1 << 62
        return r
    }
}

/// A policy that sends every decision of the policy it wraps to CPU N, except those about
/// tasks pinned to N, which it sends to any CPU. CPU N's own queue is then never empty while
/// the tasks pinned to it wait in the shared one, which N serves only after its own: the
/// fault suite checks that the kernel side still runs them long before the watchdog would
/// eject swiftland. With N offline, every decision names a CPU that cannot run anything.
struct FloodingPolicy<Inner: SchedulingPolicy & ~Copyable>: SchedulingPolicy, ~Copyable {
    private var inner: Inner
    private let cpu: Int32
    /// Bit per pid: the task was pinned to `cpu` when last enqueued (pids stay below 2^22).
    private let pinned: UnsafeMutableBufferPointer<UInt64>
    private static var pidLimit: Int { 1 << 22 }

    init(wrapping inner: consuming Inner, cpu: Int32) {
        self.inner = inner
        self.cpu = cpu
        pinned = .allocate(capacity: Self.pidLimit / 64)
        pinned.initialize(repeating: 0)
    }

    deinit {
        pinned.deallocate()
    }

    var name: String { "flooding(\(inner.name), cpu \(cpu))" }
    var count: Int { inner.count }
    var counters: PolicyCounters { inner.counters }

    mutating func enqueue(_ task: swl_queued_task, nowNs: UInt64) -> swl_dispatched_task? {
        if task.pid > 0, Int(task.pid) < Self.pidLimit {
            let word = Int(task.pid) / 64, bit = UInt64(1) << UInt64(task.pid % 64)
            if task.nr_cpus_allowed == 1 && task.prev_cpu == cpu { pinned[word] |= bit } else { pinned[word] &= ~bit }
        }
        guard let decision = inner.enqueue(task, nowNs: nowNs) else { return nil }
        return redirect(decision)
    }

    mutating func next(nowNs: UInt64, idleCPUs: inout CPUMask) -> swl_dispatched_task? {
        guard let decision = inner.next(nowNs: nowNs, idleCPUs: &idleCPUs) else { return nil }
        return redirect(decision)
    }

    @discardableResult
    mutating func remove(pid: Int32) -> Bool {
        inner.remove(pid: pid)
    }

    private func redirect(_ decision: swl_dispatched_task) -> swl_dispatched_task {
        var d = decision
        let isPinned = d.pid > 0 && Int(d.pid) < Self.pidLimit
            && pinned[Int(d.pid) / 64] & (UInt64(1) << UInt64(d.pid % 64)) != 0
        d.cpu = isPinned ? SWL_CPU_ANY : cpu
        return d
    }
}

/// A policy that is slow for a while and then recovers: from `after` past its first call of
/// `next`, for `slowNs`, it sleeps `delayUs` in every call of `next` (so a loop of the
/// scheduling thread takes that long per decision, and once more for the call that finds
/// nothing), and otherwise decides as the policy it wraps. The fault suite checks that hybrid
/// mode's kernel side takes over meanwhile and hands back after.
struct SlowPolicy<Inner: SchedulingPolicy & ~Copyable>: SchedulingPolicy, ~Copyable {
    private var inner: Inner
    private let tally: Tally
    private let after: UInt64
    private let slowNs: UInt64
    private let delayUs: UInt32
    private var startNs: UInt64 = 0

    init(wrapping inner: consuming Inner, tally: Tally, after: UInt64 = 1_000_000_000, slowNs: UInt64, delayUs: UInt32) {
        self.inner = inner
        self.tally = tally
        self.after = after
        self.slowNs = slowNs
        self.delayUs = delayUs
    }

    var name: String { "slow(\(inner.name))" }
    var count: Int { inner.count }
    var counters: PolicyCounters { inner.counters }

    mutating func enqueue(_ task: swl_queued_task, nowNs: UInt64) -> swl_dispatched_task? {
        inner.enqueue(task, nowNs: nowNs)
    }

    mutating func next(nowNs: UInt64, idleCPUs: inout CPUMask) -> swl_dispatched_task? {
        if startNs == 0 { startNs = nowNs }
        let since = nowNs &- startNs
        if since >= after && since - after < slowNs {
            usleep(delayUs)
            tally.slowCalls.add(1, ordering: .relaxed)
        }
        return inner.next(nowNs: nowNs, idleCPUs: &idleCPUs)
    }

    @discardableResult
    mutating func remove(pid: Int32) -> Bool {
        inner.remove(pid: pid)
    }
}
