import Foundation

/// A log2 microsecond histogram as swiftland's BPF programs keep them (bpf/intf.h,
/// `SWL_HIST_BUCKETS`): bucket 0 counts [0, 1) us, bucket n counts [2^(n-1), 2^n) us, and
/// the last bucket also takes everything larger (the BPF side clamps to it), so its upper
/// edge is unknown.
///
/// A log2 histogram cannot say where inside a bucket a sample lay, so every percentile is
/// given two ways: the bucket's upper edge (a true bound: "99% of waits were shorter than
/// this") and a linear interpolation inside the bucket (a guess, finer but assuming the
/// samples spread evenly across it).
public struct Log2Histogram: Codable, Sendable, Equatable {
    public var counts: [UInt64]
    /// The largest sample exactly, when the recorder kept it (the tracer does); it also
    /// closes the open last bucket.
    public var maxUs: Double?

    public init(counts: [UInt64], maxUs: Double? = nil) {
        self.counts = counts
        self.maxUs = maxUs
    }

    public var total: UInt64 { counts.reduce(0, +) }

    public var isEmpty: Bool { total == 0 }

    /// Lower edge of bucket `n` in microseconds: 0, 1, 2, 4, ...
    public static func lowerEdgeUs(bucket n: Int) -> Double {
        n == 0 ? 0 : pow(2, Double(n - 1))
    }

    /// Upper edge of bucket `n` (exclusive), nil for the last, open-ended bucket.
    public func upperEdgeUs(bucket n: Int) -> Double? {
        n == counts.count - 1 ? nil : pow(2, Double(n))
    }

    /// Bucket-wise sum, e.g. all counted rounds of one arm pooled. The maximum is kept only
    /// if both sides knew theirs.
    public func merged(with other: Log2Histogram) -> Log2Histogram {
        let length = max(counts.count, other.counts.count)
        var sum = [UInt64](repeating: 0, count: length)
        for (i, c) in counts.enumerated() { sum[i] += c }
        for (i, c) in other.counts.enumerated() { sum[i] += c }
        let maximum: Double? = switch (maxUs, other.maxUs) {
        case let (a?, b?): Swift.max(a, b)
        default: nil
        }
        return Log2Histogram(counts: sum, maxUs: maximum)
    }

    /// Where percentile `q` (0 < q <= 1) of the samples lies. Nil for an empty histogram.
    ///
    /// Nearest-rank definition: the sample of rank ceil(q * total) in sorted order.
    public func percentile(_ q: Double) -> Percentile? {
        let total = self.total
        guard total > 0, q > 0, q <= 1 else { return nil }
        let rank = Swift.max(1, UInt64((q * Double(total)).rounded(.up)))
        var below: UInt64 = 0
        for (n, count) in counts.enumerated() where count > 0 {
            if below + count >= rank {
                let lower = Self.lowerEdgeUs(bucket: n)
                var upper = upperEdgeUs(bucket: n)
                if upper == nil, let maxUs { upper = Swift.max(maxUs, lower) }
                // Rank r of the c samples in this bucket sits at (r - 0.5) / c of its width.
                let fraction = (Double(rank - below) - 0.5) / Double(count)
                let interpolated = upper.map { lower + ($0 - lower) * fraction } ?? lower
                return Percentile(q: q, bucket: n, lowerEdgeUs: lower, upperEdgeUs: upper,
                                  interpolatedUs: interpolated)
            }
            below += count
        }
        return nil
    }

    /// The largest sample: exact when known, else the upper edge of the highest non-empty
    /// bucket (nil when that is the open last bucket or there are no samples).
    public var largestUs: (value: Double, exact: Bool)? {
        if let maxUs, total > 0 { return (maxUs, true) }
        guard let top = counts.lastIndex(where: { $0 > 0 }) else { return nil }
        return upperEdgeUs(bucket: top).map { ($0, false) }
    }
}

/// One percentile of a `Log2Histogram`.
public struct Percentile: Sendable, Equatable {
    public let q: Double
    public let bucket: Int
    public let lowerEdgeUs: Double
    /// Exclusive upper edge; nil when the percentile fell in the open last bucket and the
    /// exact maximum is unknown.
    public let upperEdgeUs: Double?
    /// Linear interpolation inside the bucket (the lower edge for an open bucket).
    public let interpolatedUs: Double
}
