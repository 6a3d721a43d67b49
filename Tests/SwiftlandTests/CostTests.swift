import BPFLoader
import CompareKit
import Foundation
import Glibc
import ScxStats
import SwiftlandABI
import SwiftlandUserMode
@testable import swiftland
import Testing

/// compare's reading of its `swiftland run` children through their stats sockets, against
/// a server in this process that serves what `swiftland run` publishes.
@Suite("compare reads a child's counters, cost and in-flight series over its stats socket", .serialized)
struct ChildStatsTests {
    /// A socket path of its own and its removal.
    static func socketPath(_ name: String) -> (path: String, cleanup: () -> Void) {
        let dir = FileManager.default.temporaryDirectory.appending(path: "swl-child-\(name)-\(getpid())").path
        return ("\(dir)/stats", { try? FileManager.default.removeItem(atPath: dir) })
    }

    static func server(_ path: String, _ board: StatsBoard, limits: StatsServer.Limits = .init()) throws -> StatsServer {
        try StatsServer(path: path, responder: StatsResponder(schema: RunStats.schema) { board.sample }, limits: limits)
    }

    /// What `swiftland run` publishes in user mode: counters, and its cost since attaching.
    static func userSample(elapsedNs: UInt64, processNs: UInt64, threadNs: UInt64, bpfNs: UInt64, bpfRuns: UInt64,
                           direct: UInt64, sent: UInt64, inFlight: UInt64 = 0) -> StatsSample {
        var s = swl_stats()
        s.nr_running = 1
        s.nr_direct_dispatches = direct
        s.nr_kernel_dispatches = direct
        s.nr_sent = sent
        s.nr_in_flight = inFlight
        let cost = SchedulerCost(windowNs: elapsedNs, processUserNs: processNs * 2 / 3, processSystemNs: processNs / 3,
                                 schedulingThreadNs: threadNs, bpfRunNs: bpfNs, bpfRunCount: bpfRuns)
        return RunStats.sample(Counters(s, userSpace: UserSpaceCounters()), mode: .user, cost: cost)
    }

