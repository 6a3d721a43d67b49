import ArgumentParser
import CompareKit
import Foundation
@testable import swiftland
import Testing

@Suite("swiftland compare: options and the child scheduler's output")
struct CompareCommandTests {
    @Test func defaults() throws {
        let cmd = try CompareCommand.parse([])
        #expect(try cmd.arms().map(\.description) == ["eevdf", "bpf", "user:bpfland:1", "user:bpfland:8"])
        #expect(try cmd.specs(cpus: 2).map(\.name) == ["hackbench", "cyclictest"])
        // cyclictest must run as SCHED_OTHER: no real-time priority option.
        let cyclictest = try cmd.specs(cpus: 2)[1].command
        #expect(!cyclictest.contains("-p") && !cyclictest.contains("--priority"))
    }

    @Test func wrkWorkloads() throws {
        let cmd = try CompareCommand.parse(["--workloads", "hackbench,cyclictest,wrk,wrk-hogs", "--seconds", "3"])
        let specs = try cmd.specs(cpus: 2)
        #expect(specs.map(\.name) == ["hackbench", "cyclictest", "wrk", "wrk-hogs"])
        #expect(specs.map(\.besideHogs) == [false, true, false, true])
        #expect(specs[2].command.prefix(2) == ["wrk", "--latency"] && specs[2].command.contains("3s"))
        #expect(specs[2].server?.command.first == "nginx" && specs[3].server == specs[2].server)
        #expect(specs[2].tracedCommands == ["nginx", "wrk"])
    }

    @Test(arguments: [
        (["--modes", "eevdf,cfs"], "cfs"),
        (["--modes", "user:quantum"], "unknown policy \"quantum\""),
        (["--modes", "bpf,bpf"], "twice"),
        (["--modes", "user:fifo:0"], "user:fifo:0"),
        (["--modes", "user:fifo:1:sometimes"], "unknown wakeup policy 'sometimes' (one of adaptive, always, spin)"),
        (["--modes", "hybrid:quantum"], "--modes hybrid:quantum: unknown policy \"quantum\""),
        (["--modes", "hybrid:fifo:1:sometimes"], "--modes hybrid:fifo:1:sometimes: unknown wakeup policy 'sometimes' (one of adaptive, always, spin)"),
        (["--modes", "hybrid:fifo:0"], "'hybrid:fifo:0' is not an arm: use eevdf, bpf, user:POLICY"),
        (["--modes", "hybrid:fifo:ordering=deadline"], "hybrid:POLICY[:BATCH[:WAKEUP]]"),
        (["--modes", "hybrid"], "'hybrid' is not an arm"),
        (["--workloads", "kernel-build"], "unknown workload"),
        (["--workloads", "cmd"], "needs --workload-cmd and --workload-regex"),
        (["--workloads", "cmd", "--workload-cmd", "true", "--workload-regex", "no group"], "--workload-regex"),
        (["--rounds", "0"], "--rounds"),
        (["--seconds", "0"], "--seconds"),
    ])
    func rejected(arguments: [String], message: String) {
        do {
            _ = try CompareCommand.parse(arguments)
            Issue.record("\(arguments) was accepted")
        } catch {
            let text = CompareCommand.message(for: error)
            #expect(text.contains(message), "\(arguments): \(text)")
        }
    }

