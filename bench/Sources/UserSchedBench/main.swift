// ns per task of user mode's scheduling work: one enqueue, one pick, one dispatch record,
// with 100, 1,000 and 16,000 tasks held. Every contender runs the same steady state: take
// the first task, answer it, and send it straight back charged for a run, so the queue
// stays at its size and every task keeps cycling through it.
//
// Usage: swift run -c release UserSchedBench --help

#if canImport(Glibc)
import Glibc
#endif
import HeapModule
import SwiftlandABI
import UserSched

// MARK: Options

struct Options {
    var sizes = [100, 1_000, 16_000]
    /// Measured rounds per contender and size; the fastest is reported.
    var rounds = 101
    /// Tasks cycled per round.
    var tasksPerRound = 10_000
    /// Only the contenders whose name contains one of these comma-separated words (the
    /// baseline always runs).
    var filter: String?

    init(_ arguments: [String]) {
        var rest = arguments.dropFirst()
        while let flag = rest.popFirst() {
            if flag == "--help" || flag == "-h" {
                print(Self.usageText)
                exit(0)
            }
            guard let value = rest.popFirst() else { Self.usage("\(flag) needs a value") }
            switch flag {
            case "--rounds": rounds = Self.number(value, for: flag)
            case "--tasks-per-round": tasksPerRound = Self.number(value, for: flag)
            case "--filter": filter = value
            case "--sizes": sizes = value.split(separator: ",").map { Self.number(String($0), for: flag) }
            default: Self.usage("unknown option \(flag)")
            }
        }
        if rounds < 1 || tasksPerRound < 1 || sizes.contains(where: { $0 < 1 }) { Self.usage("values must be above 0") }
    }

    static func number(_ text: String, for flag: String) -> Int {
        guard let value = Int(text) else { usage("\(flag) takes numbers, not \"\(text)\"") }
        return value
    }

    static let usageText = """
        usage: UserSchedBench [--rounds N] [--tasks-per-round N] [--sizes 100,1000,16000] [--filter WORD,WORD]
          --rounds N            measured rounds per contender and size; the fastest is reported (101)
          --tasks-per-round N   tasks cycled per round (10000)
          --sizes a,b,c         tasks held (100,1000,16000)
          --filter WORD,WORD    only contenders whose name contains one of the words (the baseline always runs)
        """

    static func usage(_ problem: String) -> Never {
        print("UserSchedBench: \(problem)\n\(usageText)")
        exit(2)
    }
}

// MARK: The workload

/// What the kernel side would send for each task: its weight and how long it runs each
/// time. The same for every contender (a fixed seed).
struct Workload {
    let weights: [UInt64]
    let runNs: [UInt64]

