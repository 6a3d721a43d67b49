import BPFLoader
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
}
