import Glibc

/// Bytes read from a stream socket, cut into lines at "\n", as the server reads requests
/// and the client reads replies. Each byte is searched for a newline once: a search
/// resumes where the last one stopped, so a long line arriving in many pieces costs time
/// in proportion to its length. A line, finished or not, longer than `maxLineBytes` is
/// reported instead of buffered further.
struct LineBuffer {
    /// What `next()` found.
    enum Next: Equatable {
        /// A complete line, without its newline.
        case line([UInt8])
        /// No complete line yet: append more.
        case incomplete
        /// The line at the front is longer than `maxLineBytes`.
        case tooLong
    }

    let maxLineBytes: Int
    private var bytes: [UInt8] = []
    /// Where the next line starts; the bytes before it were returned.
    private var start = 0
    /// From `start` up to here the bytes hold no newline.
    private var scanned = 0

    init(maxLineBytes: Int) {
        self.maxLineBytes = maxLineBytes
    }

    /// Bytes held that are not yet part of a returned line.
    var pendingBytes: Int { bytes.count - start }

    mutating func append(_ chunk: some Collection<UInt8>) {
        bytes.append(contentsOf: chunk)
    }

    /// Drops everything held.
    mutating func removeAll() {
        bytes.removeAll()
        start = 0
        scanned = 0
    }

    mutating func next() -> Next {
        let from = scanned
        let newline: Int? = bytes.withUnsafeBytes { buf in
            guard from < buf.count, let hit = memchr(buf.baseAddress! + from, 0x0a, buf.count - from) else { return nil }
            return buf.baseAddress!.distance(to: UnsafeRawPointer(hit))
        }
        guard let newline else {
            scanned = bytes.count
            if bytes.count - start > maxLineBytes { return .tooLong }
            // Only the unfinished line is kept: it moves to the front, once per line read.
            if start > 0 {
                bytes.removeFirst(start)
                scanned -= start
                start = 0
            }
            return .incomplete
        }
        guard newline - start <= maxLineBytes else { return .tooLong }
        let line = Array(bytes[start..<newline])
        start = newline + 1
        scanned = start
        return .line(line)
    }
}
