import ArgumentParser
import BPFLoader
import Glibc
import Logging
import ScxStats

/// `swiftland run --monitor SECS`: the counters of a running swiftland, read through its
/// stats socket, one line every SECS seconds.
struct StatsMonitor {
    let path: String
    /// Between two readings (RunCommand.intervalSeconds bounds it).
    let intervalMs: Int

    /// The exit status: 0 when the monitored swiftland stopped or on SIGINT/SIGTERM, 1 when
    /// none could be read.
    func run() -> Int32 {
        let signals = SignalWaiter([SIGINT, SIGTERM])
        let client: StatsClient
        do {
            client = try StatsClient(path: path)
        } catch {
            Log.swiftland.error("\(notRunningMessage(error))")
            return 1
        }
        while true {
            let sample: StatsSample
            switch Result(catching: { () throws(StatsSocketError) in try Self.read(client) }) {
            case .success(let s): sample = s
            case .failure(.closed):
                Log.swiftland.notice("the monitored swiftland stopped")
                return 0
            case .failure(let error):
                Log.swiftland.error("\(error)")
                return 1
            }
            let mode = sample["mode"].flatMap { if case .string(let s) = $0 { SchedulerMode(rawValue: s) } else { nil } } ?? .bpf
            Terminal.out("swiftland: \(Counters.line(sample, for: mode))")
            if signals.wait(milliseconds: intervalMs) != nil { return 0 }
        }
    }

    static func read(_ client: StatsClient) throws(StatsSocketError) -> StatsSample {
        try client.request(.init(req: "stats"), as: StatsSample.self).typed(by: CounterDefinition.schema)
    }

    private func notRunningMessage(_ error: StatsSocketError) -> String {
        switch error {
        case .noServer: "no swiftland is running (\(error)); start one with `swiftland run`"
        default: "\(error)"
        }
    }
}

struct MetricsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "Print the counters of the running swiftland once, in Prometheus text format.",
        discussion: """
            Reads the stats socket of the swiftland that runs (see `swiftland run \
            --help-stats` for what each counter means) and prints every counter in the \
            Prometheus text exposition format, for node_exporter's textfile collector \
            (from a timer, in the collector's directory, renaming so it never reads half a \
            file):
              swiftland metrics >swiftland.prom.tmp && mv swiftland.prom.tmp swiftland.prom

            Counters are named swiftland_<name>_total, gauges swiftland_<name>, and \
            swiftland_mode_info{mode="bpf"|"user"} says the mode. When no swiftland runs it \
            prints why on stderr, nothing on stdout, and exits 1.
            """)

    @Option(help: ArgumentHelp("The stats socket to read.", valueName: "path"))
    var statsSocket: String = defaultStatsSocketPath

    func run() throws {
        Log.setUp(verbosity: 0)
        do {
            let sample = try StatsMonitor.read(try StatsClient(path: statsSocket))
            print(PrometheusText.render(sample, schema: CounterDefinition.schema), terminator: "")
        } catch .noServer {
            Log.swiftland.error("no swiftland is running (nothing serves stats at \(statsSocket)); start one with `swiftland run`")
            throw ExitCode(1)
        } catch {
            Log.swiftland.error("\(error)")
            throw ExitCode(1)
        }
    }
}
