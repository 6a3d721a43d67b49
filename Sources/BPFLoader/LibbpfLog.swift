import CBPFShim
import Synchronization

/// libbpf's messages: printed to standard error when verbose (-v), and the warnings kept
/// so that a failed load can say which program failed and why.
enum LibbpfLog {
    private static let state = Mutex(State())

    private struct State {
        var verbose = false
        var warnings: [String] = []
    }

    static func install(verbose: Bool) {
        state.withLock {
            $0.verbose = verbose
            $0.warnings.removeAll()
        }
        swl_set_libbpf_logger({ level, message in
            guard let message else { return }
            LibbpfLog.receive(level: level, String(cString: message))
        }, verbose ? 1 : 0)
    }

    /// Warnings since install(), oldest first.
    static var warnings: [String] { state.withLock { $0.warnings } }

    private static func receive(level: Int32, _ message: String) {
        let verbose = state.withLock { s in
            if level == 0 /* LIBBPF_WARN */ {
                s.warnings.append(message.trimmingTrailingNewlines)
                if s.warnings.count > 64 { s.warnings.removeFirst() }
            }
            return s.verbose
        }
        if verbose { Terminal.error(message.trimmingTrailingNewlines) }
    }
}

extension String {
    var trimmingTrailingNewlines: String {
        var s = Substring(self)
        while s.last == "\n" { s = s.dropLast() }
        return String(s)
    }
}
