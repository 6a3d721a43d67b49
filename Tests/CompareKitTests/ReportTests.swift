import Foundation
import Testing
@testable import CompareKit

@Suite("model, summary and reports")
struct ReportTests {
    @Test("arms: spelled as --modes spells them, and back")
    func arms() throws {
        #expect(try Arm(parsing: "eevdf").placement == .kernel)
        #expect(try Arm(parsing: "bpf").kind == .bpf)
        #expect(try Arm(parsing: "user:vruntime").kind == .user(policy: "vruntime", batch: nil))
        #expect(try Arm(parsing: "user:bpfland:8").kind == .user(policy: "bpfland", batch: 8))
        #expect(try Arm(parsing: "user:bpfland:8").description == "user:bpfland:8")
        #expect(try Arm(parsing: "user:bpfland:1:spin").kind == .user(policy: "bpfland", batch: 1, wakeup: "spin"))
        #expect(try Arm(parsing: "user:fifo::always").kind == .user(policy: "fifo", batch: nil, wakeup: "always"))
        for spec in ["user:bpfland:1:spin", "user:fifo::always", "user:vruntime"] {
            #expect(try Arm(parsing: spec).description == spec)
        }
        for bad in ["", "user", "user:", "user:bpfland:0", "user:bpfland:x", "bpf:1", "cfs", "user:a:1:", "user:a:1:spin:2", "user:a:x:spin"] {
            #expect(throws: ArmError.invalid(bad)) { try Arm(parsing: bad) }
        }
        #expect(ArmError.invalid("x").description.contains("user:POLICY:BATCH"))
    }

