import Testing
@testable import ScxStats

/// The JSON of the stats protocol is Foundation's: these pin down what the protocol needs
/// of it.
@Suite("JSON of the stats protocol")
struct JSONTests {
    /// Counters near the ends of UInt64 and Int64 come back exactly, not rounded through a
    /// double (2^63+1 and 2^64-1 have no double of their own).
    @Test(arguments: [UInt64.max, (1 << 63) + 1, (1 << 53) + 1, 0] as [UInt64])
    func unsignedCountersStayExact(_ v: UInt64) throws {
        let line = StatsResponder.reply(errno: 0, StatsSample(["n": .u64(v)]))
        #expect(line == #"{"args":{"resp":{"n":\#(v)}},"errno":0}"#)
        #expect(try StatsReply<StatsSample>(line: line).answer == StatsSample(["n": .u64(v)]))
    }

    @Test(arguments: [Int64.min, Int64.min + 1, -1] as [Int64])
    func signedValuesStayExact(_ v: Int64) throws {
        let line = StatsResponder.reply(errno: 0, StatsSample(["n": .i64(v)]))
        #expect(line == #"{"args":{"resp":{"n":\#(v)}},"errno":0}"#)
        #expect(try StatsReply<StatsSample>(line: line).answer == StatsSample(["n": .i64(v)]))
    }

    @Test func valuesOfEveryKindRoundTrip() throws {
        let sample = StatsSample([
            "s": .string("x\"y\\z\n\u{1}é/😀"), "f": .float(1.5), "big": .float(1e300), "tiny": .float(-2.5e-10),
            "u": .u64(7), "i": .i64(-7),
        ])
        let line = StatsResponder.reply(errno: 0, sample)
        #expect(try StatsReply<StatsSample>(line: line).answer == sample)
        #expect(line.contains(#""s":"x\"y\\z\n\u0001é/😀""#), "escapes as JSON needs, '/' and UTF-8 as they are")
    }

    /// The same values give the same bytes, however the sample was built: members are sorted.
    @Test func repliesAreReproducible() {
        var a = StatsSample(), b = StatsSample()
        let names = (0..<50).map { "counter_\($0)" }
        for (i, n) in names.enumerated() { a[n] = .u64(UInt64(i)) }
        for (i, n) in names.enumerated().reversed() { b[n] = .u64(UInt64(i)) }
        let line = StatsResponder.reply(errno: 0, a)
        #expect(line == StatsResponder.reply(errno: 0, b))
        let keys = line.split(separator: "\"").enumerated().filter { $0.offset % 2 == 1 }.map(\.element).filter { $0.hasPrefix("counter_") }
        #expect(keys == keys.sorted())
    }

    /// JSON has no number for them: written as null, left out when read back.
    @Test func nonFiniteFloatsAreNull() throws {
        let line = StatsResponder.reply(errno: 0, StatsSample(["a": .float(.nan), "b": .float(.infinity), "c": .u64(1)]))
        #expect(line == #"{"args":{"resp":{"a":null,"b":null,"c":1}},"errno":0}"#)
        #expect(try StatsReply<StatsSample>(line: line).answer == StatsSample(["c": .u64(1)]))
    }

    /// Members that are not numbers or strings are left out of a sample, as before; a float
    /// field's integers become floats.
    @Test func sampleReadLeniently() throws {
        let reply = try StatsReply<StatsSample>(line: #"{"errno":0,"args":{"resp":{"a":true,"b":[1,"x"],"c":{"d":1},"e":null,"g":[[1]],"h":[true],"k":[1,null],"load":2,"mode":"x"}}}"#)
        let sample = try #require(reply.answer)
        // Arrays of numbers and strings are kept; of anything else, left out.
        #expect(sample == StatsSample(["b": .array([.u64(1), .string("x")]), "load": .u64(2), "mode": .string("x")]))
        #expect(sample.typed(by: testSchema) == StatsSample(["b": .array([.u64(1), .string("x")]), "load": .float(2), "mode": .string("x")]))
    }

    @Test func malformedRepliesAreReported() {
        for bad in ["", "hello", "[]", #"{"errno":0}"#, #"{"args":{"resp":1}}"#, #"{"errno":0,"args":{"resp":[1]}}"#] {
            #expect(throws: StatsSocketError.self, "\(bad)") { try StatsReply<StatsSample>(line: bad) }
        }
        #expect(throws: StatsSocketError.badReply(#"no "errno" in {"args":{"resp":1}}"#)) {
            try StatsReply<StatsSample>(line: #"{"args":{"resp":1}}"#)
        }
    }

    /// Nesting beyond what the protocol needs is refused with EINVAL before Foundation's
    /// decoder sees it: that decoder traps on the first three texts below (Swift 6.3.1),
    /// and nesting is bounded anyway.
    @Test func deepNestingIsRefused() {
        let texts = [
            String(repeating: "[", count: 513),
            " " + String(repeating: "[", count: 513),
            String(repeating: #"{"a":"#, count: 512) + "[",
            String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000),
            String(repeating: "[", count: 100_000),
            #"{"req":"stats","args":"# + String(repeating: #"{"a":"#, count: 100_000) + "1" + String(repeating: "}", count: 100_001),
            String(repeating: "[", count: 33) + String(repeating: "]", count: 33),
            #"{"req":"stats","args":{"target":"# + String(repeating: "[", count: 32) + String(repeating: "]", count: 32) + "}}",
        ]
        for (i, text) in texts.enumerated() {
            let reply = fixedResponder().reply(to: Array(text.utf8))
            #expect(reply == #"{"args":{"resp":"malformed request: nested deeper than 32"},"errno":22}"#, "text \(i)")
        }
    }

    /// Up to the limit, the decoder decides; brackets inside strings do not count.
    @Test func nestingUpToTheLimitReachesTheDecoder() {
        let responder = fixedResponder()
        let arrays = String(repeating: "[", count: 32) + String(repeating: "]", count: 32)
        #expect(responder.reply(to: Array(arrays.utf8)) == #"{"args":{"resp":"malformed request: not a JSON object"},"errno":22}"#)
        let target = #"{"req":"stats","args":{"target":""# + String(repeating: "[{", count: 100) + #""}}"#
        #expect(responder.reply(to: Array(target.utf8)).hasPrefix(#"{"args":{"resp":"unknown stats target \"[{[{"#))
        // An escaped backslash ends before the quote; an escaped quote does not end the string.
        #expect(StatsJSON.depth(of: Array(#"["\\", [[]]]"#.utf8), exceeds: 2) == true)
        #expect(StatsJSON.depth(of: Array(#"[["]]]][[[\"[[["]]"#.utf8), exceeds: 2) == false)
        #expect(throws: StatsSocketError.badReply("nested deeper than 32 in " + String(repeating: "[", count: 200))) {
            try StatsReply<StatsSample>(line: String(repeating: "[", count: 513))
        }
    }
}
