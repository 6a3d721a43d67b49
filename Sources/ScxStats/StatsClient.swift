import FoundationEssentials
import Glibc
import SystemPackage

/// A connection to a stats server: one request at a time, each answered by one line.
public final class StatsClient {
    public let path: String
    private let fd: Int32
    private var buffered: LineBuffer

    /// The longest reply line read by default: swiftland's longest reply, `stats_meta`, is
    /// a few KiB, so this only stops a server that never ends its line.
    public static let defaultMaxReplyBytes = 4 * 1024 * 1024

    /// Connects to `path`; `timeoutMs` bounds the connection, each send and each wait for
    /// a reply, and a reply line longer than `maxReplyBytes` is refused.
    public init(path: String = defaultStatsSocketPath, timeoutMs: Int = 2000,
                maxReplyBytes: Int = StatsClient.defaultMaxReplyBytes) throws(StatsSocketError) {
        self.path = path
        buffered = LineBuffer(maxLineBytes: maxReplyBytes)
        fd = try UnixSocket.connect(path, timeoutMs: timeoutMs)
    }

    deinit {
        close(fd)
    }

    /// Sends `request` and returns the "resp" of a reply whose errno is 0, read as `Resp`
    /// (`StatsSample` for `stats`, `[String: StatsMeta]` for `stats_meta`).
    public func request<Resp: Decodable>(_ request: StatsResponder.Request, as type: Resp.Type = Resp.self) throws(StatsSocketError) -> Resp {
        switch try StatsReply<Resp>(line: exchange(request.line)) {
        case .answer(let resp): return resp
        case .refused(let errno, let message): throw .refused(errno: Errno(rawValue: errno), message: message)
        }
    }

    /// Checks that the server serves `schema`: its `stats_meta` marks a struct of that name
    /// as the top one. Every sched-ext scheduler (scx_bpfland, scx_lavd, ...) speaks this
    /// protocol on the same default socket, each with its own top struct ("Metrics" for
    /// scx_bpfland); their counters must not pass for `schema`'s. The metadata is read
    /// leniently (scx_stats leaves out empty members), so any such server is named.
    public func expectServer(of schema: StatsSchema) throws(StatsSocketError) {
        let meta: [String: StructHead]
        do {
            meta = try request(.init(req: "stats_meta"))
        } catch .refused {
            throw .otherServer(path: path, expected: schema.name, found: [])
        }
        let tops = meta.filter { $0.value.top == "true" }.keys.sorted()
        guard !tops.contains(schema.name) else { return }
        throw .otherServer(path: path, expected: schema.name, found: tops.isEmpty ? meta.keys.sorted() : tops)
    }

    /// What `expectServer` reads of each struct in `stats_meta`.
    private struct StructHead: Decodable {
        let top: String?
    }

    /// Sends one line (a newline is added) and returns the reply line, without its newline.
    public func exchange(_ line: String) throws(StatsSocketError) -> String {
        try send(Array(line.utf8) + [UInt8(ascii: "\n")])
        return try receiveLine()
    }

    /// Sends raw bytes as they are (tests use it for malformed input).
    public func send(_ bytes: [UInt8]) throws(StatsSocketError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw errno == EAGAIN ? .timedOut(path: path) : .closed(path: path)
            }
            offset += n
        }
    }

    /// The next reply line, without its newline.
    public func receiveLine() throws(StatsSocketError) -> String {
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            switch buffered.next() {
            case .line(let line): return String(decoding: line, as: UTF8.self)
            case .tooLong: throw .replyTooLong(path: path, maxBytes: buffered.maxLineBytes)
            case .incomplete: break
            }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                buffered.append(chunk[0..<n])
            } else if n == 0 {
                throw .closed(path: path)
            } else if errno != EINTR {
                throw errno == EAGAIN ? .timedOut(path: path) : .closed(path: path)
            }
        }
    }
}

/// A protocol reply line, `{"errno":E,"args":{"resp":R}}`, as a client reads it: with
/// errno 0, R is the answer; otherwise the errno and R, the server's message.
public enum StatsReply<Resp: Decodable>: Decodable {
    case answer(Resp)
    case refused(errno: Int32, message: String)

    public var errno: Int32 {
        switch self {
        case .answer: 0
        case .refused(let errno, _): errno
        }
    }

    public var answer: Resp? {
        if case .answer(let resp) = self { return resp }
        return nil
    }

    /// Reads a reply line (without its newline).
    public init(line: String) throws(StatsSocketError) {
        do {
            self = try StatsJSON.decode(Self.self, from: Array(line.utf8))
        } catch {
            throw .badReply("\(Self.reason(error)) in \(line.prefix(200))")
        }
    }

    private enum Keys: String, CodingKey { case errno, args, resp }

    public init(from decoder: any Decoder) throws {
        let top = try decoder.container(keyedBy: Keys.self)
        let errno = try top.decode(Int64.self, forKey: .errno)
        let args = try top.nestedContainer(keyedBy: Keys.self, forKey: .args)
        if errno == 0 {
            self = .answer(try args.decode(Resp.self, forKey: .resp))
        } else {
            self = .refused(errno: Int32(clamping: errno), message: (try? args.decode(String.self, forKey: .resp)) ?? "(no message)")
        }
    }

    private static func reason(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            "no \"\((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))\""
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            context.codingPath.isEmpty ? "not a JSON object" : "unexpected \"\(context.codingPath.map(\.stringValue).joined(separator: "."))\""
        case let tooDeep as StatsJSON.TooDeep: "\(tooDeep)"
        default: "not JSON"
        }
    }
}
