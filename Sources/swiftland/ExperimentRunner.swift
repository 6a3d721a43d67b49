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

    init(experiment: Experiment, hogSeconds: Int) {
        self.experiment = experiment
        self.hogSeconds = hogSeconds
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
            scheduler = try ChildScheduler.start(arm)
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
            if let hogs {
                kill(hogs, SIGTERM)
                _ = Subprocess.wait(hogs)
            }
            let waits = tracer.snapshot().since(before)
            record.runQueueLatency = Log2Histogram(counts: waits.histogram, maxUs: Double(waits.maxNs) / 1000)
            if let serverEnded = server?.endedEarly() {
                record.failure = serverEnded
            } else {
                server?.stop()
                do {
                    let parsed = try workload.parse(output)
                    record.figure = parsed.figure
                    record.details = parsed.details
                } catch {
                    record.failure = "\(error)"
                }
            }
        } catch {
            record.failure = "\(error)"
        }
        if let scheduler {
            let report = scheduler.stop()
            record.counters = report.counters
            record.cost = report.cost
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
final class ChildScheduler {
    struct Report {
        var status: Int32
        var counters: [String: UInt64]
        /// user mode: enqueue-to-decision times, per log2 us bucket.
        var decisionHistogram: [UInt64]?
        var inFlight: [SamplePoint]
        /// Between the first two snapshots (`snapshot()`); nil without them.
        var cost: SchedulerCost?
        var tail: String
    }

    private let pid: pid_t
    /// The child's stats socket and log.
    private let dir: URL
    private var log: URL { dir.appendingPathComponent("log") }
    private var ended: Subprocess.Termination?
    private var finished: Report?
    private var stats: ChildStats?
    private var sampler: StatsSampler?
    private var snapshots: [[String: UInt64]] = []

    private init(pid: pid_t, dir: URL) {
        self.pid = pid
        self.dir = dir
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
        _ arm: Arm, executable: String = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path,
        timeoutSeconds: Double = 30
    ) throws -> ChildScheduler? {
        var args = ["run"]
        switch arm.kind {
        case .eevdf: return nil
        case .bpf: break
        case .user(let policy, let batch, let wakeup):
            args += ["--mode", "user", "--policy", policy]
            if let batch { args += ["--batch", "\(batch)"] }
            if let wakeup { args += ["--wakeup", wakeup] }
        }
        for option in arm.options { args += ["--\(option.key)", option.value] }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftland-compare-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        let socket = dir.appendingPathComponent("stats").path
        args += ["--stats-socket", socket]
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
        let child = ChildScheduler(pid: pid, dir: dir)
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        let preflight = Preflight()
        var lastError: StatsSocketError?
        while Date() < deadline {
            if !child.isRunning {
                let report = child.stop()
                throw StartError(description: "exit \(report.status): \(report.tail)")
            }
            if preflight.attachedScheduler() == "swiftland" {
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
        guard isRunning, let sample = stats?.freshReading() else { return }
        snapshots.append(ChildStats.snapshot(sample))
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
        let termination = ended ?? Subprocess.wait(pid)
        ended = termination
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(at: dir)
        let tail = text.split(separator: "\n").suffix(3).joined(separator: " | ")
        let report = Report(
            status: termination.shellStatus, counters: final.map(ChildStats.counters) ?? [:],
            decisionHistogram: final.flatMap { ChildStats.counts(Counters.decisionHistogramName, in: $0) },
            inFlight: sampled?.points ?? [],
            cost: snapshots.count >= 2 ? SchedulerCost.between(snapshots[0], snapshots[1]) : nil, tail: tail)
        finished = report
        return report
    }
}
