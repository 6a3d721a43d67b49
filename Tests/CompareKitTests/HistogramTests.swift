import Testing
@testable import CompareKit

@Suite("log2 histograms")
struct HistogramTests {
    /// 24 buckets like bpf/intf.h's SWL_HIST_BUCKETS, the given ones filled.
    static func histogram(_ filled: [Int: UInt64], maxUs: Double? = nil) -> Log2Histogram {
        var counts = [UInt64](repeating: 0, count: 24)
        for (bucket, count) in filled { counts[bucket] = count }
        return Log2Histogram(counts: counts, maxUs: maxUs)
    }

    @Test("bucket edges: [0, 1), [1, 2), [2, 4), ...; the last one open")
    func edges() {
        let h = Self.histogram([:])
        #expect(Log2Histogram.lowerEdgeUs(bucket: 0) == 0 && h.upperEdgeUs(bucket: 0) == 1)
        #expect(Log2Histogram.lowerEdgeUs(bucket: 1) == 1 && h.upperEdgeUs(bucket: 1) == 2)
        #expect(Log2Histogram.lowerEdgeUs(bucket: 3) == 4 && h.upperEdgeUs(bucket: 3) == 8)
        #expect(Log2Histogram.lowerEdgeUs(bucket: 23) == 4_194_304 && h.upperEdgeUs(bucket: 23) == nil)
    }

    @Test("percentiles of a hand-made histogram: nearest rank, bucket edges and interpolation")
    func percentiles() throws {
        // 50 waits in [4, 8), 40 in [8, 16), 9 in [32, 64), 1 in [512, 1K): 100 in all.
        let h = Self.histogram([3: 50, 4: 40, 6: 9, 10: 1])
        #expect(h.total == 100)
        let p50 = try #require(h.percentile(0.5))
        #expect(p50.bucket == 3 && p50.lowerEdgeUs == 4 && p50.upperEdgeUs == 8)
        #expect(p50.interpolatedUs == 4 + 4 * 49.5 / 50)
        let p90 = try #require(h.percentile(0.9))
        #expect(p90.upperEdgeUs == 16 && p90.interpolatedUs == 8 + 8 * 39.5 / 40)
        #expect(h.percentile(0.91)?.upperEdgeUs == 64)
        #expect(h.percentile(0.99)?.upperEdgeUs == 64)
        #expect(h.percentile(1)?.upperEdgeUs == 1024)
        #expect(h.percentile(1)?.interpolatedUs == 768)
        #expect(h.largestUs?.value == 1024 && h.largestUs?.exact == false)
        #expect(Self.histogram([3: 50, 10: 1], maxUs: 700).largestUs! == (700, true))
        #expect(formatPercentileUs(h.percentile(0.99)) == "64")
        #expect(formatLargestUs(h) == "<1024")
    }

    @Test("sub-microsecond bucket, open last bucket, empty histogram")
    func corners() throws {
        let small = Self.histogram([0: 5])
        #expect(small.percentile(0.5)?.upperEdgeUs == 1)
        #expect(small.percentile(0.5)?.lowerEdgeUs == 0)

        let open = Self.histogram([0: 99, 23: 1])
        let p100 = try #require(open.percentile(1))
        #expect(p100.upperEdgeUs == nil && p100.interpolatedUs == 4_194_304)
        #expect(formatPercentileUs(p100) == ">=4194304")
        #expect(open.largestUs == nil)
        #expect(formatLargestUs(open) == ">=4194304")
        let closed = Self.histogram([0: 99, 23: 1], maxUs: 5_000_000)
        #expect(closed.percentile(1)?.upperEdgeUs == 5_000_000)

        #expect(Self.histogram([:]).percentile(0.5) == nil)
        #expect(Self.histogram([:]).largestUs == nil)
    }

    @Test("pooling rounds adds buckets and keeps the larger exact maximum")
    func merging() {
        let a = Self.histogram([2: 3, 5: 1], maxUs: 20)
        let b = Self.histogram([2: 1, 7: 2], maxUs: 100)
        let m = a.merged(with: b)
        #expect(m.counts[2] == 4 && m.counts[5] == 1 && m.counts[7] == 2 && m.total == 7)
        #expect(m.maxUs == 100)
        #expect(a.merged(with: Self.histogram([1: 1])).maxUs == nil)
    }

    /// The seed's EEVDF histogram (2024 bpfland post), redrawn: every row from [2, 4) on must
    /// match the post character for character. (The post's first row is bpftrace's "[1]";
    /// swiftland's bucket 1 is labelled "[1, 2)".)
    @Test("text histogram matches the seed's bpftrace layout")
    func seedLayout() {
        let seed = """
            [2, 4)              1590 |@@@@                                                |
            [4, 8)              6090 |@@@@@@@@@@@@@@@@@                                   |
            [8, 16)            18371 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
            [16, 32)            7527 |@@@@@@@@@@@@@@@@@@@@@                               |
            [32, 64)            8514 |@@@@@@@@@@@@@@@@@@@@@@@@                            |
            [64, 128)           1915 |@@@@@                                               |
            [128, 256)          1695 |@@@@                                                |
            [256, 512)          2029 |@@@@@                                               |
            [512, 1K)           2148 |@@@@@@                                              |
            [1K, 2K)            2234 |@@@@@@                                              |
            [2K, 4K)            2114 |@@@@@                                               |
            [4K, 8K)            1729 |@@@@                                                |
            [8K, 16K)           1274 |@@@                                                 |
            [16K, 32K)           740 |@@                                                  |
            [32K, 64K)           251 |                                                    |
            [64K, 128K)           31 |                                                    |
            [128K, 256K)           8 |                                                    |
            [256K, 512K)           1 |                                                    |
            [512K, 1M)             0 |                                                    |
            [1M, 2M)               0 |                                                    |
            [2M, 4M)               0 |                                                    |
            [4M, 8M)               0 |                                                    |
            [8M, 16M)              1 |                                                    |
            [16M, 32M)             1 |                                                    |
            """
        let counts: [UInt64] = [0, 21, 1590, 6090, 18371, 7527, 8514, 1915, 1695, 2029, 2148, 2234, 2114, 1729, 1274,
                                740, 251, 31, 8, 1, 0, 0, 0, 0, 1, 1, 0]
        let text = HistogramText.render(Log2Histogram(counts: counts), title: "nginx - EEVDF")
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(Array(lines.prefix(4)) == ["[nginx - EEVDF]", "", "@usecs:",
                                            "[1, 2)                21 |                                                    |"])
        #expect(Array(lines[4..<28]) == seed.split(separator: "\n").map(String.init))
        #expect(lines.suffix(2) == ["", "Total samples: 58,284"])
        #expect(lines[6].split(separator: "|")[1].count == HistogramText.barWidth)
    }

    @Test("the open last bucket is labelled as such")
    func openLabel() {
        let text = HistogramText.render(Self.histogram([22: 2, 23: 1]))
        #expect(text.contains("[2M, 4M)               2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|"))
        #expect(text.contains("[4M, ...)              1 |@@@@@@@@@@@@@@@@@@@@@@@@@@"))
    }
}
