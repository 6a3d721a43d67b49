import BPFLoader
import CBPFShim
import Foundation
import Glibc
import Testing

/// The run-queue latency tracer on this host's kernel (no sched_ext needed), against a
/// thread whose sleeps we know: every sleep ends in one wakeup and one switch-in.
@Suite("Run-queue latency tracer on the host kernel", .enabled(if: getuid() == 0, "needs root (CAP_BPF, CAP_PERFMON)"))
struct RunQueueTracerTests {
    /// A thread named `name` that sleeps `sleeps` times for `sleepUs` each.
    static func sleeper(name: String, sleeps: Int, sleepUs: UInt32) {
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            // The thread's comm, as the tracer sees it.
            try? name.write(toFile: "/proc/self/task/\(swl_gettid())/comm", atomically: false, encoding: .utf8)
            for _ in 0..<sleeps { usleep(sleepUs) }
            done.signal()
        }
        thread.start()
        done.wait()
    }

    @Test func countsEveryWakeupOfTheFilteredCommand() throws {
        let tracer = try RunQueueTracer(commands: ["swl-rqprobe"])
        let before = tracer.snapshot()
        Self.sleeper(name: "swl-rqprobe", sleeps: 200, sleepUs: 2000)
        let waits = tracer.snapshot().since(before)
        // 200 wakeups. A few fewer waits when a timer fires before the thread got off its
        // CPU (no switch-in follows), a few more when it is also preempted while runnable.
        #expect(waits.count >= 180 && waits.count <= 300, "\(waits.count) waits recorded")
        #expect(waits.histogram.reduce(0, +) == waits.count)
        #expect(waits.sumNs > 0 && waits.sumNs / waits.count < 100_000_000, "mean wait below 100 ms")
        #expect(waits.maxNs >= waits.sumNs / waits.count)
    }

    @Test func filterLeavesOtherTasksOut() throws {
        let filtered = try RunQueueTracer(commands: ["swl-nobody-here"])
        let all = try RunQueueTracer()
        let f0 = filtered.snapshot(), a0 = all.snapshot()
        Self.sleeper(name: "swl-rqprobe2", sleeps: 50, sleepUs: 1000)
        #expect(filtered.snapshot().since(f0).count == 0)
        #expect(all.snapshot().since(a0).count >= 50)
    }

    @Test func timesEveryNamedCommandAndNoOther() throws {
        let tracer = try RunQueueTracer(commands: ["swl-server", "swl-client"])
        let start = tracer.snapshot()
        Self.sleeper(name: "swl-other", sleeps: 50, sleepUs: 1000)
        let middle = tracer.snapshot()
        #expect(middle.since(start).count == 0)
        Self.sleeper(name: "swl-server", sleeps: 50, sleepUs: 1000)
        Self.sleeper(name: "swl-client", sleeps: 50, sleepUs: 1000)
        let both = tracer.snapshot().since(middle)
        #expect(both.count >= 90 && both.count <= 150, "\(both.count) waits recorded")
    }
}
