import Foundation

/// The request/response workload the seed measured: Debian's nginx serving one small
/// static file on the loopback, wrk as its client. Both sides run on the machine under
/// test, so the scheduler decides how the server's workers and the client's threads share
/// the CPUs; the run-queue latency tracer times both.
public enum WrkWorkload {
    /// Where the server's configuration, file, pid file and logs go (a tmpfs in the VM).
    public static let directory = "/tmp/swiftland-wrk"
    public static let port = 18080
    /// Open connections per client thread.
    public static let connectionsPerThread = 8
    /// The served file's size: small, so that the figure is the cost of a request and not
    /// of copying bytes.
    public static let fileBytes = 1024

    /// `name`'s spec: wrk with one thread per CPU for `seconds`, nginx with one worker per
    /// CPU, optionally beside one CPU hog per CPU. The headline figure is requests/s; the
    /// latency percentiles go to the round's details.
    public static func spec(name: String, cpus: Int, seconds: Int, besideHogs: Bool) -> WorkloadSpec {
        let threads = max(1, cpus)
        // A request slower than the run would otherwise be counted as a timeout, not as
        // latency: the timeout is the run's length.
        let client = ["wrk", "--latency", "-t", "\(threads)", "-c", "\(threads * connectionsPerThread)",
                      "-d", "\(seconds)s", "--timeout", "\(max(2, seconds))s", "http://127.0.0.1:\(port)/index.html"]
        let server = ServerSpec(
            command: ["nginx", "-p", directory, "-c", directory + "/nginx.conf", "-e", directory + "/error.log"],
            port: port, directory: directory,
            files: ["nginx.conf": nginxConfig(workers: threads), "www/index.html": page()])
        return WorkloadSpec(name: name, command: client, extractor: .wrk, tracedCommands: ["nginx", "wrk"],
                            besideHogs: besideHogs, server: server)
    }

    /// nginx in the foreground as root (the guest has no www-data user), one worker per
    /// CPU, every path it writes under `directory`, no access log (it would measure the
    /// disk), listening on the loopback only.
    static func nginxConfig(workers: Int) -> String {
        let temporary = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
            .map { "    \($0)_temp_path \(directory)/\($0 == "client_body" ? "body" : $0);" }
            .joined(separator: "\n")
        return """
            daemon off;
            master_process on;
            user root root;
            worker_processes \(workers);
            pid \(directory)/nginx.pid;
            error_log \(directory)/error.log warn;
            events {
                worker_connections 1024;
            }
            http {
                access_log off;
                default_type text/html;
                keepalive_requests 1000000;
            \(temporary)
                server {
                    listen 127.0.0.1:\(port);
                    root \(directory)/www;
                }
            }

            """
    }

    /// An HTML page of exactly `fileBytes` bytes.
    static func page() -> String {
        let head = "<!DOCTYPE html>\n<html><head><title>swiftland</title></head><body>\n"
        let tail = "\n</body></html>\n"
        return head + String(repeating: "x", count: fileBytes - head.utf8.count - tail.utf8.count) + tail
    }
}

/// wrk's report with `--latency`:
///
///     Running 2s test @ http://127.0.0.1:18080/index.html
///       2 threads and 16 connections
///       Thread Stats   Avg      Stdev     Max   +/- Stdev
///         Latency   365.18us  390.29us   7.05ms   96.63%
///         Req/Sec    23.82k     5.11k   40.84k    68.29%
///       Latency Distribution
///          50%  299.00us
///          ...
///          99%    2.40ms
///       97088 requests in 2.10s, 116.94MB read
///       Socket errors: connect 0, read 0, write 0, timeout 5      (only when there were any)
///       Non-2xx or 3xx responses: 12                              (only when there were any)
///     Requests/sec:  46245.68
///     Transfer/sec:     55.70MB
///
/// Times carry wrk's units (us, ms, s, m, h); they are read as microseconds.
public struct WrkOutput: Sendable, Equatable {
    public var requestsPerSecond: Double
    public var requests: Double
    public var durationSeconds: Double
    public var latencyAvgUs: Double
    public var latencyMaxUs: Double
    /// Percentile (50, 75, 90, 99) -> microseconds.
    public var latencyPercentilesUs: [Int: Double]
    /// connect, read, write, timeout -> count; empty when wrk printed no such line.
    public var socketErrors: [String: Double]
    public var non2xxResponses: Double

    static let tool = "wrk"

