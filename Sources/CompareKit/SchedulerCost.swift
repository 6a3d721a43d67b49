import Foundation

/// What an arm's scheduler itself cost while one round's workload ran: the CPU time of the
/// `swiftland run` process (and of user mode's scheduling thread within it), the run time
/// of its BPF programs, and the scheduling decisions it made meanwhile.
///
/// The window is the workload's run, between two readings compare takes through the
/// scheduler's stats socket just before and just after it, not the whole attachment: the
/// experiment's set-up around the workload would dilute the shares by an amount that
/// depends on the machine. eevdf has no cost record: the kernel's own scheduler has no
/// process and no BPF programs to measure, which does not make it free.
public struct SchedulerCost: Codable, Sendable, Equatable {
    /// The window's length, from the scheduler's own monotonic clock.
    public var windowNs: UInt64
    /// CPU time of the whole `swiftland run` process, every thread.
    public var processUserNs: UInt64
    public var processSystemNs: UInt64
    /// user mode: CPU time of the scheduling thread alone (user and system).
    public var schedulingThreadNs: UInt64?
    /// Run time of the scheduler's BPF programs, every callback on every CPU; nil when the
    /// kernel did not count it (BPF statistics off).
    public var bpfRunNs: UInt64?
    public var bpfRunCount: UInt64?
    /// Scheduling decisions in the window (`decisionCounters`); nil without counters.
    public var decisions: UInt64?

    public init(
        windowNs: UInt64, processUserNs: UInt64, processSystemNs: UInt64, schedulingThreadNs: UInt64? = nil,
        bpfRunNs: UInt64? = nil, bpfRunCount: UInt64? = nil, decisions: UInt64? = nil
    ) {
        self.windowNs = windowNs
        self.processUserNs = processUserNs
        self.processSystemNs = processSystemNs
        self.schedulingThreadNs = schedulingThreadNs
        self.bpfRunNs = bpfRunNs
        self.bpfRunCount = bpfRunCount
        self.decisions = decisions
    }

    /// The parts the report shows. They overlap: BPF programs that run in the scheduling
    /// thread's context (its own dispatch, when it yields) count in its CPU time too, and
    /// the thread is part of the process.
    public enum Part: String, CaseIterable, Sendable {
        case bpf = "BPF programs"
        case schedulingThread = "scheduling thread"
        case process = "process"
    }

    /// CPU nanoseconds of one part in the window; nil when not measured.
    public func ns(_ part: Part) -> UInt64? {
        switch part {
        case .bpf: bpfRunNs
        case .schedulingThread: schedulingThreadNs
        case .process: processUserNs &+ processSystemNs
        }
    }

    /// The part's CPU time as a fraction of one CPU over the window (0.03: 3% of a CPU).
    public func shareOfCPU(_ part: Part) -> Double? {
        guard let ns = ns(part), windowNs > 0 else { return nil }
        return Double(ns) / Double(windowNs)
    }

    /// The part's CPU milliseconds per 1,000 decisions (the same number as microseconds
    /// per decision).
    public func msPerThousandDecisions(_ part: Part) -> Double? {
        guard let ns = ns(part) else { return nil }
        return Self.msPerThousand(ns: ns, decisions: decisions)
    }

    /// The scheduler's whole CPU time per 1,000 decisions: its BPF programs and its
    /// process. An upper bound, since BPF programs that ran in the process's own threads
    /// count twice; nil without the BPF figure (what the BPF side costs is most of bpf
    /// mode's cost, so a total without it would mislead).
    public var totalMsPerThousandDecisions: Double? {
        guard let bpf = bpfRunNs else { return nil }
        return Self.msPerThousand(ns: bpf &+ ns(.process)!, decisions: decisions)
    }

    static func msPerThousand(ns: UInt64, decisions: UInt64?) -> Double? {
        guard let decisions, decisions > 0 else { return nil }
        return Double(ns) / Double(decisions) / 1000
    }

    /// The counters whose sum is the number of scheduling decisions: every time the
    /// scheduler placed a task that became runnable, counted once, in either mode. A task
    /// goes straight to an idle CPU (`nr_direct_dispatches`), a per-CPU kthread to its CPU
    /// (`nr_kthread_dispatches`), and otherwise bpf mode queues it by priority
    /// (`nr_prio_dispatches`, `nr_shared_dispatches`) and user mode sends it to user space
    /// (`nr_sent`) or, when the ring is full, dispatches it itself (`nr_ring_full`). user
    /// mode's fallback dispatches are not added: their tasks were counted when sent.
    public static let decisionCounters = [
        "nr_direct_dispatches", "nr_kthread_dispatches", "nr_prio_dispatches", "nr_shared_dispatches", "nr_sent",
        "nr_ring_full",
    ]

    /// The decisions in a set of counters; nil when none of `decisionCounters` is there.
    public static func decisions(in counters: [String: UInt64]) -> UInt64? {
        let present = decisionCounters.compactMap { counters[$0] }
        return present.isEmpty ? nil : present.reduce(0, &+)
    }

