import SwiftlandABI

/// Where the scheduling policy runs.
public enum SchedulerMode: String, Sendable, CaseIterable {
    /// In the BPF program.
    case bpf
    /// In the Swift process, tasks travelling over ring buffers.
    case user
    /// As user mode while the trip through user space is short; the kernel side schedules
    /// with bpf mode's policy while tasks queue there (bpf/bypass.bpf.h).
    case hybrid

    var abi: UInt32 {
        switch self {
        case .bpf: UInt32(SWL_MODE_BPF.rawValue)
        case .user: UInt32(SWL_MODE_USER.rawValue)
        case .hybrid: UInt32(SWL_MODE_HYBRID.rawValue)
        }
    }

    /// Tasks travel to a policy in the Swift process (user and hybrid mode).
    public var usesUserSpace: Bool { self != .bpf }

    /// Whether what belongs to `self` (a counter, an option) means something in `mode`:
    /// hybrid mode runs both user mode's trip and bpf mode's policy.
    public func applies(in mode: SchedulerMode) -> Bool {
        self == mode || mode == .hybrid
    }

    /// The modes `applies(in:)` says yes to, for help texts: "bpf, hybrid".
    public var scope: String {
        SchedulerMode.allCases.filter { applies(in: $0) }.map(\.rawValue).joined(separator: ", ")
    }
}

/// bpf mode: the order of the waiting tasks.
public enum Ordering: String, Sendable, CaseIterable {
    /// 2024 bpfland: interactive tasks first, each class by vruntime.
    case classes
    /// One queue by deadline: vruntime plus what the task ran since it last woke up.
    case deadline

    var abi: UInt32 { self == .classes ? UInt32(SWL_ORDER_CLASSES.rawValue) : UInt32(SWL_ORDER_DEADLINE.rawValue) }
}

/// How user space learns that records wait in the kernel ring (user mode).
public enum WakeupPolicy: String, Sendable, CaseIterable {
    /// The kernel side wakes the scheduling thread only when it has caught up (so it may be
    /// asleep); the thread blocks when it has nothing to do. The fewest wakeups.
    case adaptive
    /// The kernel side wakes the thread for every record: the most wakeups.
    case always
    /// No wakeups: the thread polls, yielding the CPU between polls. The shortest round
    /// trip, but the thread is always runnable.
    case spin

    var abi: UInt32 {
        switch self {
        case .adaptive: UInt32(SWL_WAKEUP_ADAPTIVE.rawValue)
        case .always: UInt32(SWL_WAKEUP_ALWAYS.rawValue)
        case .spin: UInt32(SWL_WAKEUP_NEVER.rawValue)
        }
    }
}

/// The tunables of bpf mode, in the units a person types (microseconds), validated once
/// here for the command line and for tests alike.
public struct SchedulerConfig: Sendable, Equatable {
    // The defaults are bpf/intf.h's (enum swl_defaults).
    public var sliceUs = UInt64(SWL_DEFAULT_SLICE_US.rawValue)
    public var sliceMinUs = UInt64(SWL_DEFAULT_SLICE_MIN_US.rawValue)
    public var sliceLagUs = UInt64(SWL_DEFAULT_SLICE_LAG_US.rawValue)
    public var starvationThreshUs = UInt64(SWL_DEFAULT_STARVATION_THRESH_US.rawValue)
    public var nvcswMaxThresh = UInt64(SWL_DEFAULT_NVCSW_MAX_THRESH.rawValue)
    public var localKthreads = false
    /// A waking task that finds no idle CPU preempts one whose running task comes after it.
    public var preempt = true
    public var ordering = Ordering.classes
    public var timeoutMs = UInt32(SWL_DEFAULT_TIMEOUT_MS.rawValue)
    public var exitDumpLen: UInt32 = 0
    public var mode = SchedulerMode.bpf

    // user mode
    /// Thread id of swiftland's scheduling thread (set by the runner, not by a person).
    public var schedTid: Int32 = 0
    public var wakeup = WakeupPolicy.adaptive
    /// The fallback bound: the kernel side dispatches a task itself after this long in
    /// user space. Well below timeoutMs, so slowness degrades to kernel scheduling.
    public var fallbackMs = UInt32(SWL_DEFAULT_FALLBACK_MS.rawValue)
    /// Size of each ring buffer (small rings force congestion).
    public var ringKiB = UInt32(SWL_DEFAULT_RING_KIB.rawValue)

