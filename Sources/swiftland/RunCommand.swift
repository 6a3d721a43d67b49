import ArgumentParser
import BPFLoader
import Foundation
import Glibc
import Logging
import ScxStats
import UserSched

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Load swiftland and schedule this machine's tasks with it.",
        discussion: """
            bpf mode (the default) runs the whole policy inside the kernel, after the 2024 \
            design of scx_bpfland: a task that wakes up goes straight to an idle CPU if there \
            is one; otherwise it waits in a priority queue (interactive tasks) or a shared \
            queue (regular tasks), both ordered by vruntime. A task is interactive when its \
            rate of voluntary context switches reaches a moving threshold, or after a sync \
            wakeup. Time slices shrink as more tasks wait.

            It runs until SIGINT or SIGTERM (or --duration), then detaches, prints why it \
            stopped and its counters, and exits 0. If the kernel ejects it (for example the \
            watchdog saw a task wait longer than --timeout-ms), it prints the kernel's reason \
            and exits 1; either way the kernel's default scheduler takes over. After a CPU \
            hotplug the kernel asks for a restart, and swiftland loads itself again.

            user mode (--mode user) keeps the kernel side's direct dispatch to idle CPUs and \
            sends every other task over a BPF ring buffer to a policy written in Swift \
            (--policy), whose decisions come back over a second ring: the design of \
            scx_rustland. Comparing `--mode user --policy bpfland` with bpf mode isolates \
            what the trip through user space costs. A task that waits in user space longer \
            than --fallback-ms, or that finds the ring full, is dispatched by the kernel \
            side itself; if swiftland dies, the kernel takes every task back.

            Needs CAP_SYS_ADMIN and CAP_BPF (root) and a sched_ext kernel; see `swiftland vm`.
            """)

    @Option(help: "Where the policy runs: bpf (in the kernel) or user (in this process, over ring buffers).")
    var mode: SchedulerMode = .bpf

    @Option(name: [.customShort("s"), .long], parsing: .unconditional,
            help: "Longest time slice, in microseconds. The default (5 ms) is the 2024 bpfland value: short enough to keep a desktop responsive, long enough not to thrash caches.")
    var sliceUs: UInt64 = 5000

    @Option(name: [.customShort("S"), .long], parsing: .unconditional,
            help: "Shortest time slice, in microseconds; the slice never shrinks below it however many tasks wait.")
    var sliceUsMin: UInt64 = 500

    @Option(name: [.customShort("l"), .long], parsing: .unconditional,
            help: "Slice lag: the most vruntime credit, in microseconds, a task keeps across a sleep, so a long sleeper cannot monopolise a CPU when it wakes. The default is one longest slice.")
    var sliceUsLag: UInt64 = 5000

    @Option(name: [.customShort("c"), .long], parsing: .unconditional,
            help: "Cap of the moving interactive threshold, in voluntary context switches per second. 0 turns classification off: every task is regular.")
    var nvcswMaxThresh: UInt64 = 10

    @Option(name: [.customShort("t"), .long], parsing: .unconditional,
            help: "Starvation threshold, in microseconds: a queue not served for this long is served first. The default is one longest slice.")
    var starvationThreshUs: UInt64 = 5000

    @Flag(name: [.customShort("k"), .long],
          help: "Send per-CPU kernel threads straight to their CPU, ahead of every queue.")
    var localKthreads = false

    @Option(parsing: .unconditional, help: "sched_ext watchdog, in milliseconds: a runnable task left waiting longer ejects the scheduler (at most 30000).")
    var timeoutMs: UInt32 = 5000

    @Option(parsing: .unconditional, help: "Bytes of the kernel's debug dump to keep and print when the scheduler is ejected (0: the kernel's default, 32768).")
    var exitDumpLen: UInt32 = 0

    @Option(help: "user mode: the Swift policy: bpfland (bpf mode's rules), vruntime (rustland's), fifo.")
    var policy: String = PolicyName.bpfland.rawValue

    /// The A/B run in the README: with 1, thousands of tasks per hackbench round outwait the
    /// fallback bound; with 8 almost none, and user mode is level with bpf mode.
    static let defaultBatch = 8

    @Option(parsing: .unconditional, help: "user mode: tasks dispatched per loop of the scheduling thread (1: one at a time, as rustland does; more: fewer round trips, more queueing).")
    var batch: Int = RunCommand.defaultBatch

    @Option(help: "user mode: how the scheduling thread learns of new tasks: adaptive (woken only when it caught up), always (woken for every task), spin (polls, never sleeps).")
    var wakeup: WakeupPolicy = .adaptive

    @Option(parsing: .unconditional, help: "user mode: a task waiting longer than this in user space is dispatched by the kernel side (the fallback bound; at most half of --timeout-ms).")
    var fallbackMs: UInt32 = 50

    @Option(parsing: .unconditional, help: "user mode, test hook: size of each ring buffer in KiB (power of two; small rings force congestion).")
    var ringKib: UInt32 = 512

    @Option(parsing: .unconditional, help: "user mode, test hook: sleep this long in every loop of the scheduling thread, to force the fallback bound.")
    var loopDelayUs: UInt32 = 0

    @Option(parsing: .unconditional, help: ArgumentHelp("Print the counters every SECS seconds while running (0.1 to 86400).", valueName: "secs"))
    var stats: Double?

    @Option(parsing: .unconditional, help: ArgumentHelp("Print the counters of the swiftland already running, every SECS seconds (0.1 to 86400), through its stats socket; loads nothing. Ends when that swiftland stops, or on SIGINT.", valueName: "secs"))
    var monitor: Double?

    @Flag(help: "Describe every counter (meaning, type, unit) and exit.")
    var helpStats = false

    @Option(help: ArgumentHelp("The UNIX socket the counters are served on while running (sched-ext's stats protocol), and that --monitor reads.", valueName: "path"))
    var statsSocket: String = defaultStatsSocketPath

    @Option(parsing: .unconditional, help: ArgumentHelp("Detach after SECS seconds (0.1 to 31536000, a year; default: run until SIGINT or SIGTERM).", valueName: "secs"))
    var duration: Double?

    @Flag(name: [.customShort("v"), .long], help: ArgumentHelp(
        "More log: -v adds libbpf's messages and the verifier's log, -vv libbpf's debug output.",
        discussion: "Log lines go to standard error; under systemd each carries its priority for the journal."))
    var verbose: Int

    @Flag(name: [.customShort("V"), .customLong("version")], help: "Print the version and exit.")
    var printVersion = false

    @Option(help: ArgumentHelp("Load this BPF object instead of the built-in one (for tests).", valueName: "path", visibility: .hidden))
    var bpfObject: String?

    @Flag(help: ArgumentHelp("Test hook, user mode: send hostile dispatch records once through the real ring (see HostileRecords.swift).", visibility: .hidden))
    var testHostileRecords = false

    @Option(parsing: .unconditional, help: ArgumentHelp("Test hook, user mode: every decision names this CPU, even an offline one (FloodingPolicy in HostileRecords.swift).", valueName: "cpu", visibility: .hidden))
    var testFloodCpu: Int32?

    var config: SchedulerConfig {
        var c = SchedulerConfig()
        c.sliceUs = sliceUs
        c.sliceMinUs = sliceUsMin
        c.sliceLagUs = sliceUsLag
        c.nvcswMaxThresh = nvcswMaxThresh
        c.starvationThreshUs = starvationThreshUs
        c.localKthreads = localKthreads
        c.timeoutMs = timeoutMs
        c.exitDumpLen = exitDumpLen
        c.mode = mode
        c.wakeup = wakeup
        c.fallbackMs = fallbackMs
        c.ringKiB = ringKib
        return c
    }

    /// user mode's loop options; nil in bpf mode. Throws on an unknown policy.
    func userOptions() throws -> SchedulingThread.Options? {
        guard mode == .user else { return nil }
        let name = try PolicyName(validating: policy)
        var pc = PolicyConfig()
        pc.sliceNs = sliceUs * 1000
        pc.sliceMinNs = sliceUsMin * 1000
        pc.sliceLagNs = sliceUsLag * 1000
        pc.starvationThreshNs = starvationThreshUs * 1000
        pc.nvcswMaxThresh = nvcswMaxThresh
        pc.nrCPUs = max(Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), 1)
        if let problem = pc.problem() { throw ValidationError(problem) }
        return .init(policy: name, policyConfig: pc, batch: batch, wakeup: wakeup, loopDelayUs: loopDelayUs,
                     hostileRecords: testHostileRecords, floodCPU: testFloodCpu)
    }

    /// --stats and --monitor, in seconds. The counters are read every 100 ms, so a shorter
    /// interval means nothing; a day is the longest. Within these bounds the conversion to
    /// milliseconds cannot overflow.
    static let intervalSeconds: ClosedRange<Double> = 0.1...86_400
    /// --duration, in seconds: from one tick of the watch loop to a year (no bound at all:
    /// leave it out and stop swiftland with a signal).
    static let durationSeconds: ClosedRange<Double> = 0.1...31_536_000

    private static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }

    func validate() throws {
        if let problem = config.problem() { throw ValidationError(problem) }
        for (name, value, range) in [("--stats", stats, Self.intervalSeconds), ("--monitor", monitor, Self.intervalSeconds),
                                     ("--duration", duration, Self.durationSeconds)] {
            if let value, !range.contains(value) {
                throw ValidationError("\(name) must be from \(Self.format(range.lowerBound)) to \(Self.format(range.upperBound)) seconds, got \(value)")
            }
        }
        if batch < 1 || batch > 4096 { throw ValidationError("--batch must be from 1 to 4096") }
        if loopDelayUs > 1_000_000 { throw ValidationError("--loop-delay-us must be at most 1000000") }
        if let testFloodCpu, testFloodCpu < 0 || testFloodCpu >= 1024 {
            throw ValidationError("--test-flood-cpu must be a CPU number from 0 to 1023")
        }
        do {
            _ = try userOptions()
        } catch let error as PolicyError {
            throw ValidationError(error.description)
        }
        if mode == .bpf {
            let userOnly: [(String, Bool)] = [
                ("--policy", policy != PolicyName.bpfland.rawValue), ("--batch", batch != Self.defaultBatch),
                ("--wakeup", wakeup != .adaptive), ("--fallback-ms", fallbackMs != 50),
                ("--ring-kib", ringKib != 512), ("--loop-delay-us", loopDelayUs != 0),
                ("--test-hostile-records", testHostileRecords), ("--test-flood-cpu", testFloodCpu != nil),
            ]
            if let (name, _) = userOnly.first(where: { $0.1 }) {
                throw ValidationError("\(name) applies to --mode user only")
            }
        }
    }

    func run() throws {
        Log.setUp(verbosity: verbose)
        if printVersion {
            print("swiftland \(Swiftland.version)")
            return
        }
        if helpStats {
            print(CounterDefinition.schema.helpText)
            return
        }
        if let monitor {
            throw ExitCode(StatsMonitor(path: statsSocket, intervalMs: Int((monitor * 1000).rounded())).run())
        }
        var objectBytes: [UInt8]?
        if let bpfObject {
            guard let data = FileManager.default.contents(atPath: bpfObject) else {
                throw fail("cannot read the BPF object \(bpfObject)")
            }
            objectBytes = [UInt8](data)
        }
        let stopSignals = SignalWaiter([SIGINT, SIGTERM])
        let runner = Runner(
            config: config, userOptions: try userOptions(), verbose: verbose > 0, objectBytes: objectBytes,
            statsInterval: stats, duration: duration, signals: stopSignals, statsSocket: statsSocket)
        do {
            let ok = try runner.run()
            if !ok { throw ExitCode(1) }
        } catch let error as SchedulerError {
            throw fail(error.description)
        }
    }

    private func fail(_ message: String) -> ExitCode {
        Log.swiftland.error("\(message)")
        return ExitCode(1)
    }
}

extension SchedulerMode: ExpressibleByArgument {}
extension WakeupPolicy: ExpressibleByArgument {}
