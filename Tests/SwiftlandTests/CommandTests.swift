import ChildProcess
import Foundation
import Glibc
import TestSupport
import Testing

/// The built `swiftland` binary, run as a user would, for the errors that need no
/// sched_ext kernel. (The VM suite, Tests/vm/integration.sh, covers the rest.)
@Suite("swiftland command on this host")
struct CommandTests {
    static let capsh = ["/usr/sbin/capsh", "/sbin/capsh"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let isRoot = getuid() == 0
    static let hostHasSchedExt = FileManager.default.fileExists(atPath: "/sys/kernel/sched_ext")

    @Test func versionAndHelp() throws {
        let version = try Command.run(Command.swiftland, ["-V"])
        #expect(version.status == 0)
        #expect(version.output.hasPrefix("swiftland "))
        let help = try Command.run(Command.swiftland, ["run", "--help"])
        #expect(help.status == 0)
        for option in ["--slice-us", "--slice-us-min", "--slice-us-lag", "--nvcsw-max-thresh", "--starvation-thresh-us",
                       "--local-kthreads", "--timeout-ms", "--stats", "--duration", "--exit-dump-len", "--verbose"] {
            #expect(help.output.contains(option), "run --help lists \(option)")
        }
    }

    @Test func invalidOptionIsAUsageError() throws {
        let r = try Command.run(Command.swiftland, ["run", "-s", "100", "-S", "200"])
        #expect(r.status == 64)
        #expect(r.output.contains("shortest slice cannot be longer than the longest"))
    }

    /// CI runs as root, so the missing capabilities are made by dropping them.
    @Test(.enabled(if: capsh != nil, "needs capsh (package libcap2-bin)"))
    func missingPrivileges() throws {
        let r = try Command.run(Self.capsh!, ["--drop=cap_sys_admin,cap_bpf", "--", "-c", "\(Command.swiftland) run --duration 1"])
        #expect(r.status == 1)
        #expect(r.output.contains("missing privileges: CAP_SYS_ADMIN and CAP_BPF"), "\(r.output)")
    }

    @Test(.enabled(if: isRoot && !hostHasSchedExt, "needs root on a kernel WITHOUT sched_ext (this host has it, or we are not root)"))
    func kernelWithoutSchedExt() throws {
        let r = try Command.run(Command.swiftland, ["run", "--duration", "1"])
        #expect(r.status == 1)
        #expect(r.output.contains("has no sched_ext support"))
        #expect(r.output.contains("swiftland vm -- swiftland run"))
    }

    /// The real binary: an error goes to standard error, with the journal's priority prefix
    /// only when JOURNAL_STREAM names that very stream (as systemd sets it).
    @Test func binaryWritesJournalPrioritiesOnlyToTheJournal() throws {
        let dir = FileManager.default.temporaryDirectory.appending(path: "swiftland-log-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = dir.appending(path: "no-such-socket").path

        func run(journal: Bool) throws -> (status: Int32, stderr: String) {
            let errURL = dir.appending(path: "stderr-\(journal)")
            FileManager.default.createFile(atPath: errURL.path, contents: nil)
            let err = try FileHandle(forWritingTo: errURL)
            var st = stat()
            #expect(fstat(err.fileDescriptor, &st) == 0)
            var env = ProcessInfo.processInfo.environment
            env["JOURNAL_STREAM"] = journal ? "\(st.st_dev):\(st.st_ino)" : "1:1"
            let devNull = open("/dev/null", O_WRONLY | O_CLOEXEC)
            defer { close(devNull) }
            let pid = try Subprocess.spawn(
                Command.swiftland, ["metrics", "--stats-socket", missing], environment: env,
                stdout: devNull, stderr: err.fileDescriptor)
            let status = Subprocess.wait(pid).shellStatus
            try err.close()
            return (status, try String(contentsOf: errURL, encoding: .utf8))
        }

        let plain = try run(journal: false)
        #expect(plain.status == 1)
        #expect(plain.stderr == "swiftland: error: no swiftland is running (nothing serves stats at \(missing)); start one with `swiftland run`\n")
        let journal = try run(journal: true)
        #expect(journal.status == 1)
        #expect(journal.stderr == "<3>" + plain.stderr)
    }
}
