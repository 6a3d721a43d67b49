import Foundation
import Glibc
import SystemPackage

/// Child processes started with posix_spawn, for every part of swiftland that runs one: the
/// VM runner needs exact control over the child's descriptors (QEMU's stdout is the guest's
/// command port), its process group (QEMU must not receive the terminal's Ctrl-C before we
/// do) and its signal dispositions (we ignore SIGPIPE; children must not inherit that).
public enum Subprocess {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// How a child ended, as waitpid(2) reported it.
    public enum Termination: Equatable, Sendable {
        case exited(Int32)
        case signaled(Int32)

        public var succeeded: Bool { self == .exited(0) }

        /// The status a shell reports for it: the exit status, or 128 + the signal.
        public var shellStatus: Int32 {
            switch self {
            case .exited(let code): code
            case .signaled(let sig): 128 + sig
            }
        }

        public var text: String {
            switch self {
            case .exited(let code): return "exit status \(code)"
            case .signaled(let sig): return "signal \(sig)"
            }
        }
    }

    /// Looks `name` up on PATH (or takes it as is when it contains a slash).
    public static func which(_ name: String, path: String? = nil) -> String? {
        if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
        let search = path ?? ProcessInfo.processInfo.environment["PATH"]
            ?? "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
        // sbin directories hold some tools (depmod-like helpers) that ordinary PATHs miss.
        let dirs = search.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin"]
        for dir in dirs where !dir.isEmpty {
            let candidate = dir + "/" + name
            var st = stat()
            if stat(candidate, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG,
                access(candidate, X_OK) == 0
            {
                return candidate
            }
        }
        return nil
    }

    /// Starts `executable` with `arguments` (argv[1...]). `stdin`, `stdout`, `stderr` are
    /// descriptors of ours to install as the child's 0, 1, 2 (nil: inherit ours).
    /// `newProcessGroup` puts the child in a group of its own.
    public static func spawn(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        stdin: Int32? = nil, stdout: Int32? = nil, stderr: Int32? = nil,
        newProcessGroup: Bool = false
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (fd, target) in [(stdin, Int32(0)), (stdout, 1), (stderr, 2)] {
            if let fd { posix_spawn_file_actions_adddup2(&actions, fd, target) }
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in [SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT] { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var flags = Int32(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)
        if newProcessGroup {
            flags |= Int32(POSIX_SPAWN_SETPGROUP)
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let argv = [executable] + arguments
        let env = (environment ?? ProcessInfo.processInfo.environment)
            .map { "\($0.key)=\($0.value)" }
        var pid = pid_t()
        let rc = withCStrings(argv) { cArgv in
            withCStrings(env) { cEnv in
                posix_spawn(&pid, executable, &actions, &attributes, cArgv, cEnv)
            }
        }
        guard rc == 0 else {
            throw Failure(description: "cannot start \(executable): \(Errno(rawValue: rc))")
        }
        return pid
    }

    /// Blocks until `pid` ends (retrying on EINTR).
    public static func wait(_ pid: pid_t) -> Termination {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return .exited(-1) }
        }
        return termination(status)
    }

    /// Waits for `pid` at most `seconds`, then sends SIGKILL to `killing` (the pid, or
    /// -pgid for its whole process group: a child that ignores the signal it was asked to
    /// stop with must not hold its caller) and waits for it.
    public static func wait(_ pid: pid_t, killing killTarget: pid_t, after seconds: Double) -> Termination {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let done = poll(pid) { return done }
            usleep(20_000)
        }
        kill(killTarget, SIGKILL)
        return wait(pid)
    }

    /// How `pid` ended if it has (it is reaped then: `wait` must not follow), nil while it runs.
    public static func poll(_ pid: pid_t) -> Termination? {
        var status: Int32 = 0
        let reaped = waitpid(pid, &status, WNOHANG)
        if reaped == 0 || (reaped < 0 && errno == EINTR) { return nil }
        return reaped < 0 ? .exited(-1) : termination(status)
    }

    /// waitpid's status word; the W* macros are not imported into Swift.
    private static func termination(_ status: Int32) -> Termination {
        if status & 0x7f == 0 { return .exited((status >> 8) & 0xff) }
        return .signaled(status & 0x7f)
    }

    public struct Output: Sendable {
        public var termination: Termination
        public var stdout: Data
        public var stderr: Data
        public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
        public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
    }

    /// Where a child run by `run` writes its stderr.
    public enum ErrorOutput: Sendable {
        /// Captured apart, in `Output.stderr`.
        case captured
        /// Our own stderr (progress messages).
        case inherited
        /// The same pipe as stdout, in the order written: `Output.stdout` holds both.
        case mergedWithOutput
    }

    /// Runs a command to completion. stdout is captured; stderr as `stderr` says.
    /// `input` is written to the child's stdin (else stdin is /dev/null).
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        input: Data? = nil, stderr errorOutput: ErrorOutput = .captured, newProcessGroup: Bool = false
    ) throws -> Output {
        let out = try Pipe2()
        let err = try Pipe2()
        let inPipe = try Pipe2()
        let devNull = open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer {
            if devNull >= 0 { close(devNull) }
        }
        let pid: pid_t
        do {
            pid = try spawn(
                executable, arguments, environment: environment,
                stdin: input == nil ? devNull : inPipe.read, stdout: out.write,
                stderr: errorOutput == .captured ? err.write : errorOutput == .mergedWithOutput ? out.write : nil,
                newProcessGroup: newProcessGroup)
        } catch {
            out.closeBoth(); err.closeBoth(); inPipe.closeBoth()
            throw error
        }
        out.closeWrite(); err.closeWrite(); inPipe.closeRead()

        // Feed stdin and drain stderr on helper threads so no pipe can fill up and stall.
        let writer = input.map { data in
            BackgroundTask {
                _ = data.withUnsafeBytes { FD.writeAll(inPipe.write, $0) }
                inPipe.closeWrite()
            }
        }
        if input == nil { inPipe.closeWrite() }
        let errReader = BackgroundTask { () -> Data in
            errorOutput == .captured ? FD.readAll(err.read) : Data()
        }
        let stdoutData = FD.readAll(out.read)
        let stderrData = errReader.value()
        writer?.join()
        out.closeRead(); err.closeRead()
        let termination = wait(pid)
        return Output(termination: termination, stdout: stdoutData, stderr: stderrData)
    }

