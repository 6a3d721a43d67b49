import Foundation
import TestSupport
import Testing
@testable import CompareKit

/// A paired comparison of `arm` against `reference` values, one pair per cycle (nil: no figure).
private func paired(
    _ arm: [Measured?], _ reference: [Measured?], higherIsBetter: Bool = false, margin: Double = 0.05
) -> PairedComparison {
    PairedComparison(
        workload: "w", metric: "time", arm: Arm(.bpf), reference: .eevdf, higherIsBetter: higherIsBetter,
        figures: zip(arm, reference).enumerated().map { ($0.offset + 1, $0.element.0, $0.element.1) }, margin: margin)
}

private func exact(_ values: [Double]) -> [Measured?] { values.map { .exact($0) } }

@Suite("paired comparisons")
struct ComparisonTests {
    /// The hand-worked case of issue 12: bpf against EEVDF on hackbench, lower in all six
    /// cycles, median paired ratio about 0.64. Paired ratios and their median from numpy
    /// (b / e sorted; `exp(median(log(r)))` = 0.6399563731569204).
    @Test("six cycles all one way: the sign-test interval [min, max] at 96.9% decides")
    func sixOfSix() throws {
        let eevdf = [3.9, 2.7, 8.4, 3.6, 4.2, 3.1], bpf = [2.5, 1.7, 5.3, 2.3, 2.7, 2.0]
        let c = paired(exact(bpf), exact(eevdf))
        let m = try #require(c.interval)
        #expect(c.cycles.count == 6 && c.leftOutRounds.isEmpty)
        #expect(c.betterCycles == 6 && c.worseCycles == 0)
        #expect(abs(m.median - 0.6399563731569204) < 1e-12)
        #expect(abs(m.lower - 0.6296296296296295) < 1e-12 && abs(m.upper - 0.6451612903225806) < 1e-12)
        #expect(m.coverage == 0.96875 && m.reachesTarget)
        #expect(abs(c.signTestPValue - 0.03125) < 1e-12)
        #expect(c.verdict == .better && !c.withinMargin && c.verdictText == "better")
        // The same figures as bogo ops/s, higher is better: the arm is worse.
        #expect(paired(exact(bpf), exact(eevdf), higherIsBetter: true).verdict == .worse)
        // And the other way round.
        #expect(paired(exact(eevdf), exact(bpf)).verdict == .worse)
    }

    @Test("three of six each way: undecided")
    func threeOfSix() throws {
        let c = paired(exact([1.1, 0.9, 1.2, 0.8, 1.05, 0.95]), exact([1, 1, 1, 1, 1, 1]))
        #expect(c.betterCycles == 3 && c.worseCycles == 3)
        #expect(c.signTestPValue == 1)
        #expect(c.verdict == .undecided && c.verdictText == "undecided")
    }

