import Foundation
import Testing
@testable import CompareKit

@Suite("hybrid arms: user mode with the kernel-side bypass")
struct HybridArmTests {
    @Test("spelled like user arms, and back")
    func parsing() throws {
        #expect(try Arm(parsing: "hybrid:bpfland").kind == .hybrid(policy: "bpfland", batch: nil))
        #expect(try Arm(parsing: "hybrid:vruntime:8").kind == .hybrid(policy: "vruntime", batch: 8))
        #expect(try Arm(parsing: "hybrid:bpfland:1:spin").kind == .hybrid(policy: "bpfland", batch: 1, wakeup: "spin"))
        #expect(try Arm(parsing: "hybrid:fifo::always").kind == .hybrid(policy: "fifo", batch: nil, wakeup: "always"))
        for spec in ["hybrid:bpfland", "hybrid:vruntime:8", "hybrid:bpfland:1:spin", "hybrid:fifo::always",
                     "hybrid:bpfland:8:preempt=off", "hybrid:fifo::spin:preempt=on"] {
            let arm = try Arm(parsing: spec)
            #expect(arm.description == spec)
            let json = try JSONEncoder().encode(arm)
            #expect(try JSONDecoder().decode(Arm.self, from: json) == arm)
        }
        let withOption = try Arm(parsing: "hybrid:bpfland:8:preempt=off")
        #expect(withOption.options == [Arm.Option(key: "preempt", value: "off")])
        #expect(withOption.withDefaults == Arm(.hybrid(policy: "bpfland", batch: 8)))
        #expect(try Arm(parsing: "hybrid:bpfland:8") != Arm(parsing: "user:bpfland:8"))
    }

