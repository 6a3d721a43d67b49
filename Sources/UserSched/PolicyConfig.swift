import SwiftlandABI

/// The tunables of the user-mode policies, in nanoseconds. The defaults are bpf mode's
/// (bpf/intf.h's enum swl_defaults), so the A/B experiment compares the same policy over
/// two transports.
public struct PolicyConfig: Sendable, Equatable {
    /// Longest time slice.
    public var sliceNs = UInt64(SWL_DEFAULT_SLICE_US.rawValue) * 1000
    /// Shortest time slice, however many tasks wait.
    public var sliceMinNs = UInt64(SWL_DEFAULT_SLICE_MIN_US.rawValue) * 1000
    /// Most vruntime credit a task keeps across a sleep (the reference is the vruntime of
    /// the task dispatched most recently). rustland floors at one slice; with the defaults
    /// the two are equal.
    public var sliceLagNs = UInt64(SWL_DEFAULT_SLICE_LAG_US.rawValue) * 1000
    /// bpfland: a queue not served for this long is served first.
    public var starvationThreshNs = UInt64(SWL_DEFAULT_STARVATION_THRESH_US.rawValue) * 1000
    /// bpfland: cap of the interactive threshold (voluntary switches/s); 0 turns the
    /// classification off and every task is regular.
    public var nvcswMaxThresh = UInt64(SWL_DEFAULT_NVCSW_MAX_THRESH.rawValue)
    /// Tasks a policy knows at once, held or remembered. All its storage is allocated for
    /// this many when it is built (see `RunQueue`: per task, four table slots of 32 or 64
    /// bytes, two for the table at most half full and two for its rebuilds, and two 24-byte
    /// heap entries per queue); a task beyond it, when every known task is held, is
    /// dispatched at once (see `PolicyCounters.overflows`). Sized for the runnable tasks of
    /// a large machine, not for all its tasks: tasks not held are forgotten when room is
    /// needed, and a larger table costs cache misses on every lookup.
    public var maxTasks = 16_384
    /// bpfland: online CPUs. A sync wakeup promotes a task to interactive unless the
    /// priority queue already holds more than 4 tasks per CPU (bpf mode's rule).
    public var nrCPUs = 1

    public init() {}

    /// bpf mode's tunables, as the loader wrote them into the BPF program.
    public init(_ config: swl_config, maxTasks: Int = 16_384) {
        sliceNs = config.slice_ns
        sliceMinNs = config.slice_min_ns
        sliceLagNs = config.slice_lag_ns
        starvationThreshNs = config.starvation_thresh_ns
        nvcswMaxThresh = config.nvcsw_max_thresh
        self.maxTasks = maxTasks
    }

    /// The first inconsistency, as a sentence a person can act on; nil when valid.
    public func problem() -> String? {
        if sliceNs == 0 { return "the slice must be above 0 (a zero slice would never let a task run)" }
        if sliceMinNs == 0 { return "the minimum slice must be above 0" }
        if sliceMinNs > sliceNs {
            return "the minimum slice (\(sliceMinNs) ns) is above the slice (\(sliceNs) ns): the shortest slice cannot be longer than the longest"
        }
        if sliceNs > 1_000_000_000 { return "the slice (\(sliceNs) ns) is above 1 s" }
        if starvationThreshNs == 0 { return "the starvation threshold must be above 0" }
        if nvcswMaxThresh > 1_000_000 { return "the nvcsw threshold cap (\(nvcswMaxThresh)) is above 1000000 switches/s" }
        if maxTasks < 1 || maxTasks > 1 << 22 {
            return "maxTasks (\(maxTasks)) must be between 1 and \(1 << 22) (the kernel's largest pid_max)"
        }
        return nil
    }

    /// The slice for a task dispatched while `waiting` others wait: the longest slice
    /// shared among them, but never below the shortest.
    @inline(__always)
    func slice(waiting: UInt64) -> UInt64 {
        Swift.max(sliceNs / (waiting &+ 1), sliceMinNs)
    }
}

/// vruntime arithmetic shared by the policies, written the way bpf mode does it.
enum Vruntime {
    /// `a` before `b`, wrap-safe like the kernel's time comparisons.
    @inline(__always)
    static func isBefore(_ a: UInt64, _ b: UInt64) -> Bool {
        Int64(bitPattern: a &- b) < 0
    }

    /// The later of two vruntimes.
    @inline(__always)
    static func later(_ a: UInt64, _ b: UInt64) -> UInt64 {
        isBefore(a, b) ? b : a
    }

    /// Runtime scaled by weight: a nice-0 task (weight 100) is charged its runtime, a task
    /// of weight 200 half of it. A weight of 0 (malformed) is treated as 1.
    @inline(__always)
    static func charge(runtimeNs: UInt64, weight: UInt64) -> UInt64 {
        let (scaled, overflow) = runtimeNs.multipliedReportingOverflow(by: 100)
        return (overflow ? UInt64.max : scaled) / Swift.max(weight, 1)
    }

    /// The sleep-credit cap: at least `reference - lagNs`.
    @inline(__always)
    static func capped(_ vtime: UInt64, reference: UInt64, lagNs: UInt64) -> UInt64 {
        later(vtime, reference &- lagNs)
    }

    /// The run that ended at the record's stop_ts_ns and is not in its vtime yet: 0 when the
    /// kernel side charged it already (hybrid mode, `isCharged`), or when the timestamps are
    /// unset or out of order.
    @inline(__always)
    static func lastRunNs(_ task: swl_queued_task) -> UInt64 {
        if task.isCharged { return 0 }
        return task.stop_ts_ns > task.start_ts_ns ? task.stop_ts_ns - task.start_ts_ns : 0
    }
}