    @Test("the cost between two readings, over the workload alone")
    func costBetweenTwoReadings() throws {
        let (path, cleanup) = Self.socketPath("cost")
        defer { cleanup() }
        let board = StatsBoard(Self.userSample(elapsedNs: 1_000_000_000, processNs: 9_000_000, threadNs: 2_000_000,
                                               bpfNs: 1_000_000, bpfRuns: 100, direct: 40, sent: 60))
        let server = try Self.server(path, board)
        defer { server.stop() }
        let stats = try ChildStats(path: path)
        let start = try stats.read()
        board.publish(Self.userSample(elapsedNs: 5_000_000_000, processNs: 129_000_000, threadNs: 102_000_000,
                                      bpfNs: 41_000_000, bpfRuns: 20_100, direct: 2040, sent: 6060))
        let end = try stats.read()
        let cost = try #require(SchedulerCost.between(ChildStats.snapshot(start), ChildStats.snapshot(end)))
        #expect(cost == SchedulerCost(windowNs: 4_000_000_000, processUserNs: 80_000_000, processSystemNs: 40_000_000,
                                      schedulingThreadNs: 100_000_000, bpfRunNs: 40_000_000, bpfRunCount: 20_000,
                                      decisions: 8000))
        #expect(cost.shareOfCPU(.schedulingThread) == 0.025)
    }

    @Test("a fresh reading waits for a sample published after it was asked for, or gives none")
    func freshReadingWaitsForANewSample() throws {
        let (path, cleanup) = Self.socketPath("fresh")
        defer { cleanup() }
        let old = Self.userSample(elapsedNs: 1_000, processNs: 3, threadNs: 1, bpfNs: 1, bpfRuns: 1, direct: 1, sent: 1)
        let board = StatsBoard(old)
        let server = try Self.server(path, board)
        defer { server.stop() }
        let stats = try ChildStats(path: path)
        // Nothing newer: no reading, after the timeout.
        let asked = ContinuousClock.now
        #expect(stats.freshReading(timeoutMs: 200) == nil)
        #expect(ContinuousClock.now - asked >= .milliseconds(200))
        let new = Self.userSample(elapsedNs: 2_000, processNs: 3, threadNs: 1, bpfNs: 1, bpfRuns: 1, direct: 1, sent: 1)
        let publisher = Thread { usleep(150_000); board.publish(new) }
        publisher.start()
        let fresh = stats.freshReading(timeoutMs: 2000)
        #expect(fresh == new)
    }

    @Test("a workload longer than the server's idle timeout: the reading after it connects again")
    func readingAfterAnIdleClose() throws {
        let (path, cleanup) = Self.socketPath("idle")
        defer { cleanup() }
        let board = StatsBoard(Self.userSample(elapsedNs: 1_000, processNs: 3, threadNs: 1, bpfNs: 1, bpfRuns: 1, direct: 1, sent: 1))
        var limits = StatsServer.Limits()
        limits.idleTimeout = .milliseconds(100)
        let server = try Self.server(path, board, limits: limits)
        defer { server.stop() }
        let stats = try ChildStats(path: path)
        _ = try stats.read()
        usleep(400_000)
        let after = Self.userSample(elapsedNs: 9_000, processNs: 3, threadNs: 1, bpfNs: 1, bpfRuns: 1, direct: 1, sent: 1)
        board.publish(after)
        #expect(try stats.read() == after)
    }

    @Test("the counters compare records are those of the sample's mode, without the cost fields")
    func countersOfTheMode() {
        let user = Self.userSample(elapsedNs: 1, processNs: 3, threadNs: 1, bpfNs: 1, bpfRuns: 1, direct: 4, sent: 5)
        let counters = ChildStats.counters(user)
        #expect(counters["nr_sent"] == 5 && counters["nr_direct_dispatches"] == 4 && counters["queued"] == 0)
        #expect(counters["nr_prio_dispatches"] == nil, "a bpf-mode counter")
        #expect(counters[SchedulerCost.Field.elapsedNs] == nil)
        #expect(ChildStats.snapshot(user)[SchedulerCost.Field.elapsedNs] == 1)
        var s = swl_stats()
        s.nr_prio_dispatches = 7
        let bpf = RunStats.sample(Counters(s), mode: .bpf, cost: SchedulerCost(windowNs: 1, processUserNs: 0, processSystemNs: 0))
        #expect(ChildStats.counters(bpf)["nr_prio_dispatches"] == 7)
        #expect(ChildStats.counters(bpf)["nr_sent"] == nil && ChildStats.counters(bpf)["queued"] == nil)
        #expect(ChildStats.snapshot(bpf)[SchedulerCost.Field.schedulingThreadNs] == nil)
    }

    @Test("the final reading carries the decision histogram; bpf mode's is empty")
    func decisionHistogram() throws {
        var s = swl_stats()
        s.decision_hist.0 = 2
        s.decision_hist.3 = 17
        let user = RunStats.sample(Counters(s, userSpace: UserSpaceCounters()), mode: .user,
                                   cost: SchedulerCost(windowNs: 1, processUserNs: 0, processSystemNs: 0))
        // Through a reply, as compare reads it.
        let line = StatsResponder(schema: RunStats.schema) { user }.reply(to: Array(#"{"req":"stats"}"#.utf8))
        let read = try #require(try StatsReply<StatsSample>(line: line).answer).typed(by: RunStats.schema)
        let counts = try #require(ChildStats.counts(Counters.decisionHistogramName, in: read))
        #expect(counts.count == Int(SWL_HIST_BUCKETS.rawValue))
        #expect(counts.prefix(5) == [2, 0, 0, 17, 0])
        #expect(ChildStats.counters(read)["decision_hist_us"] == nil && ChildStats.snapshot(read)["decision_hist_us"] == nil)
        #expect(ChildStats.counts("nr_sent", in: read) == nil)
        #expect(ChildStats.counts("x", in: StatsSample(["x": .array([.u64(1), .string("y")])])) == nil)
    }

    @Test("the sampler reads nr_in_flight at every tick in user mode, and stops at once")
    func samplerReadsTheSeries() throws {
        let (path, cleanup) = Self.socketPath("sampler")
        defer { cleanup() }
        let board = StatsBoard(Self.userSample(elapsedNs: 1, processNs: 3, threadNs: 1, bpfNs: 1, bpfRuns: 1, direct: 1, sent: 1, inFlight: 3))
        let server = try Self.server(path, board)
        defer { server.stop() }
        let sampler = try StatsSampler(path: path, counter: TimeSeriesName.inFlight, intervalMs: 50)
        usleep(400_000)
        let stopping = ContinuousClock.now
        let (points, last) = sampler.stop()
        #expect(ContinuousClock.now - stopping < .milliseconds(500))
        #expect(points.count >= 4 && points.count <= 9, "\(points)")
        #expect(points.allSatisfy { $0.value == 3 })
        #expect(points.map(\.tSeconds) == (1...points.count).map { Double($0 * 50) / 1000 })
        #expect(last.map(ChildStats.counters)?["nr_in_flight"] == 3)
        #expect(sampler.stop().points == points, "stop is idempotent")
    }

    @Test("in bpf mode nr_in_flight means nothing: no series, and a long interval still stops at once")
    func samplerInBPFMode() throws {
        let (path, cleanup) = Self.socketPath("sampler-bpf")
        defer { cleanup() }
        var s = swl_stats()
        s.nr_in_flight = 3
        let board = StatsBoard(RunStats.sample(Counters(s), mode: .bpf, cost: SchedulerCost(windowNs: 1, processUserNs: 0, processSystemNs: 0)))
        let server = try Self.server(path, board)
        defer { server.stop() }
        let fast = try StatsSampler(path: path, counter: TimeSeriesName.inFlight, intervalMs: 20)
        usleep(200_000)
        let (points, last) = fast.stop()
        #expect(points.isEmpty)
        #expect(last != nil)
        let slow = try StatsSampler(path: path, counter: TimeSeriesName.inFlight, intervalMs: 10_000)
        usleep(50_000)
        let stopping = ContinuousClock.now
        #expect(slow.stop().points.isEmpty)
        #expect(ContinuousClock.now - stopping < .milliseconds(500))
    }

    /// A stand-in for `swiftland run`: a script that prints a line, then runs `body`.
    static func standIn(_ name: String, _ body: String) throws -> (path: String, cleanup: () -> Void) {
        let dir = FileManager.default.temporaryDirectory.appending(path: "swl-standin-\(name)-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appending(path: "swiftland").path
        try "#!/bin/sh\necho \"swiftland: stand-in for $*\"\n\(body)\n".write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return (path, { try? FileManager.default.removeItem(at: dir) })
    }

    /// What `ChildScheduler.start` throws with the stand-in `executable`, and how long it took.
    static func startFailure(_ arm: Arm, executable: String, timeoutSeconds: Double) -> (message: String, took: Duration) {
        let started = ContinuousClock.now
        do {
            try ChildScheduler.start(arm, executable: executable, timeoutSeconds: timeoutSeconds)?.stop()
            return ("started", ContinuousClock.now - started)
        } catch {
            return ("\(error)", ContinuousClock.now - started)
        }
    }

    @Test("a child that exits before it attached fails the round with its status and last lines, at once")
    func childThatExits() throws {
        let (exe, cleanup) = try Self.standIn("exits", "echo 'swiftland: error: no sched_ext'\nexit 3")
        defer { cleanup() }
        let (message, took) = Self.startFailure(Arm(.bpf), executable: exe, timeoutSeconds: 20)
        #expect(message.hasPrefix("exit 3: "), "\(message)")
        #expect(message.contains("swiftland: error: no sched_ext"), "\(message)")
        #expect(message.contains("--stats-socket "), "its own socket: \(message)")
        #expect(took < .seconds(5))
    }

    @Test("a hybrid arm's child runs `run --mode hybrid` with the policy, batch, wakeup and options")
    func hybridChild() throws {
        let (exe, cleanup) = try Self.standIn("hybrid", "exit 3")
        defer { cleanup() }
        let arm = try Arm(parsing: "hybrid:fifo:4:spin:preempt=off")
        let (message, _) = Self.startFailure(arm, executable: exe, timeoutSeconds: 20)
        #expect(message.contains("stand-in for run --mode hybrid --policy fifo --batch 4 --wakeup spin --preempt off --stats-socket "),
                "\(message)")
        let plain = Self.startFailure(try Arm(parsing: "hybrid:bpfland"), executable: exe, timeoutSeconds: 20).message
        #expect(plain.contains("stand-in for run --mode hybrid --policy bpfland --stats-socket "), "\(plain)")
    }

    @Test("a child that never serves its socket fails the round after the timeout, and is stopped")
    func childThatNeverServes() throws {
        let (exe, cleanup) = try Self.standIn("silent", "exec sleep 60")
        defer { cleanup() }
        let (message, took) = Self.startFailure(Arm(.user(policy: "bpfland", batch: 8)), executable: exe, timeoutSeconds: 0.5)
        #expect(message.hasPrefix("not attached after 0.5 s: "), "\(message)")
        #expect(message.contains("stand-in for run --mode user --policy bpfland --batch 8 --stats-socket "), "\(message)")
        #expect(took < .seconds(5), "SIGINT ended the child")
    }

    @Test("nothing serving the socket: no connection, so compare keeps waiting, then fails the round")
    func noServer() {
        let (path, cleanup) = Self.socketPath("none")
        defer { cleanup() }
        #expect(throws: StatsSocketError.noServer(path: path)) { try ChildStats(path: path) }
        #expect(throws: StatsSocketError.noServer(path: path)) { try StatsSampler(path: path, counter: TimeSeriesName.inFlight) }
    }
}
