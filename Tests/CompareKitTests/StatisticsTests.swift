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

    @Test("censored values: the median and interval ends they reach are bounds")
    func censoredMedian() throws {
        let beyond = Measured(lower: 100_000, upper: .infinity)
        let six = [71803, 85000, 92569, 80000].map(Measured.exact) + [beyond, beyond]
        let m = try #require(OrderStatistics.medianInterval(bounds: six))
        #expect(m.median == 88784.5 && m.medianBound == nil)
        #expect(m.lower == 71803 && m.upper == .infinity && m.reachesTarget)
        let mostlyBeyond = try #require(OrderStatistics.medianInterval(bounds: [.exact(90000), beyond, beyond]))
        #expect(mostlyBeyond.median == 100_000 && mostlyBeyond.medianBound == .atLeast)
    }

    /// Two-sided exact binomial p-values from scipy 1.17.1, `scipy.stats.binomtest(k, n, 0.5).pvalue`
    /// (the same as R's `binom.test(k, n)$p.value`).
    static let binomTest: [(k: Int, n: Int, p: Double)] = [
        (6, 6, 0.03125), (0, 6, 0.03125), (3, 6, 1.0), (5, 6, 0.21875), (1, 6, 0.21875), (9, 10, 0.021484375),
        (8, 10, 0.109375), (5, 5, 0.0625), (7, 7, 0.015625), (2, 7, 0.453125), (1, 1, 1.0),
    ]

    @Test("exact sign test p-values against scipy's binomtest", arguments: binomTest)
    func signTest(k: Int, n: Int, p: Double) {
        #expect(abs(OrderStatistics.signTestPValue(k, n: n) - p) < 1e-12)
    }

    /// Narrowest ranks whose coverage reaches 95%, from scipy 1.17.1:
    /// `1 - 2 * scipy.stats.binom.cdf(l - 1, n, 0.5)` for each l.
    static let scipyRanks: [(n: Int, lower: Int, coverage: Double)] = [
        (6, 1, 0.96875), (7, 1, 0.984375), (10, 2, 0.978515625), (12, 3, 0.96142578125), (20, 6, 0.9586105346679688),
    ]

    @Test("interval ranks and coverage against scipy's binomial CDF", arguments: scipyRanks)
    func ranksAgainstScipy(n: Int, lower: Int, coverage: Double) {
        let ranks = OrderStatistics.intervalRanks(n: n)
        #expect(ranks.lower == lower && ranks.upper == n + 1 - lower)
        #expect(abs(ranks.coverage - coverage) < 1e-12)
    }
}
