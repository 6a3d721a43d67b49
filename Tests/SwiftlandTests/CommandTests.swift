import Foundation
import Testing

/// The built `swiftland` binary, run as a user would, for the errors that need no
/// sched_ext kernel. (The VM suite, Tests/vm/integration.sh, covers the rest.)
@Suite("swiftland command on this host")
struct CommandTests {
    /// SwiftPM puts the test bundle beside the products it was built with.
    static let binary: String = {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        return dir.appending(path: "swiftland").path
    }()

    static let capsh = ["/usr/sbin/capsh", "/sbin/capsh"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let isRoot = getuid() == 0
    static let hostHasSchedExt = FileManager.default.fileExists(atPath: "/sys/kernel/sched_ext")

    struct Result { var status: Int32; var output: String }

    static func run(_ executable: String, _ arguments: [String]) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }

    @Test func versionAndHelp() throws {
        let version = try Self.run(Self.binary, ["-V"])
        #expect(version.status == 0)
        #expect(version.output.hasPrefix("swiftland "))
        let help = try Self.run(Self.binary, ["run", "--help"])
        #expect(help.status == 0)
        for option in ["--slice-us", "--slice-us-min", "--slice-us-lag", "--nvcsw-max-thresh", "--starvation-thresh-us",
                       "--local-kthreads", "--timeout-ms", "--stats", "--duration", "--exit-dump-len", "--verbose"] {
            #expect(help.output.contains(option), "run --help lists \(option)")
        }
    }

    @Test func invalidOptionIsAUsageError() throws {
        let r = try Self.run(Self.binary, ["run", "-s", "100", "-S", "200"])
        #expect(r.status == 64)
        #expect(r.output.contains("shortest slice cannot be longer than the longest"))
    }

    /// CI runs as root, so the missing capabilities are made by dropping them.
    @Test(.enabled(if: capsh != nil, "needs capsh (package libcap2-bin)"))
    func missingPrivileges() throws {
        let r = try Self.run(Self.capsh!, ["--drop=cap_sys_admin,cap_bpf", "--", "-c", "\(Self.binary) run --duration 1"])
        #expect(r.status == 1)
        #expect(r.output.contains("missing privileges: CAP_SYS_ADMIN and CAP_BPF"), "\(r.output)")
    }

    @Test(.enabled(if: isRoot && !hostHasSchedExt, "needs root on a kernel WITHOUT sched_ext (this host has it, or we are not root)"))
    func kernelWithoutSchedExt() throws {
        let r = try Self.run(Self.binary, ["run", "--duration", "1"])
        #expect(r.status == 1)
        #expect(r.output.contains("has no sched_ext support"))
        #expect(r.output.contains("swiftland vm -- swiftland run"))
    }
}
