import CBPFShim
import Logging
import Synchronization

/// libbpf's messages: logged through swift-log (its warnings at warning, its info at info,
/// its debug output at debug, so `-v` and `-vv` show them), and the warnings kept so that a
/// failed load can say which program failed and why.
enum LibbpfLog {
    private static let warningsKept = Mutex<[String]>([])

    /// - Parameter verbose: also ask libbpf for its debug output (it is costly to format).
    static func install(verbose: Bool) {
        warningsKept.withLock { $0.removeAll() }
        swl_set_libbpf_logger({ level, message in
            guard let message else { return }
            LibbpfLog.receive(level: level, String(cString: message))
        }, verbose ? 1 : 0)
    }

    /// Warnings since install(), oldest first.
    static var warnings: [String] { warningsKept.withLock { $0 } }

    private static func receive(level: Int32, _ message: String) {
        let text = message.trimmingTrailingNewlines
        let logLevel: Logger.Level
        switch level {
        case 0 /* LIBBPF_WARN */:
            warningsKept.withLock { w in
                w.append(text)
                if w.count > 64 { w.removeFirst() }
            }
            // A failed load is explained by the error swiftland reports (built from these
            // warnings); the raw lines are for -v.
            logLevel = .info
        case 1 /* LIBBPF_INFO */: logLevel = .info
        default: logLevel = .debug
        }
        Logger(label: "swiftland.libbpf").log(level: logLevel, "\(text)")
    }
}

extension String {
    var trimmingTrailingNewlines: String {
        var s = Substring(self)
        while s.last == "\n" { s = s.dropLast() }
        return String(s)
    }
}
