import Testing
@testable import ScxStats

@Suite("Prometheus text exposition")
struct PrometheusTextTests {
    /// Parses the text back: every sample line, and HELP and TYPE per family.
    static func parse(_ text: String) -> (samples: [String: Double], types: [String: String], help: [String: String]) {
        var samples: [String: Double] = [:], types: [String: String] = [:], help: [String: String] = [:]
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let parts = line.dropFirst(7).split(separator: " ")
                types[String(parts[0])] = String(parts[1])
            } else if line.hasPrefix("# HELP ") {
                let rest = line.dropFirst(7)
                let name = rest.prefix { $0 != " " }
                help[String(name)] = String(rest.dropFirst(name.count + 1))
            } else if !line.hasPrefix("#") {
                let space = line.lastIndex(of: " ")!
                samples[String(line[..<space])] = Double(line[line.index(after: space)...])
            }
        }
        return (samples, types, help)
    }

    @Test func everyFieldComesBackWithItsTypeAndHelp() {
        let text = PrometheusText.render(testSample, schema: testSchema)
        let parsed = Self.parse(text)
        #expect(parsed.samples["test_nr_running"] == 3)
        #expect(parsed.types["test_nr_running"] == "gauge")
        #expect(parsed.samples["test_nr_dispatches_total"] == Double(Int64.max), "u64 beyond Int64 is clamped")
        #expect(parsed.types["test_nr_dispatches_total"] == "counter")
        #expect(parsed.help["test_nr_dispatches_total"] == "tasks dispatched (tasks)")
        #expect(parsed.samples["test_load"] == 1.5)
        #expect(parsed.help["test_load"] == #"a "quoted" load\\average"#, "backslash escaped")
        #expect(parsed.samples[#"test_mode_info{mode="bpf"}"#] == 1)
        #expect(parsed.samples.count == 4)
        #expect(text.hasSuffix("\n"))
    }

    @Test func fieldsWithoutValueAreLeftOut() {
        let parsed = Self.parse(PrometheusText.render(StatsSample(["nr_running": .u64(0)]), schema: testSchema))
        #expect(parsed.samples == ["test_nr_running": 0])
    }
}
