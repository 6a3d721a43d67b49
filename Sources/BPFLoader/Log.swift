import Glibc
import Logging
import Synchronization

/// swiftland's log, on swift-log: one line (or block) per message on standard error.
///
/// On a terminal a message reads `swiftland: warning: text key=value ...` (no level word at
/// notice, the default level, so the lifecycle messages read as plain sentences). When
/// standard error is connected to the journal (`JOURNAL_STREAM` names it, as systemd sets it
/// for a service), each line starts with its syslog priority (`<4>` for a warning), which
/// journald turns into the entry's priority, so `journalctl -p warning -u swiftland` works.
///
/// The scheduling thread of user mode never logs: its loop only counts.
public enum Log {
    /// The level every swiftland logger has: notice unless `-v` raised it.
    public static var level: Logger.Level {
        Logger.Level.allCases[Int(levelIndex.load(ordering: .relaxed))]
    }

    /// Installs swiftland's handler (once per process) and sets the level: `verbosity` 0 is
    /// notice, 1 (`-v`) info, 2 (`-vv`) debug, 3 or more trace.
    public static func setUp(verbosity: Int) {
        let level: Logger.Level = switch verbosity {
        case ...0: .notice
        case 1: .info
        case 2: .debug
        default: .trace
        }
        levelIndex.store(UInt8(Logger.Level.allCases.firstIndex(of: level)!), ordering: .relaxed)
        bootstrapped.withLock { done in
            guard !done else { return }
            done = true
            let journal = LogLine.stderrIsJournal()
            LoggingSystem.bootstrap { label in LogLine.Handler(label: label, journal: journal) }
        }
    }

    /// The logger of swiftland's own messages.
    public static var swiftland: Logger { Logger(label: "swiftland") }

    private static let levelIndex = Atomic<UInt8>(UInt8(Logger.Level.allCases.firstIndex(of: .notice)!))
    private static let bootstrapped = Mutex(false)
}

/// How a message becomes a line of standard error.
public enum LogLine {
    /// The text written for one message (newline included).
    public static func format(
        level: Logger.Level, message: String, metadata: Logger.Metadata, journal: Bool
    ) -> String {
        var text = message
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            text += " \(key)=\(value)"
        }
        let word = switch level {
        case .notice: ""
        default: "\(level.rawValue): "
        }
        let prefix = journal ? "<\(syslogPriority(level))>" : ""
        // journald reads the priority per line: every line of a block carries it.
        return text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { "\(prefix)swiftland: \(word)\($0)" }
            .joined(separator: "\n") + "\n"
    }

    /// RFC 5424 severities, as sd-daemon(3) prefixes use them.
    public static func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .critical: 2
        case .error: 3
        case .warning: 4
        case .notice: 5
        case .info: 6
        case .debug, .trace: 7
        }
    }

    /// Whether standard error is the stream systemd's `JOURNAL_STREAM` ("DEVICE:INODE") names.
    static func stderrIsJournal() -> Bool {
        guard let value = getenv("JOURNAL_STREAM").map({ String(cString: $0) }) else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let dev = UInt64(parts[0]), let ino = UInt64(parts[1]) else { return false }
        var st = stat()
        guard fstat(2, &st) == 0 else { return false }
        return UInt64(st.st_dev) == dev && UInt64(st.st_ino) == ino
    }

    struct Handler: LogHandler {
        let label: String
        let journal: Bool
        var metadata: Logger.Metadata = [:]
        var metadataProvider: Logger.MetadataProvider?

        /// Always the process-wide level (`Log.setUp`); setting it per logger is ignored.
        var logLevel: Logger.Level {
            get { Log.level }
            set {}
        }

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            var all = metadata
            if let provided = metadataProvider?.get() { all.merge(provided) { _, new in new } }
            if let extra = event.metadata { all.merge(extra) { _, new in new } }
            Terminal.error(
                String(LogLine.format(level: event.level, message: event.message.description, metadata: all, journal: journal)
                    .dropLast()))
        }
    }
}