    public static func parse(_ output: String) throws(ParseError) -> WrkOutput {
        let lines = plainLines(output).map { $0.trimmingCharacters(in: .whitespaces) }
        guard lines.contains(where: { !$0.isEmpty }) else { throw .emptyOutput(tool: tool) }
        func missing(_ what: String) -> ParseError { .missing(tool: tool, what: what, tail: ParseError.tail(of: output)) }

        var requestsPerSecond: Double?
        var requests: Double?
        var duration: Double?
        var latency: (avg: Double, max: Double)?
        var percentiles: [Int: Double] = [:]
        var socketErrors: [String: Double] = [:]
        var non2xx: Double = 0
        var inDistribution = false
        for line in lines {
            let fields = line.split(whereSeparator: \.isWhitespace).map(String.init)
            guard let first = fields.first else { continue }
            if inDistribution, first.hasSuffix("%"), let q = Int(first.dropLast()) {
                guard fields.count == 2, let us = microseconds(fields[1]) else { throw .malformed(tool: tool, line: line) }
                percentiles[q] = us
                continue
            }
            inDistribution = false
            if line.hasPrefix("Requests/sec:") {
                guard fields.count == 2, let value = Double(fields[1]), value.isFinite else {
                    throw .malformed(tool: tool, line: line)
                }
                requestsPerSecond = value
            } else if line == "Latency Distribution" {
                inDistribution = true
            } else if first == "Latency" {
                // Latency AVG STDEV MAX +/-STDEV
                guard fields.count >= 4, let avg = microseconds(fields[1]), let max = microseconds(fields[3]) else {
                    throw .malformed(tool: tool, line: line)
                }
                latency = (avg, max)
            } else if fields.count >= 4, fields[1] == "requests", fields[2] == "in" {
                // "97088 requests in 2.10s, 116.94MB read"
                guard let count = Double(first), let seconds = microseconds(String(fields[3].dropLast())) else {
                    throw .malformed(tool: tool, line: line)
                }
                requests = count
                duration = seconds / 1_000_000
            } else if line.hasPrefix("Socket errors:") {
                // "Socket errors: connect 0, read 0, write 0, timeout 5"
                let pairs = line.dropFirst("Socket errors:".count).split(separator: ",")
                for pair in pairs {
                    let kv = pair.split(whereSeparator: \.isWhitespace)
                    guard kv.count == 2, let count = Double(kv[1]) else { throw .malformed(tool: tool, line: line) }
                    socketErrors[String(kv[0])] = count
                }
            } else if line.hasPrefix("Non-2xx or 3xx responses:") {
                guard let count = fields.last.flatMap(Double.init) else { throw .malformed(tool: tool, line: line) }
                non2xx = count
            }
        }
        guard let requestsPerSecond else { throw missing("'Requests/sec:' line") }
        guard let requests, let duration else { throw missing("'N requests in T' line") }
        guard let latency else { throw missing("'Latency' line of its thread statistics") }
        guard percentiles[99] != nil else { throw missing("latency distribution (run it with --latency)") }
        if requests == 0 { throw .runFailed(tool: tool, line: "0 requests in \(duration) s") }
        if non2xx > 0 {
            // An error page is not the file: the server is misconfigured.
            throw .runFailed(tool: tool, line: "\(Int(non2xx)) of \(Int(requests)) responses were not 2xx or 3xx")
        }
        return WrkOutput(requestsPerSecond: requestsPerSecond, requests: requests, durationSeconds: duration,
                         latencyAvgUs: latency.avg, latencyMaxUs: latency.max, latencyPercentilesUs: percentiles,
                         socketErrors: socketErrors, non2xxResponses: non2xx)
    }

    /// "299.00us", "2.40ms", "1.00s", "1.50m", "2.00h" in microseconds; nil otherwise.
    /// Rounded to 0.01 us, finer than wrk's two decimals in any unit, so that "16.03ms" reads
    /// as 16030 and not as the nearest binary product.
    static func microseconds(_ text: String) -> Double? {
        let units: [(String, Double)] = [("us", 1), ("ms", 1e3), ("s", 1e6), ("m", 60e6), ("h", 3600e6)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let value = Double(text.dropLast(suffix.count)), value.isFinite, value >= 0 else { return nil }
            return (value * scale * 100).rounded() / 100
        }
        return nil
    }

    /// requests/s as the figure; latencies, counts and errors as details.
    public var parsed: ParsedOutput {
        var details: [String: Double] = [
            "requests": requests, "duration_s": durationSeconds,
            "latency_avg_us": latencyAvgUs, "latency_max_us": latencyMaxUs,
        ]
        for (q, us) in latencyPercentilesUs { details["latency_p\(q)_us"] = us }
        for (kind, count) in socketErrors { details["socket_errors.\(kind)"] = count }
        return ParsedOutput(
            figure: Figure(name: "throughput", value: requestsPerSecond, unit: "requests/s", higherIsBetter: true),
            details: details)
    }
}
