import Foundation

/// A number known exactly, or only on one side: `lower <= true value <= upper`.
///
/// A figure beyond its instrument's range (cyclictest's p99 past its histogram) is known
/// only to be at least the range's end: `Measured(lower: 100000, upper: .infinity)`. The
/// statistics below work on these bounds, so such a figure still counts where its side is
/// all that matters (its order among the others, its direction against a baseline inside
/// the range) and widens a result where its size would matter.
public struct Measured: Codable, Sendable, Equatable {
    public var lower: Double
    public var upper: Double

    public init(lower: Double, upper: Double) {
        self.lower = lower
        self.upper = upper
    }

    public static func exact(_ value: Double) -> Measured { Measured(lower: value, upper: value) }

    public var isExact: Bool { lower == upper }
}

/// The median of a few rounds, with a distribution-free confidence interval.
///
/// Method: the order-statistic (binomial, "sign test") interval. Sort the n values
/// x(1) <= ... <= x(n). Each value falls below the true median with probability 1/2, so
/// the number below it is B ~ Binomial(n, 1/2), and [x(l), x(n+1-l)] covers the true median
/// with probability at least 1 - 2 P(B <= l - 1), whatever the distribution (only independent
/// rounds are assumed; ties only raise the coverage of the closed interval). We take the
/// narrowest such interval whose coverage reaches the target. That is: for n = 7,
/// [x(1), x(7)] (98.4%); n = 10, [x(2), x(9)] (97.9%); n = 20, [x(6), x(15)] (95.9%).
///
/// Values known only on one side (`Measured`) give a conservative interval: its lower end
/// is the l-th smallest lower bound, its upper end the l-th largest upper bound, which
/// contain [x(l), x(n+1-l)] whatever the censored values are.
///
/// Why not a bootstrap: with 3 to 7 rounds a resample holds at most n distinct values, and
/// the percentile bootstrap interval is narrower than the data allow and covers less than it
/// claims. The order-statistic interval is exact instead, and honest about small n: below 6
/// rounds even [min, max] covers only 1 - 2 * 0.5^n (n = 5: 93.8%, n = 3: 75%), and the
/// interval says so through `coverage` and `reachesTarget` rather than pretending to 95%.
public struct MedianInterval: Codable, Sendable, Equatable {
    public let n: Int
    /// The sample median (the mean of the two middle values for even n); where censored
    /// values make it uncertain, the bound on the side that is known (see `medianBound`).
    public let median: Double
    /// Nil when the median is exact; `.atLeast` or `.atMost` when `median` is a bound.
    public let medianBound: Bound?
    /// May be -infinity or +infinity when the interval reaches a censored value.
    public let lower: Double
    public let upper: Double
    /// 1-based ranks of `lower` and `upper` in the sorted values.
    public let lowerRank: Int
    public let upperRank: Int
    /// Exact probability that such an interval covers the true median (a lower bound when
    /// values tie).
    public let coverage: Double
    /// The coverage asked for, e.g. 0.95.
    public let target: Double

    /// False when n is too small for the target: the interval is then [min, max] and covers
    /// only `coverage`.
    public var reachesTarget: Bool { coverage >= target - 1e-12 }
}

/// Which side of a figure is known, when only one is.
public enum Bound: String, Codable, Sendable, Equatable {
    /// The true value is this or more (beyond the top of the instrument's range).
    case atLeast
    /// The true value is this or less.
    case atMost
}

public enum OrderStatistics {
    /// P(B <= k) for B ~ Binomial(n, 1/2). Up to n = 50 the sum of C(n, i) is an integer
    /// below 2^53, so the result is the exact fraction, correctly rounded; beyond, each term
    /// C(n, i) / 2^n follows from the one before in log space, so that 2^n cannot underflow.
    public static func binomialHalfCDF(_ k: Int, n: Int) -> Double {
        guard k >= 0 else { return 0 }
        guard k < n else { return 1 }
        if n <= 50 {
            var term: UInt64 = 1, sum: UInt64 = 1  // C(n, 0)
            for i in stride(from: 1, through: k, by: 1) {
                term = term * UInt64(n - i + 1) / UInt64(i)
                sum += term
            }
            return Double(sum) / Double(UInt64(1) << UInt64(n))
        }
        var logTerm = Double(n) * log(0.5)  // i = 0
        var sum = exp(logTerm)
        for i in stride(from: 1, through: k, by: 1) {
            logTerm += log(Double(n - i + 1)) - log(Double(i))
            sum += exp(logTerm)
        }
        return min(sum, 1)
    }

    /// The exact two-sided sign test (R's `binom.test(k, n)`): the probability, with no
    /// difference, of a split of the n untied pairs at least as uneven as k : n - k.
    public static func signTestPValue(_ k: Int, n: Int) -> Double {
        guard n > 0 else { return 1 }
        return min(1, 2 * binomialHalfCDF(min(k, n - k), n: n))
    }

    /// Coverage of [x(l), x(n+1-l)] as an interval for the median.
    public static func coverage(lowerRank l: Int, n: Int) -> Double {
        1 - 2 * binomialHalfCDF(l - 1, n: n)
    }

    /// The sample median of `values` (any order).
    public static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }

    /// 1-based ranks of the narrowest order-statistic interval for the median of n values
    /// whose coverage reaches `confidence`, or of [min, max] when none does; with its coverage.
    public static func intervalRanks(n: Int, confidence: Double = 0.95) -> (lower: Int, upper: Int, coverage: Double) {
        var l = 1
        while l + 1 <= (n + 1) / 2, coverage(lowerRank: l + 1, n: n) >= confidence {
            l += 1
        }
        return (l, n + 1 - l, coverage(lowerRank: l, n: n))
    }

    /// The median of `values` with its interval (see `intervalRanks`). Nil for no values.
    public static func medianInterval(_ values: [Double], confidence: Double = 0.95) -> MedianInterval? {
        medianInterval(bounds: values.map(Measured.exact), confidence: confidence)
    }

    /// The median of values some of which are known only on one side, with its
    /// conservative interval (see `MedianInterval`). Nil for no values.
    public static func medianInterval(bounds values: [Measured], confidence: Double = 0.95) -> MedianInterval? {
        guard let low = median(values.map(\.lower)), let high = median(values.map(\.upper)) else { return nil }
        let lowers = values.map(\.lower).sorted(), uppers = values.map(\.upper).sorted()
        let ranks = intervalRanks(n: values.count, confidence: confidence)
        let (median, bound): (Double, Bound?) =
            low == high ? (low, nil) : (high == .infinity ? (low, .atLeast) : low == -.infinity ? (high, .atMost) : (low, .atLeast))
        return MedianInterval(n: values.count, median: median, medianBound: bound,
                              lower: lowers[ranks.lower - 1], upper: uppers[ranks.upper - 1],
                              lowerRank: ranks.lower, upperRank: ranks.upper, coverage: ranks.coverage,
                              target: confidence)
    }
}
