import BPFLoader
import ChildProcess
import CompareKit
import Foundation
import Glibc
import ScxStats
import SwiftlandUserMode

/// Runs an experiment's rounds on this machine (a sched_ext kernel): for each round, each
/// arm, each workload: attach the arm's scheduler (a `swiftland run` child), run the
/// workload beside the run-queue latency tracer, detach, record.
struct ExperimentRunner {
    var experiment: Experiment
    /// Workloads beside hogs (cyclictest, wrk-hogs) run beside one CPU hog per CPU for this
    /// long (their own length).
    let hogSeconds: Int
    /// Where `scx:` arms' binaries are (`PeerBuild`); nil when no arm needs them.
    let peers: PeerBuild?

    init(experiment: Experiment, hogSeconds: Int, peers: PeerBuild? = nil) {
        self.experiment = experiment
        self.hogSeconds = hogSeconds
        self.peers = peers
    }

    func run() -> Experiment {
        // The BPF programs' run time is counted for the whole experiment, every arm alike,
        // and stops being counted when it ends (nothing of the system's is left changed).
        let statistics: BPFStatistics.Session?
        do {
            statistics = try BPFStatistics.Session()
        } catch {
            Terminal.error("swiftland compare: warning: \(error) The schedulers' BPF run time is not measured.")
            statistics = nil
        }
        defer { withExtendedLifetime(statistics) {} }
        var result = experiment
        let s = experiment.settings
        let total = (s.rounds + s.warmupRounds) * s.arms.count * s.workloads.count
        var done = 0
        let started = Date()
        for round in 0..<(s.rounds + s.warmupRounds) {
            let warm = round < s.warmupRounds
            for arm in s.arms {
                for workload in s.workloads {
                    done += 1
                    let elapsed = Date().timeIntervalSince(started)
                    let left = done > 1 ? elapsed / Double(done - 1) * Double(total - done + 1) : nil
                    let roundName = warm ? "warm-up \(round + 1)" : "round \(round - s.warmupRounds + 1)/\(s.rounds)"
                    Terminal.out("[\(done)/\(total)] \(roundName) · \(arm) · \(workload.name)" + (left.map { " · about \(Self.duration($0)) left" } ?? ""))
                    let record = runOne(round: round, warm: warm, arm: arm, workload: workload)
                    if let f = record.figure {
                        Terminal.out("    \(workload.name): \(f.bound == .atLeast ? ">=" : f.bound == .atMost ? "<=" : "")\(Self.number(f.value)) \(f.unit)" + (record.runQueueLatency.map { h in " · run-queue waits \(h.counts.reduce(0, +))" } ?? "")
                            + (record.cost.map { " · " + Self.costText($0) } ?? ""))
                    } else {
                        Terminal.out("    failed: \(record.failure ?? "unknown")")
                    }
                    result.append(record)
                }
            }
        }
        return result
    }

    private func runOne(round: Int, warm: Bool, arm: Arm, workload: WorkloadSpec) -> RoundRecord {
        var record = RoundRecord(round: round, isWarmup: warm, arm: arm, workload: workload.name)
        let scheduler: ChildScheduler?
        do {
            scheduler = try ChildScheduler.start(arm, peers: peers)
        } catch {
            record.failure = "\(arm) did not attach: \(error)"
            return record
        }
        defer { _ = scheduler?.stop() }
        do {
            // The server starts under the arm's scheduler, before the tracer's first
            // snapshot: its start-up is not part of the figure.
            let server = try workload.server.map { try WorkloadServer.start($0) }
            defer { server?.stop() }
            let tracer = try RunQueueTracer(commands: workload.tracedCommands)
            let before = tracer.snapshot()
            let hogs = workload.besideHogs ? try Self.startHogs(seconds: hogSeconds + 2) : nil
            // The scheduler's cost is measured over the workload alone.
            scheduler?.snapshot()
            let output = try Self.capture(workload.command)
            scheduler?.snapshot()
            if let scheduler, let gone = scheduler.detachedEarly() {
                record.failure = "\(arm) was detached during the workload: \(gone)"
            }
            if let hogs {
                kill(hogs, SIGTERM)
                _ = Subprocess.wait(hogs)
            }
            let waits = tracer.snapshot().since(before)
            record.runQueueLatency = Log2Histogram(counts: waits.histogram, maxUs: Double(waits.maxNs) / 1000)
            if let serverEnded = server?.endedEarly() {
                record.failure = record.failure ?? serverEnded
            } else {
                server?.stop()
                do {
                    let parsed = try workload.parse(output)
                    if record.failure == nil {
                        record.figure = parsed.figure
                        record.details = parsed.details
                    }
                } catch {
                    record.failure = record.failure ?? "\(error)"
                }
            }
        } catch {
            record.failure = "\(error)"
        }
        if let scheduler {
            let report = scheduler.stop()
            record.counters = report.counters
            record.cost = report.cost
            record.schedulerExitStatus = report.status
            if let hist = report.decisionHistogram, hist.reduce(0, +) > 0 {
                record.decisionLatency = Log2Histogram(counts: hist)
            }
            if !report.inFlight.isEmpty { record.timeSeries[TimeSeriesName.inFlight] = report.inFlight }
            if report.status != 0, record.failure == nil {
                record.failure = "the scheduler exited with status \(report.status): \(report.tail)"
            }
        }
        return record
    }

