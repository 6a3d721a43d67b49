import Testing
import VMRunner
@testable import swiftland

/// `swiftland vm`'s command line, made into the VM runner's options.
@Suite("vm command: options")
struct VMCommandTests {
    @Test func commandLineParsing() throws {
        let command = try VMCommand.parse(["--cpus", "4", "--memory", "1G", "--timeout", "30", "--", "uname", "-r"])
        let options = try command.makeOptions()
        #expect(options.cpus == 4)
        #expect(options.memoryMiB == 1024)
        #expect(options.timeout == 30)
        #expect(options.command == "uname -r")
        #expect(options.accelerator == .auto)

        let defaults = try VMCommand.parse(["--", "true"]).makeOptions()
        #expect(defaults.cpus == 2)
        #expect(defaults.memoryMiB == 2048)
        #expect(defaults.timeout == nil)
        #expect(defaults.kernel == nil)
    }

    @Test(arguments: [
        ["--cpus", "0", "--", "true"], ["--cpus", "65", "--", "true"], ["--memory", "100M", "--", "true"],
        ["--memory", "lots", "--", "true"], ["--"], [], ["--timeout", "0", "--", "true"],
        ["--timeout", "-5", "--", "true"], ["--accel", "hvf", "--", "true"],
        ["--kernel", "/etc/hostname", "--", "true"], ["--kernel", "/nonexistent", "--", "true"],
        ["--results", "results:out", "--", "true"], ["--add", "relative/path", "--", "true"],
    ])
    func invalidCommandLinesAreRejected(arguments: [String]) {
        #expect(throws: (any Error).self) {
            let command = try VMCommand.parse(arguments)
            _ = try command.makeOptions()
        }
    }

    @Test func helpTeaches() {
        let help = VMCommand.helpMessage()
        for needle in ["TCG", "KVM", "trixie-backports", "125", "124", "BOOT FAILURE", "--results", "--add"] {
            #expect(help.contains(needle), "help lacks \(needle)")
        }
    }
}
