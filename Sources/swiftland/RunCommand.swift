import ArgumentParser
import BPFLoader
import Foundation
import Glibc

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

            Needs CAP_SYS_ADMIN and CAP_BPF (root) and a sched_ext kernel; see `swiftland vm`.
            """)

    enum Mode: String, ExpressibleByArgument, CaseIterable {
        case bpf
    }

    @Option(help: "Where the policy runs: bpf (in the kernel).")
    var mode: Mode = .bpf

    @Option(name: [.customShort("s"), .long],
            help: "Longest time slice, in microseconds. The default (5 ms) is the 2024 bpfland value: short enough to keep a desktop responsive, long enough not to thrash caches.")
    var sliceUs: UInt64 = 5000

    @Option(name: [.customShort("S"), .long],
            help: "Shortest time slice, in microseconds; the slice never shrinks below it however many tasks wait (default 0.5 ms).")
    var sliceUsMin: UInt64 = 500

    @Option(name: [.customShort("l"), .long],
            help: "Slice lag: the most vruntime credit, in microseconds, a task keeps across a sleep, so a long sleeper cannot monopolise a CPU when it wakes (default: one longest slice).")
    var sliceUsLag: UInt64 = 5000

    @Option(name: [.customShort("c"), .long],
            help: "Cap of the moving interactive threshold, in voluntary context switches per second. 0 turns classification off: every task is regular (default 10).")
    var nvcswMaxThresh: UInt64 = 10

    @Option(name: [.customShort("t"), .long],
            help: "Starvation threshold, in microseconds: a queue not served for this long is served first (default 5 ms, one slice).")
    var starvationThreshUs: UInt64 = 5000

    @Flag(name: [.customShort("k"), .long],
          help: "Send per-CPU kernel threads straight to their CPU, ahead of every queue.")
    var localKthreads = false

    @Option(help: "sched_ext watchdog, in milliseconds: a runnable task left waiting longer ejects the scheduler (default 5000, at most 30000).")
    var timeoutMs: UInt32 = 5000

    @Option(help: "Bytes of the kernel's debug dump to keep and print when the scheduler is ejected (0: the kernel's default, 32768).")
    var exitDumpLen: UInt32 = 0

    @Option(help: ArgumentHelp("Print the counters every SECS seconds while running.", valueName: "secs"))
    var stats: Double?

    @Option(help: ArgumentHelp("Detach after SECS seconds (default: run until SIGINT or SIGTERM).", valueName: "secs"))
    var duration: Double?

    @Flag(name: [.customShort("v"), .long], help: "Print libbpf's messages and the verifier's log.")
    var verbose = false

    @Flag(name: [.customShort("V"), .customLong("version")], help: "Print the version and exit.")
    var printVersion = false

    @Option(help: ArgumentHelp("Load this BPF object instead of the built-in one (for tests).", valueName: "path", visibility: .hidden))
    var bpfObject: String?

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
        return c
    }

    func validate() throws {
        if let problem = config.problem() { throw ValidationError(problem) }
        if let stats, !(stats > 0 && stats.isFinite) { throw ValidationError("--stats must be a number of seconds above 0") }
        if let duration, !(duration > 0 && duration.isFinite) {
            throw ValidationError("--duration must be a number of seconds above 0")
        }
    }

    func run() throws {
        if printVersion {
            print("swiftland \(Swiftland.version)")
            return
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
            config: config, verbose: verbose, objectBytes: objectBytes,
            statsInterval: stats, duration: duration, signals: stopSignals)
        do {
            let ok = try runner.run()
            if !ok { throw ExitCode(1) }
        } catch let error as SchedulerError {
            throw fail(error.description)
        }
    }

    private func fail(_ message: String) -> ExitCode {
        Terminal.error("swiftland: error: \(message)")
        return ExitCode(1)
    }
}