    @Test func hybridArms() throws {
        let cmd = try CompareCommand.parse(["--modes", "bpf,user:bpfland:8,hybrid:bpfland:8,hybrid:fifo::spin:preempt=off"])
        let arms = try cmd.arms()
        #expect(arms.map(\.description) == ["bpf", "user:bpfland:8", "hybrid:bpfland:8", "hybrid:fifo::spin:preempt=off"])
        #expect(arms[2].kind == .hybrid(policy: "bpfland", batch: 8) && arms[2].placement == .hybrid)
        #expect(try CompareCommand.parse(["--modes", "eevdf,hybrid:vruntime", "--baseline", "hybrid:vruntime"])
            .comparison.baselineArm(among: [.eevdf, Arm(parsing: "hybrid:vruntime")]) == Arm(parsing: "hybrid:vruntime"))
        let help = CompareCommand.helpMessage()
        #expect(help.contains("hybrid:POLICY[:BATCH[:WAKEUP]]") && help.contains("--mode hybrid"))
    }

    @Test func comparisonOptions() throws {
        let cmd = try CompareCommand.parse(["--baseline", "bpf", "--margin", "2.5"])
        #expect(try cmd.comparison.baselineArm(among: cmd.arms()) == Arm(.bpf))
        #expect(cmd.comparison.margin == 2.5)
        let plain = try CompareCommand.parse([])
        #expect(try plain.comparison.baselineArm(among: plain.arms()) == nil && plain.comparison.margin == nil)
    }

    /// An experiment of two arms over six cycles, bpf better on every one, written as
    /// `compare --out` writes it.
    static func writeExperiment(bpfTimes: [Double], to dir: URL) throws {
        let settings = ExperimentSettings(
            arms: [.eevdf, Arm(.bpf)],
            workloads: [WorkloadSpec(name: "hackbench", command: ["hackbench"], extractor: .hackbench)],
            rounds: 6, warmupRounds: 0, date: Date(timeIntervalSince1970: 1_790_000_000), machine: "test", kernel: "7.3")
        var experiment = Experiment(settings: settings)
        for (round, bpf) in bpfTimes.enumerated() {
            for (arm, value) in [(Arm.eevdf, 1.0), (Arm(.bpf), bpf)] {
                experiment.append(RoundRecord(round: round, arm: arm, workload: "hackbench",
                                              figure: Figure(name: "time", value: value, unit: "s", higherIsBetter: false)))
            }
        }
        _ = try ReportFiles.write(experiment, to: dir, converter: nil)
    }

    @Test func reportAndCheckAgainst() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("swiftland-report-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let a = root.appendingPathComponent("a"), b = root.appendingPathComponent("b")
        try Self.writeExperiment(bpfTimes: [0.6, 0.65, 0.62, 0.7, 0.6, 0.64], to: a)
        try Self.writeExperiment(bpfTimes: [1.1, 0.9, 1.2, 0.8, 1.15, 1.0], to: b)
        let report = try ReportCommand.parse([a.path, "--check-against", b.path])
        let table = try #require(try report.comparison.agreement(with: ComparisonOptions.load(a.path, option: "report")))
        #expect(table.contains("1 comparison in both: 1 decided in one run only"))
        #expect(table.contains("better, 6 cycles") && table.contains("undecided, 6 cycles"))
        for (arguments, message) in [
            ([a.path, "--baseline", "user:fifo"], "--baseline user:fifo is not one of the arms (eevdf, bpf)"),
            ([root.path], "report \(root.path): cannot read"),
            ([a.path, "--margin", "100"], "--margin"),
        ] {
            do {
                _ = try ReportCommand.parse(arguments)
                Issue.record("report \(arguments) was accepted")
            } catch {
                #expect(ReportCommand.message(for: error).contains(message), "\(ReportCommand.message(for: error))")
            }
        }
        // compare refuses, before it runs anything, an earlier experiment with nothing in common.
        for (arguments, message) in [
            (["--modes", "eevdf,user:fifo", "--check-against", a.path], "not comparable: it ran eevdf,bpf on hackbench"),
            (["--workloads", "stress", "--check-against", a.path], "this run eevdf,bpf,user:bpfland:1,user:bpfland:8 on stress"),
        ] {
            do {
                _ = try CompareCommand.parse(arguments)
                Issue.record("compare \(arguments) was accepted")
            } catch {
                #expect(CompareCommand.message(for: error).contains(message), "\(CompareCommand.message(for: error))")
            }
        }
        #expect(throws: Never.self) { try CompareCommand.parse(["--modes", "eevdf,bpf,user:fifo", "--check-against", a.path]) }
        try Data("{\"formatVersion\": 9}".utf8).write(to: root.appendingPathComponent("experiment.json"))
        #expect(throws: (any Error).self) { try ReportCommand.parse([root.path]) }
    }

    @Test func ownWorkload() throws {
        let cmd = try CompareCommand.parse([
            "--workloads", "cmd", "--workload-cmd", "echo took 12.5 ms", "--workload-regex", "took ([0-9.]+) ms",
            "--workload-unit", "ms",
        ])
        let spec = try cmd.specs(cpus: 2)[0]
        #expect(spec.command == ["/bin/sh", "-c", "echo took 12.5 ms"])
        #expect(try spec.parse("took 12.5 ms\n").figure.value == 12.5)
    }
}
