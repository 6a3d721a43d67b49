import Foundation

/// A workload of the experiment: the command that runs it and how its figure is read from
/// its own output.
public struct WorkloadSpec: Codable, Sendable, Equatable {
    /// Unique within an experiment; the label in tables and file names, e.g. "hackbench".
    public var name: String
    /// argv, as run in every arm.
    public var command: [String]
    public var extractor: FigureExtractor
    /// Command names the run-queue latency tracer is limited to (empty: every task), e.g.
    /// ["cyclictest"], so that the hogs beside it do not drown its waits; a client and its
    /// server are both named. At most four (the tracer's limit).
    public var tracedCommands: [String]
    /// Runs beside one CPU-bound hog per CPU (started before the command, stopped after).
    public var besideHogs: Bool
    /// A server the command is a client of, started for each round.
    public var server: ServerSpec?

    public init(
        name: String, command: [String], extractor: FigureExtractor, tracedCommands: [String] = [],
        besideHogs: Bool = false, server: ServerSpec? = nil
    ) {
        self.name = name
        self.command = command
        self.extractor = extractor
        self.tracedCommands = tracedCommands
        self.besideHogs = besideHogs
        self.server = server
    }

    private enum CodingKeys: String, CodingKey {
        case name, command, extractor, tracedCommands, besideHogs, server
        /// Files written before the tracer took several names hold one, or none.
        case tracedCommand
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        command = try c.decode([String].self, forKey: .command)
        extractor = try c.decode(FigureExtractor.self, forKey: .extractor)
        if let names = try c.decodeIfPresent([String].self, forKey: .tracedCommands) {
            tracedCommands = names
        } else {
            tracedCommands = try c.decodeIfPresent(String.self, forKey: .tracedCommand).map { [$0] } ?? []
        }
        // Files written without the setting ran hogs beside cyclictest alone.
        besideHogs = try c.decodeIfPresent(Bool.self, forKey: .besideHogs) ?? (name == "cyclictest")
        server = try c.decodeIfPresent(ServerSpec.self, forKey: .server)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(command, forKey: .command)
        try c.encode(extractor, forKey: .extractor)
        try c.encode(tracedCommands, forKey: .tracedCommands)
        try c.encode(besideHogs, forKey: .besideHogs)
        try c.encodeIfPresent(server, forKey: .server)
    }

    /// The setting as a person reads it: the command, its server, what is traced, the hogs.
    public var settingDescription: String {
        var text = command.joined(separator: " ")
        if let server { text += "; server: \(server.command.joined(separator: " "))" }
        if besideHogs { text += ", beside one CPU hog per CPU" }
        if !tracedCommands.isEmpty { text += " (latency traced for \(tracedCommands.joined(separator: " and ")) only)" }
        return text
    }

    /// The figure and details of one round from the workload's output (stdout and stderr
    /// together; for `cyclictest --histfile`, the file's content).
    public func parse(_ output: String) throws(ParseError) -> ParsedOutput {
        try extractor.parse(output)
    }
}

/// A server a workload's command talks to on this machine's loopback. For each round the
/// runner creates `directory` with `files` in it, starts `command`, waits until
/// 127.0.0.1:`port` accepts connections, runs the workload, then stops the server
/// (SIGTERM to its process group) and removes the directory: every round, under every
/// arm, starts from a fresh server.
public struct ServerSpec: Codable, Sendable, Equatable {
    /// argv. It stays in the foreground (no daemon): its process is the one stopped.
    public var command: [String]
    public var port: Int
    /// The server's own directory: configuration, what it serves, its logs.
    public var directory: String
    /// Path relative to `directory` -> content.
    public var files: [String: String]

    public init(command: [String], port: Int, directory: String, files: [String: String] = [:]) {
        self.command = command
        self.port = port
        self.directory = directory
        self.files = files
    }
}

