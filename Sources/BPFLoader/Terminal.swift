import Glibc

/// Writes to the standard streams without going through Glibc's shared `stdout`/`stderr`
/// globals, which Swift 6 does not consider concurrency-safe.
public enum Terminal {
    public static func out(_ text: String) { write(1, text + "\n") }
    public static func error(_ text: String) { write(2, text + "\n") }

    private static func write(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n <= 0 { if n < 0 && errno == EINTR { continue }; return }
            done += n
        }
    }
}