    init(size: Int) {
        var state: UInt64 = 0x5EED
        func next() -> UInt64 {
            // SplitMix64.
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let niceWeights: [UInt64] = [100, 100, 100, 100, 1024, 335, 36, 15]
        weights = (0..<size).map { _ in niceWeights[Int(next() % UInt64(niceWeights.count))] }
        // 50 us to 5 ms.
        runNs = (0..<size).map { _ in 50_000 + next() % 4_950_000 }
    }

    static let firstPID: Int32 = 1000
    /// The simulated clock starts at 1 s, so start_ts_ns = now - run never wraps.
    static let startNs: UInt64 = 1_000_000_000

    func record(index: Int, vtime: UInt64, enqSeq: UInt64, nowNs: UInt64) -> swl_queued_task {
        var task = swl_queued_task()
        task.pid = Self.firstPID + Int32(index)
        task.prev_cpu = Int32(index & 1)
        task.nr_cpus_allowed = 2
        task.weight = weights[index]
        task.vtime = vtime
        task.enq_seq = enqSeq
        task.start_ts_ns = nowNs &- runNs[index]
        task.stop_ts_ns = nowNs
        task.exec_runtime_ns = runNs[index]
        task.nvcsw = enqSeq
        task.enqueue_ts_ns = nowNs
        return task
    }
}

/// Folds every dispatch record into one value that is printed at the end, so the
/// optimizer cannot drop the work.
nonisolated(unsafe) var sink: UInt64 = 0

@inline(__always)
func consume(_ task: swl_dispatched_task) {
    sink = sink &+ UInt64(UInt32(bitPattern: task.pid)) &+ task.vtime &+ task.enq_seq &+ task.slice_ns
}

// MARK: Contenders

/// One structure or policy under measurement, holding `size` tasks in its steady state.
/// (UserSched's queues and policies are non-copyable, and so are the contenders that hold
/// them.)
protocol Contender: ~Copyable {
    /// One task: pick the first, answer it, send it back charged for a run.
    mutating func cycle(nowNs: UInt64)
    /// Cycles `tasks` tasks and returns the time taken; the clock advances 1 us per task.
    /// (A requirement, so each contender gets its own specialised copy of the loop: the
    /// array of contenders costs one dynamic call per round, not one per task.)
    mutating func run(tasks: Int, nowNs: inout UInt64) -> Duration
}

extension Contender where Self: ~Copyable {
    mutating func run(tasks: Int, nowNs: inout UInt64) -> Duration {
        let clock = ContinuousClock()
        var now = nowNs
        let start = clock.now
        for _ in 0..<tasks {
            now &+= 1_000
            cycle(nowNs: now)
        }
        let elapsed = start.duration(to: clock.now)
        nowNs = now
        return elapsed
    }
}

/// The baseline: a run queue built on swift-collections' Heap, ordered by the same key
/// as `RunQueueContender`, each element carrying what its dispatch record needs.
struct HeapContender: Contender {
    struct Element: Comparable {
        var key: UInt64
        var tieBreak: UInt64
        var pid: Int32
        var enqSeq: UInt64
        static func < (a: Element, b: Element) -> Bool {
            (a.key, a.tieBreak, a.pid) < (b.key, b.tieBreak, b.pid)
        }
        static func == (a: Element, b: Element) -> Bool { a.key == b.key && a.tieBreak == b.tieBreak && a.pid == b.pid }
    }

    let workload: Workload
    var heap = Heap<Element>()
    var arrivals: UInt64 = 0

    init(workload: Workload) {
        self.workload = workload
        for i in workload.weights.indices {
            heap.insert(Element(key: UInt64(i), tieBreak: 0, pid: Workload.firstPID + Int32(i), enqSeq: 0))
        }
    }

    mutating func cycle(nowNs: UInt64) {
        let first = heap.removeMin()
        consume(swl_dispatched_task(pid: first.pid, cpu: SWL_CPU_ANY, slice_ns: 5_000_000, vtime: first.key, enq_seq: first.enqSeq))
        let index = Int(first.pid - Workload.firstPID)
        let record = workload.record(index: index, vtime: first.key, enqSeq: first.enqSeq + 1, nowNs: nowNs)
        let vtime = record.vtime &+ workload.runNs[index] * 100 / record.weight
        arrivals &+= 1
        heap.insert(Element(key: vtime, tieBreak: arrivals, pid: record.pid, enqSeq: record.enq_seq))
    }
}

/// The same job done with what the standard library and swift-collections offer: Heap for
/// the order and a Dictionary from pid to the task's current entry and record, which is
/// what removal by pid and re-enqueue before dispatch need (an entry whose pid has a newer
/// one is skipped when it comes out). Storage reserved up front.
struct HeapDictionaryContender: Contender {
    struct Element: Comparable {
        var key: UInt64
        var tieBreak: UInt64
        var pid: Int32
        static func < (a: Element, b: Element) -> Bool {
            (a.key, a.tieBreak, a.pid) < (b.key, b.tieBreak, b.pid)
        }
    }
    struct Held {
        var current: Element
        var isHeld: Bool
        var vtime: UInt64
        var enqSeq: UInt64
        var prevCPU: Int32
    }