    // hybrid mode
    /// The sojourn target: a trip (task sent -> its decision drained) should take less.
    public var bypassTargetUs = UInt64(SWL_DEFAULT_BYPASS_TARGET_US.rawValue)
    /// The interval the smallest sojourn is taken over; bypass lasts at least one.
    public var bypassIntervalUs = UInt64(SWL_DEFAULT_BYPASS_INTERVAL_US.rawValue)

    /// sched_ext refuses a watchdog timeout above this (SCX_WATCHDOG_MAX_TIMEOUT).
    public static let maxTimeoutMs: UInt32 = 30_000

    public init() {}

    /// The first inconsistency, as a sentence a person can act on; nil when valid.
    public func problem() -> String? {
        if sliceUs == 0 { return "--slice-us must be above 0 (a zero slice would never let a task run)" }
        if sliceMinUs == 0 { return "--slice-us-min must be above 0" }
        if sliceMinUs > sliceUs {
            return "--slice-us-min (\(sliceMinUs)) is above --slice-us (\(sliceUs)): the shortest slice cannot be longer than the longest"
        }
        if sliceUs > 1_000_000 { return "--slice-us (\(sliceUs)) is above 1 s: tasks would wait seconds for a CPU; use at most 1000000" }
        if starvationThreshUs == 0 { return "--starvation-thresh-us must be above 0" }
        // Microseconds become nanoseconds: bound them well below an overflow.
        if starvationThreshUs > 10_000_000 {
            return "--starvation-thresh-us (\(starvationThreshUs)) is above 10 s: a starved queue would wait that long; use at most 10000000"
        }
        if sliceLagUs > 10_000_000 {
            return "--slice-us-lag (\(sliceLagUs)) is above 10 s of vruntime credit; use at most 10000000"
        }
        if exitDumpLen > 32768 {
            return "--exit-dump-len (\(exitDumpLen)) is above 32768, the most of the kernel's dump swiftland keeps"
        }
        if nvcswMaxThresh > 1_000_000 { return "--nvcsw-max-thresh (\(nvcswMaxThresh)) is above 1000000 switches/s" }
        if timeoutMs == 0 { return "--timeout-ms must be above 0" }
        if timeoutMs > Self.maxTimeoutMs {
            return "--timeout-ms (\(timeoutMs)) is above \(Self.maxTimeoutMs), the most sched_ext accepts"
        }
        if mode.usesUserSpace {
            if fallbackMs == 0 { return "--fallback-ms must be above 0" }
            if UInt64(fallbackMs) * 2 > UInt64(timeoutMs) {
                return "--fallback-ms (\(fallbackMs)) must be at most half of --timeout-ms (\(timeoutMs)): the kernel side must rescue a task well before the watchdog fires"
            }
            if ringKiB < 4 || ringKiB > 65536 || ringKiB & (ringKiB - 1) != 0 {
                return "--ring-kib (\(ringKiB)) must be a power of two from 4 to 65536"
            }
        }
        if mode == .hybrid {
            if bypassTargetUs == 0 { return "--bypass-target-us must be above 0" }
            if bypassIntervalUs <= bypassTargetUs {
                return "--bypass-interval-us (\(bypassIntervalUs)) must be above --bypass-target-us (\(bypassTargetUs)): the smallest sojourn over an interval is judged against the target"
            }
            if bypassIntervalUs >= UInt64(fallbackMs) * 1000 {
                return "--bypass-interval-us (\(bypassIntervalUs)) must be below --fallback-ms (\(fallbackMs) ms): the bypass must act before the fallback does"
            }
        }
        return nil
    }

    /// The values as the BPF program reads them.
    var bpfConfig: swl_config {
        var c = swl_config()
        c.slice_ns = sliceUs * 1000
        c.slice_min_ns = sliceMinUs * 1000
        c.slice_lag_ns = sliceLagUs * 1000
        c.starvation_thresh_ns = starvationThreshUs * 1000
        c.nvcsw_max_thresh = nvcswMaxThresh
        c.local_kthreads = localKthreads ? 1 : 0
        c.preempt = preempt ? 1 : 0
        c.ordering = ordering.abi
        c.mode = mode.abi
        c.wakeup = wakeup.abi
        c.sched_tid = schedTid
        c.fallback_ns = UInt64(fallbackMs) * 1_000_000
        c.bypass_target_ns = bypassTargetUs * 1000
        c.bypass_interval_ns = bypassIntervalUs * 1000
        // A quarter of the watchdog's timeout: no task waits longer (bpf/main.bpf.c,
        // guard_waits and keep_running), so the watchdog never has a reason to eject us.
        c.wait_max_ns = UInt64(timeoutMs) * 1_000_000 / 4
        return c
    }
}
