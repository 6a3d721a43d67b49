import Foundation

/// One A/B experiment of `swiftland compare`: what was run, and every round's result.
///
/// The whole model is Codable so that one JSON file holds everything a report is made
/// from; a report can be rebuilt from that file alone.
public struct Experiment: Codable, Sendable, Equatable {
    /// Raised when the JSON layout changes incompatibly, so a file is not misread by a
    /// swiftland that does not know its layout. Format 2 adds censored figures
    /// (`Figure.bound`), the main baseline, the margin and the comparisons; format 1 files
    /// read as format 2 without them.
    public static let currentFormatVersion = 2
    static let readableFormatVersions = 1...2

    public var formatVersion: Int
    public var settings: ExperimentSettings
    /// Every round, warm-up rounds included, in the order they ran.
    public var records: [RoundRecord]
    /// The "what this shows and what it does not" paragraph, written by the person who ran
    /// the experiment. Nil until then; the report shows a placeholder.
    public var notes: String?
    /// The paired comparisons as the report showed them, written with the file for people
    /// and scripts that read it; swiftland itself recomputes them from `records`.
    public var comparisons: [PairedComparison]?

    public init(settings: ExperimentSettings, records: [RoundRecord] = [], notes: String? = nil) {
        formatVersion = Self.currentFormatVersion
        self.settings = settings
        self.records = records
        self.notes = notes
    }

    public mutating func append(_ record: RoundRecord) {
        records.append(record)
    }

    /// The rounds statistics are computed from: warm-up rounds excluded.
    public var countedRecords: [RoundRecord] { records.filter { !$0.isWarmup } }

    /// Pretty-printed, keys sorted (stable diffs), ISO 8601 dates; an unbounded interval's
    /// end as the string "inf" or "-inf".
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try encoder.encode(self)
    }

    /// Reads a file written by `jsonData()`.
    public static func decode(json data: Data) throws -> Experiment {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        var experiment = try decoder.decode(Experiment.self, from: data)
        guard readableFormatVersions.contains(experiment.formatVersion) else {
            throw DecodingError.dataCorrupted(.init(
                codingPath: [], debugDescription:
                    "experiment format \(experiment.formatVersion); this swiftland reads formats "
                    + "\(readableFormatVersions.lowerBound) to \(readableFormatVersions.upperBound)"))
        }
        experiment.formatVersion = currentFormatVersion
        return experiment
    }
}

/// What the experiment ran and where: printed at the top of every report, because a
/// number without its machine and settings cannot be interpreted.
public struct ExperimentSettings: Codable, Sendable, Equatable {
    /// In the order given.
    public var arms: [Arm]
    public var workloads: [WorkloadSpec]
    /// Counted rounds per arm and workload (warm-up rounds not included).
    public var rounds: Int
    public var warmupRounds: Int
    public var date: Date
    /// E.g. "QEMU TCG, 2 vCPUs, 2 GiB, on Intel Xeon ..." or the host's CPU model.
    public var machine: String
    /// `uname -r` of the kernel the arms ran on.
    public var kernel: String
    /// The `swiftland compare ...` command line, so the run can be repeated.
    public var commandLine: String?
    /// The arm every other arm is compared against (`--baseline`); nil: the default of
    /// `ComparisonRule.baseline` (eevdf when it ran).
    public var baseline: Arm?
    /// The equivalence margin in percent (`--margin`); nil: `defaultMarginPercent`.
    public var marginPercent: Double?

    public static let defaultMarginPercent = 5.0

    public init(
        arms: [Arm], workloads: [WorkloadSpec], rounds: Int, warmupRounds: Int = 1, date: Date,
        machine: String, kernel: String, commandLine: String? = nil, baseline: Arm? = nil, marginPercent: Double? = nil
    ) {
        self.arms = arms
        self.workloads = workloads
        self.rounds = rounds
        self.warmupRounds = warmupRounds
        self.date = date
        self.machine = machine
        self.kernel = kernel
        self.commandLine = commandLine
        self.baseline = baseline
        self.marginPercent = marginPercent
    }