/// How a workload's figure is found in its output.
public enum FigureExtractor: Codable, Sendable, Equatable {
    /// rt-tests hackbench: "Time: 0.638", seconds, lower is better.
    case hackbench
    /// rt-tests cyclictest run as SCHED_OTHER.
    case cyclictest(figure: CyclictestFigure)
    /// stress-ng with `--metrics-brief`.
    case stressNg(figure: StressNgFigure)
    /// wrk with `--latency`: requests/s, higher is better.
    case wrk
    /// Any command: the first capture group of a regular expression.
    case pattern(CommandPattern)

    public func parse(_ output: String) throws(ParseError) -> ParsedOutput {
        switch self {
        case .hackbench: try HackbenchOutput.parse(output)
        case .cyclictest(let figure): try CyclictestOutput.parse(output).figure(figure)
        case .stressNg(let figure): try StressNgOutput.parse(output).figure(figure)
        case .wrk: try WrkOutput.parse(output).parsed
        case .pattern(let pattern): try pattern.parse(output)
        }
    }
}

/// What a parser found: the figure, and further numbers kept in the raw data.
public struct ParsedOutput: Sendable, Equatable {
    public var figure: Figure
    public var details: [String: Double]

    public init(figure: Figure, details: [String: Double] = [:]) {
        self.figure = figure
        self.details = details
    }
}

/// Why a workload's output gave no figure. Every parser fails with one of these rather
/// than returning 0, so a crashed or misconfigured workload cannot pass for a result.
public enum ParseError: Error, Equatable, CustomStringConvertible {
    /// The tool printed nothing (killed, not started, output lost).
    case emptyOutput(tool: String)
    /// The output lacks what the figure needs. `tail`: its last lines, for the reader.
    case missing(tool: String, what: String, tail: String)
    /// A line that should hold a number does not.
    case malformed(tool: String, line: String)
    /// The tool reported a failed run.
    case runFailed(tool: String, line: String)
    /// cyclictest: the percentile lies among the samples longer than the histogram (`-h`).
    case beyondHistogram(percentile: Double, histogramUs: Int, overflows: UInt64, samples: UInt64)
    /// `--workload-cmd`: the pattern is not a valid expression with one capture group.
    case badPattern(pattern: String, why: String)

    public var description: String {
        switch self {
        case .emptyOutput(let tool):
            return "\(tool) printed nothing: was it killed or did it fail to start?"
        case .missing(let tool, let what, let tail):
            return "\(tool): no \(what) in its output" + (tail.isEmpty ? "" : "; it ended with:\n\(tail)")
        case .malformed(let tool, let line):
            return "\(tool): cannot read a number from '\(line)'"
        case .runFailed(let tool, let line):
            return "\(tool) reported a failed run: '\(line)'"
        case .beyondHistogram(let q, let limit, let overflows, let samples):
            return "cyclictest: p\(formatPercentileLabel(q)) lies beyond the \(limit) us histogram "
                + "(\(overflows) of \(samples) samples overflowed): run it with a larger -h"
        case .badPattern(let pattern, let why):
            return "figure pattern '\(pattern)': \(why)"
        }
    }

    /// The last few non-empty lines of `output`, for error messages.
    static func tail(of output: String, lines: Int = 3) -> String {
        output.split(whereSeparator: \.isNewline).suffix(lines).map { "  " + $0 }.joined(separator: "\n")
    }
}

/// "99" for 0.99, "99.9" for 0.999.
func formatPercentileLabel(_ q: Double) -> String {
    let p = (q * 1000).rounded() / 10
    return p == p.rounded() ? String(Int(p)) : String(p)
}

/// Lines of `output` with terminal escape sequences (cyclictest's cursor moves) removed.
func plainLines(_ output: String) -> [Substring] {
    output.split(whereSeparator: \.isNewline).map { line in
        guard line.contains("\u{1B}") else { return line }
        var result = ""
        var inEscape = false
        for ch in line {
            if inEscape {
                if ch.isLetter { inEscape = false }
            } else if ch == "\u{1B}" {
                inEscape = true
            } else {
                result.append(ch)
            }
        }
        return Substring(result)
    }
}
