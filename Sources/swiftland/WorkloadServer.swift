import ChildProcess
import CompareKit
import Foundation
import Glibc

/// A workload's server (`ServerSpec`) for one round: its files written, started in a
/// process group of its own, ready once its port on the loopback accepts a connection,
/// stopped with SIGTERM to the whole group.
final class WorkloadServer {
    struct StartError: Error, CustomStringConvertible {
        var description: String
    }

    private let pid: pid_t
    private let name: String
    /// `ServerSpec.directory`, removed when the server stops.
    private let directory: URL
    private var stopped = false
    /// How the server ended, once it has.
    private var ended: Subprocess.Termination?

    private init(pid: pid_t, name: String, directory: URL) {
        self.pid = pid
        self.name = name
        self.directory = directory
    }

    /// Writes the files, starts the server and waits until it accepts connections, at
    /// most `timeoutSeconds` (a guest under emulation starts slowly).
    static func start(_ spec: ServerSpec, timeoutSeconds: Double = 30) throws -> WorkloadServer {
        let name = spec.command.first ?? "server"
        // A server already listening there would be measured in place of this one.
        if accepts(port: spec.port) {
            throw StartError(description: "\(name): 127.0.0.1:\(spec.port) is already in use")
        }
        // A leftover of an interrupted experiment is removed: the directory is the server's alone.
        let directory = URL(fileURLWithPath: spec.directory, isDirectory: true)
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (path, content) in spec.files.sorted(by: { $0.key < $1.key }) {
            let url = directory.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(content.utf8).write(to: url)
        }
        let log = directory.appendingPathComponent("swiftland-server.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        defer { try? handle.close() }
        let pid = try Subprocess.spawn(
            "/usr/bin/env", spec.command, stdout: handle.fileDescriptor, stderr: handle.fileDescriptor,
            newProcessGroup: true)
        let server = WorkloadServer(pid: pid, name: name, directory: directory)
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while Date() < deadline {
            if let ended = Subprocess.poll(pid) {
                server.stopped = true
                let tail = server.logTail()
                try? FileManager.default.removeItem(at: directory)
                throw StartError(description: "\(name) ended (\(ended.text)) before it accepted connections" + (tail.isEmpty ? "" : ": \(tail)"))
            }
            if accepts(port: spec.port) { return server }
            usleep(20_000)
        }
        let tail = server.logTail()
        server.stop()
        throw StartError(description: "\(name) did not accept connections on 127.0.0.1:\(spec.port) within \(Int(timeoutSeconds)) s" + (tail.isEmpty ? "" : ": \(tail)"))
    }

    /// Nil while the server runs; otherwise why it ended (a server that ends during the
    /// workload leaves the client measuring errors).
    func endedEarly() -> String? {
        if ended == nil { ended = Subprocess.poll(pid) }
        guard let ended else { return nil }
        let tail = logTail()
        return "\(name) ended (\(ended.text)) during the workload" + (tail.isEmpty ? "" : ": \(tail)")
    }

    /// SIGTERM to the server's process group (its workers too), SIGKILL after five seconds;
    /// then its directory goes.
    func stop() {
        guard !stopped else { return }
        stopped = true
        kill(-pid, SIGTERM)
        if ended == nil { ended = Subprocess.wait(pid, killing: -pid, after: 5) }
        try? FileManager.default.removeItem(at: directory)
    }

    deinit { stop() }

    /// The last lines of the server's stdout and stderr: where a failed start says why.
    private func logTail() -> String {
        let log = directory.appendingPathComponent("swiftland-server.log")
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(3).joined(separator: " | ")
    }

    /// Whether a TCP connection to 127.0.0.1:`port` succeeds now.
    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}