    let workload: Workload
    var heap = Heap<Element>()
    var tasks: [Int32: Held] = [:]
    var arrivals: UInt64 = 0

    init(workload: Workload) {
        self.workload = workload
        heap.reserveCapacity(2 * workload.weights.count)
        tasks.reserveCapacity(workload.weights.count)
        for i in workload.weights.indices {
            insert(workload.record(index: i, vtime: UInt64(i), enqSeq: 0, nowNs: Workload.startNs), key: UInt64(i))
        }
    }

    mutating func insert(_ record: swl_queued_task, key: UInt64) {
        arrivals &+= 1
        let element = Element(key: key, tieBreak: arrivals, pid: record.pid)
        tasks[record.pid] = Held(
            current: element, isHeld: true, vtime: key, enqSeq: record.enq_seq, prevCPU: record.prev_cpu)
        heap.insert(element)
    }

    mutating func cycle(nowNs: UInt64) {
        var popped: (Element, Held)?
        while popped == nil, let element = heap.popMin() {
            if let held = tasks[element.pid], held.isHeld, held.current == element { popped = (element, held) }
        }
        let (first, held) = popped!
        tasks[first.pid]!.isHeld = false
        consume(swl_dispatched_task(pid: first.pid, cpu: SWL_CPU_ANY, slice_ns: 5_000_000, vtime: held.vtime, enq_seq: held.enqSeq))
        let index = Int(first.pid - Workload.firstPID)
        let record = workload.record(index: index, vtime: held.vtime, enqSeq: held.enqSeq + 1, nowNs: nowNs)
        insert(record, key: record.vtime &+ workload.runNs[index] * 100 / record.weight)
    }
}

/// UserSched's RunQueue, the engine of every policy, doing exactly what the baseline does
/// and keeping what the dispatch record needs in each task's slot.
struct RunQueueContender: ~Copyable, Contender {
    struct Held {
        var vtime: UInt64
        var enqSeq: UInt64
    }

    let workload: Workload
    var queue: RunQueue<Held>
    var arrivals: UInt64 = 0

    init(workload: Workload) {
        self.workload = workload
        queue = RunQueue(capacity: workload.weights.count)
        for i in workload.weights.indices {
            let record = workload.record(index: i, vtime: UInt64(i), enqSeq: 0, nowNs: Workload.startNs)
            hold(record, key: UInt64(i), tieBreak: 0)
        }
    }

    // Inlined, as a policy's `enqueue` is into the scheduling loop: called, it receives the
    // record through memory, field by field.
    @inline(__always)
    mutating func hold(_ record: swl_queued_task, key: UInt64, tieBreak: UInt64) {
        let slot = queue.acquire(pid: record.pid, initial: Held(vtime: 0, enqSeq: 0))!
        queue.hold(slot, Held(vtime: key, enqSeq: record.enq_seq), key: key, tieBreak: tieBreak)
    }

    mutating func cycle(nowNs: UInt64) {
        let first = queue.popMin()!
        let held = first.state
        consume(swl_dispatched_task(pid: first.pid, cpu: SWL_CPU_ANY, slice_ns: 5_000_000, vtime: held.vtime, enq_seq: held.enqSeq))
        let index = Int(first.pid - Workload.firstPID)
        let record = workload.record(index: index, vtime: held.vtime, enqSeq: held.enqSeq + 1, nowNs: nowNs)
        let vtime = record.vtime &+ workload.runNs[index] * 100 / record.weight
        arrivals &+= 1
        hold(record, key: vtime, tieBreak: arrivals)
    }
}

/// A whole policy, as the scheduling loop drives it: `next`, then `enqueue` of the record
/// the kernel side would send after the run.
struct PolicyContender<Policy: SchedulingPolicy & ~Copyable>: ~Copyable {
    let workload: Workload
    var policy: Policy
    var idle = CPUMask()

