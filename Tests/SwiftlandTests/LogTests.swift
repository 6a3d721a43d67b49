import BPFLoader
import Foundation
import Logging
import Testing

@Suite("log lines: terminal and journal")
struct LogTests {
    @Test func terminalLines() {
        #expect(LogLine.format(level: .notice, message: "attached, mode bpf", metadata: [:], journal: false)
            == "swiftland: attached, mode bpf\n")
        #expect(LogLine.format(level: .warning, message: "no stats server", metadata: ["path": "/x", "errno": "EACCES"], journal: false)
            == "swiftland: warning: no stats server errno=EACCES path=/x\n")
        #expect(LogLine.format(level: .debug, message: "libbpf: loading", metadata: [:], journal: false)
            == "swiftland: debug: libbpf: loading\n")
    }

    @Test func journalLinesCarryTheirPriorityOnEveryLine() {
        #expect(LogLine.format(level: .error, message: "kernel debug dump:\nline 1\nline 2", metadata: [:], journal: true)
            == "<3>swiftland: error: kernel debug dump:\n<3>swiftland: error: line 1\n<3>swiftland: error: line 2\n")
        let priorities = Logger.Level.allCases.map(LogLine.syslogPriority)
        #expect(priorities == [7, 7, 6, 5, 4, 3, 2])  // trace ... critical
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
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CommandTests.binary)
            p.arguments = ["metrics", "--stats-socket", missing]
            var env = ProcessInfo.processInfo.environment
            env["JOURNAL_STREAM"] = journal ? "\(st.st_dev):\(st.st_ino)" : "1:1"
            p.environment = env
            p.standardOutput = FileHandle.nullDevice
            p.standardError = err
            try p.run()
            p.waitUntilExit()
            try err.close()
            return (p.terminationStatus, try String(contentsOf: errURL, encoding: .utf8))
        }

        let plain = try run(journal: false)
        #expect(plain.status == 1)
        #expect(plain.stderr == "swiftland: error: no swiftland is running (nothing serves stats at \(missing)); start one with `swiftland run`\n")
        let journal = try run(journal: true)
        #expect(journal.status == 1)
        #expect(journal.stderr == "<3>" + plain.stderr)
    }
}
