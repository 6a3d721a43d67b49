import Glibc
import SystemPackage

/// Where sched-ext's schedulers serve their stats, and where its tools look.
public let defaultStatsSocketPath = "/var/run/scx/root/stats"

/// What went wrong with a stats socket, worded for the person at the terminal.
public enum StatsSocketError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Nothing listens at the path (no file, or a stale socket of a process that died).
    case noServer(path: String)
    /// The socket exists but this user may not use it (it is root's).
    case permissionDenied(path: String)
    /// Another live process serves the path.
    case inUse(path: String)
    /// The path exists and is not a socket: never deleted.
    case notASocket(path: String)
    case pathTooLong(path: String)
    /// The socket file came out with permissions beyond the mode asked for (a kernel
    /// that ignores the socket's own mode at bind()); it was removed.
    case modeNotApplied(path: String, mode: mode_t, wanted: mode_t)
    /// The server did not answer in time.
    case timedOut(path: String)
    /// The server closed the connection.
    case closed(path: String)
    /// The reply was not the protocol's.
    case badReply(String)
    /// A reply line longer than the client reads (`StatsClient`'s `maxReplyBytes`).
    case replyTooLong(path: String, maxBytes: Int)
    /// The server answered with a non-zero errno.
    case refused(errno: Errno, message: String)
    /// The server's top stats struct is not the one expected: another program, such as
    /// another sched-ext scheduler, serves the socket. `found`: the structs it describes.
    case otherServer(path: String, expected: String, found: [String])
    case system(call: String, path: String, errno: Errno)

    public var description: String {
        switch self {
        case .noServer(let p): "nothing serves stats at \(p)"
        case .permissionDenied(let p): "permission denied on \(p) (the stats socket is root's; run as root)"
        case .inUse(let p): "another process already serves stats at \(p)"
        case .notASocket(let p): "\(p) exists and is not a socket; not touching it"
        case .pathTooLong(let p): "socket path too long: \(p)"
        case .modeNotApplied(let p, let mode, let wanted):
            "\(p) was created with mode \(String(mode, radix: 8)), not \(String(wanted, radix: 8)); removed it rather than serve on it"
        case .timedOut(let p): "the stats server at \(p) did not answer in time"
        case .closed(let p): "the stats server at \(p) closed the connection"
        case .badReply(let why): "malformed reply from the stats server: \(why)"
        case .replyTooLong(let p, let max): "the stats server at \(p) sent a reply line longer than \(max) bytes; not reading it"
        case .refused(let e, let m): "the stats server refused the request (errno \(e.rawValue)): \(m)"
        case .otherServer(let p, let expected, let found) where found.isEmpty:
            "the stats server at \(p) is not \(expected): it describes no stats (stats_meta)"
        case .otherServer(let p, let expected, let found):
            "the stats server at \(p) is not \(expected): its stats are \(found.map { "\"\($0)\"" }.joined(separator: ", ")), not \"\(expected)\" (another sched_ext scheduler serves this socket)"
        case .system(let call, let p, let e): "\(call) \(p): \(e)"
        }
    }
}

/// The few socket calls the server and client make, in one place.
enum UnixSocket {
    /// How long binding waits to learn whether a server still listens on an existing
    /// socket: a live server's backlog accepts at once; a full one makes connect() wait.
    static let staleProbeTimeoutMs = 200

    static func socketFD(path: String, nonBlocking: Bool) throws(StatsSocketError) -> Int32 {
        var type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        if nonBlocking { type |= Int32(SOCK_NONBLOCK.rawValue) }
        let fd = socket(AF_UNIX, type, 0)
        guard fd >= 0 else { throw .system(call: "socket", path: path, errno: Errno(rawValue: errno)) }
        return fd
    }

