import ArgumentParser
@testable import swiftland
import Testing

@Suite("swiftland compare: options and the child scheduler's output")
struct CompareCommandTests {
    @Test func defaults() throws {
        let cmd = try CompareCommand.parse([])
        #expect(try cmd.arms().map(\.description) == ["eevdf", "bpf", "user:bpfland:1", "user:bpfland:8"])
        #expect(try cmd.specs(cpus: 2).map(\.name) == ["hackbench", "cyclictest"])
        // cyclictest must run as SCHED_OTHER: no real-time priority option.
        let cyclictest = try cmd.specs(cpus: 2)[1].command
        #expect(!cyclictest.contains("-p") && !cyclictest.contains("--priority"))
    }

    @Test(arguments: [
        (["--modes", "eevdf,cfs"], "cfs"),
        (["--modes", "user:quantum"], "unknown policy \"quantum\""),
        (["--modes", "bpf,bpf"], "twice"),
        (["--modes", "user:fifo:0"], "user:fifo:0"),
        (["--modes", "user:fifo:1:sometimes"], "unknown wakeup policy 'sometimes' (one of adaptive, always, spin)"),
        (["--workloads", "kernel-build"], "unknown workload"),
        (["--workloads", "cmd"], "needs --workload-cmd and --workload-regex"),
        (["--workloads", "cmd", "--workload-cmd", "true", "--workload-regex", "no group"], "--workload-regex"),
        (["--rounds", "0"], "--rounds"),
        (["--seconds", "0"], "--seconds"),
    ])
    func rejected(arguments: [String], message: String) {
        do {
            _ = try CompareCommand.parse(arguments)
            Issue.record("\(arguments) was accepted")
        } catch {
            let text = CompareCommand.message(for: error)
            #expect(text.contains(message), "\(arguments): \(text)")
        }
    }

    @Test func ownWorkload() throws {
        let cmd = try CompareCommand.parse([
            "--workloads", "cmd", "--workload-cmd", "echo took 12.5 ms", "--workload-regex", "took ([0-9.]+) ms",
            "--workload-unit", "ms",
        ])
        let spec = try cmd.specs(cpus: 2)[0]
        #expect(spec.command == ["/bin/sh", "-c", "echo took 12.5 ms"])
        #expect(try spec.parse("took 12.5 ms\n").figure.value == 12.5)
    }

    @Test func shellQuoting() {
        #expect(CompareCommand.shellQuote("--modes") == "--modes")
        #expect(CompareCommand.shellQuote("user:bpfland,bpf") == "user:bpfland,bpf")
        #expect(CompareCommand.shellQuote("echo it's") == #"'echo it'\''s'"#)
        #expect(CompareCommand.shellQuote("") == "''")
    }

    @Test func countersLine() {
        let line: Substring = "swiftland: counters: nr_running=0 nr_in_flight=3 queued=1 bogus=x"
        #expect(ChildScheduler.fields(line) == ["nr_running": 0, "nr_in_flight": 3, "queued": 1])
    }

    @Test func decisionHistogramLine() {
        #expect(ChildScheduler.decisionHistogram("swiftland: decision_hist_us=0,3,17,0,2") == [0, 3, 17, 0, 2])
        #expect(ChildScheduler.decisionHistogram("swiftland: decision_hist_us=0,x,1") == nil)
        #expect(ChildScheduler.decisionHistogram("swiftland: decision_hist_us=") == nil)
        #expect(ChildScheduler.decisionHistogram("swiftland: counters: nr_running=0") == nil)
    }
}
