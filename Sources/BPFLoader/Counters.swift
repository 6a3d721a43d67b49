import ScxStats
import SwiftlandABI

/// What user mode's scheduling thread publishes about itself (through atomics; see
/// SchedulingThread.Snapshot), beside the kernel side's counters.
public struct UserSpaceCounters: Sendable, Equatable {
    public var queued: UInt64 = 0
    public var held: UInt64 = 0
    public var loops: UInt64 = 0
    public var pageFaults: UInt64 = 0
    public var ringRetries: UInt64 = 0
    public var interactive: UInt64 = 0
    public var prioDispatches: UInt64 = 0
    public var regularDispatches: UInt64 = 0
    public var starvation: UInt64 = 0

    public init() {}
}

/// Every counter swiftland has, defined once: name, meaning, unit, kind, the mode it means
/// something in, and where its value comes from. The `--stats` line, the stats server's
/// `stats` and `stats_meta` replies, `--help-stats` and `swiftland metrics` are all
/// generated from this table.
public struct CounterDefinition: Sendable {
    public enum Source: Sendable {
        /// A field of struct swl_stats (bpf/intf.h), read from the BPF program's memory.
        case kernel(@Sendable (swl_stats) -> UInt64)
        /// Published by user mode's scheduling thread.
        case userSpace(@Sendable (UserSpaceCounters) -> UInt64)
    }

    public let name: String
    public let help: String
    public let unit: String
    public let isGauge: Bool
    /// Nil when the counter means something in every mode; else the mode it belongs to
    /// (`SchedulerMode.applies(in:)`: hybrid mode has bpf mode's and user mode's).
    public let mode: SchedulerMode?
    public let source: Source

    /// Whether the counter means something in `mode`.
    public func applies(in mode: SchedulerMode) -> Bool { self.mode?.applies(in: mode) ?? true }

    init(_ name: String, _ help: String, unit: String, gauge: Bool = false, mode: SchedulerMode? = nil, _ source: Source) {
        self.name = name
        self.help = help
        self.unit = unit
        self.isGauge = gauge
        self.mode = mode
        self.source = source
    }

