import ArgumentParser
import SwiftlandUserMode
import UserSched

/// swiftland in user mode (or hybrid mode, --hybrid) with a hostile policy around bpf mode's
/// rules, for the fault suite (Tests/vm/faults.sh): built on SwiftlandUserMode as a policy of
/// your own would be, so that no test hook lives in swiftland itself.
struct Hostile: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiftland-hostile",
        abstract: "swiftland in user or hybrid mode with a hostile policy (the fault suite's).",
        discussion: """
            --records: once, after 100 decisions, dispatch records the kernel side must \
            reject (HostilePolicy); prints how many it handed out when it stops.
            --flood-cpu N: every decision names CPU N, even an offline one, except those \
            about tasks pinned to N (FloodingPolicy).
            --slow-ms MS: from 1 s after the scheduling thread starts, for MS milliseconds, \
            sleeps --slow-delay-us in every call of the policy's next (SlowPolicy); prints \
            how many calls it slowed when it stops.
            """)

    @OptionGroup var options: SchedulerCommandOptions

    @Flag(help: "Run in hybrid mode (the kernel side bypasses a slow scheduling thread).")
    var hybrid = false

    @Flag(help: "Hand out hostile dispatch records once.")
    var records = false

    @Option(parsing: .unconditional, help: ArgumentHelp("Send every decision to this CPU.", valueName: "cpu"))
    var floodCpu: Int32?

    @Option(parsing: .unconditional, help: ArgumentHelp("Be slow for this long, from 1 s after the start.", valueName: "ms"))
    var slowMs: UInt32?

    @Option(parsing: .unconditional, help: ArgumentHelp("With --slow-ms: the sleep in every call of next.", valueName: "us"))
    var slowDelayUs: UInt32 = 2000

    func validate() throws {
        guard [records, floodCpu != nil, slowMs != nil].filter({ $0 }).count == 1 else {
            throw ValidationError("give exactly one of --records, --flood-cpu and --slow-ms")
        }
        if let floodCpu, floodCpu < 0 || floodCpu >= 1024 {
            throw ValidationError("--flood-cpu must be a CPU number from 0 to 1023")
        }
        if slowDelayUs > 1_000_000 { throw ValidationError("--slow-delay-us must be at most 1000000") }
    }

    func run() throws {
        let config = try options.settings(mode: hybrid ? .hybrid : .user).policyConfig
        if let cpu = floodCpu {
            try options.runInUserSpace(policyName: "flooding(bpfland, cpu \(cpu))", mode: hybrid ? .hybrid : .user) {
                FloodingPolicy(wrapping: BpflandPolicy(config: config), cpu: cpu)
            }
            return
        }
        let tally = Tally()
        if let slowMs {
            let delayUs = slowDelayUs
            defer { print("swiftland-hostile: slow_calls=\(tally.slowCalls.load(ordering: .relaxed))") }
            try options.runInUserSpace(policyName: "slow(bpfland)", mode: hybrid ? .hybrid : .user) {
                SlowPolicy(wrapping: BpflandPolicy(config: config), tally: tally,
                           slowNs: UInt64(slowMs) * 1_000_000, delayUs: delayUs)
            }
            return
        }
        defer { print("swiftland-hostile: hostile_sent=\(tally.hostileRecords.load(ordering: .relaxed))") }
        try options.runInUserSpace(policyName: "hostile(bpfland)", mode: hybrid ? .hybrid : .user) {
            HostilePolicy(wrapping: BpflandPolicy(config: config), tally: tally)
        }
    }
}

Hostile.main()
