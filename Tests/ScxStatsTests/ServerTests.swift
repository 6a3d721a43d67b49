import Foundation
import Glibc
import Synchronization
import Testing
@testable import ScxStats

@Suite("stats server on a UNIX socket", .serialized)
struct ServerTests {
    @Test func answersStatsAndMetaAndRemovesItsSocket() throws {
        let (path, cleanup) = temporarySocketPath()
        defer { cleanup() }
        let server = try StatsServer(path: path, responder: fixedResponder())
        var st = stat()
        #expect(lstat(path, &st) == 0)
        #expect(st.st_mode & S_IFMT == S_IFSOCK)
        #expect(st.st_mode & 0o777 == 0o600, "owner only")

        let client = try StatsClient(path: path)
        #expect(try client.request(.init(req: "stats"), as: StatsSample.self).typed(by: testSchema) == testSample)
        #expect(try client.request(.init(req: "stats_meta"), as: [String: StatsMeta].self) == testSchema.meta)
        server.stop()
        #expect(lstat(path, &st) != 0, "stop() removes the socket")
    }

    @Test func malformedRequestGetsAnErrorAndTheConnectionLives() throws {
        let (path, cleanup) = temporarySocketPath()
        defer { cleanup() }
        let server = try StatsServer(path: path, responder: fixedResponder())
        defer { server.stop() }
        let client = try StatsClient(path: path)
        for bad in ["{\"req\":", "garbage", "", "{\"req\":\"reboot\"}", "[\"stats\"]"] {
            let reply = try StatsReply<StatsSample>(line: try client.exchange(bad))
            #expect(reply.errno == StatsResponder.einval, "\(bad)")
        }
        // Binary junk, then a good request on the same connection.
        try client.send([0xff, 0x00, 0xfe, 0x0a])
        #expect(try StatsReply<StatsSample>(line: try client.receiveLine()).errno == StatsResponder.einval)
        #expect(throws: StatsSocketError.self) { try client.request(.init(req: "stats", args: ["target": "nope"]), as: StatsSample.self) }
        #expect(try client.request(.init(req: "stats"), as: StatsSample.self).typed(by: testSchema) == testSample)
    }

