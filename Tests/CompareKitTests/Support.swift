import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
@testable import CompareKit

/// A small experiment with known numbers: 4 arms, 2 workloads, 7 counted rounds after one
/// warm-up, latency histograms, counters and in-flight series for the user arms.
func sampleExperiment(workloadName: String = "hackbench", rounds: Int = 7) throws -> Experiment {
    let arms = try ["eevdf", "bpf", "user:bpfland", "user:bpfland:8"].map { try Arm(parsing: $0) }
    let workloads = [
        WorkloadSpec(name: workloadName, command: ["hackbench", "-g", "4", "-l", "100"], extractor: .hackbench),
        WorkloadSpec(name: "cyclictest", command: ["cyclictest", "-t", "2", "-q", "-h", "400"],
                     extractor: .cyclictest(figure: .p99Us), tracedCommands: ["cyclictest"], besideHogs: true),
    ]
    let settings = ExperimentSettings(
        arms: arms, workloads: workloads, rounds: rounds, warmupRounds: 1,
        date: Date(timeIntervalSince1970: 1_790_000_000), machine: "QEMU TCG, 2 vCPUs", kernel: "7.3.0-test",
        commandLine: "swiftland compare --rounds \(rounds)")
    var experiment = Experiment(settings: settings)
    // Figures: eevdf 1.00 s + round/100, bpf 0.80 s, user:bpfland 1.20 s, batch 8 1.10 s.
    let base: [Arm: Double] = [arms[0]: 1.0, arms[1]: 0.8, arms[2]: 1.2, arms[3]: 1.1]
    let shift: [Arm: Int] = [arms[0]: 0, arms[1]: 0, arms[2]: 2, arms[3]: 1]
    for round in 0...rounds {
        for arm in arms {
            let warmup = round == 0
            for w in workloads {
                var counts = [UInt64](repeating: 0, count: 24)
                let s = shift[arm]!
                counts[3 + s] = 600
                counts[4 + s] = 300
                counts[7 + s] = 90
                counts[12 + s] = 10
                let value = w.name == "cyclictest" ? 100 + 10 * base[arm]! + Double(round) : base[arm]! + Double(round) / 100
                var record = RoundRecord(
                    round: round, isWarmup: warmup, arm: arm, workload: w.name,
                    figure: Figure(name: w.name == "cyclictest" ? "p99 latency" : "time",
                                   value: warmup ? 99 : value, unit: w.name == "cyclictest" ? "us" : "s",
                                   higherIsBetter: false),
                    runQueueLatency: Log2Histogram(counts: counts, maxUs: Double(1 << (12 + s)) - 1))
                if arm.kind != .eevdf {
                    record.counters = ["nr_direct_dispatches": 1000 + UInt64(round), "nr_kernel_dispatches": 50]
                }
                if arm.isUserMode {
                    record.counters["nr_sent"] = 5000
                    record.counters["nr_ring_full"] = UInt64(s)
                    var decisions = [UInt64](repeating: 0, count: 24)
                    decisions[2 + s] = 70
                    decisions[5 + s] = 30
                    record.decisionLatency = Log2Histogram(counts: decisions)
                    record.timeSeries[TimeSeriesName.inFlight] = (0..<50).map { i in
                        SamplePoint(tSeconds: Double(i) * 0.1, value: Double((i * (3 + s) + round) % (8 * s + 3)))
                    }
                }
                experiment.append(record)
            }
        }
    }
    return experiment
}

/// Parses `xml`; the error (nil when well-formed), element names and text content.
func parseXML(_ xml: String) -> (error: String?, elements: [String], text: String) {
    final class Collector: NSObject, XMLParserDelegate {
        var elements: [String] = []
        var text = ""
        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            elements.append(name)
        }
        func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }
    }
    let parser = XMLParser(data: Data(xml.utf8))
    let collector = Collector()
    parser.delegate = collector
    let ok = parser.parse()
    return (ok ? nil : String(describing: parser.parserError), collector.elements, collector.text)
}
