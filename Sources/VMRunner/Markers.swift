import Foundation

/// The protocol between the guest's init and the host on the command port (ttyS1).
///
/// The init prints `SWIFTLAND-START:<nonce>\n` right before COMMAND and
/// `SWIFTLAND-EXIT:<nonce>:<status>:<resultBytes>\n` right after it (no newline is added
/// before it, so COMMAND's output arrives byte for byte). The nonce is random per run, so
/// COMMAND printing marker-like text (or a previous run's transcript) cannot fool us.
/// `<resultBytes>` is the size of the results tar sent on ttyS2, or -1 when none was sent.
public struct MarkerProtocol: Sendable, Equatable {
    public let nonce: String

    public init(nonce: String) { self.nonce = nonce }

    public static func randomNonce() -> String {
        (0..<4).map { _ in String(format: "%08x", UInt32.random(in: .min ... .max)) }.joined()
    }

    public var startMarker: String { "SWIFTLAND-START:\(nonce)\n" }
    public var exitPrefix: String { "SWIFTLAND-EXIT:\(nonce):" }
    public func exitMarker(status: Int32, resultBytes: Int = -1) -> String {
        "\(exitPrefix)\(status):\(resultBytes)\n"
    }
}

/// What the guest reported at COMMAND's end.
public struct GuestExit: Equatable, Sendable {
    public var status: Int32
    public var resultBytes: Int
}

/// Splits the command port's byte stream into COMMAND's output and the markers.
/// Feed it chunks as they arrive; it returns the bytes to show the user and never holds
/// back more than a possible marker prefix.
public struct CommandStreamParser: Sendable {
    public enum Phase: Equatable, Sendable {
        case booting
        case running
        case finished(GuestExit)
    }

    public private(set) var phase: Phase = .booting
    /// Bytes seen before the start marker (init noise; kept for diagnostics, capped).
    public private(set) var preamble: [UInt8] = []
    private let start: [UInt8]
    private let exitPrefix: [UInt8]
    private var pending: [UInt8] = []

    public init(protocol markers: MarkerProtocol) {
        start = Array(markers.startMarker.utf8)
        exitPrefix = Array(markers.exitPrefix.utf8)
    }

    public var started: Bool { phase != .booting }

    public var exit: GuestExit? {
        if case .finished(let e) = phase { return e }
        return nil
    }

    /// Consumes `chunk`; returns COMMAND output to pass on.
    public mutating func feed<C: Collection>(_ chunk: C) -> [UInt8] where C.Element == UInt8 {
        pending.append(contentsOf: chunk)
        var output: [UInt8] = []
        while true {
            switch phase {
            case .booting:
                if let range = Self.find(start, in: pending) {
                    appendPreamble(pending[..<range.lowerBound])
                    pending.removeSubrange(..<range.upperBound)
                    phase = .running
                    continue
                }
                // Keep only what could still become the start marker.
                let keep = Self.partialSuffixLength(of: pending, prefixOf: start)
                appendPreamble(pending[..<(pending.count - keep)])
                pending.removeFirst(pending.count - keep)
                return output
            case .running:
                if let range = Self.find(exitPrefix, in: pending) {
                    // Need the whole "status:bytes\n" tail before deciding.
                    guard let newline = pending[range.upperBound...].firstIndex(of: UInt8(ascii: "\n"))
                    else {
                        output.append(contentsOf: pending[..<range.lowerBound])
                        pending.removeSubrange(..<range.lowerBound)
                        if pending.count > exitPrefix.count + 64 {
                            // Not a real marker (too long a tail): pass it through.
                            output.append(contentsOf: pending)
                            pending.removeAll()
                        }
                        return output
                    }
                    let tail = String(decoding: pending[range.upperBound..<newline], as: UTF8.self)
                    let fields = tail.split(separator: ":", omittingEmptySubsequences: false)
                    if fields.count == 2, let status = Int32(fields[0]), let bytes = Int(fields[1]) {
                        output.append(contentsOf: pending[..<range.lowerBound])
                        pending.removeAll()
                        phase = .finished(GuestExit(status: status, resultBytes: bytes))
                        return output
                    }
                    // Malformed: treat as ordinary output and keep scanning after it.
                    output.append(contentsOf: pending[...newline])
                    pending.removeSubrange(...newline)
                    continue
                }
                let keep = Self.partialSuffixLength(of: pending, prefixOf: exitPrefix)
                output.append(contentsOf: pending[..<(pending.count - keep)])
                pending.removeFirst(pending.count - keep)
                return output
            case .finished:
                pending.removeAll()
                return output
            }
        }
    }

    /// At end of stream: whatever was held back as a possible marker prefix is output.
    public mutating func finish() -> [UInt8] {
        defer { pending.removeAll() }
        if case .running = phase { return pending }
        appendPreamble(pending[...])
        return []
    }

    private mutating func appendPreamble(_ bytes: ArraySlice<UInt8>) {
        let room = max(0, 64 * 1024 - preamble.count)
        preamble.append(contentsOf: bytes.prefix(room))
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Range<Int>? {
        guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
        let first = needle[0]
        var i = 0
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] == first {
                var j = 1
                while j < needle.count && haystack[i + j] == needle[j] { j += 1 }
                if j == needle.count { return i..<(i + needle.count) }
            }
            i += 1
        }
        return nil
    }

    /// Length of the longest proper suffix of `buffer` that is a prefix of `marker`.
    static func partialSuffixLength(of buffer: [UInt8], prefixOf marker: [UInt8]) -> Int {
        var length = min(buffer.count, marker.count - 1)
        while length > 0 {
            if buffer[(buffer.count - length)...].elementsEqual(marker[..<length]) { return length }
            length -= 1
        }
        return 0
    }
}

