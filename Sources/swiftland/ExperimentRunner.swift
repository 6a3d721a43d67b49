import BPFLoader
import ChildProcess
import CompareKit
import Foundation
import Glibc
import SwiftlandUserMode

/// Runs an experiment's rounds on this machine (a sched_ext kernel): for each round, each
/// arm, each workload: attach the arm's scheduler (a `swiftland run` child), run the
/// workload beside the run-queue latency tracer, detach, record.
struct ExperimentRunner {
    var experiment: Experiment
    /// cyclictest runs beside one CPU hog per CPU for this long (its own length).
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
            let tracer = try RunQueueTracer(command: workload.tracedCommand)
            let before = tracer.snapshot()
            let hogs = workload.name == "cyclictest" ? try Self.startHogs(seconds: hogSeconds + 2) : nil
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
            do {
                let parsed = try workload.parse(output)
                record.figure = parsed.figure
                record.details = parsed.details
            } catch {
                record.failure = "\(error)"
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

    /// One CPU-bound stress-ng worker per CPU, beside cyclictest; its pid.
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
/// path a user runs, isolated from the experiment's own process.
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
    private let log: URL
    private let started = Date()
    private var ended: Subprocess.Termination?
    private var finished: Report?

    private init(pid: pid_t, log: URL) {
        self.pid = pid
        self.log = log
    }

    private var isRunning: Bool {
        if ended == nil { ended = Subprocess.poll(pid) }
        return ended == nil
    }

    struct StartError: Error, CustomStringConvertible {
        var description: String
    }

    /// nil for eevdf (nothing to attach). Waits until sched_ext reports swiftland enabled.
    static func start(_ arm: Arm) throws -> ChildScheduler? {
        var args = ["run", "--stats", "1"]
        switch arm.kind {
        case .eevdf: return nil
        case .bpf: break
        case .user(let policy, let batch, let wakeup):
            args += ["--mode", "user", "--policy", policy]
            if let batch { args += ["--batch", "\(batch)"] }
            if let wakeup { args += ["--wakeup", wakeup] }
        }
        for option in arm.options { args += ["--\(option.key)", option.value] }
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("swiftland-compare-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        let pid = try Subprocess.spawn(
            URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path, args,
            stdout: handle.fileDescriptor, stderr: handle.fileDescriptor, newProcessGroup: true)
        try handle.close()
        let child = ChildScheduler(pid: pid, log: log)
        let deadline = Date().addingTimeInterval(30)
        let preflight = Preflight()
        while Date() < deadline {
            if preflight.attachedScheduler() == "swiftland" { return child }
            if !child.isRunning {
                let report = child.stop()
                throw StartError(description: "exit \(report.status): \(report.tail)")
            }
            usleep(50_000)
        }
        _ = child.stop()
        throw StartError(description: "not attached after 30 s")
    }

    /// Asks the child for a snapshot of its cost and counters and waits until it printed
    /// it (at most 5 s), so that the workload starts after the first and ends before the
    /// second.
    func snapshot() {
        guard isRunning else { return }
        let before = Self.snapshots(in: logText()).count
        kill(pid, RunOutput.snapshotSignal)
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline, isRunning, Self.snapshots(in: logText()).count == before {
            usleep(5000)
        }
    }

    private func logText() -> String {
        (try? String(contentsOf: log, encoding: .utf8)) ?? ""
    }

    /// The fields of every `swiftland: snapshot: ...` line, in order.
    static func snapshots(in text: String) -> [[String: UInt64]] {
        let prefix = "swiftland: " + RunOutput.snapshotPrefix
        return text.split(separator: "\n").filter { $0.hasPrefix(prefix) }.map { fields($0) }
    }

    /// The scheduler's cost between the first two snapshots of its output; nil with fewer.
    static func cost(in text: String) -> SchedulerCost? {
        let marks = snapshots(in: text)
        return marks.count >= 2 ? SchedulerCost.between(marks[0], marks[1]) : nil
    }

    /// SIGINT, wait, and read what the child printed: its final counters, nr_in_flight
    /// from each `--stats 1` line, and its cost between the snapshots.
    @discardableResult
    func stop() -> Report {
        if let finished { return finished }
        if isRunning { kill(pid, SIGINT) }
        let termination = ended ?? Subprocess.wait(pid)
        ended = termination
        let text = logText()
        try? FileManager.default.removeItem(at: log)
        var counters: [String: UInt64] = [:]
        var inFlight: [SamplePoint] = []
        var decisions: [UInt64]?
        var t = 0.0
        for line in text.split(separator: "\n") {
            if let hist = Self.decisionHistogram(line) { decisions = hist }
            let isFinal = line.hasPrefix("swiftland: counters: ")
            guard line.hasPrefix("swiftland: nr_running=") || isFinal else { continue }
            let fields = Self.fields(line)
            if isFinal {
                counters = fields
            } else {
                t += 1
                if let v = fields["nr_in_flight"] { inFlight.append(SamplePoint(tSeconds: t, value: Double(v))) }
            }
        }
        let tail = text.split(separator: "\n").suffix(3).joined(separator: " | ")
        let report = Report(
            status: termination.shellStatus, counters: counters, decisionHistogram: decisions, inFlight: inFlight,
            cost: Self.cost(in: text), tail: tail)
        finished = report
        return report
    }

    /// The counts of a `swiftland: decision_hist_us=...` line, nil for any other line.
    static func decisionHistogram(_ line: Substring) -> [UInt64]? {
        let prefix = "swiftland: " + RunOutput.decisionHistogramPrefix
        guard line.hasPrefix(prefix) else { return nil }
        let counts = line.dropFirst(prefix.count).split(separator: ",").map { UInt64($0) }
        guard !counts.isEmpty, counts.allSatisfy({ $0 != nil }) else { return nil }
        return counts.map { $0! }
    }

    /// `name=value` pairs of a counters line.
    static func fields(_ line: Substring) -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        for word in line.split(separator: " ") {
            let kv = word.split(separator: "=", maxSplits: 1)
            if kv.count == 2, let v = UInt64(kv[1]) { out[String(kv[0])] = v }
        }
        return out
    }
}
