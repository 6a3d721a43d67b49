import ArgumentParser
import BPFLoader
import Glibc
import Logging
import ScxStats
import SwiftlandUserMode

/// `swiftland run --monitor SECS`: the counters and cost of a running swiftland, read
/// through its stats socket, one line every SECS seconds.
struct StatsMonitor {
    let path: String
    /// Between two readings (RunCommand.intervalSeconds bounds it).
    let intervalMs: Int

    /// The exit status: 0 when the monitored swiftland stopped or on SIGINT/SIGTERM, 1 when
    /// none could be read.
    func run() -> Int32 {
        let signals = SignalWaiter([SIGINT, SIGTERM])
        var client: StatsClient
        do {
            client = try Self.connect(path)
        } catch {
            Log.swiftland.error("\(Self.message(for: error, path: path))")
            return 1
        }
        // A connection closed before it gave a sample ends the monitor.
        var fresh = true
        while true {
            let sample: StatsSample
            switch Result(catching: { () throws(StatsSocketError) in try Self.read(client) }) {
            case .success(let s):
                sample = s
                fresh = false
            case .failure(.closed) where !fresh:
                // The server closes a connection idle longer than its timeout (an interval
                // above 30 s); a swiftland still serving takes a new one.
                do {
                    client = try Self.connect(path)
                    fresh = true
                    continue
                } catch .noServer {
                    Log.swiftland.notice("the monitored swiftland stopped")
                    return 0
                } catch {
                    Log.swiftland.error("\(Self.message(for: error, path: path))")
                    return 1
                }
            case .failure(.closed):
                Log.swiftland.notice("the monitored swiftland stopped")
                return 0
            case .failure(let error):
                Log.swiftland.error("\(error)")
                return 1
            }
            let mode = RunStats.mode(of: sample)
            let cost = RunStats.costLine(sample)
            Terminal.out("swiftland: \(Counters.line(sample, for: mode))" + (cost.isEmpty ? "" : " \(cost)"))
            if signals.wait(milliseconds: intervalMs) != nil { return 0 }
        }
    }

    /// A connection to the swiftland serving `path`; throws `.otherServer` when another
    /// program (another sched_ext scheduler, on the default socket) serves it.
    static func connect(_ path: String) throws(StatsSocketError) -> StatsClient {
        let client = try StatsClient(path: path)
        try client.expectServer(of: RunStats.schema)
        return client
    }

    static func read(_ client: StatsClient) throws(StatsSocketError) -> StatsSample {
        try client.request(.init(req: "stats"), as: StatsSample.self).typed(by: RunStats.schema)
    }

    /// What `--monitor` and `metrics` print when they cannot read a swiftland. `attached`:
    /// the sched_ext scheduler attached now (/sys/kernel/sched_ext/root/ops), if any.
    static func message(for error: StatsSocketError, path: String,
                        attached: String? = Preflight().attachedScheduler()) -> String {
        switch error {
        case .noServer:
            return "no swiftland is running (nothing serves stats at \(path)); start one with `swiftland run`"
        case .otherServer:
            guard let attached, !attached.hasPrefix("swiftland") else { return "\(error)" }
            return "\(error); the sched_ext scheduler attached now is \"\(attached)\""
        default:
            return "\(error)"
        }
    }
}

struct MetricsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "Print the counters of the running swiftland once, in Prometheus text format.",
        discussion: """
            Reads the stats socket of the swiftland that runs (see `swiftland run \
            --help-stats` for what each field means) and prints every counter, and the \
            scheduler's own CPU time since it attached, in the Prometheus text exposition \
            format (the histograms are left out), for node_exporter's textfile collector \
            (from a timer, in the collector's directory, renaming so it never reads half a \
            file):
              swiftland metrics >swiftland.prom.tmp && mv swiftland.prom.tmp swiftland.prom

            Counters are named swiftland_<name>_total, gauges swiftland_<name>, and \
            swiftland_mode_info{mode="bpf"|"user"} says the mode. When no swiftland runs, or \
            another program (another sched_ext scheduler) serves the socket, it prints why on \
            stderr, nothing on stdout, and exits 1.
            """)

    @Option(help: ArgumentHelp("The stats socket to read.", valueName: "path"))
    var statsSocket: String = defaultStatsSocketPath

    func run() throws {
        Log.setUp(verbosity: 0)
        do {
            let sample = try StatsMonitor.read(try StatsMonitor.connect(statsSocket))
            print(PrometheusText.render(sample, schema: RunStats.schema), terminator: "")
        } catch {
            Log.swiftland.error("\(StatsMonitor.message(for: error, path: statsSocket))")
            throw ExitCode(1)
        }
    }
}
