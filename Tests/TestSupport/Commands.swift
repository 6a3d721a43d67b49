import ChildProcess
import Foundation
import Glibc

/// Running programs from tests, the built `swiftland` binary among them, through the
/// package's one process helper (ChildProcess).
public enum Command {
    /// The `swiftland` binary of this build: SwiftPM puts the test bundle beside the
    /// products it was built with.
    public static let swiftland: String =
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appending(path: "swiftland").path

    /// How a command ended and what it wrote to stdout and stderr, together.
    public struct Result: Sendable {
        /// The exit status, or 128 + the signal that ended it.
        public var status: Int32
        public var output: String
    }

    /// Runs `executable` to completion, stdin /dev/null.
    public static func run(_ executable: String, _ arguments: [String]) throws -> Result {
        let out = try Subprocess.run(executable, arguments, stderr: .mergedWithOutput)
        return Result(status: out.termination.shellStatus, output: out.stdoutText)
    }

    /// Starts `executable`; its stdout and stderr are read together until it ends.
    public static func start(_ executable: String, _ arguments: [String]) throws -> Running {
        try Running(executable, arguments)
    }

    /// A command started by `start`, for a test that signals it or waits for it.
    public final class Running {
        public let pid: pid_t
        private let output: BackgroundTask<Data>
        private var result: Result?

        init(_ executable: String, _ arguments: [String]) throws {
            let pipe = try Pipe2()
            let devNull = open("/dev/null", O_RDONLY | O_CLOEXEC)
            defer { close(devNull) }
            do {
                pid = try Subprocess.spawn(executable, arguments, stdin: devNull, stdout: pipe.write, stderr: pipe.write)
            } catch {
                pipe.closeBoth()
                throw error
            }
            pipe.closeWrite()
            output = BackgroundTask {
                defer { pipe.closeRead() }
                return FD.readAll(pipe.read)
            }
        }

        public func signal(_ signal: Int32) {
            if result == nil { kill(pid, signal) }
        }

        /// Waits for the command to end.
        public func finish() -> Result {
            if let result { return result }
            let text = String(decoding: output.value(), as: UTF8.self)
            let done = Result(status: Subprocess.wait(pid).shellStatus, output: text)
            result = done
            return done
        }

        deinit {
            if result == nil {
                kill(pid, SIGKILL)
                _ = finish()
            }
        }
    }
}
