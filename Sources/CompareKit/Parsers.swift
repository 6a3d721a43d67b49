import Foundation

// Parsers for the output of each workload, written against outputs recorded on a real
// machine (Tests/CompareKitTests/Fixtures). Each one fails with a ParseError rather than
// guessing: a figure that is not in the output must not become a number in a table.

/// rt-tests hackbench: groups of senders and receivers passing messages; the figure is the
/// total time it printed ("Time: 0.638"), lower is better.
public enum HackbenchOutput {
    public static func parse(_ output: String) throws(ParseError) -> ParsedOutput {
        let lines = plainLines(output)
        guard !lines.isEmpty else { throw .emptyOutput(tool: "hackbench") }
        let timeLines = lines.filter { $0.hasPrefix("Time:") }
        guard let line = timeLines.last else {
            throw .missing(tool: "hackbench", what: "'Time:' line", tail: ParseError.tail(of: output))
        }
        guard timeLines.count == 1 else { throw .malformed(tool: "hackbench", line: timeLines.joined(separator: " / ")) }
        let text = line.dropFirst("Time:".count).trimmingCharacters(in: .whitespaces)
        guard let seconds = Double(text), seconds.isFinite, seconds >= 0 else {
            throw .malformed(tool: "hackbench", line: String(line))
        }
        var details: [String: Double] = [:]
        // "Running in process mode with 4 groups using 40 file descriptors each (== 160 tasks)"
        if let running = lines.first(where: { $0.hasPrefix("Running in") }), let open = running.range(of: "(== ") {
            let rest = running[open.upperBound...].prefix { $0.isNumber }
            if let tasks = Double(rest) { details["tasks"] = tasks }
        }
        return ParsedOutput(figure: Figure(name: "time", value: seconds, unit: "s", higherIsBetter: false),
                            details: details)
    }
}

/// Which number of a cyclictest run is the figure.
public enum CyclictestFigure: String, Codable, Sendable, Equatable, CaseIterable {
    /// 99th percentile of the wake-up latency over all threads, from cyclictest's own 1 us
    /// histogram (needs `-h N` or `--histfile`). The default: the maximum is one sample,
    /// decided by a single outlier, and under emulation that outlier is usually the host.
    case p99Us
    /// Largest wake-up latency of any thread (the summary's Max), available in every mode.
    case maxUs
    /// Mean of the per-thread averages (the summary's Avg).
    case avgUs
}

/// cyclictest's result: per-thread Min/Avg/Max and, with `-h`, the latency histogram.
///
/// Reads both forms it prints: `T: 0 (...) P: 0 I:1000 C: 4653 Min: 29 Act: 68 Avg: 158
/// Max: 99594` lines (the last one of each thread counts; without `-q` it reprints them with
/// cursor moves), and the histogram mode's `NNNNNN count count` rows with its `# Min
/// Latencies:` / `# Avg` / `# Max` / `# Histogram Overflows:` summary.
public struct CyclictestOutput: Sendable, Equatable {
    public struct Thread: Sendable, Equatable {
        public var minUs: Double
        public var avgUs: Double
        public var maxUs: Double
        /// Loops run (the T: line's C:); nil in histogram mode, which does not print it.
        public var cycles: Double?
    }

    public var threads: [Thread]
    /// Histogram mode: samples per whole microsecond, all threads added; index = us.
    public var histogramUs: [UInt64]?
    /// Histogram mode: samples longer than the histogram, all threads added.
    public var overflows: UInt64