    @Test func pipelinedAndSplitRequests() throws {
        let (path, cleanup) = temporarySocketPath()
        defer { cleanup() }
        let server = try StatsServer(path: path, responder: fixedResponder())
        defer { server.stop() }
        let client = try StatsClient(path: path)
        let line = StatsResponder.Request(req: "stats").line + "\n"
        try client.send(Array((line + line + line).utf8))
        for _ in 0..<3 { #expect(try StatsReply<StatsSample>(line: try client.receiveLine()).errno == 0) }
        let bytes = Array(line.utf8)
        try client.send(Array(bytes[0..<5]))
        usleep(50_000)
        try client.send(Array(bytes[5...]))
        #expect(try StatsReply<StatsSample>(line: try client.receiveLine()).errno == 0)
    }

    @Test func overlongRequestIsRefusedAndClosed() throws {
        let (path, cleanup) = temporarySocketPath()
        defer { cleanup() }
        var limits = StatsServer.Limits()
        limits.maxRequestBytes = 1024
        let server = try StatsServer(path: path, responder: fixedResponder(), limits: limits)
        defer { server.stop() }
        let client = try StatsClient(path: path)
        try client.send([UInt8](repeating: UInt8(ascii: "x"), count: 8192))
        #expect(try StatsReply<StatsSample>(line: try client.receiveLine()).errno == StatsResponder.einval)
        #expect(throws: StatsSocketError.closed(path: path)) { try client.receiveLine() }
        // The server still serves others.
        #expect(try StatsClient(path: path).request(.init(req: "stats"), as: StatsSample.self)["nr_running"] == .u64(3))
    }

    /// A request nested as deep as the size limit allows, or just past Foundation's limit
    /// (which its decoder traps on), on the server's own thread: refused with EINVAL, and
    /// the connection serves the next request.
    @Test func deeplyNestedRequestIsRefusedAndTheConnectionLives() throws {
        let (path, cleanup) = temporarySocketPath()
        defer { cleanup() }
        let server = try StatsServer(path: path, responder: fixedResponder())
        defer { server.stop() }
        let client = try StatsClient(path: path)
        let depth = StatsServer.Limits().maxRequestBytes / 2 - 1
        for line in [String(repeating: "[", count: 513),
                     String(repeating: "[", count: depth) + String(repeating: "]", count: depth),
                     String(repeating: "[", count: 2 * depth),
                     String(repeating: #"{"a":"#, count: 2 * depth / 5)] {
            #expect(try StatsReply<StatsSample>(line: try client.exchange(line)).errno == StatsResponder.einval)
        }
        #expect(try client.request(.init(req: "stats"), as: StatsSample.self)["nr_running"] == .u64(3))
    }

    /// Many clients at once, some of them idle or never reading: each active one gets every
    /// reply, and the source is only ever called from the server's thread.
    @Test func concurrentClients() async throws {
        let (path, cleanup) = temporarySocketPath()
        defer { cleanup() }
        let calls = Atomic<Int>(0)
        let responder = StatsResponder(schema: testSchema) {
            calls.add(1, ordering: .relaxed)
            return testSample
        }
        let server = try StatsServer(path: path, responder: responder)
        defer { server.stop() }
        // Idle connections, and one that sends requests and never reads the replies.
        let idle = try (0..<8).map { _ in try StatsClient(path: path) }
        let deaf = try StatsClient(path: path)
        try deaf.send(Array(String(repeating: StatsResponder.Request(req: "stats_meta").line + "\n", count: 200).utf8))

        let clients = 16, requests = 50
        let ok = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<clients {
                group.addTask {
                    let c = try StatsClient(path: path)
                    var n = 0
                    for _ in 0..<requests where try c.request(.init(req: "stats"), as: StatsSample.self)["nr_running"] == .u64(3) { n += 1 }
                    return n
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(ok == clients * requests)
        #expect(calls.load(ordering: .relaxed) == clients * requests)
        #expect(server.requestsServed >= clients * requests)
        _ = idle
    }

    /// A full table: the newcomer is served, and the client idle longest is closed to make
    /// room; the others, which asked since, keep their connections.
    @Test func aNewcomerToAFullTableReplacesTheLongestIdle() throws {
        let (path, cleanup) = temporarySocketPath()
        defer { cleanup() }
        var limits = StatsServer.Limits()
        limits.maxClients = 4
        let server = try StatsServer(path: path, responder: fixedResponder(), limits: limits)
        defer { server.stop() }
        let held = try (0..<4).map { _ in try StatsClient(path: path) }
        for c in held { #expect(try c.request(.init(req: "stats"), as: StatsSample.self)["nr_running"] == .u64(3)) }
        usleep(10_000)
        for c in held[1...] { #expect(try c.request(.init(req: "stats"), as: StatsSample.self)["nr_running"] == .u64(3)) }
        let newcomer = try StatsClient(path: path)
        #expect(try newcomer.request(.init(req: "stats"), as: StatsSample.self)["nr_running"] == .u64(3))
        #expect(throws: StatsSocketError.closed(path: path)) { try held[0].request(.init(req: "stats"), as: StatsSample.self) }
        for c in held[1...] { #expect(try c.request(.init(req: "stats"), as: StatsSample.self)["nr_running"] == .u64(3)) }
    }

    /// Idle connections are closed after the timeout (here 300 ms); one that asks more
    /// often than that stays open however long it lives.
    @Test func idleClientsAreClosed() throws {
        let (path, cleanup) = temporarySocketPath()
        defer { cleanup() }
        var limits = StatsServer.Limits()
        limits.idleTimeout = .milliseconds(300)
        let server = try StatsServer(path: path, responder: fixedResponder(), limits: limits)
        defer { server.stop() }
        let silent = try StatsClient(path: path)
        let asked = try StatsClient(path: path)
        #expect(try asked.request(.init(req: "stats"), as: StatsSample.self)["nr_running"] == .u64(3))
        let busy = try StatsClient(path: path)
        for _ in 0..<8 {
            #expect(try busy.request(.init(req: "stats"), as: StatsSample.self)["nr_running"] == .u64(3))
            usleep(100_000)
        }
        #expect(throws: StatsSocketError.closed(path: path)) { try silent.receiveLine() }
        #expect(throws: StatsSocketError.closed(path: path)) { try asked.request(.init(req: "stats"), as: StatsSample.self) }
        #expect(try busy.request(.init(req: "stats"), as: StatsSample.self)["nr_running"] == .u64(3))
    }

    /// A client that sends requests and never reads: once the socket's buffer is full it
    /// takes nothing, and is closed after the timeout with replies still pending (reading
    /// afterwards gets what the buffer held, then the end).
    @Test func aClientThatNeverReadsIsClosedWhenIdle() throws {
        let (path, cleanup) = temporarySocketPath()
        defer { cleanup() }
        var limits = StatsServer.Limits()
        limits.idleTimeout = .milliseconds(300)
        limits.maxPendingReplyBytes = 64 << 20
        let server = try StatsServer(path: path, responder: fixedResponder(), limits: limits)
        defer { server.stop() }
        let deaf = try StatsClient(path: path)
        let requests = 20_000  // about 13 MB of replies, more than any socket buffer holds
        try deaf.send(Array(String(repeating: StatsResponder.Request(req: "stats_meta").line + "\n", count: requests).utf8))
        usleep(1_000_000)
        var replies = 0
        var ending: StatsSocketError?
        while ending == nil {
            do throws(StatsSocketError) {
                _ = try deaf.receiveLine()
                replies += 1
            } catch {
                ending = error
            }
        }
        #expect(ending == .closed(path: path))
        #expect(replies > 0 && replies < requests, "\(replies) of \(requests)")
    }

    /// A server that never ends its reply line: the client stops at its cap with an error
    /// that says so, instead of buffering without bound.
    @Test func replyLongerThanTheCapIsRefused() throws {
        let (path, cleanup) = temporarySocketPath()
        defer { cleanup() }
        let server = try ScriptedServer(path: path) { _ in [UInt8](repeating: UInt8(ascii: "x"), count: 1 << 20) }
        defer { server.stop() }
        let client = try StatsClient(path: path, maxReplyBytes: 64 * 1024)
        #expect(throws: StatsSocketError.replyTooLong(path: path, maxBytes: 64 * 1024)) { try client.exchange("{}") }
        #expect(StatsSocketError.replyTooLong(path: path, maxBytes: 65536).description
                    == "the stats server at \(path) sent a reply line longer than 65536 bytes; not reading it")
    }

    /// The default cap, 4 MiB: a reply of exactly that is read, one byte more is not.
    @Test func defaultReplyCap() throws {
        let (path, cleanup) = temporarySocketPath()
        defer { cleanup() }
        let cap = StatsClient.defaultMaxReplyBytes
        #expect(cap == 4 * 1024 * 1024)
        let server = try ScriptedServer(path: path) { request in
            [UInt8](repeating: UInt8(ascii: "y"), count: request == "fits" ? cap : cap + 1) + [UInt8(ascii: "\n")]
        }
        defer { server.stop() }
        #expect(try StatsClient(path: path).exchange("fits").utf8.count == cap)
        #expect(throws: StatsSocketError.replyTooLong(path: path, maxBytes: cap)) { try StatsClient(path: path).exchange("over") }
    }

    /// scx_bpfland's `stats_meta` reply, as scx_stats serializes its `Metrics` struct (empty
    /// members left out; two of its fields kept): the client names what it found.
    static let bpflandMeta = #"{"errno":0,"args":{"resp":{"Metrics":{"name":"Metrics","top":"true","fields":{"#
        + #""nr_running":{"datum":"u64","desc":"Number of running tasks"},"#
        + #""nr_cpus":{"datum":"u64","desc":"Number of online CPUs"}}}}}}"#

    @Test func anotherSchedulersServerIsNamed() throws {
        let (path, cleanup) = temporarySocketPath()
        defer { cleanup() }
        let bpfland = try ScriptedServer(path: path) { request in
            Array(((request.contains("stats_meta") ? Self.bpflandMeta : #"{"errno":0,"args":{"resp":{"nr_running":2}}}"#) + "\n").utf8)
        }
        defer { bpfland.stop() }
        let client = try StatsClient(path: path)
        #expect(throws: StatsSocketError.otherServer(path: path, expected: "teststats", found: ["Metrics"])) {
            try client.expectServer(of: testSchema)
        }
        #expect(StatsSocketError.otherServer(path: path, expected: "teststats", found: ["Metrics"]).description
                    == "the stats server at \(path) is not teststats: its stats are \"Metrics\", not \"teststats\" (another sched_ext scheduler serves this socket)")
    }

    /// A server refusing `stats_meta`, or describing no top struct, is not ours either.
    @Test func aServerWithoutOurTopStructIsRefused() throws {
        let (path, cleanup) = temporarySocketPath()
        defer { cleanup() }
        let refusing = try ScriptedServer(path: path) { request in
            switch request {
            case "{\"args\":{},\"req\":\"stats_meta\"}": Array(#"{"errno":22,"args":{"resp":"unknown request"}}"#.utf8) + [0x0a]
            default: Array("{}\n".utf8)
            }
        }
        defer { refusing.stop() }
        #expect(throws: StatsSocketError.otherServer(path: path, expected: "teststats", found: [])) {
            try StatsClient(path: path).expectServer(of: testSchema)
        }
        // Two structs, neither marked top, one of them with our name.
        let (path2, cleanup2) = temporarySocketPath()
        defer { cleanup2() }
        let untopped = try ScriptedServer(path: path2) { _ in
            Array(#"{"errno":0,"args":{"resp":{"teststats":{"name":"teststats","fields":{}},"Other":{"name":"Other","fields":{}}}}}"#.utf8) + [0x0a]
        }
        defer { untopped.stop() }
        #expect(throws: StatsSocketError.otherServer(path: path2, expected: "teststats", found: ["Other", "teststats"])) {
            try StatsClient(path: path2).expectServer(of: testSchema)
        }
    }

    @Test func ourOwnServerPassesTheCheck() throws {
        let (path, cleanup) = temporarySocketPath()
        defer { cleanup() }
        let server = try StatsServer(path: path, responder: fixedResponder())
        defer { server.stop() }
        let client = try StatsClient(path: path)
        try client.expectServer(of: testSchema)
        #expect(try client.request(.init(req: "stats"), as: StatsSample.self)["nr_running"] == .u64(3))
        let other = StatsSchema(name: "other", desc: "", metricPrefix: "o_", fields: testSchema.fields)
        #expect(throws: StatsSocketError.otherServer(path: path, expected: "other", found: ["teststats"])) {
            try client.expectServer(of: other)
        }
    }

    @Test func staleSocketFromACrashedRunIsReplaced() throws {
        let (path, cleanup) = temporarySocketPath()
        defer { cleanup() }
        try leaveStaleSocket(at: path)
        #expect(throws: StatsSocketError.noServer(path: path)) { try StatsClient(path: path) }
        let server = try StatsServer(path: path, responder: fixedResponder())
        defer { server.stop() }
        #expect(try StatsClient(path: path).request(.init(req: "stats"), as: StatsSample.self)["mode"] == .string("bpf"))
    }

    @Test func liveServerIsNotReplaced() throws {
        let (path, cleanup) = temporarySocketPath()
        defer { cleanup() }
        let first = try StatsServer(path: path, responder: fixedResponder())
        defer { first.stop() }
        #expect(throws: StatsSocketError.inUse(path: path)) { try StatsServer(path: path, responder: fixedResponder()) }
        #expect(try StatsClient(path: path).request(.init(req: "stats"), as: StatsSample.self)["nr_running"] == .u64(3))
    }

    /// A server that stopped accepting (its backlog full): binding over its socket waits
    /// at most the probe's 200 ms and reports the socket in use, leaving it in place,
    /// rather than waiting for ever or taking it over.
    @Test func aHungServersSocketIsNeitherWaitedOnNorReplaced() throws {
        let (path, cleanup) = temporarySocketPath()
        defer { cleanup() }
        let hung = try HungServer(path: path)
        defer { hung.close() }
        let started = ContinuousClock.now
        let outcome = within(seconds: 5) { () -> StatsSocketError? in
            do {
                _ = try StatsServer(path: path, responder: fixedResponder())
                return nil
            } catch {
                return error as? StatsSocketError
            }
        }
        let elapsed = ContinuousClock.now - started
        var st = stat()
        #expect(lstat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFSOCK, "its socket stays")
        if outcome == nil { hung.close() }  // wakes the waiting connect()
        #expect(outcome == .some(.inUse(path: path)), "binding over a hung server's socket")
        #expect(elapsed < .seconds(2), "\(elapsed)")
    }

    /// A client connecting to such a server gives up after its timeout.
    @Test func connectingToAHungServerTimesOut() throws {
        let (path, cleanup) = temporarySocketPath()
        defer { cleanup() }
        let hung = try HungServer(path: path)
        defer { hung.close() }
        let outcome = within(seconds: 5) { () -> StatsSocketError? in
            do {
                _ = try StatsClient(path: path, timeoutMs: 300)
                return nil
            } catch let error as StatsSocketError {
                return error
            } catch {
                return nil
            }
        }
        if outcome == nil { hung.close() }
        #expect(outcome == .some(.timedOut(path: path)))
    }

    /// The race of issue 11: someone who can write the socket's directory replaces the
    /// freshly bound socket with a symbolic link to another file. Nothing follows it: the
    /// mode was set before bind(), the link is reported and left, the file keeps its mode.
    @Test func aSocketSwappedForASymlinkAfterBindIsNotFollowed() throws {
        let (path, cleanup) = temporarySocketPath()
        defer { cleanup() }
        let victim = (path as NSString).deletingLastPathComponent + "/victim"
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try "precious".write(toFile: victim, atomically: false, encoding: .utf8)
        #expect(chmod(victim, 0o644) == 0)
        #expect(throws: StatsSocketError.notASocket(path: path)) {
            try UnixSocket.listen(path, mode: 0o600, backlog: 1) {
                unlink(path)
                symlink(victim, path)
            }
        }
        var st = stat()
        #expect(stat(victim, &st) == 0 && st.st_mode & 0o7777 == 0o644, "the link's target keeps its mode")
        #expect(lstat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFLNK, "the link is left alone")
    }

    /// The socket file is created with the mode asked for; nothing changes it afterwards.
    @Test func theSocketIsCreatedWithItsMode() throws {
        let (path, cleanup) = temporarySocketPath()
        defer { cleanup() }
        var modes: [mode_t] = []
        let (fd, _) = try UnixSocket.listen(path, mode: 0o600, backlog: 1) {
            var st = stat()
            if lstat(path, &st) == 0 { modes.append(st.st_mode & 0o7777) }
        }
        close(fd)
        #expect(modes == [0o600], "0600 as bind() created it")
    }

    @Test func aSymlinkAtThePathIsLeftAlone() throws {
        let (path, cleanup) = temporarySocketPath()
        defer { cleanup() }
        let stale = path + ".stale"
        try leaveStaleSocket(at: stale)
        #expect(symlink(stale, path) == 0)
        #expect(throws: StatsSocketError.notASocket(path: path)) { try StatsServer(path: path, responder: fixedResponder()) }
        var st = stat()
        #expect(lstat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFLNK)
        #expect(lstat(stale, &st) == 0 && st.st_mode & S_IFMT == S_IFSOCK, "the socket it points to is not removed")
    }

    @Test func aFileThatIsNotASocketIsLeftAlone() throws {
        let (path, cleanup) = temporarySocketPath()
        defer { cleanup() }
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try "precious".write(toFile: path, atomically: false, encoding: .utf8)
        #expect(throws: StatsSocketError.notASocket(path: path)) { try StatsServer(path: path, responder: fixedResponder()) }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "precious")
    }

    @Test func noServerIsReportedClearly() {
        let (path, cleanup) = temporarySocketPath()
        defer { cleanup() }
        #expect(throws: StatsSocketError.noServer(path: path)) { try StatsClient(path: path) }
        #expect(StatsSocketError.noServer(path: path).description == "nothing serves stats at \(path)")
    }

    /// The real path, where sched-ext's tools look; only as root, and only when no
    /// scheduler serves it on this host.
    @Test(.enabled(if: getuid() == 0 && !FileManager.default.fileExists(atPath: defaultStatsSocketPath),
                   "needs root and a free \(defaultStatsSocketPath)"))
    func defaultPath() throws {
        let server = try StatsServer(responder: fixedResponder())
        defer { server.stop() }
        var st = stat()
        #expect(lstat(defaultStatsSocketPath, &st) == 0 && st.st_mode & 0o777 == 0o600 && st.st_uid == 0)
        #expect(try StatsClient().request(.init(req: "stats"), as: StatsSample.self)["nr_running"] == .u64(3))
    }
}