    public static let all: [CounterDefinition] = {
        let bpf = SchedulerMode.bpf
        let user = SchedulerMode.user
        let hybrid = SchedulerMode.hybrid
        return [
            .init("nr_running", "tasks running on a CPU now", unit: "tasks", gauge: true, .kernel { $0.nr_running }),
            .init("nr_interactive", "tasks classified interactive now", unit: "tasks", gauge: true, mode: bpf, .kernel { $0.nr_interactive }),
            .init("nr_waiting", "tasks waiting in the priority and shared DSQs (smoothed); scales the slice", unit: "tasks", gauge: true, mode: bpf, .kernel { $0.nr_waiting }),
            .init("nvcsw_avg_thresh", "the moving interactive threshold", unit: "voluntary switches/s", gauge: true, mode: bpf, .kernel { $0.nvcsw_avg_thresh }),
            .init("nr_direct_dispatches", "tasks sent straight to an idle CPU from select_cpu", unit: "tasks", .kernel { $0.nr_direct_dispatches }),
            .init("nr_prio_dispatches", "tasks queued in the priority (interactive) DSQ", unit: "tasks", mode: bpf, .kernel { $0.nr_prio_dispatches }),
            .init("nr_shared_dispatches", "tasks queued in the shared (regular) DSQ", unit: "tasks", mode: bpf, .kernel { $0.nr_shared_dispatches }),
            .init("nr_kthread_dispatches", "per-CPU kthreads sent straight to their CPU (-k)", unit: "tasks", .kernel { $0.nr_kthread_dispatches }),
            .init("nr_starvation_shared", "times the starvation guard served the shared DSQ first", unit: "times", mode: bpf, .kernel { $0.nr_starvation_shared }),
            .init("nr_starvation_prio", "times the starvation guard served the priority DSQ first", unit: "times", mode: bpf, .kernel { $0.nr_starvation_prio }),
            .init("nr_kept", "slices renewed for a task whose vruntime, charged for the slice it used, still came before the next waiting task's (how weights are honoured between tasks sharing a CPU)", unit: "slices", .kernel { $0.nr_kept }),
            .init("nr_starvation_tasks", "tasks that waited for a CPU longer than a quarter of --timeout-ms and were served first (the wait guard: no task, however light, is left for the watchdog)", unit: "tasks", .kernel { $0.nr_starvation_tasks }),
            .init("nr_preempt_asked", "waking tasks that found no idle CPU and looked for a running task to preempt (bpf mode), or decisions asking for it (user mode)", unit: "tasks", .kernel { $0.nr_preempt_asked }),
            .init("nr_preempt_granted", "of those, CPUs whose running task was preempted for them", unit: "tasks", .kernel { $0.nr_preempt_granted }),
            .init("nr_preempt_refused", "of those, none whose running task came after them", unit: "tasks", .kernel { $0.nr_preempt_refused }),
            .init("nr_preempt_deferred", "of the granted, preemptions that waited until the running task had run the shortest slice", unit: "tasks", .kernel { $0.nr_preempt_deferred }),
            .init("nr_in_flight", "tasks sent to user space and not dispatched back yet (returns to 0)", unit: "tasks", gauge: true, mode: user, .kernel { $0.nr_in_flight }),
            .init("nr_sent", "tasks sent to user space", unit: "tasks", mode: user, .kernel { $0.nr_sent }),
            .init("nr_user_dispatches", "tasks dispatched as user space decided", unit: "tasks", mode: user, .kernel { $0.nr_user_dispatches }),
            .init("nr_kernel_dispatches", "tasks the kernel side dispatched itself (idle CPU, kthread, fallback; in hybrid mode the bypass too)", unit: "tasks", mode: user, .kernel { $0.nr_kernel_dispatches }),
            .init("nr_bounce_dispatches", "user dispatches to a CPU the task may not use, redirected", unit: "dispatches", mode: user, .kernel { $0.nr_bounce_dispatches }),
            .init("nr_cancel_dispatches", "user dispatches of a task re-enqueued since (stale), dropped", unit: "dispatches", mode: user, .kernel { $0.nr_cancel_dispatches }),
            .init("nr_invalid_dispatches", "malformed dispatch records, dropped", unit: "records", mode: user, .kernel { $0.nr_invalid_dispatches }),
            .init("nr_missing_tasks", "dispatch records for a task that no longer exists", unit: "records", mode: user, .kernel { $0.nr_missing_tasks }),
            .init("nr_ring_full", "tasks the kernel side dispatched because the ring to user space was full", unit: "tasks", mode: user, .kernel { $0.nr_ring_full }),
            .init("nr_user_timeouts", "tasks the kernel side dispatched after the fallback bound (--fallback-ms)", unit: "tasks", mode: user, .kernel { $0.nr_user_timeouts }),
            .init("nr_drain_errors", "failed drains of the dispatch ring (not counting nr_drain_busy)", unit: "drains", mode: user, .kernel { $0.nr_drain_errors }),
            .init("nr_drain_busy", "drains that found another CPU draining the dispatch ring (benign: that CPU acts on the records)", unit: "drains", mode: user, .kernel { $0.nr_drain_busy }),
            .init("nr_dequeued_in_flight", "tasks dequeued (affinity change, exit, ...) while in user space", unit: "tasks", mode: user, .kernel { $0.nr_dequeued_in_flight }),
            .init("idle_in_flight_ns", "CPU time spent idle while tasks waited in user space (lost work conservation)", unit: "ns", mode: user, .kernel { $0.idle_in_flight_ns }),
            .init("in_bypass", "1 while the kernel side bypasses user space (the trip's smallest sojourn over an interval stayed above --bypass-target-us), else 0", unit: "flag", gauge: true, mode: hybrid, .kernel { $0.in_bypass }),
            .init("nr_bypass_entries", "times the kernel side started bypassing user space", unit: "times", mode: hybrid, .kernel { $0.nr_bypass_entries }),
            .init("bypass_ns", "time spent bypassing user space", unit: "ns", mode: hybrid, .kernel { $0.bypass_ns }),
            .init("nr_bypass_dispatches", "tasks the BPF policy scheduled instead of the user policy (enqueued in bypass, recalled, ring full, fallback)", unit: "tasks", mode: hybrid, .kernel { $0.nr_bypass_dispatches }),
            .init("nr_bypass_recalls", "trips older than --bypass-target-us ended by the kernel side in bypass (their tasks scheduled by the BPF policy)", unit: "tasks", mode: hybrid, .kernel { $0.nr_bypass_recalls }),
            .init("queued", "records in the ring to user space, not read yet", unit: "records", gauge: true, mode: user, .userSpace { $0.queued }),
            .init("held", "tasks read by user space and not dispatched yet (its run queue)", unit: "tasks", gauge: true, mode: user, .userSpace { $0.held }),
            .init("loops", "loops of the scheduling thread", unit: "loops", mode: user, .userSpace { $0.loops }),
            .init("page_faults", "page faults of the scheduling thread (should stay 0)", unit: "faults", mode: user, .userSpace { $0.pageFaults }),
            .init("ring_retries", "sends to the dispatch ring that found it full and were retried", unit: "sends", mode: user, .userSpace { $0.ringRetries }),
            .init("interactive", "bpfland policy: tasks classified interactive now", unit: "tasks", gauge: true, mode: user, .userSpace { $0.interactive }),
            .init("prio", "bpfland policy: tasks dispatched from the priority queue", unit: "tasks", mode: user, .userSpace { $0.prioDispatches }),
            .init("regular", "bpfland policy: tasks dispatched from the regular queue", unit: "tasks", mode: user, .userSpace { $0.regularDispatches }),
            .init("starvation", "bpfland policy: times the starvation guard served a queue first", unit: "times", mode: user, .userSpace { $0.starvation }),
        ]
    }()