    /// The main baseline: `baseline`, else eevdf when it ran, else the first arm.
    public var mainBaseline: Arm? { ComparisonRule.baseline(arms: arms, chosen: baseline) }

    /// The equivalence margin as a fraction, e.g. 0.05.
    public var margin: Double { (marginPercent ?? Self.defaultMarginPercent) / 100 }
}

/// One arm of the experiment, as `--modes` spells it: `eevdf` (no sched_ext scheduler),
/// `bpf`, `user:POLICY[:BATCH[:WAKEUP]]`, `hybrid:POLICY[:BATCH[:WAKEUP]]`, or a peer: `scx:NAME[ ARG...]` (one of the kernel's
/// own example schedulers) or `ext:PATH[ ARG...]` (any sched_ext scheduler binary).
///
/// The policy and wakeup names are not checked here (CompareKit depends on neither UserSched
/// nor the loader); the command validates them. Encoded as its spelling, so the JSON reads like the command line.
public struct Arm: Hashable, Sendable, Codable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        /// The kernel's own scheduler: the default baseline.
        case eevdf
        case bpf
        /// `batch` nil: the scheduler's default batch size; `wakeup` nil: its default
        /// wakeup policy (`swiftland run --wakeup`).
        case user(policy: String, batch: Int?, wakeup: String? = nil)
        /// User mode with the kernel side's bypass (`swiftland run --mode hybrid`): while
        /// tasks queue, its BPF policy places them itself. Spelt and started like `user`.
        case hybrid(policy: String, batch: Int?, wakeup: String? = nil)
        /// The kernel's example scheduler `scx_NAME` (`PeerScheduler.examples`), built from
        /// the source of the kernel it runs on.
        case scx(name: String, arguments: [String])
        /// A sched_ext scheduler binary of the user's, at an absolute path.
        case ext(path: String, arguments: [String])
    }

    public let kind: Kind
    /// The scheduler's options that differ from its defaults, as `swiftland run --KEY VALUE`,
    /// sorted by key: `bpf:preempt=off` is bpf mode without wakeup preemption.
    public let options: [Option]

    /// One `KEY=VALUE` of an arm.
    public struct Option: Hashable, Sendable {
        public let key: String
        public let value: String
    }

    /// The options an arm may set, and their values. `ordering` is bpf mode's only.
    public static let optionValues: [String: [String]] = ["preempt": ["on", "off"], "ordering": ["classes", "deadline"]]
    /// The options of hybrid arms whose value is a number of microseconds (from 1 to 10 s):
    /// the control law's target and interval, `swiftland run --bypass-target-us` and
    /// `--bypass-interval-us`.
    public static let hybridMicroseconds = ["bypass-target-us", "bypass-interval-us"]

    public init(_ kind: Kind, options: [Option] = []) {
        self.kind = kind
        self.options = options.sorted { $0.key < $1.key }
    }

    /// Parses `eevdf`, `bpf`, `user:bpfland`, `user:vruntime:8`, `user:bpfland:1:spin`, the
    /// same with `hybrid` for `user`, and any of those but eevdf followed by options:
    /// `bpf:preempt=off:ordering=deadline`, `user:bpfland:8:preempt=off`.
    public init(parsing spec: String) throws(ArmError) {
        if spec.hasPrefix("scx:") || spec.hasPrefix("ext:") {
            // Peers: the rest is words separated by spaces, the first the scheduler, the
            // others its arguments as they are (colons and `=` included).
            let words = spec.dropFirst(4).split(separator: " ").map(String.init)
            guard let first = words.first else { throw .invalid(spec) }
            let arguments = Array(words.dropFirst())
            if spec.hasPrefix("scx:") {
                guard PeerScheduler.examples.contains(where: { $0.name == first }) else {
                    throw .unknownExample(first)
                }
                kind = .scx(name: first, arguments: arguments)
            } else {
                guard first.hasPrefix("/") else { throw .relativePath(first) }
                kind = .ext(path: first, arguments: arguments)
            }
            options = []
            return
        }
        var parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        var options: [Option] = []
        while let last = parts.last, last.contains("=") {
            parts.removeLast()
            let kv = last.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { throw .invalid(spec) }
            if Self.hybridMicroseconds.contains(kv[0]) {
                guard spec.hasPrefix("hybrid:") else { throw .invalid(spec) }
                guard let us = UInt64(kv[1]), us > 0, us <= 10_000_000 else {
                    throw .invalidOption(spec, key: kv[0], values: ["a number of microseconds from 1 to 10000000"])
                }
            } else {
                guard let values = Self.optionValues[kv[0]] else { throw .invalid(spec) }
                guard values.contains(kv[1]) else { throw .invalidOption(spec, key: kv[0], values: values) }
            }
            guard !options.contains(where: { $0.key == kv[0] }) else { throw .invalid(spec) }
            options.insert(Option(key: kv[0], value: kv[1]), at: 0)
        }
        guard !parts.contains(where: { $0.contains("=") }) else { throw .invalid(spec) }
        if parts.first == "eevdf", !options.isEmpty { throw .invalid(spec) }
        if parts.first == "user" || parts.first == "hybrid", options.contains(where: { $0.key == "ordering" }) {
            throw .invalid(spec)
        }
        self.options = options.sorted { $0.key < $1.key }
        switch parts.first {
        case "eevdf" where parts.count == 1: kind = .eevdf
        case "bpf" where parts.count == 1: kind = .bpf
        case "user" where (2...4).contains(parts.count), "hybrid" where (2...4).contains(parts.count):
            guard !parts[1].isEmpty else { throw .invalid(spec) }
            var batch: Int?
            if parts.count == 3 || (parts.count == 4 && !parts[2].isEmpty) {  // `user:P::W`: default batch
                guard let b = Int(parts[2]), b > 0 else { throw .invalid(spec) }
                batch = b
            }
            var wakeup: String?
            if parts.count == 4 {
                guard !parts[3].isEmpty else { throw .invalid(spec) }
                wakeup = parts[3]
            }
            kind = parts[0] == "user" ? .user(policy: parts[1], batch: batch, wakeup: wakeup)
                : .hybrid(policy: parts[1], batch: batch, wakeup: wakeup)
        default: throw .invalid(spec)
        }
    }

    public static let eevdf = Arm(.eevdf)

    public var description: String {
        let base = switch kind {
        case .eevdf: "eevdf"
        case .bpf: "bpf"
        case .user(let policy, let batch, let wakeup): Self.userSpelling("user", policy, batch, wakeup)
        case .hybrid(let policy, let batch, let wakeup): Self.userSpelling("hybrid", policy, batch, wakeup)
        case .scx(let name, let arguments): (["scx:" + name] + arguments).joined(separator: " ")
        case .ext(let path, let arguments): (["ext:" + path] + arguments).joined(separator: " ")
        }
        return ([base] + options.map { "\($0.key)=\($0.value)" }).joined(separator: ":")
    }

    /// `user:P`, `user:P:B`, `user:P::W`, `user:P:B:W` (or `hybrid:...`).
    private static func userSpelling(_ mode: String, _ policy: String, _ batch: Int?, _ wakeup: String?) -> String {
        switch (batch, wakeup) {
        case (nil, nil): "\(mode):\(policy)"
        case (let batch?, nil): "\(mode):\(policy):\(batch)"
        case (nil, let wakeup?): "\(mode):\(policy)::\(wakeup)"
        case (let batch?, let wakeup?): "\(mode):\(policy):\(batch):\(wakeup)"
        }
    }

    /// The same arm with the scheduler's defaults.
    public var withDefaults: Arm { Arm(kind) }

    /// Where an arm's scheduling decisions are made.
    public enum Placement: Sendable, Equatable {
        /// The kernel's built-in scheduler, no sched_ext.
        case kernel
        /// A sched_ext scheduler whose policy runs wholly in BPF.
        case bpf
        /// A sched_ext scheduler whose policy runs in a user-space process, tasks
        /// travelling to it and back over rings.
        case user
        /// As `user`, with a kernel-side bypass: while tasks queue, the scheduler's BPF policy
        /// places them without the trip through user space.
        case hybrid
        /// A sched_ext scheduler of the user's (`ext:`): where its policy runs is unknown.
        case unknown

        /// The placement of the peers an arm is compared with: a hybrid arm's policy runs in
        /// user space, like scx:userland's.
        public var peerPlacement: Placement { self == .hybrid ? .user : self }
    }

    /// Decides which comparisons the report shows (`ComparisonRule`).
    public var placement: Placement {
        switch kind {
        case .eevdf: .kernel
        case .bpf: .bpf
        case .user: .user
        case .hybrid: .hybrid
        case .scx(let name, _): PeerScheduler.examples.first { $0.name == name }?.placement ?? .unknown
        case .ext: .unknown
        }
    }

    /// One of the kernel's example schedulers (`scx:`).
    public var isScx: Bool {
        if case .scx = kind { return true }
        return false
    }

    /// A scheduler that is not swiftland's (`scx:`, `ext:`): no stats socket, no counters;
    /// its cost is its process's CPU time.
    public var isPeer: Bool {
        switch kind {
        case .scx, .ext: true
        case .eevdf, .bpf, .user, .hybrid: false
        }
    }

    /// The rules that order tasks: "eevdf"; "bpfland" for bpf mode, which runs scx_bpfland's
    /// rules; user and hybrid mode's policy. Equal policies at different placements isolate the
    /// placement's cost.
    public var policy: String {
        switch kind {
        case .eevdf: "eevdf"
        case .bpf: "bpfland"
        case .user(let policy, _, _), .hybrid(let policy, _, _): policy
        case .scx(let name, _): "scx_" + name
        case .ext(let path, _): String(path.split(separator: "/").last ?? Substring(path))
        }
    }

    /// User and hybrid arms: tasks travel to a Swift policy, so these arms have an in-flight
    /// depth, decision times and user space's counters.
    public var isUserMode: Bool {
        switch kind {
        case .user, .hybrid: true
        case .eevdf, .bpf, .scx, .ext: false
        }
    }

    public init(from decoder: any Decoder) throws {
        let spec = try decoder.singleValueContainer().decode(String.self)
        do {
            try self.init(parsing: spec)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

public enum ArmError: Error, Equatable, CustomStringConvertible {
    case invalid(String)
    case invalidOption(String, key: String, values: [String])
    case unknownExample(String)
    case relativePath(String)

    public var description: String {
        switch self {
        case .invalid(let spec):
            "'\(spec)' is not an arm: use eevdf, bpf, user:POLICY, user:POLICY:BATCH or user:POLICY:BATCH:WAKEUP (BATCH a positive number, or empty for the default), hybrid:POLICY[:BATCH[:WAKEUP]] likewise, then for bpf, user and hybrid arms any of :preempt=on|off, for bpf :ordering=classes|deadline, for hybrid :bypass-target-us=US and :bypass-interval-us=US; or scx:NAME or ext:PATH, each followed by the scheduler's arguments separated by spaces"
        case .unknownExample(let name):
            "scx:\(name): the kernel's example schedulers are \(PeerScheduler.examples.map { "scx:" + $0.name }.joined(separator: ", ")) (scx_qmap is left out: the 7.3 verifier rejects it)"
        case .relativePath(let path):
            "ext:\(path): give the scheduler's absolute path"
        case .invalidOption(let spec, let key, let values):
            "'\(spec)': \(key) is one of \(values.joined(separator: ", "))"
        }
    }
}

/// The kernel's own sched_ext example schedulers (tools/sched_ext) that `scx:` arms run, as
/// scripts/kernel.sh builds them. scx_qmap is not among them: the 7.3 verifier rejects it.
public enum PeerScheduler {
    public struct Example: Sendable {
        /// `simple` for scx_simple.
        public let name: String
        public let placement: Arm.Placement
    }

    public static let examples: [Example] = [
        Example(name: "simple", placement: .bpf), Example(name: "central", placement: .bpf),
        Example(name: "userland", placement: .user), Example(name: "flatcg", placement: .bpf),
    ]
}

/// A workload's figure of merit for one round, as parsed from its own output.
public struct Figure: Codable, Sendable, Equatable {
    /// What was measured, e.g. "time", "p99 latency", "bogo ops/s".
    public var name: String
    public var value: Double
    /// E.g. "s", "us", "bogo ops/s".
    public var unit: String
    /// Decides what "better" means in a comparison.
    public var higherIsBetter: Bool
    /// Nil for a measured value; `.atLeast` when the true figure lay beyond the top of the
    /// instrument's range and `value` is that range's end (censored, not failed).
    public var bound: Bound?

    public init(name: String, value: Double, unit: String, higherIsBetter: Bool, bound: Bound? = nil) {
        self.name = name
        self.value = value
        self.unit = unit
        self.higherIsBetter = higherIsBetter
        self.bound = bound
    }

    /// The figure as the statistics take it: exact, or known on one side.
    public var measured: Measured {
        switch bound {
        case nil: .exact(value)
        case .atLeast: Measured(lower: value, upper: .infinity)
        case .atMost: Measured(lower: 0, upper: value)  // figures are not negative
        }
    }
}

/// One sample of a time series: `value` at `tSeconds` after the workload started.
public struct SamplePoint: Codable, Sendable, Equatable {
    public var tSeconds: Double
    public var value: Double

    public init(tSeconds: Double, value: Double) {
        self.tSeconds = tSeconds
        self.value = value
    }
}

/// Names of the time series the report knows how to plot.
public enum TimeSeriesName {
    /// The gauge `nr_in_flight` of user and hybrid arms: tasks sent to user space and not back yet.
    public static let inFlight = "nr_in_flight"
}

/// What one arm did on one workload in one round.
public struct RoundRecord: Codable, Sendable, Equatable {
    /// Index of the round in the run order, warm-up rounds first (0-based).
    public var round: Int
    /// Warm-up rounds are kept in the raw data but never enter a statistic.
    public var isWarmup: Bool
    public var arm: Arm
    /// `WorkloadSpec.name`.
    public var workload: String
    /// Nil when the workload failed or its output could not be parsed (see `failure`):
    /// a failed round is never recorded as a 0.
    public var figure: Figure?
    /// Why there is no figure, e.g. a `ParseError`'s description.
    public var failure: String?
    /// Further numbers the parser found (per-thread maxima, per-stressor rates, ...).
    public var details: [String: Double]
    /// From swiftland's tracer, the same instrument for every arm.
    public var runQueueLatency: Log2Histogram?
    /// The scheduler's counters at the end of the round (absent for eevdf).
    public var counters: [String: UInt64]
    /// User and hybrid mode's enqueue-to-decision histogram (`decision_hist`).
    public var decisionLatency: Log2Histogram?
    /// E.g. `TimeSeriesName.inFlight`, sampled while the workload ran.
    public var timeSeries: [String: [SamplePoint]]
    /// What the scheduler itself cost while the workload ran. Nil for eevdf (nothing to
    /// measure), for files written before it was measured, and when the scheduler's
    /// snapshots were missing.
    public var cost: SchedulerCost?
    /// The scheduler process's exit status once stopped with SIGINT (0: a clean exit); nil
    /// for eevdf, for a scheduler that never attached, and in files written before.
    public var schedulerExitStatus: Int32?

    public init(
        round: Int, isWarmup: Bool = false, arm: Arm, workload: String, figure: Figure? = nil,
        failure: String? = nil, details: [String: Double] = [:], runQueueLatency: Log2Histogram? = nil,
        counters: [String: UInt64] = [:], decisionLatency: Log2Histogram? = nil,
        timeSeries: [String: [SamplePoint]] = [:], cost: SchedulerCost? = nil
    ) {
        self.round = round
        self.isWarmup = isWarmup
        self.arm = arm
        self.workload = workload
        self.figure = figure
        self.failure = failure
        self.details = details
        self.runQueueLatency = runQueueLatency
        self.counters = counters
        self.decisionLatency = decisionLatency
        self.timeSeries = timeSeries
        self.cost = cost
    }

    /// A round whose workload output parsed: figure and details filled in.
    public init(round: Int, isWarmup: Bool = false, arm: Arm, workload: String, parsed: ParsedOutput) {
        self.init(round: round, isWarmup: isWarmup, arm: arm, workload: workload,
                  figure: parsed.figure, details: parsed.details)
    }
}
