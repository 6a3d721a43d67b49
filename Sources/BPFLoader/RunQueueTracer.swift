import Embedded
import SwiftlandABI

/// Run-queue latency, measured the same way whatever schedules the machine: BPF programs
/// on the scheduler tracepoints (bpf/rqlat.bpf.c) time how long each task waits runnable
/// before it runs. Needs root (CAP_BPF, CAP_PERFMON); works on kernels without sched_ext.
public final class RunQueueTracer {
    /// Waits so far: count per log2 microsecond bucket (bucket 0: [0, 1) us, bucket n:
    /// [2^(n-1), 2^n) us), with their number, sum and maximum.
    public struct Snapshot: Sendable, Equatable {
        public var histogram: [UInt64]
        public var count: UInt64
        public var sumNs: UInt64
        public var maxNs: UInt64

        /// What was recorded between `earlier` and this snapshot (the maximum is the
        /// largest so far: a maximum cannot be subtracted).
        public func since(_ earlier: Snapshot) -> Snapshot {
            Snapshot(histogram: zip(histogram, earlier.histogram).map { $0 &- $1 },
                     count: count &- earlier.count, sumNs: sumNs &- earlier.sumNs, maxNs: maxNs)
        }
    }

    private let object: BPFObject
    private let hist: UnsafeMutableRawPointer
    private let count: UnsafeMutableRawPointer
    private let sum: UnsafeMutableRawPointer
    private let max: UnsafeMutableRawPointer

    /// The most command names `init(commands:)` takes.
    public static let maxCommands = Int(SWL_TRACED_COMMS.rawValue)

    /// Loads and attaches the tracer. `commands`: time only tasks with one of these comms
    /// (the kernel keeps the first 15 bytes of a command name); empty: every task. At most
    /// `maxCommands` names.
    public init(commands: [String] = [], verbose: Bool = false) throws(SchedulerError) {
        precondition(commands.count <= Self.maxCommands, "the tracer takes at most \(Self.maxCommands) command names")
        object = try BPFObject(bytes: Embedded.tracerObject, name: "rqlat", verbose: verbose)
        if !commands.isEmpty {
            // char[SWL_TRACED_COMMS][16], each name NUL-padded as the kernel stores task_struct.comm.
            var comms: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
            withUnsafeMutableBytes(of: &comms) { raw in
                for (n, command) in commands.enumerated() {
                    for (i, b) in command.utf8.prefix(15).enumerated() { raw[n * 16 + i] = b }
                }
            }
            try object.setConstant("filter_count", UInt32(commands.count))
            try object.setConstant("filter_comms", comms)
        }
        try object.load()
        let buckets = Int(SWL_HIST_BUCKETS.rawValue)
        hist = try object.live("rqlat_hist", size: buckets * 8)
        count = try object.live("rqlat_count", size: 8)
        sum = try object.live("rqlat_sum_ns", size: 8)
        max = try object.live("rqlat_max_ns", size: 8)
        try object.attachPrograms()
    }

    public func snapshot() -> Snapshot {
        let buckets = Int(SWL_HIST_BUCKETS.rawValue)
        return Snapshot(
            histogram: (0..<buckets).map { hist.load(fromByteOffset: $0 * 8, as: UInt64.self) },
            count: count.load(as: UInt64.self), sumNs: sum.load(as: UInt64.self), maxNs: max.load(as: UInt64.self))
    }
}
