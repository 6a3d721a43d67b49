import BPFLoader
import CompareKit
import Foundation
import Glibc
import ScxStats
import SwiftlandUserMode

/// What compare reads of an arm's scheduler through its stats socket: readings of its
/// counters and cost on one connection, and a gauge sampled on another, from a thread of
/// its own, while the round runs.
final class ChildStats {
    let path: String
    private var client: StatsClient

    /// Connects when a swiftland serves `path`; `.noServer` while nothing does yet.
    init(path: String) throws(StatsSocketError) {
        self.path = path
        client = try StatsMonitor.connect(path)
    }

    /// The current sample. The server closes a connection idle longer than its timeout (a
    /// long workload between two readings): then this connects again.
    func read() throws(StatsSocketError) -> StatsSample {
        do {
            return try StatsMonitor.read(client)
        } catch .closed {
            client = try StatsMonitor.connect(path)
            return try StatsMonitor.read(client)
        }
    }

    /// A sample published after this call began, so that it was taken at this moment or
    /// later: the scheduler publishes every 100 ms, each sample stamped with its own clock
    /// (`elapsed_ns`). Nil when no newer one comes within `timeoutMs`.
    func freshReading(timeoutMs: Int = 2000) -> StatsSample? {
        guard let first = try? read(), let stamp = first.u64(SchedulerCost.Field.elapsedNs) else { return nil }
        let deadline = ContinuousClock.now + .milliseconds(timeoutMs)
        while ContinuousClock.now < deadline {
            usleep(10_000)
            guard let next = try? read() else { return nil }
            if let t = next.u64(SchedulerCost.Field.elapsedNs), t > stamp { return next }
        }
        return nil
    }

    /// The counters that mean something in the sample's mode, by name: what its
    /// `counters:` line says.
    static func counters(_ sample: StatsSample) -> [String: UInt64] {
        Dictionary(Counters.values(sample, for: RunStats.mode(of: sample)), uniquingKeysWith: { a, _ in a })
    }

    /// The counters and the cost fields there are (not the histograms): what
    /// `SchedulerCost.between` reads.
    static func snapshot(_ sample: StatsSample) -> [String: UInt64] {
        var out = counters(sample)
        for f in RunStats.costFields {
            if let v = sample.u64(f.name) { out[f.name] = v }
        }
        return out
    }

    /// An array field of counts (a histogram); nil when absent or not all counts.
    static func counts(_ name: String, in sample: StatsSample) -> [UInt64]? {
        guard case .array(let items)? = sample[name] else { return nil }
        let counts = items.compactMap { if case .u64(let v) = $0 { v } else { nil } }
        return counts.count == items.count && !counts.isEmpty ? counts : nil
    }
}

/// Reads one counter every `intervalMs` from a scheduler's stats socket, on a connection and
/// a thread of its own, until stopped: the time series compare plots (nr_in_flight). A
/// reading that fails leaves a gap; the counter is only kept in the modes it means
/// something in (`Counters.values`, as `counters:` lines).
final class StatsSampler: @unchecked Sendable {
    private let name: String
    private let intervalMs: Int
    private let client: StatsClient
    private let stopRequest = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    /// Written by the sampling thread alone until `finished` is signalled.
    private var points: [SamplePoint] = []
    private var last: StatsSample?
    private var stopped = false

    init(path: String, counter name: String, intervalMs: Int = 1000) throws(StatsSocketError) {
        self.name = name
        self.intervalMs = intervalMs
        client = try StatsMonitor.connect(path)
        Thread.detachNewThread { [self] in
            self.main()
        }
    }

    private func main() {
        let start = ContinuousClock.now
        var tick = 0
        while true {
            tick += 1
            let due = start + .milliseconds(intervalMs * tick)
            let leftMs = max((due - ContinuousClock.now) / .milliseconds(1), 0)
            if stopRequest.wait(timeout: .now() + .milliseconds(Int(leftMs.rounded(.up)))) == .success { break }
            guard let sample = try? StatsMonitor.read(client) else { continue }
            last = sample
            if let v = Counters.values(sample, for: RunStats.mode(of: sample)).first(where: { $0.name == name })?.value {
                points.append(SamplePoint(tSeconds: Double(intervalMs * tick) / 1000, value: Double(v)))
            }
        }
        finished.signal()
    }

    /// Stops the thread and waits for it (at most one request's timeout); the points read,
    /// and the last sample. Idempotent.
    func stop() -> (points: [SamplePoint], last: StatsSample?) {
        if !stopped {
            stopped = true
            stopRequest.signal()
            finished.wait()
        }
        return (points, last)
    }
}