    public static func parse(_ output: String) throws(ParseError) -> CyclictestOutput {
        let tool = "cyclictest"
        let lines = plainLines(output)
        guard !lines.isEmpty else { throw .emptyOutput(tool: tool) }

        var lastTLine: [Int: Thread] = [:]
        var histogram: [UInt64] = []
        var sawHistogram = false
        var summary: [String: [Double]] = [:]
        for line in lines {
            if line.hasPrefix("T:") {
                let (index, thread) = try parseTLine(line)
                lastTLine[index] = thread
            } else if let first = line.first, first.isNumber {
                let fields = line.split(whereSeparator: \.isWhitespace)
                guard fields.count >= 2, let bucket = Int(fields[0]) else { throw .malformed(tool: tool, line: String(line)) }
                var sum: UInt64 = 0
                for field in fields.dropFirst() {
                    guard let count = UInt64(field) else { throw .malformed(tool: tool, line: String(line)) }
                    sum += count
                }
                if histogram.count <= bucket { histogram += [UInt64](repeating: 0, count: bucket + 1 - histogram.count) }
                histogram[bucket] += sum
                sawHistogram = true
            } else if line.hasPrefix("# ") {
                for key in ["Min Latencies:", "Avg Latencies:", "Max Latencies:", "Histogram Overflows:"]
                where line.dropFirst(2).hasPrefix(key) {
                    let values = line.dropFirst(2 + key.count).split(whereSeparator: \.isWhitespace)
                    var numbers: [Double] = []
                    for value in values {
                        guard let number = Double(value) else { throw .malformed(tool: tool, line: String(line)) }
                        numbers.append(number)
                    }
                    summary[key] = numbers
                }
            }
        }

        var threads: [Thread]
        if let mins = summary["Min Latencies:"], let avgs = summary["Avg Latencies:"], let maxes = summary["Max Latencies:"],
           !mins.isEmpty, mins.count == avgs.count, avgs.count == maxes.count {
            threads = (0..<mins.count).map { Thread(minUs: mins[$0], avgUs: avgs[$0], maxUs: maxes[$0], cycles: nil) }
        } else {
            threads = lastTLine.keys.sorted().compactMap { lastTLine[$0] }
        }
        // Before the first loop cyclictest prints C: 0 with Min 1000000: no sample yet.
        threads.removeAll { $0.cycles == 0 }
        guard !threads.isEmpty else {
            throw .missing(tool: tool, what: "per-thread results (T: lines or '# Max Latencies:')",
                           tail: ParseError.tail(of: output))
        }
        let overflows = summary["Histogram Overflows:"].map { UInt64($0.reduce(0, +)) } ?? 0
        return CyclictestOutput(threads: threads, histogramUs: sawHistogram ? histogram : nil, overflows: overflows)
    }

    /// "T: 0 (10402) P: 0 I:1000 C:   4653 Min:     29 Act:   68 Avg:  158 Max:   99594"
    private static func parseTLine(_ line: Substring) throws(ParseError) -> (Int, Thread) {
        func value(_ key: String) -> Double? {
            guard let range = line.range(of: key) else { return nil }
            let rest = line[range.upperBound...].drop { $0 == " " }
            return Double(rest.prefix { $0.isNumber || $0 == "." })
        }
        guard let index = value("T:"), let min = value("Min:"), let avg = value("Avg:"), let max = value("Max:")
        else { throw .malformed(tool: "cyclictest", line: String(line)) }
        return (Int(index), Thread(minUs: min, avgUs: avg, maxUs: max, cycles: value("C:")))
    }

    /// Samples in histogram mode: in range plus overflowed.
    public var histogramSamples: UInt64 { (histogramUs?.reduce(0, +) ?? 0) + overflows }

    /// Percentile `q` of all threads' latencies in whole microseconds (nearest rank), from
    /// the histogram. Nil without a histogram.
    public func percentileUs(_ q: Double) throws(ParseError) -> Double? {
        guard let histogramUs else { return nil }
        let samples = histogramSamples
        guard samples > 0 else { return nil }
        let rank = max(1, UInt64((q * Double(samples)).rounded(.up)))
        var seen: UInt64 = 0
        for (us, count) in histogramUs.enumerated() {
            seen += count
            if seen >= rank { return Double(us) }
        }
        throw .beyondHistogram(percentile: q, histogramUs: histogramUs.count, overflows: overflows, samples: samples)
    }

