import CompareKit
import Foundation
import Glibc
@testable import swiftland
import Testing

@Suite("peers: their binaries, their build, their CPU time")
struct PeerTests {
    @Test("a peer's CPU time comes from /proc/PID/stat, the command name may hold spaces and parentheses")
    func procStat() throws {
        let line = "4242 (scx (odd) name) S 1 4242 4242 0 -1 4194560 120 0 0 0 250 75 0 0 20 0 3 0 100 0 0"
        let times = try #require(ProcessCPU.parse(stat: line, ticksPerSecond: 100))
        #expect(times.userNs == 2_500_000_000 && times.systemNs == 750_000_000)
        #expect(ProcessCPU.parse(stat: "1 (x) S 1", ticksPerSecond: 100) == nil)
        let mine = try #require(ProcessCPU.read(getpid()))
        #expect(mine[SchedulerCost.Field.processUserNs] != nil && mine[SchedulerCost.Field.elapsedNs] != nil)
    }

    @Test("ext: binaries are checked before anything starts: missing, not a file, not executable")
    func externalBinaries() throws {
        #expect(try Arm(parsing: "ext:/nonexistent/scx_x").externalBinaryProblem == "ext:/nonexistent/scx_x: no such file")
        #expect(try Arm(parsing: "ext:/tmp").externalBinaryProblem == "ext:/tmp: not a regular file")
        // No execute bit: refused, for root too.
        let plain = FileManager.default.temporaryDirectory.appendingPathComponent("swiftland-not-exec-\(UUID().uuidString)").path
        #expect(FileManager.default.createFile(atPath: plain, contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o644]))
        defer { unlink(plain) }
        #expect(try Arm(parsing: "ext:" + plain).externalBinaryProblem == "ext:\(plain): not executable")
        #expect(try Arm(parsing: "ext:/bin/sh -c true").externalBinaryProblem == nil)
        #expect(try Arm(parsing: "scx:simple").externalBinaryProblem == nil)
    }

    @Test("a build for another kernel is refused, naming both versions")
    func otherKernel() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftland-peers-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "7.3.4+deb13-amd64\n".write(to: dir.appendingPathComponent("version"), atomically: true, encoding: .utf8)
        let build = PeerBuild(directory: dir.path)
        #expect(build.kernelVersion == "7.3.4+deb13-amd64")
        let error = #expect(throws: PeerBuild.Failure.self) { try build.prepare(kernelRelease: "6.18.0-test") }
        #expect(error?.description.contains("7.3.4+deb13-amd64") == true && error?.description.contains("6.18.0-test") == true)
        #expect(throws: PeerBuild.Failure.self) { try build.binary("simple") }
    }
}