    /// Calls `body` with the address of `path`.
    static func withAddress<R>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) throws(StatsSocketError) -> R {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { throw .pathTooLong(path: path) }
        withUnsafeMutableBytes(of: &addr.sun_path) { buf in
            buf.copyBytes(from: bytes)
            buf[bytes.count] = 0
        }
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }

    /// A connected, blocking socket with send and receive timeouts of `timeoutMs`, which
    /// also bounds the connection itself: a UNIX socket's connect() waits while the
    /// server's backlog is full (a server that stopped accepting), for at most the send
    /// timeout, and then fails with EAGAIN.
    static func connect(_ path: String, timeoutMs: Int) throws(StatsSocketError) -> Int32 {
        let fd = try socketFD(path: path, nonBlocking: false)
        var tv = timeval(tv_sec: timeoutMs / 1000, tv_usec: (timeoutMs % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let rc = try withAddress(path) { Glibc.connect(fd, $0, $1) }
        if rc != 0 {
            let e = Errno(rawValue: errno)
            close(fd)
            switch e {
            case .noSuchFileOrDirectory, .connectionRefused, .notDirectory: throw .noServer(path: path)
            case .permissionDenied, .notPermitted: throw .permissionDenied(path: path)
            case .resourceTemporarilyUnavailable: throw .timedOut(path: path)
            default: throw .system(call: "connect", path: path, errno: e)
            }
        }
        return fd
    }

    /// Binds and listens at `path`, readable and writable by the owner only (`mode`). Parent
    /// directories are created (0755, as scx's servers do). A socket left by a process that
    /// died (nobody listens on it) is replaced; a live one, even one whose server has
    /// stopped accepting, or a file that is not a socket, is left alone and reported.
    /// `afterBind` runs between bind() and the check of what the path holds (tests swap
    /// the path there).
    static func listen(_ path: String, mode: mode_t, backlog: Int32,
                       afterBind: () -> Void = {}) throws(StatsSocketError) -> (fd: Int32, inode: ino_t) {
        try makeParents(of: path)
        var st = stat()
        if lstat(path, &st) == 0 {
            guard st.st_mode & S_IFMT == S_IFSOCK else { throw .notASocket(path: path) }
            do throws(StatsSocketError) {
                close(try connect(path, timeoutMs: staleProbeTimeoutMs))
                throw .inUse(path: path)
            } catch .noServer {
                guard unlink(path) == 0 || errno == ENOENT else { throw .system(call: "unlink", path: path, errno: Errno(rawValue: errno)) }
            } catch .timedOut {
                throw .inUse(path: path)
            }
        }
        let fd = try socketFD(path: path, nonBlocking: true)
        // The mode is set on the socket before bind(), which creates the file with it
        // (less the umask). No chmod() of the path follows, which would follow a symbolic
        // link put there in the meantime, and the umask, which the process's other
        // threads share, is left alone.
        guard fchmod(fd, mode) == 0 else {
            let e = Errno(rawValue: errno)
            close(fd)
            throw .system(call: "fchmod", path: path, errno: e)
        }
        let bound = try withAddress(path) { Glibc.bind(fd, $0, $1) }
        guard bound == 0 else {
            let e = Errno(rawValue: errno)
            close(fd)
            throw e == .addressInUse ? .inUse(path: path) : .system(call: "bind", path: path, errno: e)
        }
        afterBind()
        // What is at the path now must be a socket with no permission beyond `mode`;
        // anything else was put there by someone else and is left alone.
        guard lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFSOCK else {
            close(fd)
            throw .notASocket(path: path)
        }
        guard st.st_mode & 0o7777 & ~mode == 0 else {
            close(fd)
            unlink(path)
            throw .modeNotApplied(path: path, mode: st.st_mode & 0o7777, wanted: mode)
        }
        // Clients cannot connect before listen(), so the mode is right before anyone can.
        guard Glibc.listen(fd, backlog) == 0 else {
            let e = Errno(rawValue: errno)
            close(fd)
            unlink(path)
            throw .system(call: "listen", path: path, errno: e)
        }
        return (fd, st.st_ino)
    }

    private static func makeParents(of path: String) throws(StatsSocketError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/", omittingEmptySubsequences: true).dropLast() {
            prefix += "/" + component
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw .system(call: "mkdir", path: prefix, errno: Errno(rawValue: errno))
            }
        }
    }
}
