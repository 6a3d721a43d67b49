import Foundation
import Testing
@testable import CompareKit

@Suite("agreement between two experiments")
struct AgreementTests {
    @Test("an experiment agrees with itself, comparison by comparison")
    func itself() throws {
        let experiment = try sampleExperiment()
        let agreement = try Agreement(current: experiment, previous: experiment, previousName: "earlier")
        #expect(agreement.entries.count == 10)
        #expect(agreement.count(.agree) == 10 && agreement.notes.isEmpty)
        let text = agreement.render()
        #expect(text.contains("10 comparisons in both: 10 agree"))
        // Each row names its figure: a workload may have several compared numbers.
        #expect(text.contains("hackbench time: bpf / eevdf"))
        #expect(text.contains("0.808 better, 7 cycles"))
        #expect(text.contains("1.018 worse (within +-5%), 7 cycles"))
    }

    @Test("opposite directions contradict; undecided in one run is neither")
    func contradiction() throws {
        let current = try sampleExperiment()
        var previous = current
        let bpf = Arm(.bpf)
        for i in previous.records.indices where previous.records[i].arm == bpf && previous.records[i].workload == "hackbench" {
            previous.records[i].figure?.value += 0.4  // 1.20 s: worse than eevdf's 1.00 s
        }
        var short = try sampleExperiment(rounds: 5)
        short.settings.workloads[0].command = ["hackbench", "-l", "7"]
        let agreement = try Agreement(current: current, previous: previous, previousName: "earlier")
        let bpfVsEEVDF = try #require(agreement.entries.first { $0.key.arm == bpf && $0.key.workload == "hackbench" && $0.key.reference == .eevdf })
        #expect(bpfVsEEVDF.outcome == .contradict)
        #expect(agreement.render().contains("CONTRADICT"))
        let againstShort = try Agreement(current: current, previous: short, previousName: "short")
        #expect(againstShort.count(.oneDecides) == 10)
        #expect(againstShort.notes.count == 1 && againstShort.notes[0].contains("the ratios compare"))
    }

    @Test("same and a difference inside the margin agree within it")
    func withinMargin() {
        func comparison(_ ratios: [Double]) -> PairedComparison {
            PairedComparison(workload: "w", metric: "m", arm: Arm(.bpf), reference: .eevdf, higherIsBetter: false,
                             figures: ratios.enumerated().map { ($0.offset, .exact($0.element), .exact(1)) })
        }
        let same = comparison([0.98, 1.02, 1.01, 0.99, 1.03, 0.97, 1.0])
        let slightlyBetter = comparison([0.98, 0.99, 0.97, 0.985, 0.975, 0.99, 0.98])
        let muchBetter = comparison([0.5, 0.6, 0.55, 0.52, 0.58, 0.6, 0.51])
        #expect(Agreement.outcome(same, slightlyBetter) == .agreeWithinMargin)
        #expect(Agreement.outcome(muchBetter, same) == .contradict)
        #expect(Agreement.outcome(muchBetter, slightlyBetter) == .agree)
    }

    @Test("another set of arms: the comparisons of one run only are listed; nothing in common is an error")
    func otherArms() throws {
        let current = try sampleExperiment()
        var fewer = current
        let kept: Set<String> = ["eevdf", "bpf"]
        fewer.settings.arms = fewer.settings.arms.filter { kept.contains($0.description) }
        fewer.records = fewer.records.filter { kept.contains($0.arm.description) }
        let agreement = try Agreement(current: current, previous: fewer, previousName: "fewer")
        #expect(agreement.entries.filter { $0.outcome != nil }.count == 2)
        #expect(agreement.render().contains("8 in one run only"))
        #expect(agreement.render().contains("not run"))

        var unrelated = current
        unrelated.settings.arms = [.eevdf, try Arm(parsing: "user:fifo")]
        unrelated.settings.workloads = [WorkloadSpec(name: "stress", command: ["stress-ng"], extractor: .stressNg(figure: .geometricMean))]
        unrelated.records = []
        #expect(throws: Agreement.Failure.self) { try Agreement(current: current, previous: unrelated, previousName: "other") }
        do {
            _ = try Agreement(current: current, previous: unrelated, previousName: "other")
        } catch {
            #expect(error.description.hasPrefix("not comparable: other ran eevdf,user:fifo on stress"))
        }
    }

    @Test("the baseline and margin of this run are applied to the earlier one")
    func sameSettings() throws {
        var current = try sampleExperiment()
        current.settings.baseline = Arm(.bpf)
        current.settings.marginPercent = 50
        let previous = try sampleExperiment()
        let agreement = try Agreement(current: current, previous: previous, previousName: "earlier")
        #expect(agreement.entries.allSatisfy { $0.key.reference == Arm(.bpf) })
        #expect(agreement.entries.allSatisfy { $0.outcome == .agree })
        #expect(agreement.entries.allSatisfy { $0.previous?.margin == 0.5 })
    }

    @Test("a format 1 file (before comparisons and censoring) still reads")
    func formatOne() throws {
        let experiment = try sampleExperiment()
        let text = String(decoding: try experiment.jsonData(), as: UTF8.self)
            .replacingOccurrences(of: "\"formatVersion\" : 2", with: "\"formatVersion\" : 1")
        let old = try Experiment.decode(json: Data(text.utf8))
        #expect(old.records == experiment.records && old.formatVersion == Experiment.currentFormatVersion)
    }
}
