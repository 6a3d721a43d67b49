import SwiftlandABI

/// The scheduler's counters (struct swl_stats in bpf/intf.h), one definition for the
/// terminal, the tests and any later exporter.
public struct Counters: Sendable, Equatable {
    /// Name, meaning, and value of each counter, in display order.
    public struct Field: Sendable, Equatable {
        public let name: String
        public let help: String
        public let isGauge: Bool
        /// Nil when the counter means something in both modes.
        public let mode: SchedulerMode?
        public let value: UInt64

        init(name: String, help: String, isGauge: Bool, mode: SchedulerMode? = nil, value: UInt64) {
            self.name = name
            self.help = help
            self.isGauge = isGauge
            self.mode = mode
            self.value = value
        }
    }

    public let fields: [Field]

    /// Enqueue-to-decision times of user dispatches: count per log2 microsecond bucket
    /// (bucket 0 is [0, 1) us, bucket n is [2^(n-1), 2^n) us).
    public let decisionHistogram: [UInt64]

    init(_ s: swl_stats) {
        var hist = s.decision_hist
        decisionHistogram = withUnsafeBytes(of: &hist) { Array($0.bindMemory(to: UInt64.self)) }
        let user = SchedulerMode.user
        let bpf = SchedulerMode.bpf
        fields = [
            Field(name: "nr_running", help: "tasks running on a CPU", isGauge: true, value: s.nr_running),
            Field(name: "nr_interactive", help: "tasks classified interactive", isGauge: true, mode: bpf, value: s.nr_interactive),
            Field(name: "nr_waiting", help: "tasks waiting in the priority and shared DSQs (smoothed)", isGauge: true, mode: bpf, value: s.nr_waiting),
            Field(name: "nvcsw_avg_thresh", help: "interactive threshold, voluntary switches/s", isGauge: true, mode: bpf, value: s.nvcsw_avg_thresh),
            Field(name: "nr_direct_dispatches", help: "tasks sent straight to an idle CPU", isGauge: false, value: s.nr_direct_dispatches),
            Field(name: "nr_prio_dispatches", help: "tasks queued in the priority DSQ", isGauge: false, mode: bpf, value: s.nr_prio_dispatches),
            Field(name: "nr_shared_dispatches", help: "tasks queued in the shared DSQ", isGauge: false, mode: bpf, value: s.nr_shared_dispatches),
            Field(name: "nr_kthread_dispatches", help: "per-CPU kthreads sent to their CPU", isGauge: false, value: s.nr_kthread_dispatches),
            Field(name: "nr_starvation_shared", help: "shared DSQ served first by the starvation guard", isGauge: false, mode: bpf, value: s.nr_starvation_shared),
            Field(name: "nr_starvation_prio", help: "priority DSQ served first by the starvation guard", isGauge: false, mode: bpf, value: s.nr_starvation_prio),
            Field(name: "nr_in_flight", help: "tasks sent to user space and not dispatched back yet", isGauge: true, mode: user, value: s.nr_in_flight),
            Field(name: "nr_sent", help: "tasks sent to user space", isGauge: false, mode: user, value: s.nr_sent),
            Field(name: "nr_user_dispatches", help: "tasks dispatched as user space decided", isGauge: false, mode: user, value: s.nr_user_dispatches),
            Field(name: "nr_kernel_dispatches", help: "tasks dispatched by the kernel side (idle CPU, kthread, fallback)", isGauge: false, mode: user, value: s.nr_kernel_dispatches),
            Field(name: "nr_bounce_dispatches", help: "user dispatches to a CPU the task may not use, redirected", isGauge: false, mode: user, value: s.nr_bounce_dispatches),
            Field(name: "nr_cancel_dispatches", help: "user dispatches of a task re-enqueued since (stale)", isGauge: false, mode: user, value: s.nr_cancel_dispatches),
            Field(name: "nr_invalid_dispatches", help: "malformed dispatch records, dropped", isGauge: false, mode: user, value: s.nr_invalid_dispatches),
            Field(name: "nr_missing_tasks", help: "dispatch records for a task that no longer exists", isGauge: false, mode: user, value: s.nr_missing_tasks),
            Field(name: "nr_ring_full", help: "tasks the kernel dispatched because the ring was full", isGauge: false, mode: user, value: s.nr_ring_full),
            Field(name: "nr_user_timeouts", help: "tasks the kernel dispatched after the fallback bound", isGauge: false, mode: user, value: s.nr_user_timeouts),
            Field(name: "nr_drain_errors", help: "failed drains of the dispatch ring", isGauge: false, mode: user, value: s.nr_drain_errors),
            Field(name: "nr_dequeued_in_flight", help: "tasks dequeued while in user space", isGauge: false, mode: user, value: s.nr_dequeued_in_flight),
            Field(name: "idle_in_flight_ns", help: "CPU time idle while tasks were in flight, ns", isGauge: false, mode: user, value: s.idle_in_flight_ns),
        ]
    }

    public subscript(name: String) -> UInt64? {
        fields.first { $0.name == name }?.value
    }

    /// One line, `name=value ...`, of the counters that mean something in `mode`.
    public func line(for mode: SchedulerMode) -> String {
        fields.filter { $0.mode == nil || $0.mode == mode }.map { "\($0.name)=\($0.value)" }.joined(separator: " ")
    }
}
