import Foundation
import TestSupport
import Testing
@testable import ScxStats

@Suite("scx stats protocol: requests and replies")
struct ProtocolTests {
    /// Fixtures/exchanges.txt: request lines (`> `) each followed by the reply line (`< `)
    /// the server must send, byte for byte. The requests are the ones sched-ext's clients
    /// send (scx_stats's client, scx_utils' monitor loop, scxtop, its OpenMetrics script)
    /// and malformed ones.
    /// With SCXSTATS_RECORD=1 in the environment the replies are written into the file
    /// instead (then read them before committing).
    @Test func recordedExchanges() throws {
        let responder = fixedResponder()
        if ProcessInfo.processInfo.environment["SCXSTATS_RECORD"] == "1" {
            var out: [String] = []
            for line in try fixture("exchanges.txt").split(separator: "\n", omittingEmptySubsequences: false) where !line.hasPrefix("< ") {
                out.append(String(line))
                if line.hasPrefix("> ") { out.append("< " + responder.reply(to: Array(line.dropFirst(2).utf8))) }
            }
            try out.joined(separator: "\n").write(to: fixtureURL("exchanges.txt"), atomically: true, encoding: .utf8)
            return
        }
        var request: String?
        var checked = 0
        for line in try fixture("exchanges.txt").split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("> ") {
                request = String(line.dropFirst(2))
            } else if line.hasPrefix("< "), let r = request {
                #expect(responder.reply(to: Array(r.utf8)) == String(line.dropFirst(2)), "reply to \(r)")
                request = nil
                checked += 1
            }
        }
        #expect(checked >= 10)
    }

    /// The shape scx_stats's `stats_meta` has: struct name -> {name, top, desc, user,
    /// fields: name -> {datum, desc, user}}, which its generic clients walk.
    @Test func metaHasScxShape() throws {
        let meta = testSchema.meta
        #expect(meta.count == 1, "one struct")
        let top = try #require(meta["teststats"])
        #expect(top.name == "teststats")
        #expect(top.top == "true")
        #expect(top.user["_om_prefix"] == "test_")
        #expect(top.fields["nr_running"]?.datum == "u64")
        #expect(top.fields["load"]?.datum == "float")
        #expect(top.fields["mode"]?.datum == "string")
        #expect(top.fields["mode"]?.user["_om_skip"] == "true")
        #expect(top.fields["nr_dispatches"]?.desc == "tasks dispatched")
        #expect(top.fields["nr_dispatches"]?.user["_unit"] == "tasks")
        // As JSON: the members scx_stats's clients read, and nothing else.
        let line = StatsResponder.reply(errno: 0, meta)
        #expect(line.hasPrefix(#"{"args":{"resp":{"teststats":{"desc":"a test scheduler's counters","fields":{"load":{"datum":"float","#))
        #expect(line.contains(#""mode":{"datum":"string","desc":"where it runs","user":{"_kind":"info","_om_skip":"true"}}"#))
        #expect(line.hasSuffix(#""name":"teststats","top":"true","user":{"_om_prefix":"test_"}}}},"errno":0}"#))
    }

    @Test func replyParsesBackToTheSample() throws {
        let reply = try StatsReply<StatsSample>(line: fixedResponder().reply(to: Array(#"{"req":"stats","args":{}}"#.utf8)))
        #expect(reply.errno == 0)
        #expect(reply.answer?.typed(by: testSchema) == testSample)
        let meta = try StatsReply<[String: StatsMeta]>(line: fixedResponder().reply(to: Array(#"{"req":"stats_meta"}"#.utf8)))
        #expect(meta.answer == testSchema.meta)
    }

    /// The members of what scx clients send (`{"req":"stats","args":{}}`), in sorted order.
    @Test func requestLineIsWhatScxClientsSend() {
        #expect(StatsResponder.Request(req: "stats").line == #"{"args":{},"req":"stats"}"#)
        #expect(StatsResponder.Request(req: "stats", args: ["target": "top"]).line == #"{"args":{"target":"top"},"req":"stats"}"#)
        let request = StatsResponder.Request(req: "stats", args: ["target": "top"])
        #expect((try? StatsResponder.parse(Array(request.line.utf8)).get()) == request)
    }

    /// An array field as scx_stats describes one ("array" in place of "datum"), e.g. a
    /// histogram's buckets: served and read back as a list, left out of metrics.
    @Test func arrayFields() throws {
        let schema = StatsSchema(name: "hist", desc: "histograms", metricPrefix: "h_", fields: [
            .init(name: "n", desc: "a counter", unit: "tasks", kind: .counter),
            .init(name: "lat_us", desc: "waits per log2 us bucket", unit: "tasks", kind: .counter, isArray: true),
        ])
        let meta = StatsResponder.reply(errno: 0, schema.meta)
        #expect(meta.contains(#""lat_us":{"array":"u64","desc":"waits per log2 us bucket","user":{"_kind":"counter","_om_skip":"true","_unit":"tasks"}}"#))
        #expect(meta.contains(#""n":{"datum":"u64","desc":"a counter","user":{"_kind":"counter","_unit":"tasks"}}"#))
        #expect(try StatsReply<[String: StatsMeta]>(line: meta).answer == schema.meta)
        #expect(schema.helpText.contains("  lat_us ([u64], counter, tasks) : waits per log2 us bucket"))
        let sample = StatsSample(["n": .u64(3), "lat_us": .array([.u64(0), .u64(5), .u64(18_446_744_073_709_551_000)])])
        let reply = StatsResponder(schema: schema) { sample }.reply(to: Array(#"{"req":"stats"}"#.utf8))
        #expect(reply.contains(#""lat_us":[0,5,18446744073709551000]"#))
        #expect(try StatsReply<StatsSample>(line: reply).answer == sample)
        let text = PrometheusText.render(sample, schema: schema)
        #expect(text.contains("h_n_total 3") && !text.contains("lat_us"))
    }

    @Test func helpTextListsEveryField() {
        let text = testSchema.helpText
        #expect(text.hasPrefix("[teststats] a test scheduler's counters"))
        for f in testSchema.fields { #expect(text.contains("  \(f.name) "), "\(f.name)") }
        #expect(text.contains("(u64, counter, tasks) : tasks dispatched"))
    }
}