    @Test("a failed round removes its whole cycle, and five cycles cannot reach 95%")
    func failedRound() throws {
        let c = paired([nil] + exact([2, 2, 2, 2, 2]), exact([1, 1, 1, 1, 1, 1]))
        #expect(c.cycles.map(\.round) == [2, 3, 4, 5, 6] && c.leftOutRounds == [1])
        #expect(c.interval?.coverage == 0.9375 && !c.reachesTarget)
        #expect(c.verdict == .undecided)
        #expect(c.verdictText == "undecided: 5 cycles, 6 needed")
        // The reference's failure removes the cycle just the same.
        #expect(paired(exact([2, 2, 2, 2, 2, 2]), exact([1, 1, 1]) + [nil, 1, 1].map { $0.map(Measured.exact) })
            .leftOutRounds == [4])
        #expect(paired([nil, nil], exact([1, 1])).verdictText == "undecided: no cycle")
    }

    /// cyclictest's p99 past its 100 ms histogram, as user:bpfland:1 gave it in two of six
    /// cycles: censored, it counts, and the comparison decides.
    @Test("a figure beyond the range counts where its direction is known")
    func censored() throws {
        let beyond = Measured(lower: 100_000, upper: .infinity)
        let arm: [Measured?] = [beyond, .exact(85498), .exact(71803), beyond, .exact(92569), .exact(80000)]
        let eevdf = exact([3612, 2465, 4057, 3900, 3500, 3700])
        let c = paired(arm, eevdf)
        #expect(c.cycles.count == 6 && c.worseCycles == 6 && c.unknownCycles == 0)
        let m = try #require(c.interval)
        #expect(m.upper == .infinity && abs(m.lower - 71803.0 / 4057) < 1e-9)
        #expect(c.verdict == .worse)
        // Dropping the censored rounds instead (as failures) would leave 4 cycles: no verdict.
        #expect(paired([nil, .exact(85498), .exact(71803), nil, .exact(92569), .exact(80000)], eevdf).verdict == .undecided)
        // Both beyond the range: direction unknown, the cycle widens the interval to both sides.
        let both = paired([beyond] + arm.dropFirst(), [beyond] + eevdf.dropFirst())
        #expect(both.unknownCycles == 1 && both.worseCycles == 5)
        #expect(both.interval?.lower == 0 && both.verdict == .undecided)
    }

    @Test("ties: a ratio of exactly 1 keeps 1 inside the interval")
    func ties() throws {
        let c = paired(exact([0.9, 0.8, 1, 0.85, 0.9, 0.7]), exact([1, 1, 1, 1, 1, 1]))
        #expect(c.tiedCycles == 1 && c.betterCycles == 5)
        #expect(c.interval?.upper == 1 && c.verdict == .undecided)
        // R's binom.test(0, 5): the tie is dropped from the p-value.
        #expect(abs(c.signTestPValue - 0.0625) < 1e-12)
    }

    @Test("the margin: same within it; better by less than it says so")
    func margin() throws {
        let ones = exact([1, 1, 1, 1, 1, 1, 1])
        let same = paired(exact([0.98, 1.02, 1.01, 0.99, 1.03, 0.96, 1.0]), ones)
        #expect(same.verdict == .same && same.withinMargin && same.verdictText == "same within +-5%")
        let slightly = paired(exact([0.98, 0.99, 0.97, 0.985, 0.975, 0.99, 0.98]), ones)
        #expect(slightly.verdict == .better && slightly.verdictText == "better (within +-5%)")
        #expect(paired(exact([0.98, 1.02, 1.01, 0.99, 1.03, 0.97, 1.0]), ones, margin: 0.02).verdict == .undecided)
        #expect(paired(exact([0.98, 1.02, 1.01, 0.99, 1.03, 0.97, 1.0]), ones, margin: 0.1).verdictText == "same within +-10%")
    }

    @Test("properties over random experiments: verdicts agree with the interval; order and direction")
    func properties() throws {
        var rng = SplitMix64(seed: 12)
        for trial in 0..<2000 {
            let n = Int.random(in: 1...14, using: &rng)
            let effect = Double.random(in: -0.3...0.3, using: &rng)
            let spread = Double.random(in: 0.001...0.5, using: &rng)
            let reference = (0..<n).map { _ in exp(rng.normal() * 0.3) }
            var arm: [Measured?] = reference.map { .exact($0 * exp(effect + spread * rng.normal())) }
            if trial % 5 == 0 { arm[Int.random(in: 0..<n, using: &rng)] = nil }
            if trial % 7 == 0 { arm[Int.random(in: 0..<n, using: &rng)] = Measured(lower: 3, upper: .infinity) }
            let higherIsBetter = trial % 2 == 0
            let c = paired(arm, reference.map { .exact($0) }, higherIsBetter: higherIsBetter)
            #expect(c.cycles.count + c.leftOutRounds.count == n)
            guard let m = c.interval else {
                #expect(c.verdict == .undecided)
                continue
            }
            #expect(m.lower <= m.median && m.median <= m.upper)
            switch c.verdict {
            case .better, .worse:
                #expect(m.reachesTarget && (m.lower > 1 || m.upper < 1), "no verdict while the interval holds 1")
                #expect((c.verdict == .worse) == ((m.lower > 1) != higherIsBetter))
            case .same:
                #expect(m.reachesTarget && m.lower >= 1 / 1.05 && m.upper <= 1.05)
            case .undecided:
                #expect(!m.reachesTarget || (m.lower <= 1 && m.upper >= 1 && !c.withinMargin))
            }
            // Cycle order does not matter; swapping the arms inverts the ratio and the verdict.
            let swapped = paired(reference.map { .exact($0) }, arm, higherIsBetter: higherIsBetter)
            let expected: [Verdict: Verdict] = [.better: .worse, .worse: .better, .same: .same, .undecided: .undecided]
            #expect(swapped.verdict == expected[c.verdict])
            let s = try #require(swapped.interval)
            #expect(abs(s.lower * m.upper - 1) < 1e-9 || (s.lower == 0 && m.upper == .infinity))
        }
    }

    /// A simulation of the coverage claimed: lognormal cycles whose true median ratio is 1.3.
    @Test("the interval covers the true median ratio at least as often as it claims", arguments: [6, 7, 10, 20])
    func coverage(n: Int) throws {
        var rng = SplitMix64(seed: UInt64(n))
        let trials = 4000
        var covered = 0
        var claimed = 0.0
        for _ in 0..<trials {
            let reference = (0..<n).map { _ in exp(rng.normal()) }
            let arm = reference.map { $0 * 1.3 * exp(0.4 * rng.normal()) }
            let m = try #require(paired(exact(arm), exact(reference)).interval)
            if m.lower <= 1.3 && 1.3 <= m.upper { covered += 1 }
            claimed = m.coverage
        }
        // Three binomial standard errors below the claim.
        let slack = 3 * (claimed * (1 - claimed) / Double(trials)).squareRoot()
        #expect(Double(covered) / Double(trials) >= claimed - slack, "\(covered) of \(trials), claimed \(claimed)")
    }

    @Test("the rule: every arm against the baseline, every user-space arm against every BPF arm")
    func rule() throws {
        let arms = try ["eevdf", "bpf", "user:bpfland:1", "user:bpfland:8", "user:vruntime"].map { try Arm(parsing: $0) }
        let pairs = ComparisonRule.pairs(arms: arms, baseline: .eevdf).map { "\($0.arm) / \($0.reference)" }
        #expect(pairs == [
            "bpf / eevdf", "user:bpfland:1 / eevdf", "user:bpfland:8 / eevdf", "user:vruntime / eevdf",
            "user:bpfland:1 / bpf", "user:bpfland:8 / bpf", "user:vruntime / bpf",
        ])
        // With bpf as the main baseline the transport comparisons are not repeated.
        let fromBPF = ComparisonRule.pairs(arms: arms, baseline: Arm(.bpf)).map { "\($0.arm) / \($0.reference)" }
        #expect(fromBPF == ["eevdf / bpf", "user:bpfland:1 / bpf", "user:bpfland:8 / bpf", "user:vruntime / bpf"])
        // No bpf arm: only the baseline comparisons.
        let noBPF = [Arm.eevdf, try Arm(parsing: "user:fifo")]
        #expect(ComparisonRule.pairs(arms: noBPF, baseline: .eevdf).count == 1)
        #expect(ComparisonRule.baseline(arms: noBPF, chosen: nil) == .eevdf)
        #expect(ComparisonRule.baseline(arms: [Arm(.bpf), try Arm(parsing: "user:fifo")], chosen: nil) == Arm(.bpf))
    }
}