    @Test("bad spellings are refused, and the message lists hybrid")
    func refused() throws {
        for bad in ["hybrid", "hybrid:", "hybrid:bpfland:0", "hybrid:bpfland:x", "hybrid:a:1:", "hybrid:a:1:spin:2",
                    "hybrid:a:x:spin", "hybrid:bpfland:ordering=deadline", "hybrid:bpfland:8:ordering=classes"] {
            #expect(throws: ArmError.invalid(bad)) { try Arm(parsing: bad) }
        }
        #expect(throws: ArmError.invalidOption("hybrid:fifo:preempt=no", key: "preempt", values: ["on", "off"])) {
            try Arm(parsing: "hybrid:fifo:preempt=no")
        }
        #expect(ArmError.invalid("x").description.contains("hybrid:POLICY[:BATCH[:WAKEUP]]"))
    }

    @Test("the control law's target and interval are options of hybrid arms only, in microseconds")
    func lawOptions() throws {
        let arm = try Arm(parsing: "hybrid:bpfland:8:bypass-target-us=250:bypass-interval-us=5000")
        #expect(arm.options == [Arm.Option(key: "bypass-interval-us", value: "5000"), Arm.Option(key: "bypass-target-us", value: "250")])
        #expect(arm.description == "hybrid:bpfland:8:bypass-interval-us=5000:bypass-target-us=250")
        #expect(arm.withDefaults == Arm(.hybrid(policy: "bpfland", batch: 8)))
        for bad in ["user:bpfland:8:bypass-target-us=250", "bpf:bypass-interval-us=5000"] {
            #expect(throws: ArmError.invalid(bad)) { try Arm(parsing: bad) }
        }
        for value in ["0", "-5", "fast", "10000001"] {
            let spec = "hybrid:bpfland:bypass-target-us=\(value)"
            #expect(throws: ArmError.invalidOption(spec, key: "bypass-target-us", values: ["a number of microseconds from 1 to 10000000"])) {
                try Arm(parsing: spec)
            }
        }
    }

    @Test("a policy in user space with a bypass: not a peer, in-flight depth like user arms")
    func properties() throws {
        let arm = try Arm(parsing: "hybrid:vruntime:4")
        #expect(arm.placement == .hybrid && arm.placement.peerPlacement == .user)
        #expect(arm.isUserMode && !arm.isPeer && !arm.isScx && arm.policy == "vruntime")
        #expect(Arm.Placement.bpf.peerPlacement == .bpf && Arm.Placement.user.peerPlacement == .user)
    }

    @Test("hybrid arms meet every bpf arm, the user arm of their settings, and scx:userland")
    func pairs() throws {
        let arms = try [
            "eevdf", "bpf", "user:bpfland:8", "hybrid:bpfland:8", "hybrid:bpfland:1", "hybrid:vruntime",
            "user:bpfland:8:preempt=off", "hybrid:bpfland:8:preempt=off", "scx:simple", "scx:userland",
        ].map(Arm.init(parsing:))
        let pairs = ComparisonRule.pairs(arms: arms, baseline: .eevdf).map { "\($0.arm) / \($0.reference)" }
        #expect(pairs == [
            "bpf / eevdf", "user:bpfland:8 / eevdf", "hybrid:bpfland:8 / eevdf", "hybrid:bpfland:1 / eevdf",
            "hybrid:vruntime / eevdf", "user:bpfland:8:preempt=off / eevdf", "hybrid:bpfland:8:preempt=off / eevdf",
            "scx:simple / eevdf", "scx:userland / eevdf",
            // 2: user space against BPF.
            "user:bpfland:8 / bpf", "hybrid:bpfland:8 / bpf", "hybrid:bpfland:1 / bpf", "hybrid:vruntime / bpf",
            "user:bpfland:8:preempt=off / bpf", "hybrid:bpfland:8:preempt=off / bpf",
            // 3: the bypass, where the user arm of the same settings ran (not for batch 1 or vruntime).
            "hybrid:bpfland:8 / user:bpfland:8", "hybrid:bpfland:8:preempt=off / user:bpfland:8:preempt=off",
            // 4: options.
            "user:bpfland:8:preempt=off / user:bpfland:8", "hybrid:bpfland:8:preempt=off / hybrid:bpfland:8",
            // 5: peers.
            "bpf / scx:simple", "user:bpfland:8 / scx:userland", "hybrid:bpfland:8 / scx:userland",
            "hybrid:bpfland:1 / scx:userland", "hybrid:vruntime / scx:userland",
            "user:bpfland:8:preempt=off / scx:userland", "hybrid:bpfland:8:preempt=off / scx:userland",
        ])
        // With the user arm as the main baseline the bypass comparison is not repeated.
        let user = try Arm(parsing: "user:bpfland:8"), hybrid = try Arm(parsing: "hybrid:bpfland:8")
        let fromUser = ComparisonRule.pairs(arms: [user, hybrid], baseline: user)
        #expect(fromUser.map { "\($0.arm) / \($0.reference)" } == ["hybrid:bpfland:8 / user:bpfland:8"])
    }

    /// The sample experiment with its `user:bpfland:8` arm run as `hybrid:bpfland`, beside
    /// `user:bpfland`: the hybrid arm's figures are 1.10 s against user:bpfland's 1.20 s.
    static func experiment() throws -> Experiment {
        var experiment = try CostTests.experimentWithCosts()
        let batch8 = try Arm(parsing: "user:bpfland:8"), hybrid = try Arm(parsing: "hybrid:bpfland")
        experiment.settings.arms = experiment.settings.arms.map { $0 == batch8 ? hybrid : $0 }
        for i in experiment.records.indices where experiment.records[i].arm == batch8 {
            experiment.records[i].arm = hybrid
        }
        return experiment
    }

    @Test("reports treat hybrid arms as user arms: comparisons, cost, in-flight and decision plots, CSV")
    func reports() throws {
        let experiment = try Self.experiment()
        let summary = Summary(experiment)
        let hackbench = summary.workloads[0]
        let times = hackbench.comparisons.filter { $0.metric == "time" }
        #expect(times.map(\.label) == [
            "bpf / eevdf", "user:bpfland / eevdf", "hybrid:bpfland / eevdf", "user:bpfland / bpf", "hybrid:bpfland / bpf",
            "hybrid:bpfland / user:bpfland",
        ])
        let bypass = try #require(times.last)
        #expect(abs(bypass.interval!.median - 1.1 / 1.2) < 0.01 && bypass.verdict == .better)
        let costs = hackbench.comparisons.filter { $0.metric == CostSummary.comparedMetric }
        #expect(costs.map(\.label) == ["user:bpfland / bpf", "hybrid:bpfland / bpf", "hybrid:bpfland / user:bpfland"])
        #expect(hackbench.rows[3].arm.placement == .hybrid && hackbench.rows[3].cost?.shares[.schedulingThread] != nil)
        #expect(summary.methodNote.contains("every hybrid arm against the user arm of the same policy and settings"))
        #expect(!Summary(try sampleExperiment()).methodNote.contains("hybrid"))

        let flight = parseXML(try #require(Plots.inFlight(experiment, workload: "hackbench")))
        #expect(flight.elements.filter { $0 == "polyline" }.count == 14, "user and hybrid arm x 7 counted rounds")
        #expect(flight.text.contains("hackbench, hybrid:bpfland: tasks in flight in user space"))
        let decisions = parseXML(try #require(Plots.decisionLatency(experiment, workload: "hackbench")))
        #expect(decisions.text.contains("hybrid:bpfland (700)") && decisions.text.contains("user:bpfland (700)"))

        let html = HTMLReport.render(experiment, summary: summary)
        #expect(html.contains("In flight (user and hybrid modes)"))
        let csv = CSVReport.render(experiment).split(separator: "\r\n")
        let header = csv[0].split(separator: ",", omittingEmptySubsequences: false)
        let row = try #require(csv.first { $0.hasPrefix("3,0,hybrid:bpfland,hackbench,") })
            .split(separator: ",", omittingEmptySubsequences: false)
        #expect(row[try #require(header.firstIndex(of: "nr_sent"))] == "5000")
        #expect(row[try #require(header.firstIndex(of: "sched_thread_ns"))] == "33000000")
    }
}
