import ArgumentParser
import BPFLoader
import Foundation
import ScxStats
import SwiftlandABI
import SystemPackage
import UserSched

// The command-line options of a swiftland scheduler, in groups: `swiftland run` uses them,
// and so can any program that runs a policy of its own (see `UserModeCommand`). Defaults
// come from SchedulerConfig, which takes them from bpf/intf.h.

private let defaults = SchedulerConfig()

/// The scheduler's tunables, in both modes.
public struct SchedulerOptions: ParsableArguments {
    @Option(name: [.customShort("s"), .long], parsing: .unconditional,
            help: "Longest time slice, in microseconds. The default is the 2024 bpfland value: short enough to keep a desktop responsive, long enough not to thrash caches.")
    public var sliceUs: UInt64 = defaults.sliceUs

    @Option(name: [.customShort("S"), .long], parsing: .unconditional,
            help: "Shortest time slice, in microseconds; the slice never shrinks below it however many tasks wait.")
    public var sliceUsMin: UInt64 = defaults.sliceMinUs

    @Option(name: [.customShort("l"), .long], parsing: .unconditional,
            help: "Slice lag: the most vruntime credit, in microseconds, a task keeps across a sleep, so a long sleeper cannot monopolise a CPU when it wakes. The default is one longest slice.")
    public var sliceUsLag: UInt64 = defaults.sliceLagUs

    @Option(name: [.customShort("c"), .long], parsing: .unconditional,
            help: "Cap of the moving interactive threshold, in voluntary context switches per second. 0 turns classification off: every task is regular.")
    public var nvcswMaxThresh: UInt64 = defaults.nvcswMaxThresh

    @Option(name: [.customShort("t"), .long], parsing: .unconditional,
            help: "Starvation threshold, in microseconds: a queue not served for this long is served first. The default is one longest slice.")
    public var starvationThreshUs: UInt64 = defaults.starvationThreshUs

    @Flag(name: [.customShort("k"), .long], help: "Send per-CPU kernel threads straight to their CPU, ahead of every queue.")
    public var localKthreads = false

    @Option(help: "Wakeup preemption: on, a waking task that finds no idle CPU preempts a CPU whose running task comes after it and has run the shortest slice; off, it waits for a slice to end (the 2024 design).")
    public var preempt: Switch = defaults.preempt ? .on : .off

    @Option(help: "bpf mode: the order of waiting tasks: classes (interactive first, each class by vruntime: the 2024 design) or deadline (one queue, by vruntime plus what a task ran since it woke).")
    public var ordering: Ordering = defaults.ordering

    @Option(parsing: .unconditional, help: "sched_ext watchdog, in milliseconds: a runnable task left waiting longer ejects the scheduler (at most 30000). No task waits more than a quarter of it.")
    public var timeoutMs: UInt32 = defaults.timeoutMs

    @Option(parsing: .unconditional, help: "Bytes of the kernel's debug dump to keep and print when the scheduler is ejected (0: the kernel's default, 32768).")
    public var exitDumpLen: UInt32 = 0

    public init() {}

    /// These tunables over `base`.
    public func apply(to base: SchedulerConfig) -> SchedulerConfig {
        var c = base
        c.sliceUs = sliceUs
        c.sliceMinUs = sliceUsMin
        c.sliceLagUs = sliceUsLag
        c.nvcswMaxThresh = nvcswMaxThresh
        c.starvationThreshUs = starvationThreshUs
        c.localKthreads = localKthreads
        c.preempt = preempt == .on
        c.ordering = ordering
        c.timeoutMs = timeoutMs
        c.exitDumpLen = exitDumpLen
        return c
    }
}

/// user mode's options: how the scheduling thread works and when the kernel side takes over.
/// Unset, each has its default; `given` says which were set (they mean nothing in bpf mode).
public struct UserModeOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Tasks dispatched per loop of the scheduling thread (1: one at a time, as rustland does; more: fewer round trips, more queueing). (default: \(SWL_DEFAULT_BATCH.rawValue))")
    public var batch: Int?

    @Option(help: "How the scheduling thread learns of new tasks: adaptive (woken only when it caught up), always (woken for every task), spin (polls, never sleeps). (default: adaptive)")
    public var wakeup: WakeupPolicy?

    @Option(parsing: .unconditional, help: "A task waiting longer than this, in milliseconds, in user space is dispatched by the kernel side (the fallback bound; at most half of --timeout-ms). (default: \(defaults.fallbackMs))")
    public var fallbackMs: UInt32?

    public init() {}

    /// The options that were set, by name.
    public var given: [String] {
        [("--batch", batch != nil), ("--wakeup", wakeup != nil), ("--fallback-ms", fallbackMs != nil)]
            .filter(\.1).map(\.0)
    }

    public func apply(to base: SchedulerConfig) -> SchedulerConfig {
        var c = base
        if let wakeup { c.wakeup = wakeup }
        if let fallbackMs { c.fallbackMs = fallbackMs }
        return c
    }

    public var loop: LoopOptions {
        var l = LoopOptions()
        if let batch { l.batch = batch }
        if let wakeup { l.wakeup = wakeup }
        return l
    }

    public func validate() throws {
        if let batch, batch < 1 || batch > 4096 { throw ValidationError("--batch must be from 1 to 4096") }
    }
}

