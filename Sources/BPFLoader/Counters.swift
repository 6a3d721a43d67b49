import SwiftlandABI

/// The scheduler's counters (struct swl_stats in bpf/intf.h), one definition for the
/// terminal, the tests and any later exporter.
public struct Counters: Sendable, Equatable {
    /// Name, meaning, and value of each counter, in display order.
    public struct Field: Sendable, Equatable {
        public let name: String
        public let help: String
        public let isGauge: Bool
        public let value: UInt64
    }

    public let fields: [Field]

    init(_ s: swl_stats) {
        fields = [
            Field(name: "nr_running", help: "tasks running on a CPU", isGauge: true, value: s.nr_running),
            Field(name: "nr_interactive", help: "tasks classified interactive", isGauge: true, value: s.nr_interactive),
            Field(name: "nr_waiting", help: "tasks waiting in the priority and shared DSQs (smoothed)", isGauge: true, value: s.nr_waiting),
            Field(name: "nvcsw_avg_thresh", help: "interactive threshold, voluntary switches/s", isGauge: true, value: s.nvcsw_avg_thresh),
            Field(name: "nr_direct_dispatches", help: "tasks sent straight to an idle CPU", isGauge: false, value: s.nr_direct_dispatches),
            Field(name: "nr_prio_dispatches", help: "tasks queued in the priority DSQ", isGauge: false, value: s.nr_prio_dispatches),
            Field(name: "nr_shared_dispatches", help: "tasks queued in the shared DSQ", isGauge: false, value: s.nr_shared_dispatches),
            Field(name: "nr_kthread_dispatches", help: "per-CPU kthreads sent to their CPU", isGauge: false, value: s.nr_kthread_dispatches),
            Field(name: "nr_starvation_shared", help: "shared DSQ served first by the starvation guard", isGauge: false, value: s.nr_starvation_shared),
            Field(name: "nr_starvation_prio", help: "priority DSQ served first by the starvation guard", isGauge: false, value: s.nr_starvation_prio),
        ]
    }

    public subscript(name: String) -> UInt64? {
        fields.first { $0.name == name }?.value
    }

    /// One line, `name=value ...`, for periodic output.
    public var line: String {
        fields.map { "\($0.name)=\($0.value)" }.joined(separator: " ")
    }
}