    init(workload: Workload, policy: consuming Policy) {
        self.workload = workload
        self.policy = policy
        for i in workload.weights.indices {
            let record = workload.record(index: i, vtime: UInt64(i), enqSeq: 0, nowNs: Workload.startNs)
            _ = self.policy.enqueue(record, nowNs: Workload.startNs)
        }
    }

    mutating func cycle(nowNs: UInt64) {
        let dispatched = policy.next(nowNs: nowNs, idleCPUs: &idle)!
        consume(dispatched)
        let index = Int(dispatched.pid - Workload.firstPID)
        let record = workload.record(index: index, vtime: dispatched.vtime, enqSeq: dispatched.enq_seq + 1, nowNs: nowNs)
        if let now = policy.enqueue(record, nowNs: nowNs) { consume(now) }
    }
}

// Concrete wrappers, so that each measuring loop is compiled for its policy: a generic
// type's conformance would run the unspecialised loop, through witness tables.
struct FifoContender: ~Copyable, Contender {
    var base: PolicyContender<FifoPolicy>
    mutating func cycle(nowNs: UInt64) { base.cycle(nowNs: nowNs) }
}
struct VruntimeContender: ~Copyable, Contender {
    var base: PolicyContender<VruntimePolicy>
    mutating func cycle(nowNs: UInt64) { base.cycle(nowNs: nowNs) }
}
struct BpflandContender: ~Copyable, Contender {
    var base: PolicyContender<BpflandPolicy>
    mutating func cycle(nowNs: UInt64) { base.cycle(nowNs: nowNs) }
}
struct ExistentialContender: ~Copyable, Contender {
    var base: PolicyContender<AnyPolicyBox>
    mutating func cycle(nowNs: UInt64) { base.cycle(nowNs: nowNs) }
}

/// Forwards to an existential, so `PolicyContender` can drive a policy through one.
struct AnyPolicyBox: ~Copyable, SchedulingPolicy {
    var base: any SchedulingPolicy & ~Copyable
    init(_ base: consuming any SchedulingPolicy & ~Copyable) { self.base = base }
    // Swift 6.3.1 workaround ("'self' is borrowed and cannot be consumed" when a getter opens `base`): remove the static helpers when fixed.
    var name: String { Self.name(of: base) }
    var count: Int { Self.count(of: base) }
    var counters: PolicyCounters { Self.counters(of: base) }
    private static func name(of p: borrowing any SchedulingPolicy & ~Copyable) -> String { p.name }
    private static func count(of p: borrowing any SchedulingPolicy & ~Copyable) -> Int { p.count }
    private static func counters(of p: borrowing any SchedulingPolicy & ~Copyable) -> PolicyCounters { p.counters }
    mutating func enqueue(_ task: swl_queued_task, nowNs: UInt64) -> swl_dispatched_task? { base.enqueue(task, nowNs: nowNs) }
    mutating func next(nowNs: UInt64, idleCPUs: inout CPUMask) -> swl_dispatched_task? { base.next(nowNs: nowNs, idleCPUs: &idleCPUs) }
    mutating func remove(pid: Int32) -> Bool { base.remove(pid: pid) }
}

// MARK: Measurement

struct Entry {
    let name: String
    let make: (Workload) -> any Contender & ~Copyable
}

/// One contender in the measuring loop: a class, because non-copyable values cannot be
/// array elements. It adds one dynamic call per round, not per task.
final class Running {
    private var contender: any Contender & ~Copyable
    init(_ contender: consuming any Contender & ~Copyable) { self.contender = contender }
    func run(tasks: Int, nowNs: inout UInt64) -> Duration { contender.run(tasks: tasks, nowNs: &nowNs) }
}

let allContenders: [Entry] = [
    Entry(name: "Heap (swift-collections): baseline") { HeapContender(workload: $0) },
    Entry(name: "Heap + Dictionary (RunQueue's features)") { HeapDictionaryContender(workload: $0) },
    Entry(name: "RunQueue (heap + table of slots)") { RunQueueContender(workload: $0) },
    Entry(name: "policy fifo") {
        FifoContender(base: PolicyContender(workload: $0, policy: FifoPolicy(config: policyConfig($0))))
    },
    Entry(name: "policy vruntime") {
        VruntimeContender(base: PolicyContender(workload: $0, policy: VruntimePolicy(config: policyConfig($0))))
    },
    Entry(name: "policy bpfland") {
        BpflandContender(base: PolicyContender(workload: $0, policy: BpflandPolicy(config: policyConfig($0))))
    },
    // As a loop that does not specialise would drive it: the cost of dynamic dispatch.
    Entry(name: "policy bpfland, as any SchedulingPolicy") {
        let policy = try! makePolicy(named: "bpfland", config: policyConfig($0))
        return ExistentialContender(base: PolicyContender(workload: $0, policy: AnyPolicyBox(policy)))
    },
]

/// The defaults, with room for every task when a size above the default is asked for.
func policyConfig(_ workload: Workload) -> PolicyConfig {
    var config = PolicyConfig()
    config.maxTasks = max(config.maxTasks, workload.weights.count)
    return config
}

func nanoseconds(_ d: Duration) -> Double {
    Double(d.components.seconds) * 1e9 + Double(d.components.attoseconds) / 1e9
}


func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
    let gap = String(repeating: " ", count: max(0, width - s.count))
    return right ? gap + s : s + gap
}

