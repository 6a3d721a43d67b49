import Testing
@testable import CompareKit

@Suite("statistics")
struct StatisticsTests {
    @Test("binomial CDF against exact fractions")
    func binomial() {
        #expect(abs(OrderStatistics.binomialHalfCDF(0, n: 7) - 1.0 / 128) < 1e-15)
        #expect(abs(OrderStatistics.binomialHalfCDF(2, n: 10) - 56.0 / 1024) < 1e-15)
        #expect(abs(OrderStatistics.binomialHalfCDF(5, n: 20) - 21700.0 / 1_048_576) < 1e-15)
        #expect(OrderStatistics.binomialHalfCDF(-1, n: 5) == 0)
        #expect(OrderStatistics.binomialHalfCDF(5, n: 5) == 1)
        // Symmetry: P(B <= 49) + P(B <= 50) = 1 for n = 100... and no underflow at n = 2000.
        #expect(abs(OrderStatistics.binomialHalfCDF(999, n: 2000) + OrderStatistics.binomialHalfCDF(1000, n: 2000) - 1) < 1e-9)
    }

    /// Textbook ranks of the 95% distribution-free interval for the median (e.g. Conover,
    /// Practical Nonparametric Statistics, table A3), with their exact coverage
    /// 1 - 2 P(B <= l - 1).
    static let textbook: [(n: Int, lower: Int, upper: Int, coverage: Double)] = [
        (7, 1, 7, 1 - 2.0 / 128),
        (10, 2, 9, 1 - 2 * 11.0 / 1024),
        (20, 6, 15, 1 - 2 * 21700.0 / 1_048_576),
        (6, 1, 6, 1 - 2.0 / 64),
        (100, 40, 61, 0.964800),
    ]

    @Test("95% order-statistic interval: textbook ranks and exact coverage", arguments: textbook)
    func textbookRanks(n: Int, lower: Int, upper: Int, coverage: Double) throws {
        let values = (1...n).map(Double.init).shuffled()
        let interval = try #require(OrderStatistics.medianInterval(values))
        #expect(interval.lowerRank == lower)
        #expect(interval.upperRank == upper)
        #expect(interval.lower == Double(lower))
        #expect(interval.upper == Double(upper))
        #expect(abs(interval.coverage - coverage) < 1e-6)
        #expect(interval.reachesTarget)
    }

    static let tooFew: [(n: Int, coverage: Double)] = [(5, 0.9375), (4, 0.875), (3, 0.75), (2, 0.5)]

    @Test("below 6 rounds no interval reaches 95%: [min, max] with its true coverage", arguments: tooFew)
    func tooFewRounds(n: Int, coverage: Double) throws {
        let interval = try #require(OrderStatistics.medianInterval((1...n).map(Double.init)))
        #expect(interval.lowerRank == 1 && interval.upperRank == n)
        #expect(interval.coverage == coverage)
        #expect(!interval.reachesTarget)
    }

    @Test("median of odd and even counts; none of nothing")
    func median() {
        #expect(OrderStatistics.median([3, 1, 2]) == 2)
        #expect(OrderStatistics.median([4, 1, 3, 2]) == 2.5)
        #expect(OrderStatistics.median([]) == nil)
        #expect(OrderStatistics.medianInterval([]) == nil)
        let one = OrderStatistics.medianInterval([5])!
        #expect(one.median == 5 && one.coverage == 0 && !one.reachesTarget)
    }

    @Test("ratio of medians: Bonferroni of two 97.5% intervals")
    func ratio() throws {
        let arm: [Double] = [10, 11, 12, 13, 14, 15, 16]
        let eevdf: [Double] = [20, 21, 22, 23, 24, 25, 26]
        let r = try #require(RatioInterval.ofMedians(arm, over: eevdf))
        #expect(r.ratio == 13.0 / 23.0)
        // n = 7 at 97.5% is still [min, max] (98.4%), so the ratio interval is [10/26, 16/20].
        #expect(r.lower == 10.0 / 26.0)
        #expect(r.upper == 16.0 / 20.0)
        #expect(abs(r.coverageAtLeast - (2 * (1 - 2.0 / 128) - 1)) < 1e-12)
        #expect(r.verdict(higherIsBetter: false) == .better)
        #expect(r.verdict(higherIsBetter: true) == .worse)

        let overlapping = try #require(RatioInterval.ofMedians([19, 20, 21, 22, 23, 24, 30], over: eevdf))
        #expect(overlapping.verdict(higherIsBetter: true) == .noClearDifference)

        let five = try #require(RatioInterval.ofMedians([1, 2, 3, 4, 5], over: [10, 11, 12, 13, 14]))
        #expect(five.coverageAtLeast == 0.875)
        #expect(five.verdict(higherIsBetter: true) == .tooFewRounds)

        #expect(RatioInterval.ofMedians([1, 2], over: [0, 0]) == nil)
        #expect(try #require(RatioInterval.ofMedians([1, 2, 3], over: [0, 1, 2])).upper == nil)
    }
}