    /// One CPU-bound stress-ng worker per CPU, beside a workload; its pid.
    static func startHogs(seconds: Int) throws -> pid_t {
        let devNull = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { close(devNull) }
        return try Subprocess.spawn(
            "/usr/bin/env", ["stress-ng", "--cpu", "0", "-t", "\(seconds)", "--quiet"],
            stdout: devNull, stderr: devNull, newProcessGroup: true)
    }

    /// Runs argv and returns its stdout and stderr together.
    static func capture(_ argv: [String]) throws -> String {
        try Subprocess.run("/usr/bin/env", argv, stderr: .mergedWithOutput, newProcessGroup: true).stdoutText
    }

    /// "scheduler CPU: BPF 1.9%, thread 2.5%, process 3.1%", for the progress lines.
    static func costText(_ cost: SchedulerCost) -> String {
        let parts: [(String, SchedulerCost.Part)] = [("BPF", .bpf), ("thread", .schedulingThread), ("process", .process)]
        let shares = parts.compactMap { name, part in cost.shareOfCPU(part).map { "\(name) " + String(format: "%.1f%%", $0 * 100) } }
        return "scheduler CPU: " + shares.joined(separator: ", ")
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 60 ? "\(s / 60)m\(String(format: "%02d", s % 60))s" : "\(s)s"
    }

    static func number(_ v: Double) -> String {
        abs(v) >= 100 ? String(format: "%.0f", v) : String(format: "%.3g", v)
    }
}

/// An arm's scheduler, as a `swiftland run` child process of this binary: the same code
/// path a user runs, isolated from the experiment's own process. compare reads it through
/// a stats socket of its own (`ChildStats`), never the default one a user's swiftland may
/// serve; its output goes to a log read only for the lines that say why it failed.
/// A peer (`scx:`, `ext:`) runs as its own binary with its arguments: it serves no stats
/// socket, so it has no counters, and its cost is its process's CPU time from /proc.
final class ChildScheduler {
    struct Report {
        var status: Int32
        var counters: [String: UInt64]
        /// user and hybrid mode: enqueue-to-decision times, per log2 us bucket.
        var decisionHistogram: [UInt64]?
        var inFlight: [SamplePoint]
        /// Between the first two snapshots (`snapshot()`); nil without them.
        var cost: SchedulerCost?
        var tail: String
    }

    private let pid: pid_t
    private let isPeer: Bool
    /// The child's stats socket and log.
    private let dir: URL
    private var log: URL { dir.appendingPathComponent("log") }
    private var ended: Subprocess.Termination?
    private var finished: Report?
    private var stats: ChildStats?
    private var sampler: StatsSampler?
    private var snapshots: [[String: UInt64]] = []

    private init(pid: pid_t, dir: URL, isPeer: Bool) {
        self.pid = pid
        self.dir = dir
        self.isPeer = isPeer
    }

    private var isRunning: Bool {
        if ended == nil { ended = Subprocess.poll(pid) }
        return ended == nil
    }

    struct StartError: Error, CustomStringConvertible {
        var description: String
    }

