import ArgumentParser
import BPFLoader
import Foundation
import Glibc
import Logging
import ScxStats
import SwiftlandUserMode
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
            wakeup. Time slices shrink as more tasks wait. A task that wakes when no CPU is \
            idle preempts a CPU whose running task comes after it and has had its shortest \
            slice (--preempt; off is the 2024 design); --ordering deadline puts every \
            waiting task in one queue by deadline instead of two classes.

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

            hybrid mode (--mode hybrid) is user mode with a bypass, after CoDel: the kernel \
            side measures each trip (task sent -> its decision back) and, when the shortest \
            trip over an interval (--bypass-interval-us) stays above a target \
            (--bypass-target-us), tasks are queueing in user space: it stops sending, \
            schedules new tasks with bpf mode's policy, and recalls the trips older than the \
            target, until user space has caught up; then the Swift policy decides again. \
            The kernel side charges every run to each task's vruntime, so the policy's books \
            stay right across the bypass. `--stats` shows in_bypass, bypass_ns and who \
            decided (nr_user_dispatches, nr_bypass_dispatches).

            Needs CAP_SYS_ADMIN and CAP_BPF (root) and a sched_ext kernel; see `swiftland vm`.
            """)

    @Option(help: "Where the policy runs: bpf (in the kernel), user (in this process, over ring buffers) or hybrid (user, bypassed by the kernel's policy while tasks queue in user space).")
    var mode: SchedulerMode = .bpf

    @Option(help: "user and hybrid mode: the Swift policy: \(PolicyName.allCases.map(\.rawValue).joined(separator: ", ")).")
    var policy: String = PolicyName.bpfland.rawValue

    @OptionGroup var options: SchedulerCommandOptions

    @Option(parsing: .unconditional, help: ArgumentHelp("Print the counters of the swiftland already running, every SECS seconds (0.1 to 86400), through its stats socket; loads nothing. Ends when that swiftland stops, or on SIGINT.", valueName: "secs"))
    var monitor: Double?

    @Flag(help: "Describe every counter (meaning, type, unit) and exit.")
    var helpStats = false

    @Flag(name: [.customShort("V"), .customLong("version")], help: "Print the version and exit.")
    var printVersion = false

    /// The tunables as the scheduler will use them.
    var config: SchedulerConfig { options.config(mode: mode) }

    func validate() throws {
        try OutputOptions.check("--monitor", monitor, OutputOptions.intervalSeconds)
        try options.validate(mode: mode)
        do {
            _ = try PolicyName(validating: policy)
        } catch {
            throw ValidationError(error.description)
        }
        if mode == .bpf && policy != PolicyName.bpfland.rawValue {
            throw ValidationError("--policy applies to --mode user and --mode hybrid only")
        }
        if let problem = Self.policyConfig(options).problem() { throw ValidationError(problem) }
    }

    /// The built-in policies' tunables, from the scheduler's.
    static func policyConfig(_ options: SchedulerCommandOptions) -> PolicyConfig {
        (try? options.settings(mode: .user))?.policyConfig ?? PolicyConfig()
    }

    func run() throws {
        Log.setUp(verbosity: options.output.verbose)
        if printVersion {
            print("swiftland \(Swiftland.version)")
            return
        }
        if helpStats {
            print(RunStats.schema.helpText)
            return
        }
        if let monitor {
            throw ExitCode(StatsMonitor(path: options.output.statsSocket, intervalMs: Int((monitor * 1000).rounded())).run())
        }
        let ok: Bool
        do {
            let settings = try options.settings(mode: mode)
            switch mode {
            case .bpf: ok = try Scheduler.runInKernel(settings)
            case .user, .hybrid:
                ok = try PolicyName(validating: policy).use(config: settings.policyConfig, RunBuiltIn(settings: settings))
            }
        } catch {
            Log.swiftland.error("\(error)")
            throw ExitCode(1)
        }
        if !ok { throw ExitCode(1) }
    }

    /// Runs a built-in policy (`PolicyName.use`, the one table of them).
    struct RunBuiltIn: PolicyUser {
        let settings: RunSettings

        func use<Policy: SchedulingPolicy & ~Copyable>(
            _ name: PolicyName, _ make: @escaping @Sendable () -> Policy
        ) throws -> Bool {
            try Scheduler.runInUserSpace(settings, policyName: name.rawValue, policy: make)
        }
    }
}

extension SchedulerMode: ExpressibleByArgument {}
