import FoundationEssentials

/// The request/reply half of the scx stats protocol, without any I/O: one request line in,
/// one reply line out. A request is `{"req":"stats"|"stats_meta","args":{...}}` (args, a map
/// of strings, may be left out; "target" picks the stats struct and defaults to "top"); a
/// reply is `{"errno":0,"args":{"resp":...}}`, or a non-zero errno (EINVAL, as scx_stats
/// answers) with a message as "resp". A malformed request gets such a reply; it never
/// ends the connection or reaches the scheduler.
///
/// The JSON is Foundation's (`JSONEncoder`/`JSONDecoder`, see `StatsJSON`): integers stay
/// exact 64-bit values, and members are written in sorted order, so a reply is byte for
/// byte reproducible.
public struct StatsResponder: Sendable {
    public let schema: StatsSchema
    /// The current values. Called on the server's thread, once per `stats` request.
    public let source: @Sendable () -> StatsSample

    public static let einval: Int32 = 22

    public init(schema: StatsSchema, source: @escaping @Sendable () -> StatsSample) {
        self.schema = schema
        self.source = source
    }

    /// The reply to one request line (without its newline), without a newline.
    public func reply(to line: [UInt8]) -> String {
        var line = line
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        switch Self.parse(line) {
        case .failure(let why): return Self.reply(errno: Self.einval, why.message)
        case .success(let request): return answer(request)
        }
    }

    /// A request as the protocol defines it.
    public struct Request: Sendable, Equatable, Codable {
        public var req: String
        public var args: [String: String]

        public init(req: String, args: [String: String] = [:]) {
            self.req = req
            self.args = args
        }

        /// The request line a client sends, without its newline.
        public var line: String {
            // Strings alone always encode.
            StatsJSON.line(self)!
        }

        private enum Keys: String, CodingKey { case req, args }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(req, forKey: .req)
            try c.encode(args, forKey: .args)
        }

        /// Reads a request, refusing what the protocol does not allow with a `Malformed`
        /// that says why.
        public init(from decoder: any Decoder) throws {
            guard let top = try? decoder.container(keyedBy: Keys.self) else { throw Malformed("not a JSON object") }
            guard let req = try? top.decode(String.self, forKey: .req) else { throw Malformed("no \"req\" string") }
            self.req = req
            args = [:]
            guard top.contains(.args), (try? top.decodeNil(forKey: .args)) == false else { return }
            guard let members = try? top.nestedContainer(keyedBy: AnyKey.self, forKey: .args) else {
                throw Malformed("\"args\" is not an object")
            }
            // In order, so that the argument named in the message does not vary.
            for key in members.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) {
                guard let value = try? members.decode(String.self, forKey: key) else {
                    throw Malformed("argument \"\(key.stringValue)\" is not a string")
                }
                args[key.stringValue] = value
            }
        }
    }

    struct Malformed: Error {
        let message: String
        init(_ reason: String) { message = "malformed request: \(reason)" }
    }

    static func parse(_ line: [UInt8]) -> Result<Request, Malformed> {
        do {
            return .success(try StatsJSON.decode(Request.self, from: line))
        } catch let malformed as Malformed {
            return .failure(malformed)
        } catch let tooDeep as StatsJSON.TooDeep {
            return .failure(Malformed("\(tooDeep)"))
        } catch {
            // Foundation's decoder says no more than that the text is not JSON.
            return .failure(Malformed("not valid JSON"))
        }
    }

    private func answer(_ request: Request) -> String {
        switch request.req {
        case "stats":
            let target = request.args["target"] ?? "top"
            guard target == "top" || target == schema.name else {
                return Self.reply(errno: Self.einval, "unknown stats target \"\(target)\"")
            }
            return Self.reply(errno: 0, source().restricted(to: schema))
        case "stats_meta":
            return Self.reply(errno: 0, schema.meta)
        default:
            return Self.reply(errno: Self.einval, "unknown request \"\(request.req)\" (known: stats, stats_meta)")
        }
    }

    /// `{"args":{"resp":resp},"errno":errno}`.
    static func reply(errno: Int32, _ resp: some Encodable) -> String {
        // Only a value JSON cannot carry makes encoding fail, and StatValue writes none.
        StatsJSON.line(Reply(errno: errno, args: .init(resp: resp)))
            ?? #"{"args":{"resp":"the reply could not be encoded"},"errno":5}"#
    }

    private struct Reply<Resp: Encodable>: Encodable {
        struct Args: Encodable { let resp: Resp }
        let errno: Int32
        let args: Args
    }
}

/// A member name read from the JSON itself.
struct AnyKey: CodingKey {
    let stringValue: String
    init(stringValue: String) { self.stringValue = stringValue }
    var intValue: Int? { nil }
    init?(intValue: Int) { nil }
}

/// Foundation's JSON coders as the protocol uses them.
enum StatsJSON {
    /// Compact JSON, members in sorted order (so the same value gives the same bytes), "/"
    /// not escaped; no newline. Nil only for a value JSON cannot carry.
    static func line(_ value: some Encodable) -> String? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// Nesting deeper than this is refused before Foundation's decoder sees the text. A
    /// message of the protocol never needs more than 7 levels, and the decoder must not
    /// meet its own limit (512): in Swift 6.3.1 it traps instead of throwing when that
    /// limit is reached on the text's last byte (513 "[", for one), which would let any
    /// client kill the process.
    static let maxDepth = 32

    /// Refused before decoding: nested deeper than `maxDepth`.
    struct TooDeep: Error, CustomStringConvertible {
        var description: String { "nested deeper than \(StatsJSON.maxDepth)" }
    }

    /// Foundation's decoder, UInt64 and Int64 read exactly, after a check of the nesting
    /// depth (one pass, no allocation).
    static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        guard depth(of: bytes, exceeds: maxDepth) == false else { throw TooDeep() }
        return try JSONDecoder().decode(type, from: Data(bytes))
    }

    /// Whether brackets and braces outside strings nest deeper than `limit`. The decoder
    /// stops at the first error, so up to where it stops this counts as it does.
    static func depth(of bytes: [UInt8], exceeds limit: Int) -> Bool {
        var depth = 0
        var inString = false
        var escaped = false
        for b in bytes {
            if inString {
                if escaped {
                    escaped = false
                } else if b == UInt8(ascii: "\\") {
                    escaped = true
                } else if b == UInt8(ascii: "\"") {
                    inString = false
                }
            } else if b == UInt8(ascii: "\"") {
                inString = true
            } else if b == UInt8(ascii: "[") || b == UInt8(ascii: "{") {
                depth += 1
                if depth > limit { return true }
            } else if b == UInt8(ascii: "]") || b == UInt8(ascii: "}") {
                depth = max(depth - 1, 0)
            }
        }
        return false
    }
}