func format(_ value: Double, decimals: Int) -> String {
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    var text = String(rounded)
    if let dot = text.firstIndex(of: ".") {
        let have = text.distance(from: dot, to: text.endIndex) - 1
        if have < decimals { text += String(repeating: "0", count: decimals - have) }
    } else if decimals > 0 {
        text += "." + String(repeating: "0", count: decimals)
    }
    return text
}

let options = Options(CommandLine.arguments)
let contenders = allContenders.enumerated().filter { index, entry in
    index == 0 || options.filter.map { $0.split(separator: ",").contains { entry.name.contains($0) } } ?? true
}.map(\.element)
print("UserSched: ns per task (enqueue + pick + dispatch record), fastest of \(options.rounds) rounds of \(options.tasksPerRound) tasks")
print("")
var header = pad("contender", 42)
for size in options.sizes { header += pad("n=\(size)", 12, right: true) + pad("vs Heap", 9, right: true) }
print(header)
print(String(repeating: "-", count: header.count))

var results: [[Double]] = Array(repeating: [], count: contenders.count)
for size in options.sizes {
    let workload = Workload(size: size)
    let running = contenders.map { Running($0.make(workload)) }
    var clocks = [UInt64](repeating: Workload.startNs, count: contenders.count)
    var samples = [[Double]](repeating: [], count: contenders.count)
    // Warm up: every task through each contender at least twice.
    for i in running.indices { _ = running[i].run(tasks: max(2 * size, options.tasksPerRound / 4), nowNs: &clocks[i]) }
    // Interleaved rounds, so a slow spell of the machine hits every contender alike.
    for _ in 0..<options.rounds {
        for i in running.indices {
            let elapsed = running[i].run(tasks: options.tasksPerRound, nowNs: &clocks[i])
            samples[i].append(nanoseconds(elapsed) / Double(options.tasksPerRound))
        }
    }
    // The fastest round: on a shared machine every disturbance only adds time, so the
    // minimum is the estimate least affected by other work.
    for i in contenders.indices { results[i].append(samples[i].min()!) }
}

for (i, contender) in contenders.enumerated() {
    var line = pad(contender.name, 42)
    for (s, value) in results[i].enumerated() {
        line += pad(format(value, decimals: 1), 12, right: true) + pad(format(value / results[0][s], decimals: 2), 9, right: true)
    }
    print(line)
}
print("")
print("(checksum \(sink))")
