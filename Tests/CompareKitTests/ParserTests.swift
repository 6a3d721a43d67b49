import Foundation
import TestSupport
import Testing
@testable import CompareKit

// The recorded outputs are in Fixtures/ (see Fixtures/README.md for how each was made).

@Suite("workload output parsers, on recorded outputs")
struct ParserTests {
    // MARK: hackbench

    static let hackbenchRuns: [(file: String, seconds: Double, tasks: Double)] = [
        ("hackbench-g4-l100.txt", 0.638, 160),
        ("hackbench-pipe-threads.txt", 0.288, 80),
    ]

    @Test("hackbench: the time, lower is better", arguments: hackbenchRuns)
    func hackbench(file: String, seconds: Double, tasks: Double) throws {
        let parsed = try HackbenchOutput.parse(fixture(file))
        #expect(parsed.figure == Figure(name: "time", value: seconds, unit: "s", higherIsBetter: false))
        #expect(parsed.details["tasks"] == tasks)
        #expect(try WorkloadSpec(name: "hb", command: ["hackbench"], extractor: .hackbench).parse(fixture(file)) == parsed)
    }

    @Test("hackbench killed before the end, a wrong option, no output: errors, never 0")
    func hackbenchFailures() throws {
        #expect(throws: ParseError.emptyOutput(tool: "hackbench")) { try HackbenchOutput.parse("") }
        for file in ["hackbench-killed.txt", "hackbench-badopt.txt"] {
            let error = try #require(throws: ParseError.self) { try HackbenchOutput.parse(fixture(file)) }
            guard case .missing(_, let what, let tail) = error else { Issue.record("\(error)"); continue }
            #expect(what.contains("Time:"))
            #expect(!tail.isEmpty)
            #expect(error.description.contains("hackbench: no 'Time:' line"))
        }
        #expect(throws: ParseError.malformed(tool: "hackbench", line: "Time: soon")) {
            try HackbenchOutput.parse("Time: soon\n")
        }
    }

    // MARK: cyclictest

    @Test("cyclictest -q: per-thread Min/Avg/Max; p99 needs -h")
    func cyclictestQuiet() throws {
        let out = try CyclictestOutput.parse(fixture("cyclictest-q.txt"))
        #expect(out.threads.count == 2)
        #expect(out.threads[0] == .init(minUs: 29, avgUs: 158, maxUs: 99594, cycles: 4653))
        #expect(out.threads[1] == .init(minUs: 20, avgUs: 285, maxUs: 165257, cycles: 2958))
        #expect(out.histogramUs == nil)
        let max = try out.figure(.maxUs)
        #expect(max.figure == Figure(name: "max latency", value: 165257, unit: "us", higherIsBetter: false))
        #expect(max.details["t0.max_us"] == 99594)
        #expect(try out.figure(.avgUs).figure.value == (158 + 285) / 2)
        let error = try #require(throws: ParseError.self) { try out.figure(.p99Us) }
        #expect(error.description.contains("-h"))
    }

    @Test("cyclictest -h under load: p99 from its 1 us histogram, overflows counted")
    func cyclictestHistogram() throws {
        let out = try CyclictestOutput.parse(fixture("cyclictest-h400-load.txt"))
        #expect(out.threads.map(\.maxUs) == [8315, 9990])
        #expect(out.threads.map(\.minUs) == [16, 14])
        #expect(out.histogramUs?.count == 400)
        #expect(out.overflows == 27)
        #expect(out.histogramSamples == 2920 + 2931 + 27)
        // 99% of 5878 samples: rank 5820, checked with awk over the file.
        let p99 = try out.figure(.p99Us)
        #expect(p99.figure == Figure(name: "p99 latency", value: 102, unit: "us", higherIsBetter: false))
        #expect(p99.details["max_us"] == 9990)
        #expect(p99.details["overflows"] == 27)
        #expect(try out.figure(.maxUs).details["p99_us"] == 102)
    }

    @Test("cyclictest --histfile: the file holds the histogram and summary; stdout alone has no figure")
    func cyclictestHistfile() throws {
        let p99 = try CyclictestOutput.parse(fixture("cyclictest-histfile.txt")).figure(.p99Us)
        #expect(p99.figure.value == 85)
        #expect(p99.details["max_us"] == 31934)
        let error = try #require(throws: ParseError.self) {
            try CyclictestOutput.parse(fixture("cyclictest-histfile-stdout.txt"))
        }
        guard case .missing = error else { Issue.record("\(error)"); return }
    }

    @Test("cyclictest: p99 beyond the histogram is censored at its end, not failed")
    func cyclictestOverflow() throws {
        let out = try CyclictestOutput.parse(fixture("cyclictest-h.txt"))
        #expect(out.overflows == 145)
        #expect(throws: ParseError.beyondHistogram(percentile: 0.99, histogramUs: 200, overflows: 145, samples: 5514)) {
            try out.percentileUs(0.99)
        }
        let p99 = try out.figure(.p99Us)
        #expect(p99.figure == Figure(name: "p99 latency", value: 200, unit: "us", higherIsBetter: false, bound: .atLeast))
        #expect(p99.figure.measured == Measured(lower: 200, upper: .infinity))
        #expect(p99.details["overflows"] == 145 && p99.details["p99_us"] == nil)
        #expect(try out.figure(.maxUs).figure.value == 153465)
        #expect(ParseError.beyondHistogram(percentile: 0.99, histogramUs: 200, overflows: 145, samples: 5514)
            .description.contains("p99 lies beyond the 200 us histogram"))
    }

    @Test("cyclictest without -q: the last of its redrawn T: lines, escape sequences ignored")
    func cyclictestLive() throws {
        let out = try CyclictestOutput.parse(fixture("cyclictest-noq.txt"))
        #expect(out.threads == [.init(minUs: 66, avgUs: 338, maxUs: 3838, cycles: 99)])
    }

    @Test("cyclictest killed (nothing printed), wrong option, only the not-started lines: errors")
    func cyclictestFailures() throws {
        #expect(throws: ParseError.emptyOutput(tool: "cyclictest")) {
            try CyclictestOutput.parse(fixture("cyclictest-killed.txt"))
        }
        let bad = try #require(throws: ParseError.self) { try CyclictestOutput.parse(fixture("cyclictest-badopt.txt")) }
        guard case .missing = bad else { Issue.record("\(bad)"); return }
        // The first frame of the live display, before any loop ran: C: 0, Min 1000000.
        let notStarted = "T: 0 (    0) P: 0 I:1000 C:      0 Min:1000000 Act:    0 Avg:    0 Max:       0\n"
        #expect(throws: ParseError.self) { try CyclictestOutput.parse(notStarted) }
    }

    // MARK: stress-ng

    @Test("stress-ng --metrics-brief, one stressor: its bogo ops/s (real time)")
    func stressOne() throws {
        let parsed = try StressNgOutput.parse(fixture("stress-cpu.txt")).figure(.geometricMean)
        #expect(parsed.figure == Figure(name: "cpu bogo ops/s", value: 1092.98, unit: "bogo ops/s", higherIsBetter: true))
        #expect(parsed.details["cpu.bogo_ops"] == 5468)
        #expect(parsed.details["cpu.real_time_s"] == 5.00)
    }

    @Test("stress-ng scx CI mix: three stressors, geometric mean or one by name")
    func stressMix() throws {
        let out = try StressNgOutput.parse(fixture("stress-scx-ci.txt"))
        #expect(out.stressors.map(\.name) == ["cpu", "fork", "affinity"])
        #expect(out.stressors.map(\.opsPerSecondRealTime) == [269.60, 179.23, 154255.00])
        #expect(out.stressors.map(\.bogoOps) == [1387, 902, 781871])
        let mean = try out.figure(.geometricMean).figure
        #expect(abs(mean.value - pow(269.60 * 179.23 * 154255.00, 1.0 / 3)) < 1e-6)
        #expect(mean.name == "geomean bogo ops/s of cpu+fork+affinity")
        #expect(try out.figure(.stressor("fork")).figure.value == 179.23)
        let error = try #require(throws: ParseError.self) { try out.figure(.stressor("vm")) }
        #expect(error.description.contains("it ran: cpu, fork, affinity"))
    }

    @Test("stress-ng stopped by SIGINT still reports its rates (and its shorter real time)")
    func stressInterrupted() throws {
        let parsed = try StressNgOutput.parse(fixture("stress-interrupted.txt")).figure(.geometricMean)
        #expect(parsed.figure.value == 593.71)
        #expect(parsed.details["cpu.real_time_s"] == 1.98)
    }

    @Test("stress-ng without metrics, killed, or with a wrong option: errors")
    func stressFailures() throws {
        for file in ["stress-nometrics.txt", "stress-killed.txt", "stress-badopt.txt"] {
            let error = try #require(throws: ParseError.self) { try StressNgOutput.parse(fixture(file)) }
            guard case .missing(_, let what, _) = error else { Issue.record("\(file): \(error)"); continue }
            #expect(what.contains("--metrics-brief"))
        }
        #expect(throws: ParseError.emptyOutput(tool: "stress-ng")) { try StressNgOutput.parse("\n") }
        // Not recorded (no stressor failed here): the line stress-ng prints when one does.
        let failed = "stress-ng: fail:  [123] stress-ng-fork: fork failed, errno=11\n"
        #expect(throws: ParseError.runFailed(tool: "stress-ng", line: failed.trimmingCharacters(in: .newlines))) {
            try StressNgOutput.parse(failed)
        }
    }

    // MARK: --workload-cmd

    @Test("a user command: the last match of a one-group pattern")
    func command() throws {
        let seconds = try CommandPattern(regex: #"copied, ([0-9.]+) s,"#, figureName: "copy time", unit: "s",
                                         higherIsBetter: false)
        let parsed = try seconds.parse(fixture("usercmd-dd.txt"))
        #expect(parsed.figure == Figure(name: "copy time", value: 0.212981, unit: "s", higherIsBetter: false))
        let rate = try CommandPattern(regex: #"^([0-9]+)\+0 records"#, figureName: "records", unit: "records",
                                      higherIsBetter: true)
        #expect(try rate.parse(fixture("usercmd-dd.txt")).figure.value == 2000)
        let spec = WorkloadSpec(name: "dd", command: ["dd"], extractor: .pattern(seconds))
        #expect(try spec.parse(fixture("usercmd-dd.txt")) == parsed)
    }

    @Test("a user command: bad patterns fail at once; no match, no number, no output fail clearly")
    func commandFailures() throws {
        #expect(throws: ParseError.badPattern(pattern: "copied", why: "needs exactly one capture group (has 0)")) {
            try CommandPattern(regex: "copied", figureName: "x", unit: "s", higherIsBetter: false)
        }
        #expect(throws: ParseError.self) { try CommandPattern(regex: "(a)(b)", figureName: "x", unit: "s", higherIsBetter: false) }
        #expect(throws: ParseError.badPattern(pattern: "([0-9", why: "not a valid regular expression")) {
            try CommandPattern(regex: "([0-9", figureName: "x", unit: "s", higherIsBetter: false)
        }
        let pattern = try CommandPattern(regex: #"Time: ([0-9.]+)"#, figureName: "t", unit: "s", higherIsBetter: false)
        let error = try #require(throws: ParseError.self) { try pattern.parse(fixture("usercmd-dd.txt")) }
        #expect(error.description.contains("no match of /Time: ([0-9.]+)/"))
        #expect(error.description.contains("copied"))
        let word = try CommandPattern(regex: #"records (\w+)"#, figureName: "t", unit: "s", higherIsBetter: false)
        #expect(throws: ParseError.malformed(tool: "workload command", line: "out")) { try word.parse(fixture("usercmd-dd.txt")) }
        #expect(throws: ParseError.emptyOutput(tool: "workload command")) { try pattern.parse(" \n") }
    }

    // MARK: wrk

    @Test("wrk --latency in the VM: requests/s, higher is better; latencies in us as details")
    func wrk() throws {
        let parsed = try WrkOutput.parse(fixture("wrk-vm.txt")).parsed
        #expect(parsed.figure == Figure(name: "throughput", value: 1625.68, unit: "requests/s", higherIsBetter: true))
        #expect(parsed.details == [
            "requests": 5026, "duration_s": 3.09, "latency_avg_us": 9870, "latency_max_us": 48680,
            "latency_p50_us": 8400, "latency_p75_us": 13130, "latency_p90_us": 19060, "latency_p99_us": 30460,
        ])
        let spec = WrkWorkload.spec(name: "wrk", cpus: 2, seconds: 3, besideHogs: false)
        #expect(try spec.parse(fixture("wrk-vm.txt")) == parsed)
        let hogs = try WrkOutput.parse(fixture("wrk-vm-hogs.txt"))
        #expect(hogs.requestsPerSecond == 1035.18 && hogs.latencyPercentilesUs[99] == 53870)
    }

    @Test("wrk with socket errors: counted in the details, microsecond latencies")
    func wrkSocketErrors() throws {
        let out = try WrkOutput.parse(fixture("wrk-server-stopped.txt"))
        #expect(out.requestsPerSecond == 15636.93)
        #expect(out.latencyPercentilesUs == [50: 193, 75: 323, 90: 510, 99: 8620])
        #expect(out.latencyAvgUs == 588.16)
        #expect(out.socketErrors == ["connect": 0, "read": 22, "write": 75373, "timeout": 0])
        #expect(out.parsed.details["socket_errors.write"] == 75373)
    }

    @Test("wrk without --latency, 404s, no server, killed, a wrong option: errors naming wrk")
    func wrkFailures() throws {
        #expect(throws: ParseError.emptyOutput(tool: "wrk")) { try WrkOutput.parse("\n") }
        let noLatency = try #require(throws: ParseError.self) { try WrkOutput.parse(fixture("wrk-vm-nolatency.txt")) }
        #expect(noLatency.description.hasPrefix("wrk: no latency distribution (run it with --latency)"))
        #expect(throws: ParseError.runFailed(tool: "wrk", line: "3727 of 3727 responses were not 2xx or 3xx")) {
            try WrkOutput.parse(fixture("wrk-vm-404.txt"))
        }
        for file in ["wrk-vm-refused.txt", "wrk-vm-killed.txt", "wrk-vm-badopt.txt"] {
            let error = try #require(throws: ParseError.self) { try WrkOutput.parse(fixture(file)) }
            guard case .missing(let tool, let what, let tail) = error else { Issue.record("\(file): \(error)"); continue }
            #expect(tool == "wrk" && what.contains("Requests/sec:") && !tail.isEmpty, "\(file)")
        }
        let refused = try #require(throws: ParseError.self) { try WrkOutput.parse(fixture("wrk-vm-refused.txt")) }
        #expect(refused.description.contains("unable to connect to 127.0.0.1:18081"))
        #expect(throws: ParseError.malformed(tool: "wrk", line: "Requests/sec: many")) {
            try WrkOutput.parse("Requests/sec: many\n")
        }
        #expect(throws: ParseError.malformed(tool: "wrk", line: "99% soon")) {
            try WrkOutput.parse("Latency Distribution\n 99% soon\n")
        }
    }

    @Test("wrk's time units", arguments: [
        ("299.00us", 299.0), ("2.40ms", 2400.0), ("16.03ms", 16030.0), ("64.51ms", 64510.0), ("1.25us", 1.25), ("1.50s", 1_500_000.0), ("2.00m", 120_000_000.0), ("1.00h", 3_600_000_000.0),
    ])
    func wrkUnits(text: String, us: Double) {
        #expect(WrkOutput.microseconds(text) == us)
    }

    @Test func wrkUnitsRejected() {
        for text in ["", "ms", "12", "1.0ks", "-1ms", "nanms"] { #expect(WrkOutput.microseconds(text) == nil, "\(text)") }
    }

    @Test("the wrk workload: nginx on the loopback, both sides traced, hogs when asked")
    func wrkSpec() throws {
        let spec = WrkWorkload.spec(name: "wrk-hogs", cpus: 4, seconds: 10, besideHogs: true)
        #expect(spec.command == ["wrk", "--latency", "-t", "4", "-c", "32", "-d", "10s", "--timeout", "10s",
                                 "http://127.0.0.1:18080/index.html"])
        #expect(spec.tracedCommands == ["nginx", "wrk"] && spec.besideHogs)
        let server = try #require(spec.server)
        #expect(server.command.first == "nginx" && server.port == 18080 && server.directory == "/tmp/swiftland-wrk")
        let config = try #require(server.files["nginx.conf"])
        for line in ["daemon off;", "user root root;", "worker_processes 4;", "access_log off;",
                     "listen 127.0.0.1:18080;", "pid /tmp/swiftland-wrk/nginx.pid;", "root /tmp/swiftland-wrk/www;"] {
            #expect(config.contains(line), "\(line)")
        }
        // Every path nginx writes is under its directory (no /var/log, /var/lib, /run in the guest).
        for word in config.split(whereSeparator: { $0.isWhitespace || $0 == ";" }) where word.hasPrefix("/") {
            #expect(word.hasPrefix("/tmp/swiftland-wrk/"), "\(word)")
        }
        #expect(server.files["www/index.html"]?.utf8.count == WrkWorkload.fileBytes)
        #expect(spec.settingDescription.contains("beside one CPU hog per CPU"))
        #expect(spec.settingDescription.contains("nginx and wrk only"))
    }

    @Test("workload specs survive JSON")
    func specCodable() throws {
        let specs = [
            WorkloadSpec(name: "hackbench", command: ["hackbench", "-g", "4"], extractor: .hackbench),
            WorkloadSpec(name: "cyclictest", command: ["cyclictest", "-q"], extractor: .cyclictest(figure: .p99Us),
                         tracedCommands: ["cyclictest"], besideHogs: true),
            WorkloadSpec(name: "scx-ci", command: ["stress-ng"], extractor: .stressNg(figure: .geometricMean)),
            WorkloadSpec(name: "cpu", command: ["stress-ng"], extractor: .stressNg(figure: .stressor("cpu"))),
            WrkWorkload.spec(name: "wrk", cpus: 2, seconds: 5, besideHogs: false),
            WorkloadSpec(name: "dd", command: ["dd"], extractor: .pattern(try CommandPattern(
                regex: "([0-9.]+) s", figureName: "t", unit: "s", higherIsBetter: false))),
        ]
        let data = try JSONEncoder().encode(specs)
        #expect(try JSONDecoder().decode([WorkloadSpec].self, from: data) == specs)
    }

    @Test("workload specs written before several traced names and the hogs setting still read")
    func specFromFormatTwo() throws {
        let old = #"[{"name":"cyclictest","command":["cyclictest"],"extractor":{"cyclictest":{"figure":"p99Us"}},"tracedCommand":"cyclictest"},"#
            + #"{"name":"hackbench","command":["hackbench"],"extractor":{"hackbench":{}}}]"#
        let specs = try JSONDecoder().decode([WorkloadSpec].self, from: Data(old.utf8))
        #expect(specs[0].tracedCommands == ["cyclictest"] && specs[0].besideHogs && specs[0].server == nil)
        #expect(specs[1].tracedCommands.isEmpty && !specs[1].besideHogs)
    }
}
