import BPFLoader
import CompareKit
import Foundation
import Glibc
import ScxStats
import SwiftlandABI
import SwiftlandUserMode
@testable import swiftland
import TestSupport
import Testing

/// The commands generated from the counter table. The socket protocol itself is tested in
/// ScxStatsTests; here the swiftland binary is run against a server in this process that
/// serves made-up counters (no sched_ext needed).
@Suite("counters: --help-stats, --monitor, metrics", .serialized)
struct StatsTests {
    @Test func helpStatsDescribesEveryCounter() throws {
        let r = try Command.run(Command.swiftland, ["run", "--help-stats"])
        #expect(r.status == 0)
        for d in CounterDefinition.all {
            #expect(r.output.contains("  \(d.name) "), "\(d.name)")
            #expect(r.output.contains(d.help), "\(d.name)")
        }
        let idle = r.output.split(separator: "\n").first { $0.hasPrefix("  idle_in_flight_ns ") }
        #expect(idle?.contains("(u64, counter, ns)") == true && idle?.contains(" : CPU time spent idle") == true)
        // The scheduler's own cost, served beside the counters.
        for f in ["elapsed_ns", "process_user_ns", "process_system_ns", "sched_thread_ns", "bpf_run_ns"] {
            let line = r.output.split(separator: "\n").first { $0.hasPrefix("  \(f) ") }
            #expect(line?.contains("(u64, counter, ns)") == true, "\(f)")
        }
        #expect(r.output.split(separator: "\n").first { $0.hasPrefix("  bpf_stats ") }?.contains("(u64, gauge, 0 or 1)") == true)
        #expect(r.output.split(separator: "\n").first { $0.hasPrefix("  bpf_run_cnt ") }?.contains("(u64, counter, runs)") == true)
    }

    @Test func withoutARunningSwiftlandMonitorAndMetricsSaySo() throws {
        let path = FileManager.default.temporaryDirectory.appending(path: "swl-none-\(getpid())/stats").path
        let metrics = try Command.run(Command.swiftland, ["metrics", "--stats-socket", path])
        #expect(metrics.status == 1)
        #expect(metrics.output.contains("no swiftland is running"), "\(metrics.output)")
        let monitor = try Command.run(Command.swiftland, ["run", "--monitor", "1", "--stats-socket", path])
        #expect(monitor.status == 1)
        #expect(monitor.output.contains("no swiftland is running"), "\(monitor.output)")
    }

    static func fakeServer(_ path: String, limits: StatsServer.Limits = .init()) throws -> StatsServer {
        var s = swl_stats()
        s.nr_running = 2
        s.nr_sent = 1234
        s.idle_in_flight_ns = 5_000_000
        var u = UserSpaceCounters()
        u.loops = 77
        let cost = SchedulerCost(windowNs: 2_000_000_000, processUserNs: 30_000_000, processSystemNs: 10_000_000,
                                 schedulingThreadNs: 25_000_000, bpfRunNs: 4_000_000, bpfRunCount: 500)
        let sample = RunStats.sample(Counters(s, userSpace: u), mode: .user, cost: cost)
        return try StatsServer(path: path, responder: StatsResponder(schema: RunStats.schema) { sample }, limits: limits)
    }

    /// `swiftland run --monitor EVERY` on the socket `path` for `forUs`, then SIGINT: its
    /// counters (stdout) and the log line that it stopped (stderr), read together.
    static func monitor(every: String, socket path: String, forUs: UInt32) throws -> Command.Result {
        let monitor = try Command.start(Command.swiftland, ["run", "--monitor", every, "--stats-socket", path])
        usleep(forUs)
        monitor.signal(SIGINT)
        return monitor.finish()
    }

