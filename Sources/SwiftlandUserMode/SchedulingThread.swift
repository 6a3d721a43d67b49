import BPFLoader
import CBPFShim
import Glibc
import RingBridge
import SwiftlandABI
import Synchronization
import UserSched

/// How user mode's scheduling loop runs, whatever its policy.
public struct LoopOptions: Sendable {
    /// Tasks dispatched per loop (1: one at a time, as rustland does).
    public var batch: Int
    public var wakeup: WakeupPolicy
    /// An artificial delay per loop (a hidden option), to force the fallback bound.
    public var loopDelayUs: UInt32

    public init(batch: Int = Int(SWL_DEFAULT_BATCH.rawValue), wakeup: WakeupPolicy = .adaptive, loopDelayUs: UInt32 = 0) {
        self.batch = batch
        self.wakeup = wakeup
        self.loopDelayUs = loopDelayUs
    }
}

/// What the scheduling loop publishes for the stats output (relaxed atomics: a report, not
/// a synchronisation).
struct LoopSnapshot {
    var queued: UInt64
    var held: UInt64
    var loops: UInt64
    var pageFaults: UInt64
    var ringErrors: UInt64
    var policy: PolicyCounters?
}

/// What the runner needs of a scheduling loop, whatever its policy.
protocol SchedulingLoop: AnyObject, Sendable {
    var options: LoopOptions { get }
    /// The policy's name, for the log.
    var policyName: String { get }
    func start() -> Int32
    func begin(queuedFD: Int32, dispatchedFD: Int32, idleCPUs: UnsafeBufferPointer<UInt64>)
    func stop()
    var error: String? { get }
    var snapshot: LoopSnapshot { get }
}

/// user mode's scheduling loop, on a thread of its own: records from the kernel ring go
/// into a policy, its decisions go back over the user ring.
///
/// The thread exists before the scheduler is loaded (the BPF side must know its thread id
/// to serve it first), then waits for the rings. It makes its policy itself, so the policy
/// lives and dies on that thread. It never takes a lock another thread of this process
/// holds: those threads are scheduled through it, like any task, so a lock shared with them
/// could deadlock. Everything it publishes goes through atomics.
final class SchedulingThread<Policy: SchedulingPolicy & ~Copyable>: SchedulingLoop, @unchecked Sendable {
    let options: LoopOptions
    let policyName: String
    private let makePolicy: @Sendable () -> Policy
    private let stopFlag = Atomic<Bool>(false)
    private let tidValue = Atomic<Int32>(0)
    /// Ring fds handed over by the loader: (queued << 32) | dispatched, 0 until then.
    private let rings = Atomic<UInt64>(0)
    private let queuedRecords = Atomic<UInt64>(0)
    private let held = Atomic<UInt64>(0)
    private let loops = Atomic<UInt64>(0)
    private let pageFaults = Atomic<UInt64>(0)
    private let ringErrors = Atomic<UInt64>(0)
    private let failure = Mutex<String?>(nil)
    private let lastCounters = Mutex<PolicyCounters?>(nil)
    private var thread = pthread_t()
    private var idleBitmap: UnsafeBufferPointer<UInt64>?

    init(options: LoopOptions, policyName: String, makePolicy: @escaping @Sendable () -> Policy) {
        self.options = options
        self.policyName = policyName
        self.makePolicy = makePolicy
    }

    /// Starts the thread and returns its thread id, for the BPF side.
    func start() -> Int32 {
        // A C function pointer cannot capture the generic parameter: a plain box carries the body.
        let context = Unmanaged.passRetained(ThreadBody { self.main() }).toOpaque()
        let err = pthread_create(&thread, nil, { arg in
            Unmanaged<ThreadBody>.fromOpaque(arg!).takeRetainedValue().run()
            return nil
        }, context)
        precondition(err == 0, "pthread_create failed: \(err)")
        while tidValue.load(ordering: .acquiring) == 0 { usleep(100) }
        return tidValue.load(ordering: .acquiring)
    }

    /// Hands the loaded scheduler's rings to the thread; it starts scheduling.
    func begin(queuedFD: Int32, dispatchedFD: Int32, idleCPUs: UnsafeBufferPointer<UInt64>) {
        idleBitmap = idleCPUs
        rings.store(UInt64(UInt32(queuedFD)) << 32 | UInt64(UInt32(dispatchedFD)), ordering: .releasing)
    }

    /// Stops the loop and waits for the thread to end. Call after detaching, so that no
    /// task waits on the loop any more.
    func stop() {
        stopFlag.store(true, ordering: .releasing)
        pthread_join(thread, nil)
    }

    /// Why the loop ended early, if it did.
    var error: String? { failure.withLock { $0 } }

