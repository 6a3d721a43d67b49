/// The request/reply half of the scx stats protocol, without any I/O: one request line in,
/// one reply line out. A request is `{"req":"stats"|"stats_meta","args":{...}}` (args, a map
/// of strings, may be left out; "target" picks the stats struct and defaults to "top"); a
/// reply is `{"errno":0,"args":{"resp":...}}`, or a non-zero errno (EINVAL, as scx_stats
/// answers) with a message as "resp". A malformed request gets such a reply; it never
/// ends the connection or reaches the scheduler.
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
        case .failure(let why): return Self.reply(errno: Self.einval, .string(why.message))
        case .success(let request): return answer(request)
        }
    }

    /// A request as the protocol defines it.
    public struct Request: Sendable, Equatable {
        public var req: String
        public var args: [String: String]

        public init(req: String, args: [String: String] = [:]) {
            self.req = req
            self.args = args
        }

        /// The request line a client sends, without its newline.
        public var line: String {
            let args = args.keys.sorted().map { ($0, JSON.string(self.args[$0]!)) }
            return JSON.object([("req", .string(req)), ("args", .object(args))]).serialized
        }
    }

    struct Malformed: Error { let message: String }

    static func parse(_ line: [UInt8]) -> Result<Request, Malformed> {
        let json: JSON
        do {
            json = try JSON(parsing: line)
        } catch {
            return .failure(Malformed(message: "malformed request: \(error)"))
        }
        guard case .object = json else { return .failure(Malformed(message: "malformed request: not a JSON object")) }
        guard let req = json["req"]?.string else { return .failure(Malformed(message: "malformed request: no \"req\" string")) }
        var args: [String: String] = [:]
        switch json["args"] {
        case nil, .null?: break
        case .object(let members)?:
            for (key, value) in members {
                guard let s = value.string else {
                    return .failure(Malformed(message: "malformed request: argument \"\(key)\" is not a string"))
                }
                args[key] = s
            }
        default: return .failure(Malformed(message: "malformed request: \"args\" is not an object"))
        }
        return .success(Request(req: req, args: args))
    }

    private func answer(_ request: Request) -> String {
        switch request.req {
        case "stats":
            let target = request.args["target"] ?? "top"
            guard target == "top" || target == schema.name else {
                return Self.reply(errno: Self.einval, .string("unknown stats target \"\(target)\""))
            }
            return Self.reply(errno: 0, source().json(schema))
        case "stats_meta":
            return Self.reply(errno: 0, schema.meta)
        default:
            return Self.reply(errno: Self.einval, .string("unknown request \"\(request.req)\" (known: stats, stats_meta)"))
        }
    }

    static func reply(errno: Int32, _ resp: JSON) -> String {
        JSON.object([("errno", .int(Int64(errno))), ("args", .object([("resp", resp)]))]).serialized
    }
}
