import Glibc
import Synchronization

/// Serves a `StatsResponder` on a UNIX socket, from one thread of its own.
///
/// The thread multiplexes every client with poll(2) over non-blocking sockets, so a slow,
/// silent or hostile client never holds it up, and it never calls into the scheduler: it
/// only calls the responder's source. Limits keep its memory and its table bounded: at
/// most `maxClients` connections (a newcomer to a full table takes the place of the client
/// idle longest), requests of at most `maxRequestBytes` (a longer line gets an error reply
/// and the connection is closed), a client that leaves `maxPendingReplyBytes` of replies
/// unread is disconnected, and so is one idle for `idleTimeout`.
public final class StatsServer: @unchecked Sendable {
    public struct Limits: Sendable {
        public var maxClients = 64
        public var maxRequestBytes = 64 * 1024
        public var maxPendingReplyBytes = 1024 * 1024
        /// A client that sends no complete request and takes none of its reply for this
        /// long is closed, so forgotten connections do not fill the table. sched-ext's
        /// monitors, and swiftland's, ask every few seconds and connect again when closed.
        public var idleTimeout: Duration = .seconds(30)
        public init() {}
    }

    public let path: String
    private let responder: StatsResponder
    private let limits: Limits
    private let listenFD: Int32
    /// The inode bound, so that stop() removes our socket and never a successor's.
    private let inode: ino_t
    private let stopFlag = Atomic<Bool>(false)
    private let served = Atomic<Int>(0)
    private var thread = pthread_t()

    /// Binds `path` (mode 0600: root's alone when run as root) and starts serving. A stale
    /// socket left by a crashed run is replaced; a live server at `path` is not.
    public init(path: String = defaultStatsSocketPath, responder: StatsResponder, limits: Limits = Limits()) throws(StatsSocketError) {
        self.path = path
        self.responder = responder
        self.limits = limits
        (listenFD, inode) = try UnixSocket.listen(path, mode: 0o600, backlog: 64)
        let context = Unmanaged.passRetained(self).toOpaque()
        let err = pthread_create(&thread, nil, { arg in
            let me = Unmanaged<StatsServer>.fromOpaque(arg!).takeRetainedValue()
            me.main()
            return nil
        }, context)
        precondition(err == 0, "pthread_create failed: \(err)")
    }

    /// Requests answered so far.
    public var requestsServed: Int { served.load(ordering: .relaxed) }

    /// Stops serving, closes every connection and removes the socket. Idempotent.
    public func stop() {
        guard !stopFlag.exchange(true, ordering: .acquiringAndReleasing) else { return }
        // Wakes the thread's poll() at once (the listening socket reports a hang-up).
        shutdown(listenFD, Int32(SHUT_RDWR))
        pthread_join(thread, nil)
        close(listenFD)
        var st = stat()
        if lstat(path, &st) == 0, st.st_ino == inode { unlink(path) }
    }

    deinit {
        stop()
    }

    // MARK: The thread

    private struct Client {
        let fd: Int32
        var input: LineBuffer
        var output: [UInt8] = []
        /// When it last sent a complete request or took reply bytes (or connected).
        var lastActive: ContinuousClock.Instant
        /// The client shut down its side: send what is pending, then close.
        var eof = false
        var closing = false
        var done: Bool { closing || (eof && output.isEmpty) }
    }