/// hybrid mode's options: the control law that decides when the kernel side bypasses user
/// space (bpf/bypass.bpf.h). Unset, each has its default; `given` says which were set.
public struct HybridModeOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: ArgumentHelp("The sojourn target, in microseconds: a task's trip through user space (sent -> its decision back in the kernel) should take less. When the shortest trip over an interval stays above it, tasks queue in user space, and the kernel side schedules new ones itself until user space has caught up. (default: \(defaults.bypassTargetUs))", valueName: "us"))
    public var bypassTargetUs: UInt64?

    @Option(parsing: .unconditional, help: ArgumentHelp("The interval, in microseconds, the shortest trip is taken over: longer rides out bursts, shorter reacts sooner. Above the target, below --fallback-ms. (default: \(defaults.bypassIntervalUs))", valueName: "us"))
    public var bypassIntervalUs: UInt64?

    public init() {}

    /// The options that were set, by name.
    public var given: [String] {
        [("--bypass-target-us", bypassTargetUs != nil), ("--bypass-interval-us", bypassIntervalUs != nil)]
            .filter(\.1).map(\.0)
    }

    public func apply(to base: SchedulerConfig) -> SchedulerConfig {
        var c = base
        if let bypassTargetUs { c.bypassTargetUs = bypassTargetUs }
        if let bypassIntervalUs { c.bypassIntervalUs = bypassIntervalUs }
        return c
    }

    public func validate() throws {
        if let bypassIntervalUs, bypassIntervalUs > 10_000_000 {
            throw ValidationError("--bypass-interval-us must be at most 10000000 (10 s)")
        }
    }
}

/// What a scheduler prints and serves, and how long it runs.
public struct OutputOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: ArgumentHelp("Print the counters every SECS seconds while running (0.1 to 86400).", valueName: "secs"))
    public var stats: Double?

    @Option(help: ArgumentHelp("The UNIX socket the counters and the scheduler's own cost are served on while running (sched-ext's stats protocol), and that --monitor reads.", valueName: "path"))
    public var statsSocket: String = defaultStatsSocketPath

    @Option(parsing: .unconditional, help: ArgumentHelp("Detach after SECS seconds (0.1 to 31536000, a year; default: run until SIGINT or SIGTERM).", valueName: "secs"))
    public var duration: Double?

    @Flag(name: [.customShort("v"), .long], help: ArgumentHelp(
        "More log: -v adds libbpf's messages and the verifier's log, -vv libbpf's debug output.",
        discussion: "Log lines go to standard error; under systemd each carries its priority for the journal."))
    public var verbose: Int

    public init() {}

    /// --stats and --monitor, in seconds. The counters are read every 100 ms, so a shorter
    /// interval means nothing; a day is the longest. Within these bounds the conversion to
    /// milliseconds cannot overflow.
    public static let intervalSeconds: ClosedRange<Double> = 0.1...86_400
    /// --duration, in seconds: from one tick of the watch loop to a year (no bound at all:
    /// leave it out and stop swiftland with a signal).
    public static let durationSeconds: ClosedRange<Double> = 0.1...31_536_000

    public func validate() throws {
        try Self.check("--stats", stats, Self.intervalSeconds)
        try Self.check("--duration", duration, Self.durationSeconds)
    }

    public static func check(_ name: String, _ value: Double?, _ range: ClosedRange<Double>) throws {
        guard let value, !range.contains(value) else { return }
        func format(_ seconds: Double) -> String {
            seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
        }
        throw ValidationError("\(name) must be from \(format(range.lowerBound)) to \(format(range.upperBound)) seconds, got \(value)")
    }
}

/// Options for tests and experiments, hidden from `--help`: they make congestion happen.
public struct HiddenOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: ArgumentHelp("user mode: size of each ring buffer in KiB (power of two; small rings force congestion).", visibility: .hidden))
    public var ringKib: UInt32?

    @Option(parsing: .unconditional, help: ArgumentHelp("user mode: sleep this long, in microseconds, in every loop of the scheduling thread, to force the fallback bound.", visibility: .hidden))
    public var loopDelayUs: UInt32?

    @Option(help: ArgumentHelp("Load this BPF object instead of the built-in one.", valueName: "path", visibility: .hidden))
    public var bpfObject: String?

    public init() {}

    /// The user-mode options that were set, by name.
    public var givenForUserMode: [String] {
        [("--ring-kib", ringKib != nil), ("--loop-delay-us", loopDelayUs != nil)].filter(\.1).map(\.0)
    }

    public func validate() throws {
        if let loopDelayUs, loopDelayUs > 1_000_000 { throw ValidationError("--loop-delay-us must be at most 1000000") }
    }

    /// The BPF object to load instead of the built-in one, if one was named.
    public func objectBytes() throws(SchedulerError) -> [UInt8]? {
        guard let bpfObject else { return nil }
        guard let data = FileManager.default.contents(atPath: bpfObject) else {
            throw .unreadableObject(path: bpfObject, errno: Errno(rawValue: errno))
        }
        return [UInt8](data)
    }
}

/// An option that is on or off.
public enum Switch: String, Sendable, CaseIterable, ExpressibleByArgument {
    case on, off
}

extension WakeupPolicy: ExpressibleByArgument {}
extension Ordering: ExpressibleByArgument {}