    /// nil for eevdf (nothing to attach). Waits until sched_ext reports swiftland enabled
    /// and the child answers on its stats socket, at most `timeoutSeconds`. `executable`
    /// runs as `swiftland run`: this binary, or a stand-in in tests.
    static func start(
        _ arm: Arm, peers: PeerBuild? = nil,
        executable: String = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path,
        timeoutSeconds: Double = 30
    ) throws -> ChildScheduler? {
        var executable = executable
        var args = ["run"]
        switch arm.kind {
        case .eevdf: return nil
        case .bpf: break
        case .user(let policy, let batch, let wakeup), .hybrid(let policy, let batch, let wakeup):
            args += ["--mode", arm.placement == .hybrid ? "hybrid" : "user", "--policy", policy]
            if let batch { args += ["--batch", "\(batch)"] }
            if let wakeup { args += ["--wakeup", wakeup] }
        case .scx(let name, let arguments):
            guard let peers else { throw StartError(description: "the kernel's example schedulers are not built") }
            executable = try peers.binary(name)
            args = arguments
        case .ext(let path, let arguments):
            executable = path
            args = arguments
        }
        for option in arm.options { args += ["--\(option.key)", option.value] }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftland-compare-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        let socket = dir.appendingPathComponent("stats").path
        if !arm.isPeer { args += ["--stats-socket", socket] }
        let log = dir.appendingPathComponent("log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let pid: pid_t
        do {
            let handle = try FileHandle(forWritingTo: log)
            defer { try? handle.close() }
            pid = try Subprocess.spawn(
                executable, args, stdout: handle.fileDescriptor, stderr: handle.fileDescriptor, newProcessGroup: true)
        } catch {
            try? FileManager.default.removeItem(at: dir)
            throw error
        }
        let child = ChildScheduler(pid: pid, dir: dir, isPeer: arm.isPeer)
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        let preflight = Preflight()
        var lastError: StatsSocketError?
        while Date() < deadline {
            if !child.isRunning {
                let report = child.stop()
                throw StartError(description: "exit \(report.status): " + (report.tail.isEmpty ? "no output" : report.tail))
            }
            if arm.isPeer {
                // Enabled, and by this process: it is still running after the kernel says so.
                if preflight.state() == "enabled", preflight.attachedScheduler() != nil {
                    usleep(50_000)
                    if child.isRunning && preflight.state() == "enabled" { return child }
                }
            } else if preflight.attachedScheduler() == "swiftland" {
                do {
                    child.stats = try ChildStats(path: socket)
                    child.sampler = try StatsSampler(path: socket, counter: TimeSeriesName.inFlight)
                    return child
                } catch {
                    lastError = error
                }
            }
            usleep(50_000)
        }
        let report = child.stop()
        let why = lastError.map { "its stats socket did not answer (\($0))" } ?? "not attached"
        throw StartError(description: "\(why) after \(ExperimentRunner.number(timeoutSeconds)) s: \(report.tail)")
    }

    /// Reads the child's counters and cost through its stats socket, from a sample taken
    /// now or just after (`ChildStats.freshReading`), so that the workload starts after the
    /// first and ends before the second.
    func snapshot() {
        if isPeer {
            if isRunning, let reading = ProcessCPU.read(pid) { snapshots.append(reading) }
            return
        }
        guard isRunning, let sample = stats?.freshReading() else { return }
        snapshots.append(ChildStats.snapshot(sample))
    }

    /// Why the scheduler is no longer attached, when it left before it was stopped: its
    /// process ended, or sched_ext ejected it (it may run on, detached); nil while attached.
    func detachedEarly() -> String? {
        if !isRunning { return "its process ended (\(stop().tail))" }
        let state = Preflight().state()
        return state == "enabled" ? nil : "sched_ext is \(state ?? "gone")"
    }

    /// Stops the sampler, reads the final counters and histogram, then SIGINT and wait;
    /// the log's last lines say why a child failed.
    @discardableResult
    func stop() -> Report {
        if let finished { return finished }
        let sampled = sampler?.stop()
        var final = isRunning ? try? stats?.read() : nil
        if final == nil { final = sampled?.last }
        stats = nil
        sampler = nil
        if isRunning { kill(pid, SIGINT) }
        // A peer that ignores SIGINT must not hold the experiment.
        let termination = ended ?? Subprocess.wait(pid, killing: pid, after: 15)
        ended = termination
        // The next arm attaches only once this one is gone.
        let deadline = Date().addingTimeInterval(5)
        while let state = Preflight().state(), state != "disabled", Date() < deadline { usleep(20_000) }
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(at: dir)
        let tail = text.split(separator: "\n").suffix(isPeer ? 6 : 3).joined(separator: " | ")
        let report = Report(
            status: termination.shellStatus, counters: final.map(ChildStats.counters) ?? [:],
            decisionHistogram: final.flatMap { ChildStats.counts(Counters.decisionHistogramName, in: $0) },
            inFlight: sampled?.points ?? [],
            cost: snapshots.count >= 2 ? SchedulerCost.between(snapshots[0], snapshots[1]) : nil, tail: tail)
        finished = report
        return report
    }
}

/// A peer's CPU time from /proc/PID/stat (every thread, user and system), in the fields
/// `SchedulerCost.between` reads, with the monotonic clock as the window's.
enum ProcessCPU {
    static func read(_ pid: pid_t) -> [String: UInt64]? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return nil }
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        guard let times = parse(stat: text, ticksPerSecond: UInt64(sysconf(Int32(_SC_CLK_TCK)))) else { return nil }
        return [
            SchedulerCost.Field.elapsedNs: UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec),
            SchedulerCost.Field.processUserNs: times.userNs, SchedulerCost.Field.processSystemNs: times.systemNs,
        ]
    }

    /// utime and stime (fields 14 and 15) in ns. The command name (field 2) may hold spaces
    /// and parentheses, so the fields are counted after its last ")".
    static func parse(stat: String, ticksPerSecond: UInt64) -> (userNs: UInt64, systemNs: UInt64)? {
        guard ticksPerSecond > 0, let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state): utime is field 14, stime 15.
        guard fields.count > 12, let user = UInt64(fields[11]), let system = UInt64(fields[12]) else { return nil }
        let perTick = 1_000_000_000 / ticksPerSecond
        return (user * perTick, system * perTick)
    }
}