    /// The figure chosen, with every thread's numbers (and p99 when available) as details.
    public func figure(_ which: CyclictestFigure) throws(ParseError) -> ParsedOutput {
        var details: [String: Double] = [:]
        for (i, thread) in threads.enumerated() {
            details["t\(i).min_us"] = thread.minUs
            details["t\(i).avg_us"] = thread.avgUs
            details["t\(i).max_us"] = thread.maxUs
        }
        let maxUs = threads.map(\.maxUs).max()!
        let avgUs = threads.map(\.avgUs).reduce(0, +) / Double(threads.count)
        details["max_us"] = maxUs
        details["avg_us"] = avgUs
        if histogramUs != nil {
            details["samples"] = Double(histogramSamples)
            details["overflows"] = Double(overflows)
        }
        switch which {
        case .maxUs:
            if let p99 = try? percentileUs(0.99) { details["p99_us"] = p99 }
            return ParsedOutput(figure: Figure(name: "max latency", value: maxUs, unit: "us", higherIsBetter: false),
                                details: details)
        case .avgUs:
            if let p99 = try? percentileUs(0.99) { details["p99_us"] = p99 }
            return ParsedOutput(figure: Figure(name: "avg latency", value: avgUs, unit: "us", higherIsBetter: false),
                                details: details)
        case .p99Us:
            let p99: Double?
            do {
                p99 = try percentileUs(0.99)
            } catch .beyondHistogram(_, let limitUs, _, _) {
                // Censored, not failed: the p99 is known to be at least the histogram's end,
                // which still orders it against any round whose p99 lay inside.
                return ParsedOutput(
                    figure: Figure(name: "p99 latency", value: Double(limitUs), unit: "us", higherIsBetter: false,
                                   bound: .atLeast),
                    details: details)
            }
            guard let p99 else {
                throw .missing(tool: "cyclictest", what: "latency histogram (run it with -h N for a p99 figure)", tail: "")
            }
            details["p99_us"] = p99
            return ParsedOutput(figure: Figure(name: "p99 latency", value: p99, unit: "us", higherIsBetter: false),
                                details: details)
        }
    }
}

/// Which number of a stress-ng run is the figure.
public enum StressNgFigure: Codable, Sendable, Equatable {
    /// Bogo ops/s (real time) of the one stressor that ran, or the geometric mean over all
    /// of them when several ran. The geometric mean because stressors' rates differ by
    /// orders of magnitude (in the scx CI mix, affinity makes ~10^5 ops/s, cpu ~10^2): a sum
    /// would be the fastest stressor alone, whereas the ratio of two geometric means is the
    /// geometric mean of the per-stressor ratios, each stressor weighing the same.
    case geometricMean
    /// Bogo ops/s (real time) of one stressor, e.g. "cpu".
    case stressor(String)
}

/// stress-ng's `--metrics-brief` table, one row per stressor:
/// `stress-ng: metrc: [11024] cpu   1387   5.14   1.05   0.01   269.60   1306.22`
/// (bogo ops, real/usr/sys time in s, bogo ops/s by real time and by usr+sys time). Older
/// versions tag the rows `info:` instead of `metrc:`; newer ones add columns after these
/// six, which are ignored.
public struct StressNgOutput: Sendable, Equatable {
    public struct Stressor: Sendable, Equatable {
        public var name: String
        public var bogoOps: Double
        public var realTimeSeconds: Double
        public var opsPerSecondRealTime: Double
        public var opsPerSecondCPUTime: Double
    }

    public var stressors: [Stressor]

    public static func parse(_ output: String) throws(ParseError) -> StressNgOutput {
        let tool = "stress-ng"
        let lines = plainLines(output)
        guard !lines.isEmpty else { throw .emptyOutput(tool: tool) }
        var stressors: [Stressor] = []
        for line in lines {
            let fields = line.split(whereSeparator: \.isWhitespace)
            guard fields.first == "stress-ng:" else { continue }
            if fields.count > 1, fields[1] == "fail:" || fields[1] == "error:" {
                throw .runFailed(tool: tool, line: String(line))
            }
            if line.contains("unsuccessful run completed") { throw .runFailed(tool: tool, line: String(line)) }
            // Newer versions end with "failed: N: STRESSOR (N)" when a stressor failed.
            if fields.count > 4, fields[3] == "failed:", fields[4] != "0" { throw .runFailed(tool: tool, line: String(line)) }
            // stress-ng: metrc: [pid] NAME n n n n n n ...
            guard fields.count >= 10, fields[1] == "metrc:" || fields[1] == "info:", fields[2].hasPrefix("[") else { continue }
            let numbers = fields[4..<10].map { Double($0) }
            guard !numbers.contains(nil) else { continue }  // a header row, or an info line with words
            let n = numbers.map { $0! }
            stressors.append(Stressor(name: String(fields[3]), bogoOps: n[0], realTimeSeconds: n[1],
                                      opsPerSecondRealTime: n[4], opsPerSecondCPUTime: n[5]))
        }
        guard !stressors.isEmpty else {
            throw .missing(tool: tool, what: "metrics rows (was --metrics-brief given?)", tail: ParseError.tail(of: output))
        }
        return StressNgOutput(stressors: stressors)
    }

