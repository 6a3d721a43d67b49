import Foundation

/// The median of a few rounds, with a distribution-free confidence interval.
///
/// Method: the order-statistic (binomial, "sign test") interval. Sort the n values
/// x(1) <= ... <= x(n). Each value falls below the true median with probability 1/2, so
/// the number below it is B ~ Binomial(n, 1/2), and [x(l), x(n+1-l)] covers the true median
/// with probability 1 - 2 P(B <= l - 1), whatever the distribution (only independent
/// rounds from one continuous distribution are assumed). We take the narrowest such
/// interval whose coverage reaches the target. That is: for n = 7, [x(1), x(7)] (98.4%);
/// n = 10, [x(2), x(9)] (97.9%); n = 20, [x(6), x(15)] (95.9%).
///
/// Why not a bootstrap: with 3 to 7 rounds a resample holds at most n distinct values, and
/// the percentile bootstrap interval is narrower than the data allow and covers less than it
/// claims. The order-statistic interval is exact instead, and honest about small n: below 6
/// rounds even [min, max] covers only 1 - 2 * 0.5^n (n = 5: 93.8%, n = 3: 75%), and the
/// interval says so through `coverage` and `reachesTarget` rather than pretending to 95%.
public struct MedianInterval: Codable, Sendable, Equatable {
    public let n: Int
    /// The sample median (the mean of the two middle values for even n).
    public let median: Double
    public let lower: Double
    public let upper: Double
    /// 1-based ranks of `lower` and `upper` in the sorted values.
    public let lowerRank: Int
    public let upperRank: Int
    /// Exact probability that such an interval covers the true median.
    public let coverage: Double
    /// The coverage asked for, e.g. 0.95.
    public let target: Double

    /// False when n is too small for the target: the interval is then [min, max] and covers
    /// only `coverage`.
    public var reachesTarget: Bool { coverage >= target - 1e-12 }
}

public enum OrderStatistics {
    /// P(B <= k) for B ~ Binomial(n, 1/2). Each term C(n, i) / 2^n follows from the one
    /// before in log space, so that 2^n cannot underflow for large n.
    public static func binomialHalfCDF(_ k: Int, n: Int) -> Double {
        guard k >= 0 else { return 0 }
        guard k < n else { return 1 }
        var logTerm = Double(n) * log(0.5)  // i = 0
        var sum = exp(logTerm)
        for i in stride(from: 1, through: k, by: 1) {
            logTerm += log(Double(n - i + 1)) - log(Double(i))
            sum += exp(logTerm)
        }
        return min(sum, 1)
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
        guard let median = median(values) else { return nil }
        let sorted = values.sorted()
        let ranks = intervalRanks(n: sorted.count, confidence: confidence)
        return MedianInterval(n: sorted.count, median: median, lower: sorted[ranks.lower - 1], upper: sorted[ranks.upper - 1],
                              lowerRank: ranks.lower, upperRank: ranks.upper, coverage: ranks.coverage,
                              target: confidence)
    }
}

/// median(arm) / median(baseline), with an interval for the ratio of the true medians.
///
/// Method: each median gets its own order-statistic interval at 1 - (1 - c)/2 (97.5% for
/// c = 95%), and the ratio interval is [lowerA / upperB, upperA / lowerB]. Whenever both
/// intervals cover their medians, the ratio interval covers the ratio of the medians, so by
/// Bonferroni it covers with probability at least coverageA + coverageB - 1, whatever the
/// two distributions are and however the rounds are correlated. It is conservative (wide),
/// and the point estimate always lies inside it. Positive figures only: a baseline interval
/// that reaches 0 leaves the upper end unbounded.
public struct RatioInterval: Codable, Sendable, Equatable {
    public let ratio: Double
    public let lower: Double
    /// Nil when the baseline's interval reaches 0.
    public let upper: Double?
    /// A lower bound on the probability the interval covers the true ratio.
    public let coverageAtLeast: Double
    public let target: Double

    public var reachesTarget: Bool { coverageAtLeast >= target - 1e-12 }

    /// Compares the interval with 1 (no difference): a verdict only when the interval
    /// reaches its target coverage and lies wholly on one side.
    public func verdict(higherIsBetter: Bool) -> Verdict {
        guard reachesTarget else { return .tooFewRounds }
        if lower > 1 { return higherIsBetter ? .better : .worse }
        if let upper, upper < 1 { return higherIsBetter ? .worse : .better }
        return .noClearDifference
    }

    public enum Verdict: String, Sendable, Equatable {
        case better, worse
        case noClearDifference = "no clear difference"
        case tooFewRounds = "too few rounds"
    }

    /// Nil when either side has no values or the baseline median is not positive.
    public static func ofMedians(_ values: [Double], over baseline: [Double], confidence: Double = 0.95) -> RatioInterval? {
        let each = 1 - (1 - confidence) / 2
        guard let a = OrderStatistics.medianInterval(values, confidence: each),
              let b = OrderStatistics.medianInterval(baseline, confidence: each),
              b.median > 0, a.lower >= 0
        else { return nil }
        return RatioInterval(
            ratio: a.median / b.median, lower: a.lower / b.upper, upper: b.lower > 0 ? a.upper / b.lower : nil,
            coverageAtLeast: max(0, a.coverage + b.coverage - 1), target: confidence)
    }
}