/// How one boot attempt ended, from the host's point of view.
public struct AttemptRecord: Sendable {
    public enum Ending: Equatable, Sendable {
        /// QEMU exited (status as reported by waitpid).
        case qemuExited(Int32)
        case qemuKilledBySignal(Int32)
        /// The boot deadline passed before the start marker; QEMU was killed.
        case bootTimedOut
        /// The kernel log stayed silent this many seconds before the start marker (a hung
        /// boot); QEMU was killed.
        case bootStalled(Double)
        /// --timeout passed after the start marker; QEMU was killed.
        case commandTimedOut
        /// The exit marker arrived (QEMU then exited or was stopped).
        case exitMarker
        /// swiftland got a signal; QEMU was killed.
        case interrupted(Int32)
    }

    public var started: Bool
    public var exit: GuestExit?
    public var ending: Ending
    /// The kernel log (ttyS0) as far as it got.
    public var kernelLog: String
    /// QEMU's own stderr.
    public var qemuStderr: String

    public init(
        started: Bool, exit: GuestExit?, ending: Ending, kernelLog: String, qemuStderr: String
    ) {
        self.started = started
        self.exit = exit
        self.ending = ending
        self.kernelLog = kernelLog
        self.qemuStderr = qemuStderr
    }
}

/// The verdict on an attempt.
public enum AttemptOutcome: Equatable, Sendable {
    /// COMMAND ran to its end with this status.
    case completed(GuestExit)
    /// The guest never reached COMMAND. `retryable` is false when QEMU itself refused to
    /// start (bad option, unreadable kernel): booting again would fail the same way.
    case bootFailure(reason: String, retryable: Bool)
    /// COMMAND started but did not finish: the guest died.
    case guestDied(reason: String)
    case timedOut
    case interrupted(Int32)

    public var exitStatus: Int32 {
        switch self {
        case .completed(let e): return e.status
        case .bootFailure: return VMExitStatus.bootFailure
        case .guestDied: return VMExitStatus.guestDied
        case .timedOut: return VMExitStatus.timeout
        case .interrupted: return VMExitStatus.interrupted
        }
    }
}

public enum AttemptClassifier {
    /// Decides what an attempt's ending means. Pure: driven by recorded text in tests.
    public static func classify(_ record: AttemptRecord) -> AttemptOutcome {
        if let exit = record.exit { return .completed(exit) }
        if case .interrupted(let sig) = record.ending { return .interrupted(sig) }
        let kernelProblem = kernelProblemSummary(record.kernelLog)
        if !record.started {
            switch record.ending {
            case .bootTimedOut:
                return .bootFailure(
                    reason: "no start marker before the boot timeout" + (kernelProblem.map { "; kernel: \($0)" } ?? ""),
                    retryable: true)
            case .bootStalled(let seconds):
                return .bootFailure(
                    reason: "the boot hung (no kernel output for \(Int(seconds)) s)" + (kernelProblem.map { "; kernel: \($0)" } ?? ""),
                    retryable: true)
            case .qemuExited(let code) where code != 0 && record.kernelLog.isEmpty:
                let message = lastLines(record.qemuStderr, 3).trimmingCharacters(in: .whitespacesAndNewlines)
                return .bootFailure(
                    reason: "QEMU refused to start (exit status \(code))" + (message.isEmpty ? "" : ": \(message)"),
                    retryable: false)
            case .qemuExited(let code):
                return .bootFailure(
                    reason: "QEMU ended (exit status \(code)) before COMMAND started"
                        + (kernelProblem.map { "; kernel: \($0)" } ?? ""),
                    retryable: true)
            case .qemuKilledBySignal(let sig):
                return .bootFailure(reason: "QEMU was killed by signal \(sig) during boot", retryable: true)
            default:
                return .bootFailure(reason: "the guest stopped before COMMAND started", retryable: true)
            }
        }
        switch record.ending {
        case .commandTimedOut:
            return .timedOut
        case .qemuKilledBySignal(let sig):
            return .guestDied(reason: "QEMU was killed by signal \(sig)")
        case .qemuExited(let code):
            let what = kernelProblem ?? "the guest powered off or rebooted"
            return .guestDied(reason: "\(what) (QEMU exit status \(code))")
        default:
            return .guestDied(reason: kernelProblem ?? "the guest stopped before COMMAND finished")
        }
    }

    /// The first line of the kernel log that explains a death (panic, Oops, BUG...), or
    /// sched_ext's own report of a scheduler being thrown out; without its timestamp.
    public static func kernelProblemSummary(_ log: String) -> String? {
        let lines = log.split(whereSeparator: \.isNewline)
        let patterns = ["Kernel panic", "BUG:", "Oops", "general protection fault", "WARNING:"]
        var found: Substring?
        for pattern in patterns where found == nil {
            found = lines.first(where: { $0.contains(pattern) })
        }
        if found == nil {
            found = lines.first(where: { $0.contains("sched_ext:") && ($0.contains("disabled") || $0.contains("error")) })
        }
        guard var line = found else { return nil }
        if line.hasPrefix("["), let close = line.firstIndex(of: "]") {
            line = line[line.index(after: close)...]
        }
        return line.trimmingCharacters(in: .whitespaces)
    }

    public static func lastLines(_ text: String, _ count: Int) -> String {
        // The serial console ends lines with "\r\n", one Character in Swift: split on any newline.
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        var tail = lines.suffix(count + 1)
        if tail.last == "" { tail = tail.dropLast() } else { tail = tail.suffix(count) }
        return tail.suffix(count).joined(separator: "\n")
    }
}