    var snapshot: LoopSnapshot {
        LoopSnapshot(queued: queuedRecords.load(ordering: .relaxed), held: held.load(ordering: .relaxed),
                     loops: loops.load(ordering: .relaxed), pageFaults: pageFaults.load(ordering: .relaxed),
                     ringErrors: ringErrors.load(ordering: .relaxed), policy: lastCounters.withLock { $0 })
    }

    // MARK: The thread

    private func main() {
        tidValue.store(swl_gettid(), ordering: .releasing)
        var packed: UInt64 = 0
        while !stopFlag.load(ordering: .acquiring) {
            packed = rings.load(ordering: .acquiring)
            if packed != 0 { break }
            usleep(1000)
        }
        guard packed != 0 else { return }
        do {
            let queued = try RingConsumer<swl_queued_task>(mapFD: Int32(truncatingIfNeeded: packed >> 32), capacity: 4096)
            let dispatched = try RingProducer<swl_dispatched_task>(mapFD: Int32(truncatingIfNeeded: packed & 0xffff_ffff))
            // The class is generic over the policy: the loop is specialised for it, free of
            // existentials.
            var policy = makePolicy()
            try loop(&policy, queued, dispatched)
        } catch {
            failure.withLock { $0 = "\(error)" }
        }
    }

    private func loop(
        _ policy: inout Policy, _ queued: RingConsumer<swl_queued_task>, _ dispatched: RingProducer<swl_dispatched_task>
    ) throws(RingError) {
        let batch = max(options.batch, 1)
        // Decisions waiting to be sent: the answers to one read's worth of records that the
        // policy could not hold (at most `queued.capacity`), then one batch.
        let out = UnsafeMutableBufferPointer<swl_dispatched_task>.allocate(capacity: batch + queued.capacity)
        defer { out.deallocate() }
        var unsent = 0  // decisions the user ring had no room for, first in `out`
        let faultsAtStart = Self.threadFaults()
        var n: UInt64 = 0

        while !stopFlag.load(ordering: .relaxed) {
            // New records are read only once every earlier decision went out, so that `out`
            // always has room for what a read may add. Block only with nothing to do;
            // `spin` never blocks.
            var got = 0
            if unsent == 0 {
                let idle = policy.isEmpty
                got = idle && options.wakeup != .spin ? try queued.wait(timeoutMs: 100) : try queued.consume()
            }
            let now = Self.monotonicNs()
            if got > 0 {
                for record in queued.records where record.pid != 0 {  // pid 0: heartbeat
                    if let overflow = policy.enqueue(record, nowNs: now) {
                        out[unsent] = overflow
                        unsent += 1
                    }
                }
            }

            var idleCPUs = CPUMask(bitmap: idleBitmap!)
            let room = UnsafeMutableBufferPointer(rebasing: out[unsent..<min(unsent + batch, out.count)])
            let decided = policy.dispatch(nowNs: now, idleCPUs: &idleCPUs, into: room)
            let total = unsent + decided
            if total > 0 {
                let sent = try dispatched.send(UnsafeBufferPointer(rebasing: out[0..<total]))
                if sent < total {
                    ringErrors.add(1, ordering: .relaxed)
                    // Keep the rest, in order, for the next loop: nothing is dropped.
                    for i in sent..<total { out[i - sent] = out[i] }
                }
                unsent = total - sent
                // Let this CPU's ops.dispatch drain what was sent, or make room for the
                // rest (see bpf/main.bpf.c).
                sched_yield()
            } else if got == 0 && options.wakeup == .spin {
                sched_yield()
            }

            if options.loopDelayUs > 0 { usleep(options.loopDelayUs) }
            n &+= 1
            loops.store(n, ordering: .relaxed)
            held.store(UInt64(policy.count + unsent), ordering: .relaxed)
            queuedRecords.store(UInt64(queued.pendingBytes / (MemoryLayout<swl_queued_task>.size + 8)), ordering: .relaxed)
            if n & 255 == 0 {
                pageFaults.store(Self.threadFaults() &- faultsAtStart, ordering: .relaxed)
                publish(policy.counters)
            }
        }
        pageFaults.store(Self.threadFaults() &- faultsAtStart, ordering: .relaxed)
        publish(policy.counters)
    }

    /// Policy counters for the stats output; try-lock so the loop never waits on a reader.
    private func publish(_ counters: PolicyCounters) {
        _ = lastCounters.withLockIfAvailable { $0 = counters }
    }

    private static func monotonicNs() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// Page faults of the calling thread so far (minor and major).
    private static func threadFaults() -> UInt64 {
        UInt64(swl_thread_page_faults())
    }
}

/// What a new thread runs.
private final class ThreadBody {
    let run: () -> Void

    init(_ run: @escaping () -> Void) {
        self.run = run
    }
}
