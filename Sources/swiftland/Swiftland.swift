import ArgumentParser
import BPFLoader

@main
struct Swiftland: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "swiftland",
        abstract: "A sched_ext CPU scheduler for Linux, in BPF and Swift.",
        discussion: """
            swiftland schedules every normal (SCHED_OTHER) task of the machine with its own \
            policy, loaded into the kernel through sched_ext. It needs a kernel with \
            CONFIG_SCHED_CLASS_EXT (Linux 6.12 or later; tested on 7.3) and root. When it \
            exits, or crashes, the kernel's default scheduler takes over again.

            On a kernel without sched_ext, `swiftland vm` boots one under QEMU:
              sudo swiftland vm -- swiftland run --duration 20 --stats 5
            """,
        subcommands: [RunCommand.self, MetricsCommand.self, CompareCommand.self, ReportCommand.self, VMCommand.self])

    @Flag(name: [.customShort("V"), .customLong("version")], help: "Print the version and exit.")
    var printVersion = false

    mutating func run() throws {
        guard printVersion else { throw CleanExit.helpRequest(self) }
        print("swiftland \(Self.version)")
    }
}
