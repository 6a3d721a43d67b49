import Foundation
import Testing
@testable import CompareKit

@Suite("peer arms: scx: and ext:")
struct PeerArmTests {
    @Test("scx:NAME and ext:PATH with arguments: parsed, spelled back, and kept through JSON")
    func parsing() throws {
        let simple = try Arm(parsing: "scx:simple")
        #expect(simple.kind == .scx(name: "simple", arguments: []) && simple.description == "scx:simple")
        #expect(simple.isPeer && simple.isScx && simple.placement == .bpf && simple.policy == "scx_simple")
        #expect(try Arm(parsing: "scx:userland").placement == .user)
        let central = try Arm(parsing: "scx:central -s 20000")
        #expect(central.kind == .scx(name: "central", arguments: ["-s", "20000"]))
        // Arguments keep their colons and `=`: they are not arm options.
        let ext = try Arm(parsing: "ext:/usr/bin/scx_bpfland  -s 5000 --stats=1 -m a:b")
        #expect(ext.kind == .ext(path: "/usr/bin/scx_bpfland", arguments: ["-s", "5000", "--stats=1", "-m", "a:b"]))
        #expect(ext.options.isEmpty && ext.placement == .unknown && ext.policy == "scx_bpfland" && !ext.isScx)
        #expect(ext.description == "ext:/usr/bin/scx_bpfland -s 5000 --stats=1 -m a:b")
        for arm in [simple, central, ext] {
            #expect(try Arm(parsing: arm.description) == arm)
            let data = try JSONEncoder().encode([arm])
            #expect(try JSONDecoder().decode([Arm].self, from: data) == [arm])
        }
        #expect(!Arm(.bpf).isPeer && !Arm.eevdf.isPeer)
    }

    @Test("bad peers: an unknown scx: name lists the available ones; ext: needs an absolute path")
    func badInput() {
        #expect(throws: ArmError.unknownExample("qmap")) { try Arm(parsing: "scx:qmap") }
        let listed = ArmError.unknownExample("nope").description
        for example in PeerScheduler.examples { #expect(listed.contains("scx:" + example.name)) }
        #expect(listed.contains("scx_qmap"))
        #expect(throws: ArmError.relativePath("scx_bpfland")) { try Arm(parsing: "ext:scx_bpfland -s 1") }
        for bad in ["scx:", "ext:", "scx: ", "ext:  "] {
            #expect(throws: ArmError.invalid(bad)) { try Arm(parsing: bad) }
        }
    }

    @Test("each swiftland arm meets the scx: peers whose policy runs where its own does; peers are not compared with each other beyond the baseline")
    func comparisons() throws {
        let arms = try ["eevdf", "bpf", "user:bpfland:8", "scx:simple", "scx:userland", "ext:/opt/scx_x"].map(Arm.init(parsing:))
        let pairs = ComparisonRule.pairs(arms: arms, baseline: .eevdf).map { "\($0.arm) / \($0.reference)" }
        #expect(pairs == [
            "bpf / eevdf", "user:bpfland:8 / eevdf", "scx:simple / eevdf", "scx:userland / eevdf", "ext:/opt/scx_x / eevdf",
            "user:bpfland:8 / bpf", "bpf / scx:simple", "user:bpfland:8 / scx:userland",
        ])
    }

    @Test("a peer's round: no counters, a process-only cost, and the report copes")
    func report() throws {
        let simple = try Arm(parsing: "scx:simple")
        let figure = Figure(name: "time", value: 1.0, unit: "s", higherIsBetter: false)
        var experiment = Experiment(settings: ExperimentSettings(
            arms: [.eevdf, simple], workloads: [WorkloadSpec(name: "hackbench", command: ["hackbench"], extractor: .hackbench)],
            rounds: 1, warmupRounds: 0, date: Date(timeIntervalSince1970: 0), machine: "test", kernel: "7.3"))
        experiment.append(RoundRecord(round: 0, arm: .eevdf, workload: "hackbench", figure: figure))
        var peerRound = RoundRecord(
            round: 0, arm: simple, workload: "hackbench", figure: figure,
            cost: SchedulerCost(windowNs: 1_000_000_000, processUserNs: 10_000_000, processSystemNs: 0))
        peerRound.schedulerExitStatus = 0
        experiment.append(peerRound)
        let decoded = try Experiment.decode(json: experiment.jsonData())
        #expect(decoded.records.map(\.schedulerExitStatus) == [nil, 0])
        let csv = CSVReport.render(experiment).split(separator: "\r\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        let column = try #require(csv[0].firstIndex(of: "scheduler_exit_status"))
        #expect(csv[1][column] == "" && csv[2][column] == "0")
        let summary = Summary(experiment)
        let text = TerminalReport.render(summary)
        #expect(text.contains("scx:simple"))
        let cost = try #require(experiment.records.last?.cost)
        #expect(cost.shareOfCPU(.process) == 0.01 && cost.shareOfCPU(.bpf) == nil && cost.decisions == nil)
    }
}