    /// The names of the cost fields `swiftland run` serves beside its counters and prints
    /// on its `cost:` line, each a total since the scheduler attached.
    public enum Field {
        /// Time since the scheduler attached (CLOCK_MONOTONIC).
        public static let elapsedNs = "elapsed_ns"
        /// The process's user and system CPU time (getrusage).
        public static let processUserNs = "process_user_ns"
        public static let processSystemNs = "process_system_ns"
        /// user mode: the scheduling thread's CPU time.
        public static let schedulingThreadNs = "sched_thread_ns"
        /// 1 when the kernel counted the BPF programs' run time since the attachment (the
        /// two fields after it are present), 0 when it did not.
        public static let bpfStats = "bpf_stats"
        public static let bpfRunNs = "bpf_run_ns"
        public static let bpfRunCount = "bpf_run_cnt"
    }

    /// The cost between two snapshots, `start` earlier than `end`; nil when either lacks the
    /// process's figures or a total went backwards (the snapshots are not of one
    /// attachment). The BPF figures need BPF statistics counted at both snapshots and
    /// runs between them: a scheduler's programs run all the time, so runs not counted
    /// mean counting was off, and their time is unknown, not 0.
    public static func between(_ start: [String: UInt64], _ end: [String: UInt64]) -> SchedulerCost? {
        func delta(_ name: String) -> UInt64? {
            guard let a = start[name], let b = end[name], b >= a else { return nil }
            return b - a
        }
        guard let window = delta(Field.elapsedNs), let user = delta(Field.processUserNs),
              let system = delta(Field.processSystemNs)
        else { return nil }
        var cost = SchedulerCost(windowNs: window, processUserNs: user, processSystemNs: system)
        cost.schedulingThreadNs = delta(Field.schedulingThreadNs)
        if start[Field.bpfStats] == 1, end[Field.bpfStats] == 1, let runs = delta(Field.bpfRunCount), runs > 0 {
            cost.bpfRunNs = delta(Field.bpfRunNs)
            cost.bpfRunCount = runs
        }
        if let a = decisions(in: start), let b = decisions(in: end), b >= a { cost.decisions = b - a }
        return cost
    }
}

/// One arm's scheduler cost on one workload: medians over the counted rounds that have a
/// cost record, each number's median taken on its own.
public struct CostSummary: Sendable {
    /// Counted rounds with a cost record.
    public let rounds: Int
    /// Of those, rounds without the BPF figure (BPF statistics were off).
    public let roundsWithoutBPF: Int
    public let decisions: Double?
    /// Median share of one CPU per part (0.03: 3%).
    public let shares: [SchedulerCost.Part: Double]
    /// Median CPU milliseconds per 1,000 decisions per part.
    public let msPerThousand: [SchedulerCost.Part: Double]

    public init(_ costs: [SchedulerCost]) {
        rounds = costs.count
        roundsWithoutBPF = costs.count(where: { $0.bpfRunNs == nil })
        decisions = OrderStatistics.median(costs.compactMap { $0.decisions.map { Double($0) } })
        var shares: [SchedulerCost.Part: Double] = [:]
        var perThousand: [SchedulerCost.Part: Double] = [:]
        for part in SchedulerCost.Part.allCases {
            shares[part] = OrderStatistics.median(costs.compactMap { $0.shareOfCPU(part) })
            perThousand[part] = OrderStatistics.median(costs.compactMap { $0.msPerThousandDecisions(part) })
        }
        self.shares = shares
        msPerThousand = perThousand
    }

    /// The name of the number the paired comparisons compare: BPF + process per decision
    /// (`SchedulerCost.totalMsPerThousandDecisions`; the ratio does not depend on the unit).
    public static let comparedMetric = "scheduler CPU per decision"

    /// What the cost tables show and how to read them, for every report that has one.
    public static let note = "The scheduler's own CPU time, measured while the workload ran (between two readings "
        + "of the scheduler's stats socket taken just before and just after it), median over the counted rounds; each cell "
        + "is the share of one CPU over that time, then CPU milliseconds per 1,000 scheduling decisions (= microseconds "
        + "per decision). BPF programs: the run time the kernel counted for the scheduler's programs, every callback on "
        + "every CPU (compare turns BPF statistics on for the experiment; \"stats off\" where they were not). Scheduling "
        + "thread: user mode's loop alone. Process: every thread of `swiftland run`, user and system time. The parts "
        + "overlap: the thread is part of the process, and BPF programs that ran in the thread's context (its own "
        + "dispatch when it yields) count in both; so they are not added up, except in the number compared, "
        + "\(comparedMetric): BPF + process, an upper bound, compared cycle by cycle like the figure between the arms "
        + "that have a scheduler to measure (user and hybrid mode against bpf mode, hybrid against user). A decision is one placement of a task that "
        + "became runnable: to an idle CPU, a kthread to its CPU, into bpf mode's queues, or sent to user space (or "
        + "dispatched by the kernel because the ring was full). eevdf is not measured: the kernel's own scheduler has "
        + "no process and no BPF programs, and its time is spread through the kernel's; that does not make it free. "
        + "Peers (scx:, ext:) serve no stats: their process's CPU time (every thread, from /proc, in clock ticks) is "
        + "read around the workload; their BPF programs and decisions are not measured."
}
