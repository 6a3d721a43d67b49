import Foundation
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
        guard case .object(let structs) = meta, structs.count == 1 else { Issue.record("one struct"); return }
        let top = try #require(meta["teststats"])
        #expect(top["name"]?.string == "teststats")
        #expect(top["top"]?.string == "true")
        #expect(top["user"]?["_om_prefix"]?.string == "test_")
        let fields = try #require(top["fields"])
        #expect(fields["nr_running"]?["datum"]?.string == "u64")
        #expect(fields["load"]?["datum"]?.string == "float")
        #expect(fields["mode"]?["datum"]?.string == "string")
        #expect(fields["mode"]?["user"]?["_om_skip"]?.string == "true")
        #expect(fields["nr_dispatches"]?["desc"]?.string == "tasks dispatched")
        #expect(fields["nr_dispatches"]?["user"]?["_unit"]?.string == "tasks")
    }

    @Test func replyParsesBackToTheSample() throws {
        let reply = try JSON.parseReply(fixedResponder().reply(to: Array(#"{"req":"stats","args":{}}"#.utf8)))
        #expect(reply.errno == 0)
        #expect(StatsSample(json: reply.resp, schema: testSchema) == testSample)
    }

    @Test func requestLineIsWhatScxClientsSend() {
        #expect(StatsResponder.Request(req: "stats").line == #"{"req":"stats","args":{}}"#)
        #expect(StatsResponder.Request(req: "stats", args: ["target": "top"]).line == #"{"req":"stats","args":{"target":"top"}}"#)
    }

    @Test func helpTextListsEveryField() {
        let text = testSchema.helpText
        #expect(text.hasPrefix("[teststats] a test scheduler's counters"))
        for f in testSchema.fields { #expect(text.contains("  \(f.name) "), "\(f.name)") }
        #expect(text.contains("(u64, counter, tasks) : tasks dispatched"))
    }
}
