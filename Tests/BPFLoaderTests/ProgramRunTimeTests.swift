import BPFLoader
import Foundation
import Glibc
import TestObjects
import Testing

@Suite("BPF programs' run time on the host kernel", .serialized,
       .enabled(if: getuid() == 0, "needs root (CAP_SYS_ADMIN, CAP_BPF) to load programs and turn on BPF statistics"))
struct ProgramRunTimeTests {
    @Test("runs are counted while a statistics session is open, and only then")
    func countedWhileOn() throws {
        let object = try BPFObject(bytes: TestObjects.rings, name: "test_rings")
        try object.load()
        let echo = try object.programFD("echo")
        func run(_ times: Int) throws {
            for _ in 0..<times {
                var none: Int32 = 0
                _ = try object.run(programFD: echo, context: &none)
            }
        }
        // The sysctl's own setting (a session does not show in it).
        let sysctl = try String(contentsOfFile: "/proc/sys/kernel/bpf_stats_enabled", encoding: .utf8)
        if sysctl.hasPrefix("0") {
            let before = try object.programRunTime()
            try run(10)
            #expect(try object.programRunTime() == before, "counted with statistics off")
        }
        do {
            let session = try BPFStatistics.Session()
            let start = try object.programRunTime()
            try run(100)
            let ran = try object.programRunTime().since(start)
            #expect(ran.runCount == 100)
            #expect(ran.runTimeNs > 0)
            withExtendedLifetime(session) {}
        }
        #expect(try String(contentsOfFile: "/proc/sys/kernel/bpf_stats_enabled", encoding: .utf8) == sysctl,
                "the session changed the sysctl")
        if sysctl.hasPrefix("0") {
            let after = try object.programRunTime()
            try run(10)
            #expect(try object.programRunTime() == after, "still counted after the session closed")
        }
    }
}
