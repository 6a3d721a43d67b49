import SwiftlandABI
import Testing
@testable import UserSched

/// Simulates one CPU: each dispatched task runs the whole slice it was given and is
/// enqueued again at once (it never sleeps), with the record the kernel side would send.
/// Returns the run time each pid got.
func simulateOneCPU(
    _ policy: inout some SchedulingPolicy & ~Copyable, weights: [Int32: UInt64], durationNs: UInt64
) -> [Int32: UInt64] {
    var tasks: [Int32: SimulatedTask] = [:]
    var runtime: [Int32: UInt64] = [:]
    var now: UInt64 = 0
    for (pid, weight) in weights.sorted(by: { $0.key < $1.key }) {
        tasks[pid] = SimulatedTask()
        _ = policy.enqueue(record(pid: pid, weight: weight, enqSeq: 0), nowNs: now)
    }
    var idle = CPUMask()
    while now < durationNs {
        guard let dispatched = policy.next(nowNs: now, idleCPUs: &idle) else { break }
        let pid = dispatched.pid
        var task = tasks[pid]!
        #expect(dispatched.enq_seq == task.seq)
        task.vtime = dispatched.vtime  // the kernel keeps what user space charged
        task.startNs = now
        now += dispatched.slice_ns
        task.stopNs = now
        task.execNs += dispatched.slice_ns
        task.seq += 1
        tasks[pid] = task
        runtime[pid, default: 0] += dispatched.slice_ns
        _ = policy.enqueue(
            record(
                pid: pid, vtime: task.vtime, weight: weights[pid]!, enqSeq: task.seq, startNs: task.startNs,
                stopNs: task.stopNs, execRuntimeNs: task.execNs, enqueueNs: now),
            nowNs: now)
    }
    return runtime
}

/// What the kernel side knows of a task in `simulateOneCPU`.
struct SimulatedTask {
    var vtime: UInt64 = 0
    var execNs: UInt64 = 0
    var startNs: UInt64 = 0
    var stopNs: UInt64 = 0
    var seq: UInt64 = 0
}

@Suite("Weight fairness")
struct FairnessTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var policy: PolicyName
        var weights: [Int32: UInt64]
        var testDescription: String { "\(policy) \(weights.sorted { $0.key < $1.key }.map(\.value))" }
    }

    static let cases: [Case] = [PolicyName.bpfland, .vruntime].flatMap { name in
        [
            Case(policy: name, weights: [1: 100, 2: 200]),  // nice 0 vs about nice -3
            Case(policy: name, weights: [1: 100, 2: 1]),  // nice 0 vs nice 19
            Case(policy: name, weights: [1: 100, 2: 100, 3: 300]),
        ]
    }

    @Test("over many rounds each task's share of the CPU follows its weight", arguments: cases)
    func runtimeTracksWeight(_ c: Case) throws {
        var policy = try c.policy.make()
        let runtime = simulateOneCPU(&policy, weights: c.weights, durationNs: 30 * secondNs)
        let totalWeight = Double(c.weights.values.reduce(0, +))
        let totalRuntime = Double(runtime.values.reduce(0, +))
        for (pid, weight) in c.weights {
            let expected = Double(weight) / totalWeight
            let got = Double(runtime[pid] ?? 0) / totalRuntime
            // Within 3% of its share, or 0.1 percentage points for a tiny share.
            #expect(abs(got - expected) <= max(0.03 * expected, 0.001), "pid \(pid) weight \(weight): share \(got), expected \(expected)")
        }
    }

    @Test("fifo ignores weight: equal slices in turn")
    func fifoIgnoresWeight() {
        var policy = FifoPolicy()
        let runtime = simulateOneCPU(&policy, weights: [1: 100, 2: 1], durationNs: secondNs)
        #expect(runtime[1] == runtime[2])
    }
}
