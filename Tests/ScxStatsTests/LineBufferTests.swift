import Foundation
import Testing
@testable import ScxStats

@Suite("line buffer: requests and replies cut at newlines")
struct LineBufferTests {
    @Test func linesSplitAcrossAndWithinChunks() {
        var b = LineBuffer(maxLineBytes: 100)
        b.append(Array("ab".utf8))
        #expect(b.next() == .incomplete)
        b.append(Array("c\n\nde\nf".utf8))
        #expect(b.next() == .line(Array("abc".utf8)))
        #expect(b.next() == .line([]))
        #expect(b.next() == .line(Array("de".utf8)))
        #expect(b.next() == .incomplete)
        #expect(b.pendingBytes == 1)
        b.append(Array("g\r\n".utf8))
        #expect(b.next() == .line(Array("fg\r".utf8)), "a CR stays; the responder strips it")
        #expect(b.next() == .incomplete)
        #expect(b.pendingBytes == 0)
    }

    @Test func aLineUpToTheCapIsReadOneLongerIsNot() {
        var b = LineBuffer(maxLineBytes: 8)
        b.append([UInt8](repeating: 0x41, count: 8) + [0x0a])
        #expect(b.next() == .line([UInt8](repeating: 0x41, count: 8)))
        // Complete but too long, and unfinished but already too long.
        b.append([UInt8](repeating: 0x42, count: 9) + [0x0a])
        #expect(b.next() == .tooLong)
        b.removeAll()
        b.append([UInt8](repeating: 0x43, count: 8))
        #expect(b.next() == .incomplete)
        b.append([0x43])
        #expect(b.next() == .tooLong)
    }

    /// A 4 MiB line arriving 4 bytes at a time: each byte is searched once. Searching the
    /// whole buffer again for every piece (as the client did) reads 2.2 TB here, over 20 s
    /// even with memchr; searching only the new bytes takes a fraction of a second.
    @Test func aLineInManyPiecesIsSearchedOnce() {
        var b = LineBuffer(maxLineBytes: 1 << 23)
        let piece = [UInt8](repeating: UInt8(ascii: "a"), count: 4)
        let pieces = (4 << 20) / piece.count
        let started = ContinuousClock.now
        var incomplete = 0
        for _ in 0..<pieces {
            b.append(piece)
            if b.next() == .incomplete { incomplete += 1 }
        }
        b.append(CollectionOfOne(UInt8(ascii: "\n")))
        let last = b.next()
        let elapsed = ContinuousClock.now - started
        #expect(incomplete == pieces)
        #expect(last == .line([UInt8](repeating: UInt8(ascii: "a"), count: 4 << 20)))
        #expect(elapsed < .seconds(4), "\(elapsed)")
    }
}
