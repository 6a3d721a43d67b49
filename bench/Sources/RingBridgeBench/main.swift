// RingBridge round trip, events per second: kernel ring -> Swift -> user ring -> kernel,
// against a plain C libbpf loop doing the same work (CRingLoop), in the same process and
// the same run, interleaved round by round. The kernel side is the `echo` SEC("syscall")
// program of bpf/test_rings.bpf.c on this host's kernel (no sched_ext needed); needs root.
//
// Wakeup policy measured: none. The kernel side runs synchronously (BPF_PROG_TEST_RUN) and
// user space polls both rings without sleeping (the `spin` end of --wakeup): this isolates
// the cost of the bridge itself. Wakeups are measured in the VM by the compare experiment.
//
// Usage: swift run -c release RingBridgeBench [--rounds N] [--records N] [--batch N]

#if canImport(Glibc)
import Glibc
#endif
import BPFLoader
import CRingLoop
import RingBridge
import SwiftlandABI
import TestObjects

var rounds = 15
var records = 200_000
var batch = 256
var args = CommandLine.arguments.dropFirst()
while let flag = args.popFirst() {
    guard let value = args.popFirst().flatMap({ Int($0) }), value > 0 else {
        print("usage: RingBridgeBench [--rounds N] [--records N] [--batch N]")
        exit(2)
    }
    switch flag {
    case "--rounds": rounds = value
    case "--records": records = value
    case "--batch": batch = value
    default:
        print("unknown option \(flag)")
        exit(2)
    }
}

func load() throws -> BPFObject {
    let object = try BPFObject(bytes: TestObjects.rings, name: "test_rings")
    try object.setMaxEntries("queued", 1 << 20)
    try object.setMaxEntries("dispatched", 1 << 20)
    try object.load()
    return object
}

func now() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// The Swift bridge: the same loop as CRingLoop, through RingProducer and RingConsumer.
func swiftRoundTrip(_ object: BPFObject, total: Int, batch: Int) throws -> Int {
    let producer = try RingProducer<swl_dispatched_task>(mapFD: try object.mapFD("dispatched"))
    let consumer = try RingConsumer<swl_queued_task>(mapFD: try object.mapFD("queued"), capacity: 4096)
    var sent = 1, received = 1
    var none: Int32 = 0
    let echo = try object.programFD("echo")
    while received <= total {
        var i = 0
        while i < batch && sent <= total {
            let record = swl_dispatched_task(
                pid: Int32(sent), cpu: SWL_CPU_ANY, slice_ns: UInt64(sent) * 7, vtime: UInt64(sent) * 3,
                enq_seq: UInt64(sent))
            guard (try? producer.send(record)) != nil else { break }  // full: drain first
            i += 1
            sent += 1
        }
        _ = try object.run(programFD: echo, context: &none)
        var got = try consumer.consume()
        while got > 0 {
            for (i, r) in consumer.records.enumerated() where r.enq_seq != UInt64(received + i) {
                throw OrderError(expected: received + i, got: r.enq_seq)
            }
            received += got
            got = try consumer.consume()
        }
    }
    return received - 1
}

struct OrderError: Error {
    var expected: Int
    var got: UInt64
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

do {
    let object = try load()
    var swiftRates: [Double] = [], cRates: [Double] = [], ratios: [Double] = []
    // One warm-up round of each, then interleaved measured rounds (C first in even rounds).
    _ = try swiftRoundTrip(object, total: records / 10, batch: batch)
    _ = c_ring_round_trip(try object.programFD("echo"), try object.mapFD("queued"), try object.mapFD("dispatched"), records / 10, Int32(batch))
    for round in 0..<rounds {
        var c = 0.0, s = 0.0
        for which in (round % 2 == 0 ? [0, 1] : [1, 0]) {
            let t0 = now()
            if which == 0 {
                let n = c_ring_round_trip(try object.programFD("echo"), try object.mapFD("queued"),
                                          try object.mapFD("dispatched"), records, Int32(batch))
                guard n == records else { print("C loop failed: \(n)"); exit(1) }
                c = Double(records) / (Double(now() - t0) / 1e9)
            } else {
                let n = try swiftRoundTrip(object, total: records, batch: batch)
                guard n == records else { print("Swift bridge failed: \(n)"); exit(1) }
                s = Double(records) / (Double(now() - t0) / 1e9)
            }
        }
        cRates.append(c)
        swiftRates.append(s)
        ratios.append(s / c)
    }
    print("RingBridge round trip: \(records) records per round, batches of \(batch), \(rounds) rounds interleaved")
    print("wakeup policy: none (synchronous kernel side, polling user side)")
    print(String(format: "  plain C libbpf loop: median %.0f records/s", median(cRates)))
    print(String(format: "  Swift RingBridge:    median %.0f records/s", median(swiftRates)))
    print(String(format: "  ratio Swift / C: median %.3f (min %.3f, max %.3f)", median(ratios), ratios.min()!, ratios.max()!))
} catch {
    print("RingBridgeBench: \(error) (needs root: CAP_BPF)")
    exit(1)
}