    private static func withCStrings<R>(
        _ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R
    ) -> R {
        let pointers = strings.map { strdup($0) } + [nil]
        defer { pointers.forEach { free($0) } }
        return body(pointers)
    }
}

/// A pipe whose ends are close-on-exec (children get only what spawn dup2()s for them).
public final class Pipe2: @unchecked Sendable {
    public let read: Int32
    public let write: Int32
    private let lock = NSLock()
    private var readOpen = true
    private var writeOpen = true

    public init() throws {
        var fds: [Int32] = [-1, -1]
        // pipe2(O_CLOEXEC) is not imported into Swift; spawns happen on one thread at a time
        // here, so setting the flag right after is good enough.
        guard pipe(&fds) == 0 else {
            throw Subprocess.Failure(description: "pipe: \(Errno(rawValue: errno))")
        }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        read = fds[0]
        write = fds[1]
    }

    public func closeRead() {
        lock.lock(); defer { lock.unlock() }
        if readOpen { close(read); readOpen = false }
    }

    public func closeWrite() {
        lock.lock(); defer { lock.unlock() }
        if writeOpen { close(write); writeOpen = false }
    }

    public func closeBoth() { closeRead(); closeWrite() }
}

/// Small helpers over raw descriptors.
public enum FD {
    /// Writes everything; false on an error (EPIPE: the reader is gone).
    @discardableResult
    public static func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) -> Bool {
        guard var base = buffer.baseAddress else { return true }
        var left = buffer.count
        while left > 0 {
            let n = Glibc.write(fd, base, left)
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            left -= n
            base += n
        }
        return true
    }

    @discardableResult
    public static func writeAll(_ fd: Int32, _ data: Data) -> Bool {
        data.withUnsafeBytes { writeAll(fd, $0) }
    }

    public static func readAll(_ fd: Int32) -> Data {
        var result = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                break
            }
            if n == 0 { break }
            result.append(contentsOf: buffer[0..<n])
        }
        return result
    }
}

/// A closure run on a dedicated thread (blocking I/O stays out of Swift's async pool).
public final class BackgroundTask<T>: @unchecked Sendable {
    private let condition = NSCondition()
    private var result: T?

    public init(_ body: @escaping @Sendable () -> T) {
        let thread = Thread { [self] in
            let value = body()
            condition.lock()
            result = value
            condition.broadcast()
            condition.unlock()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Waits for the closure to finish and returns what it returned.
    public func value() -> T {
        condition.lock()
        defer { condition.unlock() }
        while result == nil { condition.wait() }
        return result!
    }
}

extension BackgroundTask where T == Void {
    public func join() { value() }
}
