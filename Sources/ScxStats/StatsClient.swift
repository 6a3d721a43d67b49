import Glibc

/// A connection to a stats server: one request at a time, each answered by one line.
public final class StatsClient {
    public let path: String
    private let fd: Int32
    private var buffered: [UInt8] = []

    /// Connects to `path`; `timeoutMs` bounds each send and each wait for a reply.
    public init(path: String = defaultStatsSocketPath, timeoutMs: Int = 2000) throws(StatsSocketError) {
        self.path = path
        fd = try UnixSocket.connect(path, timeoutMs: timeoutMs)
    }

    deinit {
        close(fd)
    }

    /// Sends `request` and returns the "resp" of a reply whose errno is 0.
    public func request(_ request: StatsResponder.Request) throws(StatsSocketError) -> JSON {
        let reply = try JSON.parseReply(exchange(request.line))
        guard reply.errno == 0 else {
            throw .refused(errno: reply.errno, message: reply.resp.string ?? reply.resp.serialized)
        }
        return reply.resp
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
            if let nl = buffered.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffered[..<nl], as: UTF8.self)
                buffered.removeFirst(nl + 1)
                return line
            }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                buffered.append(contentsOf: chunk[0..<n])
            } else if n == 0 {
                throw .closed(path: path)
            } else if errno != EINTR {
                throw errno == EAGAIN ? .timedOut(path: path) : .closed(path: path)
            }
        }
    }
}

extension JSON {
    /// The errno and "resp" of a protocol reply line.
    public static func parseReply(_ line: String) throws(StatsSocketError) -> (errno: Int32, resp: JSON) {
        let json: JSON
        do {
            json = try JSON(parsing: line)
        } catch {
            throw .badReply("\(error)")
        }
        guard let errnoValue = json["errno"], case .object = json["args"] ?? .null else {
            throw .badReply("no \"errno\" and \"args\" in \(line.prefix(200))")
        }
        let e: Int32 = switch errnoValue {
        case .uint(let v): Int32(clamping: v)
        case .int(let v): Int32(clamping: v)
        default: -1
        }
        return (e, json["args"]?["resp"] ?? .null)
    }
}
