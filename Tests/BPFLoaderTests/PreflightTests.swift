import BPFLoader
import Foundation
import Testing

/// Preflight against recorded /proc and /sys files, so every branch runs on any machine.
@Suite("Preflight checks")
struct PreflightTests {
    let dir: URL

    init() throws {
        dir = FileManager.default.temporaryDirectory.appending(path: "swl-preflight-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appending(path: "scx/root"), withIntermediateDirectories: true)
    }

    func preflight(capEff: String, state: String?, ops: String? = nil) throws -> Preflight {
        try "Name:\tswiftland\nCapInh:\t0000000000000000\nCapEff:\t\(capEff)\n"
            .write(to: dir.appending(path: "status"), atomically: true, encoding: .utf8)
        var p = Preflight()
        p.procStatus = dir.appending(path: "status").path
        p.schedExtDir = dir.appending(path: "scx").path
        if let state {
            try state.write(to: dir.appending(path: "scx/state"), atomically: true, encoding: .utf8)
            try "7\n".write(to: dir.appending(path: "scx/hotplug_seq"), atomically: true, encoding: .utf8)
        } else {
            p.schedExtDir = dir.appending(path: "absent").path
        }
        if let ops { try ops.write(to: dir.appending(path: "scx/root/ops"), atomically: true, encoding: .utf8) }
        return p
    }

    @Test func rootPasses() throws {
        let p = try preflight(capEff: "000001ffffffffff", state: "disabled\n")
        #expect(p.missingCapabilities().isEmpty)
        #expect(p.hotplugSeq() == 7)
        #expect(throws: Never.self) { try p.check() }
    }

    @Test(arguments: [
        ("0000000000000000", ["CAP_SYS_ADMIN", "CAP_BPF"]),
        ("0000008000000000", ["CAP_SYS_ADMIN"]),  // CAP_BPF only
        ("0000000000200000", ["CAP_BPF"]),  // CAP_SYS_ADMIN only
    ])
    func missingCapabilities(capEff: String, missing: [String]) throws {
        let p = try preflight(capEff: capEff, state: "disabled")
        #expect(p.missingCapabilities() == missing)
        #expect(throws: SchedulerError.missingPrivileges(missing: missing)) { try p.check() }
    }

    @Test func kernelWithoutSchedExt() throws {
        let p = try preflight(capEff: "000001ffffffffff", state: nil)
        do {
            try p.check()
            Issue.record("check() passed on a kernel without sched_ext")
        } catch {
            guard case .noSchedExt = error else { Issue.record("wrong error: \(error)"); return }
            #expect(error.description.contains("swiftland vm -- swiftland run"))
        }
    }

    @Test func anotherSchedulerIsNamed() throws {
        let p = try preflight(capEff: "000001ffffffffff", state: "enabled\n", ops: "scx_lavd\n")
        #expect(p.attachedScheduler() == "scx_lavd")
        #expect(throws: SchedulerError.otherSchedulerLoaded(name: "scx_lavd")) { try p.check() }
        #expect(SchedulerError.otherSchedulerLoaded(name: "scx_lavd").description.contains(#""scx_lavd""#))
    }
}