    /// user mode's histograms (`Counters.decisionHistogram`, `runHistogram`), served as
    /// arrays of counts per log2 microsecond bucket after the table's counters.
    public static let histograms: [StatsSchema.Field] = [
        .init(name: Counters.decisionHistogramName, desc: "enqueue-to-decision times of user dispatches (the trip's sojourn: task sent -> decision drained), count per log2 microsecond bucket ([0, 1) us, then [2^(n-1), 2^n) us) [user, hybrid mode]", unit: "tasks", kind: .counter, isArray: true),
        .init(name: Counters.runHistogramName, desc: "from a user dispatch drained by the kernel side to the task running, count per log2 microsecond bucket (as decision_hist_us) [user, hybrid mode]", unit: "tasks", kind: .counter, isArray: true),
    ]

    /// The stats protocol's description of the table: what `stats_meta`, `--help-stats` and
    /// `swiftland metrics` say. "mode" (bpf, user or hybrid) comes first; it is not a counter.
    public static let schema = StatsSchema(
        name: "swiftland",
        desc: "swiftland's counters (absolute since the scheduler was loaded; fields of the other modes stay 0)",
        metricPrefix: "swiftland_",
        fields: [.init(name: "mode", desc: "where the policy runs: bpf, user or hybrid", unit: "", datum: .string, kind: .info)]
            + all.map { d in
                let scope = d.mode.map { " [\($0.scope) mode]" } ?? ""
                return .init(name: d.name, desc: d.help + scope, unit: d.unit, kind: d.isGauge ? .gauge : .counter)
            }
            + histograms)
}

/// One reading of every counter.
public struct Counters: Sendable, Equatable {
    /// Name, meaning, and value of each counter, in display order.
    public struct Field: Sendable, Equatable {
        public let name: String
        public let help: String
        public let isGauge: Bool
        /// As `CounterDefinition.mode`.
        public let mode: SchedulerMode?
        public let value: UInt64
    }

    public let fields: [Field]

    /// Enqueue-to-decision times of user dispatches: count per log2 microsecond bucket
    /// (bucket 0 is [0, 1) us, bucket n is [2^(n-1), 2^n) us).
    public let decisionHistogram: [UInt64]
    /// user mode: from a user dispatch drained by the kernel side to the task running, the
    /// last hop of the trip, per log2 microsecond bucket.
    public let runHistogram: [UInt64]

    /// The histograms' names, in stats replies and on run's lines at exit.
    public static let decisionHistogramName = "decision_hist_us"
    public static let runHistogramName = "run_hist_us"

    /// The kernel side's counters, and user space's own in user mode.
    public init(_ s: swl_stats, userSpace: UserSpaceCounters? = nil) {
        var hist = s.decision_hist
        decisionHistogram = withUnsafeBytes(of: &hist) { Array($0.bindMemory(to: UInt64.self)) }
        var run = s.run_hist
        runHistogram = withUnsafeBytes(of: &run) { Array($0.bindMemory(to: UInt64.self)) }
        fields = CounterDefinition.all.compactMap { d in
            let value: UInt64
            switch d.source {
            case .kernel(let read): value = read(s)
            case .userSpace(let read):
                guard let userSpace else { return nil }
                value = read(userSpace)
            }
            return Field(name: d.name, help: d.help, isGauge: d.isGauge, mode: d.mode, value: value)
        }
    }

    public subscript(name: String) -> UInt64? {
        fields.first { $0.name == name }?.value
    }

    /// One line, `name=value ...`, of the counters that mean something in `mode`.
    public func line(for mode: SchedulerMode) -> String {
        fields.filter { $0.mode?.applies(in: mode) ?? true }.map { "\($0.name)=\($0.value)" }.joined(separator: " ")
    }

    /// The same line from a stats reply.
    public static func line(_ sample: StatsSample, for mode: SchedulerMode) -> String {
        values(sample, for: mode).map { "\($0.name)=\($0.value)" }.joined(separator: " ")
    }

    /// The counters of a stats reply that mean something in `mode`, in table order.
    public static func values(_ sample: StatsSample, for mode: SchedulerMode) -> [(name: String, value: UInt64)] {
        CounterDefinition.all.compactMap { d in
            guard d.applies(in: mode), let v = sample.u64(d.name) else { return nil }
            return (d.name, v)
        }
    }

    /// What the stats server serves: every counter of the table (0 where this reading has
    /// none, e.g. user space's in bpf mode), the histograms, and the mode.
    public func sample(mode: SchedulerMode) -> StatsSample {
        var sample = StatsSample(["mode": .string(mode.rawValue)])
        for d in CounterDefinition.all { sample[d.name] = .u64(0) }
        for f in fields { sample[f.name] = .u64(f.value) }
        sample[Self.decisionHistogramName] = .array(decisionHistogram.map { .u64($0) })
        sample[Self.runHistogramName] = .array(runHistogram.map { .u64($0) })
        return sample
    }
}
