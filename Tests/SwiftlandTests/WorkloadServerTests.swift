import ChildProcess
import CompareKit
import Foundation
@testable import swiftland
import Testing

@Suite("compare's workload server: started, ready, stopped, cleaned up", .serialized)
struct WorkloadServerTests {
    /// A port nothing here listens on.
    static let port = 18_099

    @Test func aServerThatExitsSaysWhy() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swl-server-\(UUID().uuidString)").path
        let spec = ServerSpec(command: ["sh", "-c", "echo cannot bind >&2; exit 3"], port: Self.port, directory: dir)
        let error = try #require(throws: WorkloadServer.StartError.self) { try WorkloadServer.start(spec) }
        #expect(error.description.contains("sh ended (exit status 3) before it accepted connections: cannot bind"))
        #expect(!FileManager.default.fileExists(atPath: dir))
    }

    @Test func aServerThatNeverListensTimesOut() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swl-server-\(UUID().uuidString)").path
        let spec = ServerSpec(command: ["sleep", "30"], port: Self.port, directory: dir)
        let started = Date()
        let error = try #require(throws: WorkloadServer.StartError.self) { try WorkloadServer.start(spec, timeoutSeconds: 0.5) }
        #expect(error.description.contains("did not accept connections on 127.0.0.1:\(Self.port) within"))
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(!FileManager.default.fileExists(atPath: dir))
    }

    /// The wrk workload's own nginx, on this host: its files written, serving, stopped, gone.
    @Test(.enabled(if: Subprocess.which("nginx") != nil && getuid() == 0, "needs Debian's nginx and root"))
    func nginxAsTheWrkWorkloadRunsIt() throws {
        let spec = try #require(WrkWorkload.spec(name: "wrk", cpus: 1, seconds: 1, besideHogs: false).server)
        guard !WorkloadServer.accepts(port: spec.port) else { return }  // someone else's nginx: not ours to test
        let server = try WorkloadServer.start(spec)
        #expect(WorkloadServer.accepts(port: spec.port))
        #expect(FileManager.default.fileExists(atPath: spec.directory + "/www/index.html"))
        #expect(server.endedEarly() == nil)
        let busy = try #require(throws: WorkloadServer.StartError.self) { try WorkloadServer.start(spec) }
        #expect(busy.description.contains("already in use"))
        server.stop()
        #expect(!WorkloadServer.accepts(port: spec.port))
        #expect(!FileManager.default.fileExists(atPath: spec.directory))
    }
}
