import Glibc
import RingBridge
import SwiftlandABI

/// TEST HOOK (`swiftland run --mode user --test-hostile-records`, hidden): the scheduling
/// thread sends, once, a set of dispatch records the kernel side must reject, through the
/// real user ring, just before a genuine decision. The fault suite (Tests/vm/faults.sh)
/// checks that each one is counted and that nothing else changes: the genuine decision
/// after them still goes through, no task is lost.
///
/// The records, and the counter each must land in:
/// - a pid that does not exist (above any pid_max)            -> nr_missing_tasks
/// - pid 1, a task swiftland does not have in user space       -> nr_cancel_dispatches
/// - the genuine decision with an out-of-range CPU             -> nr_invalid_dispatches
/// - the genuine decision with a stale sequence number         -> nr_cancel_dispatches
/// - a negative pid                                            -> nr_invalid_dispatches
/// - two records of random bytes                               -> nr_invalid_dispatches
enum HostileRecords {
    /// How many of the records are malformed (counted as invalid), gone, or stale.
    static let invalidCount = 4
    static let missingCount = 1
    static let cancelCount = 2

    /// The records for the genuine decision `genuine` (which is sent after them).
    static func make(genuine: swl_dispatched_task) -> [swl_dispatched_task] {
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
        return [gone, unmanaged, badCPU, stale, negative, random(), random()]
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

    /// Sends the records; returns how many went into the ring.
    static func send(_ ring: RingProducer<swl_dispatched_task>, genuine: swl_dispatched_task) throws(RingError) -> Int {
        let records = make(genuine: genuine)
        return try records.withUnsafeBufferPointer { (buffer) throws(RingError) -> Int in
            try ring.send(buffer)
        }
    }
}
