import Foundation
import Glibc
import Synchronization
@testable import ScxStats

/// A small schema with one field of each kind, and a fixed reading of it.
let testSchema = StatsSchema(
    name: "teststats", desc: "a test scheduler's counters", metricPrefix: "test_",
    fields: [
        .init(name: "mode", desc: "where it runs", unit: "", datum: .string, kind: .info),
        .init(name: "nr_running", desc: "tasks running now", unit: "tasks", kind: .gauge),
        .init(name: "nr_dispatches", desc: "tasks dispatched", unit: "tasks", kind: .counter),
        .init(name: "load", desc: "a \"quoted\" load\\average", unit: "", datum: .float, kind: .gauge),
    ])

let testSample = StatsSample([
    "mode": .string("bpf"), "nr_running": .u64(3), "nr_dispatches": .u64(18_446_744_073_709_551_000), "load": .float(1.5),
])

func fixedResponder() -> StatsResponder {
    StatsResponder(schema: testSchema) { testSample }
}

/// A fresh path for a socket, removed with its directory by the caller's `defer`.
func temporarySocketPath(_ name: String = "stats") -> (path: String, cleanup: () -> Void) {
    let dir = FileManager.default.temporaryDirectory.appending(path: "scxstats-\(getpid())-\(UUID().uuidString.prefix(8))").path
    return ("\(dir)/root/\(name)", { try? FileManager.default.removeItem(atPath: dir) })
}

/// A socket bound at `path` whose process "died": the file stays, nobody listens.
func leaveStaleSocket(at path: String) throws {
    try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    precondition(fd >= 0)
    let rc = try UnixSocket.withAddress(path) { bind(fd, $0, $1) }
    precondition(rc == 0, "bind: \(errno)")
    close(fd)
}

/// A server that is not a StatsServer: it answers each request line with `reply(line)`,
/// byte for byte, one connection at a time, as another program on the socket would.
final class ScriptedServer: @unchecked Sendable {
    private let fd: Int32
    /// The connection being served, so that stop() can end it; -1 between connections.
    private let connection = Atomic<Int32>(-1)
    private let exited = DispatchSemaphore(value: 0)

    init(path: String, reply: @escaping @Sendable (String) -> [UInt8]) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        precondition(fd >= 0)
        let rc = try UnixSocket.withAddress(path) { bind(fd, $0, $1) }
        precondition(rc == 0 && listen(fd, 8) == 0, "bind/listen: \(errno)")
        self.fd = fd
        Thread { [self] in
            defer { exited.signal() }
            while true {
                let conn = accept(fd, nil, nil)
                if conn < 0 { return }  // stop() shut the listener down
                connection.store(conn, ordering: .sequentiallyConsistent)
                Self.serve(conn, reply)
                connection.store(-1, ordering: .sequentiallyConsistent)
                close(conn)
            }
        }.start()
    }

    private static func serve(_ conn: Int32, _ reply: (String) -> [UInt8]) {
        var pending: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(conn, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return }
            pending += buf[0..<n]
            while let nl = pending.firstIndex(of: 0x0a) {
                let out = reply(String(decoding: pending[..<nl], as: UTF8.self))
                pending.removeFirst(nl + 1)
                var sent = 0
                while sent < out.count {
                    let s = out[sent...].withUnsafeBytes { send(conn, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    if s <= 0 { return }
                    sent += s
                }
            }
        }
    }

    /// Ends the connection being served and the listener, and waits for the thread, so
    /// that it never runs on with a descriptor number reused by the next test.
    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        while exited.wait(timeout: .now() + .milliseconds(10)) == .timedOut {
            let conn = connection.load(ordering: .sequentiallyConsistent)
            if conn >= 0 { shutdown(conn, Int32(SHUT_RDWR)) }
        }
        close(fd)
    }
}

/// A listening socket at `path` whose server has stopped accepting: backlog 0, with one
/// connection already waiting in it (the kernel queues backlog + 1), so that the next
/// connect() waits for room.
final class HungServer {
    private var listener: Int32
    private var waiting: Int32

    init(path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        let bound = try UnixSocket.withAddress(path) { bind(listener, $0, $1) }
        precondition(bound == 0 && listen(listener, 0) == 0, "bind/listen: \(errno)")
        let waiting = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        let connected = try UnixSocket.withAddress(path) { connect(waiting, $0, $1) }
        precondition(connected == 0, "connect: \(errno)")
        (self.listener, self.waiting) = (listener, waiting)
    }

    /// Closes both ends; this also wakes a connect() still waiting (ECONNREFUSED).
    func close() {
        if waiting >= 0 { Glibc.close(waiting) }
        if listener >= 0 { Glibc.close(listener) }
        (listener, waiting) = (-1, -1)
    }

    deinit {
        close()
    }
}

/// What a body run by `within` returned.
final class Returned<T>: @unchecked Sendable {
    var value: T?
}

/// Runs `body` on a thread of its own and waits at most `seconds`: nil when it has not
/// returned by then (it runs on; the caller must unblock it).
func within<T>(seconds: Double, _ body: @escaping @Sendable () -> T) -> T? {
    let returned = Returned<T>()
    let done = DispatchSemaphore(value: 0)
    Thread {
        returned.value = body()
        done.signal()
    }.start()
    guard done.wait(timeout: .now() + seconds) == .success else { return nil }
    return returned.value
}