    private func main() {
        var clients: [Client] = []
        var fds: [pollfd] = []
        while !stopFlag.load(ordering: .relaxed) {
            fds.removeAll(keepingCapacity: true)
            fds.append(pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0))
            for c in clients {
                let events = (c.eof ? 0 : POLLIN) | (c.output.isEmpty ? 0 : POLLOUT)
                fds.append(pollfd(fd: c.fd, events: Int16(events), revents: 0))
            }
            let n = poll(&fds, nfds_t(fds.count), pollTimeoutMs(clients))
            if n > 0 {
                for i in clients.indices {
                    let revents = Int32(fds[i + 1].revents)
                    if revents != 0 { service(&clients[i], revents) }
                }
            }
            let now = ContinuousClock.now
            for i in clients.indices where now - clients[i].lastActive >= limits.idleTimeout {
                clients[i].closing = true
            }
            clients.removeAll { c in
                if c.done { close(c.fd) }
                return c.done
            }
            if n > 0 && Int32(fds[0].revents) & Int32(POLLIN) != 0 { accept(into: &clients) }
        }
        for c in clients { close(c.fd) }
    }

    /// Until the first idle client is due to be closed, and at most 1 s: stop() wakes the
    /// poll at once, the second is only a backstop.
    private func pollTimeoutMs(_ clients: [Client]) -> Int32 {
        guard let oldest = clients.map(\.lastActive).min() else { return 1000 }
        let left = oldest + limits.idleTimeout - ContinuousClock.now
        if left <= .zero { return 0 }
        if left >= .seconds(1) { return 1000 }
        let (_, attoseconds) = left.components
        // Rounded up, so that the client is due when the poll returns.
        return Int32(attoseconds / 1_000_000_000_000_000) + 1
    }

    private func accept(into clients: inout [Client]) {
        while true {
            let fd = Glibc.accept(listenFD, nil, nil)
            if fd < 0 {
                // Out of descriptors: the listener stays readable; pause rather than spin.
                if errno == EMFILE || errno == ENFILE { usleep(100_000) }
                return  // EAGAIN: no more waiting, or an aborted connection
            }
            if clients.count >= limits.maxClients {
                // The table is full: the client idle longest makes room, so forgotten
                // connections never shut out a new one.
                guard let longestIdle = clients.indices.min(by: { clients[$0].lastActive < clients[$1].lastActive }) else {
                    close(fd)
                    continue
                }
                close(clients[longestIdle].fd)
                clients.remove(at: longestIdle)
            }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, O_NONBLOCK)
            clients.append(Client(fd: fd, input: LineBuffer(maxLineBytes: limits.maxRequestBytes), lastActive: .now))
        }
    }

    private func service(_ c: inout Client, _ revents: Int32) {
        if revents & Int32(POLLERR) != 0 { c.closing = true }
        if !c.eof && revents & Int32(POLLIN | POLLHUP) != 0 { receive(&c) }
        answerCompleteLines(&c)
        flush(&c)
    }

    private func receive(_ c: inout Client) {
        var buf = [UInt8](repeating: 0, count: 4096)
        let got = buf.withUnsafeMutableBytes { recv(c.fd, $0.baseAddress, $0.count, 0) }
        if got > 0 {
            c.input.append(buf[0..<got])
        } else if got == 0 {
            c.eof = true
        } else if errno != EAGAIN && errno != EINTR {
            c.closing = true
        }
    }

    private func answerCompleteLines(_ c: inout Client) {
        while !c.closing {
            switch c.input.next() {
            case .line(let request):
                enqueueReply(responder.reply(to: request), to: &c)
            case .incomplete:
                return
            case .tooLong:
                enqueueReply(StatsResponder.reply(errno: StatsResponder.einval, "request longer than \(limits.maxRequestBytes) bytes"), to: &c)
                c.input.removeAll()
                c.closing = true
                flush(&c)
            }
        }
    }

    private func enqueueReply(_ reply: String, to c: inout Client) {
        c.lastActive = .now
        c.output.append(contentsOf: reply.utf8)
        c.output.append(UInt8(ascii: "\n"))
        served.add(1, ordering: .relaxed)
        if c.output.count > limits.maxPendingReplyBytes { c.closing = true }
    }

    private func flush(_ c: inout Client) {
        guard !c.output.isEmpty else { return }
        let sent = c.output.withUnsafeBytes { send(c.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if sent > 0 {
            c.lastActive = .now
            c.output.removeFirst(sent)
        } else if sent < 0 && errno != EAGAIN && errno != EINTR {
            c.closing = true
        }
    }
}
