import ArgumentParser
import SwiftlandUserMode
import UserSched

/// swiftland in user mode with a hostile policy around bpf mode's rules, for the fault suite
/// (Tests/vm/faults.sh): built on SwiftlandUserMode as a policy of your own would be, so that
/// no test hook lives in swiftland itself.
struct Hostile: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiftland-hostile",
        abstract: "swiftland in user mode with a hostile policy (the fault suite's).",
        discussion: """
            --records: once, after 100 decisions, dispatch records the kernel side must \
            reject (HostilePolicy); prints how many it handed out when it stops.
            --flood-cpu N: every decision names CPU N, even an offline one, except those \
            about tasks pinned to N (FloodingPolicy).
            """)

    @OptionGroup var options: SchedulerCommandOptions

    @Flag(help: "Hand out hostile dispatch records once.")
    var records = false

    @Option(parsing: .unconditional, help: ArgumentHelp("Send every decision to this CPU.", valueName: "cpu"))
    var floodCpu: Int32?

    func validate() throws {
        guard records != (floodCpu != nil) else { throw ValidationError("give exactly one of --records and --flood-cpu") }
        if let floodCpu, floodCpu < 0 || floodCpu >= 1024 {
            throw ValidationError("--flood-cpu must be a CPU number from 0 to 1023")
        }
    }

    func run() throws {
        let config = try options.settings(mode: .user).policyConfig
        if let cpu = floodCpu {
            try options.runInUserSpace(policyName: "flooding(bpfland, cpu \(cpu))") {
                FloodingPolicy(wrapping: BpflandPolicy(config: config), cpu: cpu)
            }
            return
        }
        let tally = Tally()
        defer { print("swiftland-hostile: hostile_sent=\(tally.hostileRecords.load(ordering: .relaxed))") }
        try options.runInUserSpace(policyName: "hostile(bpfland)") {
            HostilePolicy(wrapping: BpflandPolicy(config: config), tally: tally)
        }
    }
}

Hostile.main()