    /// A monitor asking less often than the server's idle timeout: the server closes its
    /// connection between readings, and it connects again rather than report a stop.
    @Test func monitorConnectsAgainAfterAnIdleClose() throws {
        let dir = FileManager.default.temporaryDirectory.appending(path: "swl-monitor-idle-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var limits = StatsServer.Limits()
        limits.idleTimeout = .milliseconds(200)
        let server = try Self.fakeServer("\(dir)/stats", limits: limits)
        defer { server.stop() }
        let r = try Self.monitor(every: "0.5", socket: "\(dir)/stats", forUs: 2_200_000)
        let out = r.output
        #expect(r.status == 0)
        #expect(out.split(separator: "\n").filter { $0.hasPrefix("swiftland: nr_running=2 ") }.count >= 4, "\(out)")
        #expect(!out.contains("stopped"), "\(out)")
    }

    /// Another sched_ext scheduler on the socket, as scx_bpfland serves it (top struct
    /// "Metrics", some of its fields share swiftland's names): `metrics` and `--monitor`
    /// name it and exit 1 instead of printing its counters as swiftland's.
    @Test func anotherSchedulersStatsAreNotTakenForSwiftlands() throws {
        let dir = FileManager.default.temporaryDirectory.appending(path: "swl-foreign-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let metrics = StatsSchema(name: "Metrics", desc: "", metricPrefix: "", fields: [
            .init(name: "nr_running", desc: "Number of running tasks", unit: "", kind: .gauge),
            .init(name: "nr_cpus", desc: "Number of online CPUs", unit: "", kind: .gauge),
            .init(name: "nr_direct_dispatches", desc: "Number of task direct dispatches", unit: "", kind: .counter),
        ])
        let sample = StatsSample(["nr_running": .u64(7), "nr_cpus": .u64(2), "nr_direct_dispatches": .u64(99)])
        let server = try StatsServer(path: "\(dir)/stats", responder: StatsResponder(schema: metrics) { sample })
        defer { server.stop() }
        let expected = "is not swiftland: its stats are \"Metrics\", not \"swiftland\""
        let m = try Command.run(Command.swiftland, ["metrics", "--stats-socket", "\(dir)/stats"])
        #expect(m.status == 1)
        #expect(m.output.contains(expected), "\(m.output)")
        #expect(!m.output.contains("swiftland_nr_running"), "\(m.output)")
        // Under timeout(1): a monitor that took the counters for swiftland's would run on.
        let monitor = try Command.run("/usr/bin/timeout", ["20", Command.swiftland, "run", "--monitor", "0.2", "--stats-socket", "\(dir)/stats"])
        #expect(monitor.status == 1)
        #expect(monitor.output.contains(expected), "\(monitor.output)")
        #expect(!monitor.output.contains("nr_running=7"), "\(monitor.output)")
        #expect(StatsMonitor.message(for: .otherServer(path: "/p", expected: "swiftland", found: ["Metrics"]), path: "/p", attached: "bpfland_1.0.20_x86_64")
                    .hasSuffix("; the sched_ext scheduler attached now is \"bpfland_1.0.20_x86_64\""))
    }

    @Test func metricsPrintsTheRunningCounters() throws {
        let dir = FileManager.default.temporaryDirectory.appending(path: "swl-metrics-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try Self.fakeServer("\(dir)/stats")
        defer { server.stop() }
        let r = try Command.run(Command.swiftland, ["metrics", "--stats-socket", "\(dir)/stats"])
        #expect(r.status == 0, "\(r.output)")
        let lines = Set(r.output.split(separator: "\n").map(String.init))
        #expect(lines.contains("swiftland_nr_sent_total 1234"))
        #expect(lines.contains("# TYPE swiftland_nr_sent_total counter"))
        #expect(lines.contains("swiftland_nr_running 2.0"), "swift-prometheus writes gauges as doubles")
        #expect(lines.contains("# TYPE swiftland_nr_running gauge"))
        #expect(lines.contains("swiftland_idle_in_flight_ns_total 5000000"))
        #expect(lines.contains("swiftland_loops_total 77"))
        #expect(lines.contains(#"swiftland_mode_info{mode="user"} 1.0"#))
        // The scheduler's own CPU time, beside its counters.
        #expect(lines.contains("swiftland_process_user_ns_total 30000000"))
        #expect(lines.contains("# TYPE swiftland_process_user_ns_total counter"))
        #expect(lines.contains("swiftland_sched_thread_ns_total 25000000"))
        #expect(lines.contains("swiftland_bpf_run_ns_total 4000000"))
        #expect(lines.contains("swiftland_bpf_stats 1.0"))
        #expect(lines.contains { $0.hasPrefix("# HELP swiftland_bpf_run_cnt_total runs of the scheduler's BPF programs") && $0.hasSuffix("(runs)") })
        // Every field has its metric but the histograms (arrays).
        let samples = lines.filter { !$0.hasPrefix("#") }
        #expect(samples.count == RunStats.schema.fields.filter { !$0.isArray }.count)
        #expect(!r.output.contains("hist_us"))
    }

    /// Replies recorded from `swiftland run --mode hybrid` (every counter means something
    /// there) in the sched_ext VM with socat, BPF statistics on (Fixtures/vm-stats*.reply):
    /// the metadata sched-ext's clients saw is the schema's, and the sample reads back into
    /// the same counters, cost and histograms.
    @Test func repliesRecordedInTheVM() throws {
        let meta = try StatsReply<[String: StatsMeta]>(line: fixture("vm-stats-meta.reply"))
        #expect(meta.errno == 0)
        #expect(meta.answer == RunStats.schema.meta, "stats_meta changed: record it again if on purpose")
        let stats = try StatsReply<StatsSample>(line: fixture("vm-stats.reply"))
        let sample = try #require(stats.answer).typed(by: RunStats.schema)
        #expect(sample.values.count == RunStats.schema.fields.count)
        #expect(sample["mode"] == .string("hybrid"))
        let line = Counters.line(sample, for: .hybrid)
        #expect(line.hasPrefix("nr_running=2 nr_interactive=9 nr_waiting=0 nvcsw_avg_thresh=1 nr_direct_dispatches=143 "))
        #expect(line.contains(" nr_sent=2676 nr_user_dispatches=2597 ") && line.contains(" in_bypass=0 nr_bypass_entries=5 "))
        #expect(line.hasSuffix(" starvation=93"))
        #expect(!Counters.line(sample, for: .user).contains("bypass"))
        #expect(ChildStats.counters(sample).count == CounterDefinition.all.filter { $0.applies(in: .hybrid) }.count)
        let hist = try #require(ChildStats.counts(Counters.decisionHistogramName, in: sample))
        #expect(hist.count == Int(SWL_HIST_BUCKETS.rawValue))
        #expect(hist.prefix(11) == [0, 0, 0, 0, 0, 1, 11, 327, 585, 747, 407])
        #expect(RunStats.costLine(sample) == "elapsed_ns=5067574964 process_user_ns=174828000 process_system_ns=283169000 "
            + "sched_thread_ns=288904545 bpf_stats=1 bpf_run_ns=476946193 bpf_run_cnt=25287")
    }

    @Test func monitorPrintsLinesUntilSignalled() throws {
        let dir = FileManager.default.temporaryDirectory.appending(path: "swl-monitor-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try Self.fakeServer("\(dir)/stats")
        defer { server.stop() }
        let r = try Self.monitor(every: "0.2", socket: "\(dir)/stats", forUs: 1_000_000)
        let out = r.output
        #expect(r.status == 0)
        let lines = out.split(separator: "\n").filter { $0.hasPrefix("swiftland: nr_running=2 ") }
        #expect(lines.count >= 3, "\(out)")
        #expect(lines.first?.contains(" nr_sent=1234 ") == true)
        #expect(lines.first?.contains(" loops=77 ") == true)
        #expect(lines.first?.hasSuffix(" elapsed_ns=2000000000 process_user_ns=30000000 process_system_ns=10000000 sched_thread_ns=25000000 bpf_stats=1 bpf_run_ns=4000000 bpf_run_cnt=500") == true)
    }

    @Test func monitorEndsWhenTheSwiftlandStops() throws {
        let dir = FileManager.default.temporaryDirectory.appending(path: "swl-monitor-end-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try Self.fakeServer("\(dir)/stats")
        // Counters on stdout, the log line that it stopped on stderr: read together.
        let monitor = try Command.start(Command.swiftland, ["run", "--monitor", "0.2", "--stats-socket", "\(dir)/stats"])
        usleep(500_000)
        server.stop()
        let r = monitor.finish()
        let out = r.output
        #expect(r.status == 0)
        #expect(out.contains("the monitored swiftland stopped"), "\(out)")
    }
}