    @Test("arms with options: parsed, spelled sorted by key, and compared with the same arm's defaults")
    func armOptions() throws {
        let old = try Arm(parsing: "bpf:preempt=off:ordering=classes")
        #expect(old.kind == .bpf && old.options.map(\.key) == ["ordering", "preempt"])
        #expect(old.description == "bpf:ordering=classes:preempt=off")
        #expect(try Arm(parsing: old.description) == old)
        #expect(old.withDefaults == Arm(.bpf) && old.placement == .bpf)
        let user = try Arm(parsing: "user:bpfland:8:preempt=off")
        #expect(user.kind == .user(policy: "bpfland", batch: 8) && user.description == "user:bpfland:8:preempt=off")
        for bad in ["eevdf:preempt=off", "bpf:preempt=maybe", "bpf:speed=9", "bpf:preempt=on:preempt=off",
                    "user:bpfland:ordering=deadline", "bpf:preempt=off:1", "bpf:preempt"] {
            #expect(throws: ArmError.self, "\(bad)") { try Arm(parsing: bad) }
        }
        #expect(ArmError.invalidOption("bpf:preempt=maybe", key: "preempt", values: ["on", "off"]).description
            == "'bpf:preempt=maybe': preempt is one of on, off")
        let arms = [Arm.eevdf, Arm(.bpf), old, user]
        let pairs = ComparisonRule.pairs(arms: arms, baseline: .eevdf).map { "\($0.arm) / \($0.reference)" }
        #expect(pairs.contains("bpf:ordering=classes:preempt=off / bpf"))
        #expect(!pairs.contains("user:bpfland:8:preempt=off / user:bpfland:8"), "user:bpfland:8 did not run")
    }

    @Test("the whole experiment survives JSON; another format version is refused")
    func json() throws {
        var experiment = try sampleExperiment()
        experiment.notes = "TCG timing is not bare-metal timing."
        let data = try experiment.jsonData()
        #expect(try Experiment.decode(json: data) == experiment)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"arm\" : \"user:bpfland:8\""))
        #expect(text.contains("\"date\" : \"2026-09-21T"))
        let future = text.replacingOccurrences(of: "\"formatVersion\" : 2", with: "\"formatVersion\" : 3")
        #expect(throws: DecodingError.self) { try Experiment.decode(json: Data(future.utf8)) }
    }

    @Test("summary: warm-up excluded, medians, intervals, paired comparisons, pooled latency")
    func summary() throws {
        let summary = Summary(try sampleExperiment())
        #expect(summary.baseline == .eevdf)
        #expect(summary.roundCounts == [7])
        let hackbench = try #require(summary.workloads.first)
        let eevdf = hackbench.rows[0], bpf = hackbench.rows[1]
        #expect(eevdf.figures.count == 7 && !eevdf.figures.contains(99))
        #expect(abs(eevdf.median!.median - 1.04) < 1e-12)
        #expect(eevdf.median!.lower == 1.01 && eevdf.median!.upper == 1.07)
        #expect(hackbench.comparisons.map(\.label) == [
            "bpf / eevdf", "user:bpfland / eevdf", "user:bpfland:8 / eevdf", "user:bpfland / bpf", "user:bpfland:8 / bpf",
        ])
        let bpfVsEEVDF = hackbench.comparisons[0]
        let ratio = try #require(bpfVsEEVDF.interval)
        // Paired by cycle r = 1...7: (0.80 + r/100) / (1.00 + r/100); the median is cycle 4's.
        #expect(abs(ratio.median - 0.84 / 1.04) < 1e-12)
        #expect(abs(ratio.lower - 0.81 / 1.01) < 1e-12 && abs(ratio.upper - 0.87 / 1.07) < 1e-12)
        #expect(bpfVsEEVDF.cycles.count == 7 && bpfVsEEVDF.betterCycles == 7)
        #expect(bpfVsEEVDF.verdict == .better)
        #expect(hackbench.comparisons[1].verdict == .worse)
        #expect(hackbench.comparisons[3].verdict == .worse)
        let latency = try #require(eevdf.runQueueLatency)
        #expect(latency.total == 7000)
        #expect(latency.percentile(0.5)?.upperEdgeUs == 8)
        #expect(latency.percentile(0.9)?.upperEdgeUs == 16)
        #expect(latency.percentile(0.99)?.upperEdgeUs == 128)
        #expect(latency.maxUs == 4095)
        #expect(bpf.counterMedians["nr_direct_dispatches"] == 1004)
        #expect(eevdf.counterMedians.isEmpty)
    }

    @Test("any per-round number compares like the figure: the counters as an example")
    func otherMetric() throws {
        let experiment = try sampleExperiment()
        let records = experiment.countedRecords.filter { $0.workload == "hackbench" }
        let pairs = ComparisonRule.pairs(arms: experiment.settings.arms, baseline: Arm(.bpf))
        let comparisons = Summary.compare(
            pairs, records: records, workload: "hackbench", metric: "nr_direct_dispatches", higherIsBetter: true,
            confidence: 0.95, margin: 0.05) { $0.counters["nr_direct_dispatches"].map { .exact(Double($0)) } }
        // eevdf has no such counter: its comparison uses no cycle; the user arms tie with bpf.
        #expect(comparisons.map(\.label) == ["eevdf / bpf", "user:bpfland / bpf", "user:bpfland:8 / bpf"])
        #expect(comparisons[0].cycles.isEmpty && comparisons[0].leftOutRounds.count == 7)
        #expect(comparisons[1].tiedCycles == 7 && comparisons[1].verdict == .same)
    }

    @Test("censored and failed rounds in the tables: counted, marked, and left out of their cycle only")
    func censoredAndFailed() throws {
        var experiment = try sampleExperiment()
        let user = try Arm(parsing: "user:bpfland")
        for i in experiment.records.indices where !experiment.records[i].isWarmup && experiment.records[i].workload == "cyclictest" {
            let r = experiment.records[i]
            if r.arm == user, r.round == 2 || r.round == 5 {
                experiment.records[i].figure = Figure(name: "p99 latency", value: 400, unit: "us", higherIsBetter: false, bound: .atLeast)
            }
            if r.arm == Arm(.bpf), r.round == 3 {
                experiment.records[i].figure = nil
                experiment.records[i].failure = "cyclictest printed nothing"
            }
        }
        let summary = Summary(experiment)
        let cyclictest = summary.workloads[1]
        #expect(cyclictest.rows[2].censoredRounds == 2 && cyclictest.rows[1].failedRounds == 1)
        let text = TerminalReport.render(summary, histograms: false)
        let lines = text.split(separator: "\n").map(String.init)
        let userRow = try #require(lines.first { $0.hasPrefix("  user:bpfland ") && $0.contains("beyond range") })
        #expect(userRow.contains("7 (2 beyond range)") && userRow.contains(", inf]"))
        let userVsEEVDF = try #require(cyclictest.comparisons.first { $0.arm == user && $0.reference == .eevdf })
        #expect(userVsEEVDF.cycles.count == 7 && userVsEEVDF.worseCycles == 7 && userVsEEVDF.interval?.upper == .infinity)
        #expect(userVsEEVDF.verdict == .worse)
        // bpf's failed round 3 removes cycle 3 from bpf's comparisons only.
        let userVsBPF = try #require(cyclictest.comparisons.first { $0.arm == user && $0.reference == Arm(.bpf) })
        #expect(userVsBPF.leftOutRounds == [3] && userVsBPF.cycles.count == 6)
        let batch8 = try Arm(parsing: "user:bpfland:8")
        #expect(cyclictest.comparisons.first { $0.arm == batch8 && $0.reference == .eevdf }?.leftOutRounds == [])
        let row = try #require(lines.first { $0.hasPrefix("  user:bpfland / bpf ") && $0.contains("left out") })
        #expect(row.contains("6 (1 left out)") && row.contains("0:6") && row.contains("inf]"))
    }

    @Test("failed rounds are counted, not averaged in as 0")
    func failures() throws {
        var experiment = try sampleExperiment()
        let i = try #require(experiment.records.firstIndex { !$0.isWarmup && $0.arm == .eevdf })
        experiment.records[i].figure = nil
        experiment.records[i].failure = ParseError.emptyOutput(tool: "hackbench").description
        let row = Summary(experiment).workloads[0].rows[0]
        #expect(row.figures.count == 6 && row.failedRounds == 1)
        #expect(!row.figures.contains(0))
        #expect(TerminalReport.render(Summary(experiment)).contains("6 (1 failed)"))
    }

    @Test("terminal report: the table's numbers, the method, the percentiles, one histogram per arm")
    func terminal() throws {
        let text = TerminalReport.render(Summary(try sampleExperiment()))
        #expect(text.contains("hackbench: time, s, lower is better (hackbench -g 4 -l 100)"))
        let eevdfRow = try #require(text.split(separator: "\n").first { $0.hasPrefix("  eevdf ") })
        #expect(eevdfRow.contains("1.040") && eevdfRow.contains("[1.010, 1.070]"))
        let bpfRow = try #require(text.split(separator: "\n").first { $0.hasPrefix("  bpf ") })
        #expect(bpfRow.contains("0.840") && bpfRow.contains("[0.810, 0.870]"))
        let bpfVsEEVDF = try #require(text.split(separator: "\n").first { $0.hasPrefix("  bpf / eevdf ") })
        #expect(bpfVsEEVDF.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            == ["bpf", "/", "eevdf", "7", "7:0", "0.808", "[0.802,", "0.813]", "98.4%", "better"])
        let transport = try #require(text.split(separator: "\n").first { $0.hasPrefix("  user:bpfland / bpf ") })
        #expect(transport.hasSuffix("worse"))
        #expect(text.replacingOccurrences(of: "\n", with: " ")
            .contains("With n = 7 it is [x(1), x(7)], covering the true median with probability 98.4%"))
        #expect(text.contains("cyclictest: run-queue latency, us (cyclictest only)"))
        let latencyRow = try #require(text.split(separator: "\n").first { $0.hasPrefix("  user:bpfland ") && $0.contains("7,000") })
        #expect(latencyRow.split(separator: " ").map(String.init) == ["user:bpfland", "7,000", "32", "64", "512", "16383"])
        #expect(text.contains("[hackbench - user:bpfland:8]"))
        #expect(text.components(separatedBy: "@usecs:").count - 1 == 8)
        #expect(text.contains("Total samples: 7,000"))
    }

    @Test("few rounds: the interval is marked and says what it covers")
    func fewRounds() throws {
        let summary = Summary(try sampleExperiment(rounds: 3))
        let text = TerminalReport.render(summary).replacingOccurrences(of: "\n", with: " ")
        #expect(text.contains("With n = 3 no interval reaches 95%"))
        #expect(text.contains("only 75%"))
        #expect(text.contains("undecided: 3 cycles, 6 needed"))
        #expect(text.contains("[1.010, 1.030]*"))
    }

    @Test("CSV: a row per round with the figure, latency and counter columns; fields quoted")
    func csv() throws {
        let experiment = try sampleExperiment(workloadName: "hack,\"bench\"")
        let csv = CSVReport.render(experiment)
        let lines = csv.components(separatedBy: "\r\n").dropLast()
        #expect(lines.count == experiment.records.count + 1)
        let header = lines.first!.split(separator: ",").map(String.init)
        #expect(Array(header.prefix(CSVReport.fixedColumns.count)) == CSVReport.fixedColumns)
        #expect(Array(header.dropFirst(CSVReport.fixedColumns.count))
            == ["nr_sent", "nr_kernel_dispatches", "nr_ring_full", "nr_direct_dispatches"])
        #expect(lines[1].hasPrefix("0,1,eevdf,\"hack,\"\"bench\"\"\",time,99,,s,0,,1000,8,16,128,4095,,,,"))
        let userRow = try #require(lines.first { $0.hasPrefix("3,0,user:bpfland:8,cyclictest,") })
        #expect(userRow.hasSuffix(",5000,50,1,1003"))
        #expect(CSVReport.field("a\r\nb") == "\"a\r\nb\"")
    }

    @Test("every SVG is well-formed XML with its title, axes labels and legend")
    func svgs() throws {
        let experiment = try sampleExperiment()
        let summary = Summary(experiment)
        let plots = [
            Plots.latencyDistribution(summary, workload: "hackbench"), Plots.latencyTail(summary, workload: "hackbench"),
            Plots.inFlight(experiment, workload: "hackbench"), Plots.medians(summary),
            Plots.decisionLatency(experiment, workload: "hackbench"), Plots.comparisons(summary),
        ]
        for svg in plots {
            let svg = try #require(svg)
            let parsed = parseXML(svg)
            #expect(parsed.error == nil, "\(parsed.error ?? "")")
            #expect(parsed.elements.first == "svg")
            #expect(parsed.elements.contains("text"))
        }
        let distribution = parseXML(plots[0]!)
        #expect(distribution.text.contains("hackbench: run-queue latency distribution"))
        #expect(distribution.text.contains("user:bpfland:8 (7,000)"))
        #expect(distribution.text.contains("1K"))
        #expect(distribution.elements.filter { $0 == "polyline" }.count == 4)
        let flight = parseXML(plots[2]!)
        #expect(flight.elements.filter { $0 == "polyline" }.count == 14, "2 user arms x 7 counted rounds")
        #expect(!flight.text.contains("eevdf"))
        #expect(parseXML(plots[3]!).text.contains("0.808x"))
        #expect(Plots.inFlight(experiment, workload: "nope") == nil)
        let decisions = parseXML(plots[4]!)
        #expect(decisions.text.contains("hackbench: time in user space before the decision"))
        #expect(decisions.text.contains("user:bpfland:8 (700)"), "7 counted rounds x 100 decisions, warm-up left out")
        #expect(!decisions.text.contains("eevdf") && !decisions.text.contains("bpf ("))
        #expect(decisions.elements.filter { $0 == "polyline" }.count == 2)
        #expect(Plots.decisionLatency(experiment, workload: "nope") == nil)
        let comparisons = parseXML(plots[5]!)
        #expect(comparisons.text.contains("user:bpfland / bpf") && comparisons.text.contains("0.808x  better"))
        #expect(comparisons.text.contains("1x") && comparisons.text.contains("hackbench: time, lower is better"))
        #expect(comparisons.elements.filter { $0 == "circle" }.count == 2 * 5 * (7 + 1), "a dot per cycle and one per estimate")
        #expect(Plots.formatTickRatio(0.5) == "0.5x" && Plots.formatTickRatio(20) == "20x" && Plots.formatTickRatio(1.25) == "1.25x")
    }

    @Test("names with markup characters are escaped in SVG and HTML")
    func escaping() throws {
        var experiment = try sampleExperiment(workloadName: "a<b> & \"c\"")
        experiment.settings.arms.append(try Arm(parsing: "user:x<y>&z"))
        experiment.notes = "<script>alert(1)</script>"
        let summary = Summary(experiment)
        let svg = try #require(Plots.latencyDistribution(summary, workload: "a<b> & \"c\""))
        #expect(parseXML(svg).error == nil)
        #expect(svg.contains("a&lt;b&gt; &amp; &quot;c&quot;"))
        let html = HTMLReport.render(experiment, summary: summary)
        let parsed = parseXML(html)
        #expect(parsed.error == nil, "\(parsed.error ?? "")")
        #expect(!html.contains("<script>"))
        #expect(html.contains("&lt;script&gt;"))
        #expect(html.contains("user:x&lt;y&gt;&amp;z"))
        #expect(escapeMarkup("a\u{1}b") == "a\u{FFFD}b")
    }

    @Test("HTML: self-contained, every section, numbers, inline SVGs, notes or placeholder")
    func html() throws {
        var experiment = try sampleExperiment()
        let html = HTMLReport.render(experiment)
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        let parsed = parseXML(html)
        #expect(parsed.error == nil, "\(parsed.error ?? "")")
        // comparisons, medians; per workload: latency distribution and tail, in flight, decisions.
        #expect(parsed.elements.filter { $0 == "svg" }.count == 2 + 2 * 2 + 2 * 2)
        #expect(parsed.elements.contains("style"))
        for external in ["<script", "<link", "src=", "@import", "url("] { #expect(!html.contains(external)) }
        // The only URLs are the SVG namespace and the relative links to the raw data.
        let urls = html.components(separatedBy: "http").dropFirst()
        #expect(urls.allSatisfy { $0.hasPrefix("://www.w3.org/2000/svg") })
        for id in ["settings", "results", "latency", "in-flight", "counters", "notes"] {
            #expect(html.contains("<section id=\"\(id)\">"))
        }
        #expect(parsed.text.contains("QEMU TCG, 2 vCPUs"))
        #expect(parsed.text.contains("[0.802, 0.813]"))
        #expect(html.contains("<tr class=\"verdict-better\"><td>bpf / eevdf</td>"))
        #expect(parsed.text.contains("[4, 8)              4200 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|"))
        #expect(parsed.text.contains("To be written by whoever ran this experiment"))
        experiment.notes = "First paragraph.\n\nSecond one."
        let noted = HTMLReport.render(experiment)
        #expect(noted.contains("<p>First paragraph.</p>\n<p>Second one.</p>"))
        #expect(!noted.contains("To be written"))
    }

    @Test("files: JSON, CSV, summary, SVGs and HTML; PNGs only with a converter, else a note")
    func files() throws {
        let experiment = try sampleExperiment()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("comparekit-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let written = try ReportFiles.write(experiment, to: dir, converter: nil)
        let names = Set(written.files.map(\.lastPathComponent))
        #expect(names == ["experiment.json", "rounds.csv", "comparisons.csv", "summary.txt", "report.html", "medians.svg", "comparisons.svg",
                          "latency-hackbench.svg", "latency-tail-hackbench.svg", "in-flight-hackbench.svg",
                          "decisions-hackbench.svg", "latency-cyclictest.svg", "latency-tail-cyclictest.svg",
                          "in-flight-cyclictest.svg", "decisions-cyclictest.svg"])
        #expect(written.pngNote?.contains("librsvg2-bin") == true)
        let decoded = try Experiment.decode(json: Data(contentsOf: dir.appendingPathComponent("experiment.json")))
        #expect(decoded.records == experiment.records && decoded.settings == experiment.settings)
        #expect(decoded.comparisons == Summary(experiment).comparisons)
        let comparisons = try String(contentsOf: dir.appendingPathComponent("comparisons.csv"), encoding: .utf8)
            .components(separatedBy: "\r\n")
        #expect(comparisons[0] == CSVReport.comparisonColumns.joined(separator: ","))
        #expect(comparisons[1].hasPrefix("hackbench,time,bpf,eevdf,0,7,0,7,0,0,0,0.8076923076923"))
        #expect(comparisons[1].hasSuffix(",0.984375,0.015625,0.05,better,0"))
        #expect(ReportFiles.fileSlug("Hack bench/2!") == "hack-bench-2")
        #expect(ReportFiles.fileSlug("<>") == "workload")

        // PNGs where this machine has a converter (rsvg-convert from librsvg2-bin here).
        if let converter = PNGConverter.find() {
            let withPNG = try ReportFiles.write(experiment, to: dir, converter: converter)
            #expect(withPNG.pngNote == nil, "\(withPNG.pngNote ?? "")")
            let pngs = withPNG.files.filter { $0.pathExtension == "png" }
            #expect(pngs.count == 10)
            for png in pngs {
                let magic = try Data(contentsOf: png).prefix(4)
                #expect(magic == Data([0x89, 0x50, 0x4E, 0x47]))
            }
        }
        // Keep a copy for a person to look at: COMPAREKIT_SAMPLE_REPORT=/some/dir.
        if let keep = ProcessInfo.processInfo.environment["COMPAREKIT_SAMPLE_REPORT"] {
            _ = try ReportFiles.write(experiment, to: URL(fileURLWithPath: keep))
        }
    }

    @Test("the PNG converter search ignores a convert that is not ImageMagick")
    func converterSearch() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("comparekit-bin-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let fake = dir.appendingPathComponent("convert")
        try "#!/bin/sh\necho 'convert: ImageMagick is not installed here'\n".write(to: fake, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: fake.path)
        #expect(PNGConverter.find(path: dir.path) == nil)
        #expect(PNGConverter.find(path: "/nonexistent") == nil)
    }
}
