// A program with a policy of its own needs this one import: the policy API (UserSched) and
// the records it reads and writes (SwiftlandABI) come with it.
@_exported import SwiftlandABI
@_exported import UserSched
import ArgumentParser
import BPFLoader
import Glibc
import ScxStats

/// Runs swiftland: its kernel side, and in user mode a policy of yours on the scheduling
/// thread. Both calls load the scheduler, attach it, print the counters every
/// `statsInterval`, serve them on `statsSocket`, and run until SIGINT or SIGTERM (or
/// `duration`); they load it again when the kernel asks (CPU hotplug), and return false when
/// the kernel ejected it or the scheduling thread failed. SIGINT and SIGTERM are blocked in
/// the calling process from the start: call them from the main thread, before any other.
public enum Scheduler {
    /// bpf mode: the whole policy in the kernel.
    public static func runInKernel(_ settings: RunSettings) throws(SchedulerError) -> Bool {
        var config = settings.config
        config.mode = .bpf
        return try runner(settings, config, makeLoop: nil).run()
    }

    /// user mode: every task that finds no idle CPU goes to `policy`, made once per
    /// attachment on the scheduling thread, and comes back as its decision. hybrid mode when
    /// `settings.config.mode` says so: the same, but the kernel side schedules with bpf
    /// mode's policy while tasks queue in user space.
    public static func runInUserSpace<Policy: SchedulingPolicy & ~Copyable>(
        _ settings: RunSettings, policyName: String, policy: @escaping @Sendable () -> Policy
    ) throws(SchedulerError) -> Bool {
        var config = settings.config
        if !config.mode.usesUserSpace { config.mode = .user }
        let loop = settings.loop
        return try runner(settings, config) {
            SchedulingThread(options: loop, policyName: policyName, makePolicy: policy)
        }.run()
    }

    private static func runner(_ s: RunSettings, _ config: SchedulerConfig, makeLoop: (() -> any SchedulingLoop)?) -> Runner {
        Runner(config: config, makeLoop: makeLoop, verbose: s.verbose, objectBytes: s.objectBytes,
               statsInterval: s.statsInterval, duration: s.duration, signals: SignalWaiter([SIGINT, SIGTERM]),
               statsSocket: s.statsSocket)
    }
}

/// Everything a run needs besides the policy.
public struct RunSettings: Sendable {
    public var config: SchedulerConfig
    public var loop: LoopOptions
    public var statsInterval: Double?
    public var duration: Double?
    public var statsSocket: String
    public var verbose: Bool
    /// A BPF object to load instead of the built-in one.
    public var objectBytes: [UInt8]?

    public init(config: SchedulerConfig = SchedulerConfig(), loop: LoopOptions = LoopOptions(),
                statsInterval: Double? = nil, duration: Double? = nil,
                statsSocket: String = defaultStatsSocketPath, verbose: Bool = false, objectBytes: [UInt8]? = nil) {
        self.config = config
        self.loop = loop
        self.statsInterval = statsInterval
        self.duration = duration
        self.statsSocket = statsSocket
        self.verbose = verbose
        self.objectBytes = objectBytes
    }

    /// The policies' tunables: the scheduler's slices, lag and thresholds, in nanoseconds,
    /// and this machine's online CPUs.
    public var policyConfig: PolicyConfig {
        var pc = PolicyConfig()
        pc.sliceNs = config.sliceUs * 1000
        pc.sliceMinNs = config.sliceMinUs * 1000
        pc.sliceLagNs = config.sliceLagUs * 1000
        pc.starvationThreshNs = config.starvationThreshUs * 1000
        pc.nvcswMaxThresh = config.nvcswMaxThresh
        pc.nrCPUs = max(Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), 1)
        return pc
    }
}

/// The options every swiftland scheduler program has: the tunables, user mode's options,
/// output, and the hidden ones for tests. A program that runs a policy of its own needs
/// only this and one call:
///
///     @main struct MyScheduler: ParsableCommand {
///         @OptionGroup var options: SchedulerCommandOptions
///         func run() throws { try options.runInUserSpace(policyName: "mine") { MyPolicy() } }
///     }
public struct SchedulerCommandOptions: ParsableArguments {
    @OptionGroup(title: "Scheduler") public var scheduler: SchedulerOptions
    @OptionGroup(title: "User mode") public var userMode: UserModeOptions
    @OptionGroup(title: "Hybrid mode") public var hybridMode: HybridModeOptions
    @OptionGroup(title: "Output") public var output: OutputOptions
    @OptionGroup(title: "Hidden", visibility: .hidden) public var hidden: HiddenOptions

    public init() {}

    /// The settings for a run in `mode`.
    public func settings(mode: SchedulerMode) throws(SchedulerError) -> RunSettings {
        RunSettings(config: config(mode: mode), loop: loop, statsInterval: output.stats, duration: output.duration,
                    statsSocket: output.statsSocket, verbose: output.verbose > 0, objectBytes: try hidden.objectBytes())
    }

    public func config(mode: SchedulerMode) -> SchedulerConfig {
        var c = hybridMode.apply(to: userMode.apply(to: scheduler.apply(to: SchedulerConfig())))
        c.mode = mode
        if let ring = hidden.ringKib { c.ringKiB = ring }
        return c
    }

    public var loop: LoopOptions {
        var l = userMode.loop
        if let delay = hidden.loopDelayUs { l.loopDelayUs = delay }
        return l
    }

    /// Checks the options as a run in `mode` would use them: what does not fit that mode,
    /// and the first inconsistency of the tunables.
    public func validate(mode: SchedulerMode) throws {
        if mode == .bpf, let name = (userMode.given + hidden.givenForUserMode).first {
            throw ValidationError("\(name) applies to --mode user and --mode hybrid only")
        }
        if mode != .hybrid, let name = hybridMode.given.first {
            throw ValidationError("\(name) applies to --mode hybrid only")
        }
        if let problem = config(mode: mode).problem() { throw ValidationError(problem) }
    }

    /// Runs `policy` in user mode, or in hybrid mode (see `Scheduler`); exits 1 with the
    /// reason on standard error when it could not start, the kernel ejected it or its thread
    /// failed.
    public func runInUserSpace<Policy: SchedulingPolicy & ~Copyable>(
        policyName: String, mode: SchedulerMode = .user, policy: @escaping @Sendable () -> Policy
    ) throws {
        Log.setUp(verbosity: output.verbose)
        let mode = mode.usesUserSpace ? mode : .user
        try validate(mode: mode)
        let ok: Bool
        do {
            ok = try Scheduler.runInUserSpace(try settings(mode: mode), policyName: policyName, policy: policy)
        } catch {
            Log.swiftland.error("\(error)")
            throw ExitCode(1)
        }
        if !ok { throw ExitCode(1) }
    }
}

/// The histogram lines `swiftland run` prints at exit in user mode.
public enum RunOutput {
    /// The final enqueue-to-decision histogram: `swiftland: decision_hist_us=c0,c1,...`
    /// (count per log2 microsecond bucket, as bpf/intf.h keeps it).
    public static let decisionHistogramPrefix = Counters.decisionHistogramName + "="
    /// The last hop's histogram, from a decision drained to the task running (same buckets).
    public static let runHistogramPrefix = Counters.runHistogramName + "="
}
