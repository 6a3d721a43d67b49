import ArgumentParser
import SwiftlandUserMode

/// Round robin with a fixed slice: tasks run in the order they became runnable, each for
/// the same slice, on their previous CPU when it is idle, else on whichever frees up first.
struct RoundRobin: SchedulingPolicy, ~Copyable {
    /// What the policy keeps of a waiting task: what its dispatch record needs.
    struct Waiting {
        var vtime: UInt64 = 0
        var enqSeq: UInt64 = 0
        var prevCPU: Int32 = 0
    }

    let sliceNs: UInt64
    private var queue: RunQueue<Waiting>
    private var arrivals: UInt64 = 0

    init(sliceNs: UInt64, capacity: Int = 16_384) {
        self.sliceNs = sliceNs
        queue = RunQueue(capacity: capacity)
    }

    var name: String { "roundrobin" }
    var count: Int { queue.count }
    var counters: PolicyCounters { queue.counters }

    mutating func enqueue(_ task: swl_queued_task, nowNs: UInt64) -> swl_dispatched_task? {
        // A task the queue cannot hold is answered at once rather than lost.
        guard let slot = queue.acquire(pid: task.pid, initial: Waiting()) else {
            return swl_dispatched_task(pid: task.pid, cpu: SWL_CPU_ANY, slice_ns: sliceNs, vtime: task.vtime, enq_seq: task.enq_seq)
        }
        arrivals += 1
        queue.hold(slot, Waiting(vtime: task.vtime, enqSeq: task.enq_seq, prevCPU: task.prev_cpu), key: arrivals)
        return nil
    }

    mutating func next(nowNs: UInt64, idleCPUs: inout CPUMask) -> swl_dispatched_task? {
        guard let first = queue.popMin() else { return nil }
        let task = first.state
        let cpu = idleCPUs.claim(task.prevCPU) ? task.prevCPU : SWL_CPU_ANY
        return swl_dispatched_task(pid: first.pid, cpu: cpu, slice_ns: sliceNs, vtime: task.vtime, enq_seq: task.enqSeq)
    }

    @discardableResult
    mutating func remove(pid: Int32) -> Bool {
        queue.remove(pid: pid)?.wasHeld ?? false
    }
}

@main
struct RoundRobinScheduler: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiftland-roundrobin",
        abstract: "swiftland in user mode with a round-robin policy: a policy of your own, in one file.")

    @OptionGroup var options: SchedulerCommandOptions

    @Option(help: "The one slice every task gets, in microseconds.")
    var rrSliceUs: UInt64 = 2000

    func validate() throws {
        guard (100...1_000_000).contains(rrSliceUs) else { throw ValidationError("--rr-slice-us must be from 100 to 1000000") }
    }

    func run() throws {
        let sliceNs = rrSliceUs * 1000
        try options.runInUserSpace(policyName: "roundrobin") { RoundRobin(sliceNs: sliceNs) }
    }
}
