import BPFLoader
import Glibc
import TestObjects
import Testing

/// hybrid mode's control law (bpf/bypass.bpf.h), the scheduler's own code, run step by step
/// on this host's kernel through the SEC("syscall") program `law` (bpf/test_rings.bpf.c),
/// with chosen times: when the kernel side starts bypassing user space, and when it hands
/// back.
@Suite("hybrid mode's control law on the host kernel", .enabled(if: getuid() == 0, "needs root (CAP_BPF) to load BPF programs"))
struct BypassLawTests {
    /// struct law_args: the law's state, then the step's arguments and result (all u64).
    struct Args {
        var intervalStart: UInt64 = 0, minSojourn: UInt64 = 0, inFlightAtStart: UInt64 = 0
        var since: UInt64 = 0, accounted: UInt64 = 0, totalNs: UInt64 = 0
        var op: UInt64 = 0, now: UInt64 = 0, inFlight: UInt64 = 0, ringEmpty: UInt64 = 1
        var target: UInt64 = 0, interval: UInt64 = 0, sojourn: UInt64 = 0, event: UInt64 = 0
    }

    enum Event: UInt64 { case none = 0, enter = 1, leave = 2 }

    static let ms: UInt64 = 1_000_000
    /// The defaults' proportions: a 1 ms target judged over 10 ms.
    static let target = 1 * ms, interval = 10 * ms
    static let t0 = 1_000 * ms

    /// A law driven from the start of time `t0`.
    final class Law {
        let object: BPFObject
        var args = Args()

        init() throws {
            object = try BPFObject(bytes: TestObjects.rings, name: "test_rings")
            try object.load()
            args.target = BypassLawTests.target
            args.interval = BypassLawTests.interval
            #expect(try tick(at: BypassLawTests.t0, inFlight: 0) == .none)
        }

        /// A decision drained `sojourn` after its task was sent.
        func sample(_ sojourn: UInt64) throws {
            args.op = 1
            args.sojourn = sojourn
            _ = try object.run(program: "law", context: &args)
        }

        func tick(at now: UInt64, inFlight: UInt64 = 1, ringEmpty: Bool = true) throws -> Event {
            args.op = 0
            args.now = now
            args.inFlight = inFlight
            args.ringEmpty = ringEmpty ? 1 : 0
            _ = try object.run(program: "law", context: &args)
            return try #require(Event(rawValue: args.event))
        }

        var bypassing: Bool { args.since != 0 }
    }

    @Test func aBurstIsNoStandingQueue() throws {
        let law = try Law()
        // Long trips, but one came back fast in the interval: the queue drains.
        for sojourn in [8 * Self.ms, 20 * Self.ms, Self.ms / 5, 6 * Self.ms] { try law.sample(sojourn) }
        #expect(try law.tick(at: Self.t0 + Self.interval) == .none)
        #expect(!law.bypassing)
    }

    @Test func aStandingQueueStartsBypassAtTheIntervalsEnd() throws {
        let law = try Law()
        for sojourn in [2 * Self.ms, 3 * Self.ms, Self.target + 1] { try law.sample(sojourn) }
        // Not before the interval has passed, however long the trips.
        #expect(try law.tick(at: Self.t0 + Self.interval - 1) == .none)
        #expect(try law.tick(at: Self.t0 + Self.interval) == .enter)
        #expect(law.bypassing)
    }

    @Test func theTargetItselfIsShortEnough() throws {
        let law = try Law()
        try law.sample(5 * Self.ms)
        try law.sample(Self.target)
        #expect(try law.tick(at: Self.t0 + Self.interval) == .none)
    }

    @Test func aStalledThreadStartsBypassAnIdleOneDoesNot() throws {
        // Nothing drained for an interval while tasks were in flight all along: stalled.
        let stalled = try Law()
        _ = try stalled.tick(at: Self.t0 + Self.interval, inFlight: 3)  // a new interval, 3 in flight at its start
        #expect(try stalled.tick(at: Self.t0 + 2 * Self.interval, inFlight: 3) == .enter)
        // Nothing drained because nothing was sent: idle.
        let idle = try Law()
        #expect(try idle.tick(at: Self.t0 + Self.interval, inFlight: 0) == .none)
        #expect(try idle.tick(at: Self.t0 + 2 * Self.interval, inFlight: 0) == .none)
        // Tasks sent only at the interval's end: not stalled either.
        #expect(try idle.tick(at: Self.t0 + 3 * Self.interval, inFlight: 2) == .none)
    }

    @Test func bypassEndsWhenUserSpaceCaughtUpAfterAnInterval() throws {
        let law = try Law()
        try law.sample(4 * Self.ms)
        let start = Self.t0 + Self.interval
        #expect(try law.tick(at: start) == .enter)
        // Caught up at once, but bypass lasts an interval.
        #expect(try law.tick(at: start + Self.interval / 2, inFlight: 0) == .none)
        // Past the interval: not while trips are in flight, nor while records wait unread.
        #expect(try law.tick(at: start + Self.interval, inFlight: 1) == .none)
        #expect(try law.tick(at: start + Self.interval + Self.ms, inFlight: 0, ringEmpty: false) == .none)
        #expect(law.bypassing)
        let end = start + Self.interval + 2 * Self.ms
        #expect(try law.tick(at: end, inFlight: 0) == .leave)
        #expect(!law.bypassing)
        #expect(law.args.totalNs == end - start)
        // Samples drained in bypass do not count once it ended: a fresh interval starts.
        #expect(law.args.minSojourn == ~0)
        try law.sample(Self.ms / 2)
        #expect(try law.tick(at: end + Self.interval) == .none)
    }

    @Test func bypassTimeAddsUpOverEpisodes() throws {
        let law = try Law()
        var now = Self.t0
        var expected: UInt64 = 0
        for episode in 1...3 {
            try law.sample(3 * Self.ms)
            now += Self.interval
            #expect(try law.tick(at: now) == .enter, "episode \(episode)")
            let length = Self.interval + UInt64(episode) * Self.ms
            for step in stride(from: Self.ms, to: length, by: Int(Self.ms)) {
                #expect(try law.tick(at: now + step, inFlight: 1) == .none)
            }
            now += length
            #expect(try law.tick(at: now, inFlight: 0) == .leave)
            expected += length
        }
        #expect(law.args.totalNs == expected)
    }
}
