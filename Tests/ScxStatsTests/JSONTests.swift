import Testing
@testable import ScxStats

@Suite("JSON of the stats protocol")
struct JSONTests {
    @Test func roundTrip() throws {
        let text = #"{"a":[1,-2,3.5,true,false,null],"b":{"c":"x\"y\\z\n\u0001é"},"u":18446744073709551615}"#
        let value = try JSON(parsing: text)
        #expect(value["u"]?.uint64 == UInt64.max)
        #expect(value["b"]?["c"]?.string == "x\"y\\z\n\u{1}é")
        #expect(try JSON(parsing: value.serialized) == value)
        #expect(value.serialized == text)
    }

    @Test func escapesAndSurrogates() throws {
        #expect(try JSON(parsing: #""\ud83d\ude00 \/""#).string == "😀 /")
    }

    @Test(arguments: [
        "", "{", "{\"req\"}", "{\"req\":}", "[1,]", "{\"a\":1,}", "nul", "\"unterminated", "{\"a\":1} x",
        "{\"a\":1,\"a\":2}", "01x", "\"\u{1}\"", "1e999", "{'req':'stats'}",
    ])
    func malformedIsRefused(_ text: String) {
        #expect(throws: JSON.ParseError.self) { try JSON(parsing: text) }
    }

    @Test func nestingIsBounded() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSON.ParseError.self) { try JSON(parsing: deep) }
        let ok = String(repeating: "[", count: JSON.maxDepth) + String(repeating: "]", count: JSON.maxDepth)
        #expect((try? JSON(parsing: ok)) != nil)
    }
}
