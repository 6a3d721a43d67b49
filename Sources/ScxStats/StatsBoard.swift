import Synchronization

/// The latest sample, written by the thread that reads the counters and read by the
/// server's thread. Its lock is shared by those two alone, so a server answering clients
/// never waits on, nor holds up, anything else.
public final class StatsBoard: Sendable {
    private let latest: Mutex<StatsSample>

    public init(_ initial: StatsSample = StatsSample()) {
        latest = Mutex(initial)
    }

    public func publish(_ sample: StatsSample) {
        latest.withLock { $0 = sample }
    }

    public var sample: StatsSample { latest.withLock { $0 } }
}