    public func figure(_ which: StressNgFigure) throws(ParseError) -> ParsedOutput {
        var details: [String: Double] = [:]
        for s in stressors {
            details["\(s.name).bogo_ops"] = s.bogoOps
            details["\(s.name).real_time_s"] = s.realTimeSeconds
            details["\(s.name).ops_per_s"] = s.opsPerSecondRealTime
        }
        switch which {
        case .stressor(let name):
            guard let s = stressors.first(where: { $0.name == name }) else {
                throw .missing(tool: "stress-ng", what: "stressor '\(name)' (it ran: \(stressors.map(\.name).joined(separator: ", ")))",
                               tail: "")
            }
            return ParsedOutput(figure: Figure(name: "\(name) bogo ops/s", value: s.opsPerSecondRealTime,
                                               unit: "bogo ops/s", higherIsBetter: true), details: details)
        case .geometricMean:
            if stressors.count == 1 {
                let s = stressors[0]
                return ParsedOutput(figure: Figure(name: "\(s.name) bogo ops/s", value: s.opsPerSecondRealTime,
                                                   unit: "bogo ops/s", higherIsBetter: true), details: details)
            }
            // A stressor that made no progress makes the mean 0, which is what happened.
            let logSum = stressors.map { log($0.opsPerSecondRealTime) }.reduce(0, +)
            let mean = stressors.contains { $0.opsPerSecondRealTime <= 0 } ? 0 : exp(logSum / Double(stressors.count))
            return ParsedOutput(figure: Figure(name: "geomean bogo ops/s of \(stressors.map(\.name).joined(separator: "+"))",
                                               value: mean, unit: "bogo ops/s", higherIsBetter: true), details: details)
        }
    }
}

/// `--workload-cmd`'s figure: the first capture group of `regex` in the command's output
/// (the last match when there are several: commands that print progress print the final
/// value last), with its unit and direction.
public struct CommandPattern: Codable, Sendable, Equatable {
    /// An ICU regular expression (NSRegularExpression) with exactly one capture group.
    public var regex: String
    public var figureName: String
    public var unit: String
    public var higherIsBetter: Bool

    /// - Throws: `ParseError.badPattern` if `regex` does not compile or does not have
    ///   exactly one capture group, so a typo fails before the experiment starts.
    public init(regex: String, figureName: String, unit: String, higherIsBetter: Bool) throws(ParseError) {
        self.regex = regex
        self.figureName = figureName
        self.unit = unit
        self.higherIsBetter = higherIsBetter
        _ = try compiled()
    }

    private func compiled() throws(ParseError) -> NSRegularExpression {
        let expression: NSRegularExpression
        do {
            expression = try NSRegularExpression(pattern: regex, options: [.anchorsMatchLines])
        } catch {
            throw .badPattern(pattern: regex, why: "not a valid regular expression")
        }
        guard expression.numberOfCaptureGroups == 1 else {
            throw .badPattern(pattern: regex, why: "needs exactly one capture group (has \(expression.numberOfCaptureGroups))")
        }
        return expression
    }

    public func parse(_ output: String) throws(ParseError) -> ParsedOutput {
        let tool = "workload command"
        guard !output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw .emptyOutput(tool: tool) }
        let expression = try compiled()
        let whole = NSRange(output.startIndex..., in: output)
        guard let match = expression.matches(in: output, range: whole).last,
              let range = Range(match.range(at: 1), in: output)
        else {
            throw .missing(tool: tool, what: "match of /\(regex)/", tail: ParseError.tail(of: output))
        }
        let text = output[range].trimmingCharacters(in: .whitespaces)
        guard let value = Double(text), value.isFinite else { throw .malformed(tool: tool, line: text) }
        return ParsedOutput(figure: Figure(name: figureName, value: value, unit: unit, higherIsBetter: higherIsBetter))
    }
}
