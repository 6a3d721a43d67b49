import ArgumentParser
@testable import swiftland
import Testing

/// The fault suite's bad input (issue 5): every option of `swiftland run`, `compare` and
/// `vm` with an out-of-range, negative, zero, non-numeric or conflicting value is refused
/// with a message that names the option or the value. (Tests/vm/faults.sh and
/// scripts/faults.sh run a selection through the real binary, in the VM and on the host.)
@Suite("bad input: every option refused with a clear message")
struct BadOptionTests {
    static let run: [([String], String)] = [
        // --mode, --policy, --wakeup: unknown names
        (["--mode", "quantum"], "quantum"), (["--mode", ""], "--mode"),
        (["--mode", "user", "--policy", "lottery"], "unknown policy \"lottery\""),
        (["--mode", "user", "--wakeup", "never"], "never"),
        // slices: negative, zero, non-numeric, too large, conflicting
        (["--slice-us=-1"], "-1"), (["--slice-us", "0"], "--slice-us must be above 0"),
        // a negative value as its own word is taken as the value, not as an unknown option
        (["--slice-us", "-5"], "The value '-5' is invalid for '--slice-us"),
        (["-s", "-5"], "The value '-5' is invalid for '-s"),
        (["--timeout-ms", "-1"], "The value '-1' is invalid for '--timeout-ms"),
        (["--mode", "user", "--batch", "-2"], "--batch must be from 1 to 4096"),
        (["--slice-us", "5ms"], "5ms"), (["--slice-us", "2000000"], "above 1 s"),
        (["--slice-us-min=-1"], "-1"), (["--slice-us-min", "0"], "--slice-us-min must be above 0"),
        (["--slice-us-min", "x"], "'x'"), (["-s", "1000", "-S", "2000"], "cannot be longer than the longest"),
        (["--slice-us-lag=-1"], "-1"), (["--slice-us-lag", "lots"], "lots"),
        (["--slice-us-lag", "18446744073709551615"], "--slice-us-lag"),
        (["--slice-us-lag", "18446744073709551616"], "18446744073709551616"),
        // interactive threshold, starvation
        (["--nvcsw-max-thresh=-3"], "-3"), (["--nvcsw-max-thresh", "2000000"], "above 1000000"),
        (["--nvcsw-max-thresh", "ten"], "ten"),
        (["--starvation-thresh-us", "0"], "--starvation-thresh-us must be above 0"),
        (["--starvation-thresh-us=-1"], "-1"), (["--starvation-thresh-us", "99999999999"], "--starvation-thresh-us"),
        // watchdog, dump
        (["--timeout-ms", "0"], "--timeout-ms must be above 0"), (["--timeout-ms", "30001"], "above 30000"),
        (["--timeout-ms=-1"], "-1"), (["--timeout-ms", "5s"], "5s"),
        // wakeup preemption, ordering: unknown values
        (["--preempt", "maybe"], "maybe"), (["--preempt", ""], "--preempt"), (["--ordering", "lottery"], "lottery"),
        (["--exit-dump-len", "100000"], "--exit-dump-len"), (["--exit-dump-len=-1"], "-1"),
        // user mode's options: ranges and conflicts
        (["--mode", "user", "--batch", "0"], "--batch must be from 1 to 4096"),
        (["--mode", "user", "--batch=-2"], "--batch must be from 1 to 4096"),
        (["--mode", "user", "--batch", "5000"], "--batch must be from 1 to 4096"),
        (["--mode", "user", "--batch", "many"], "many"),
        (["--mode", "user", "--fallback-ms", "0"], "--fallback-ms must be above 0"),
        (["--mode", "user", "--fallback-ms", "3000"], "at most half of --timeout-ms"),
        (["--mode", "user", "--fallback-ms=-1"], "-1"),
        (["--mode", "user", "--ring-kib", "0"], "power of two"), (["--mode", "user", "--ring-kib", "3"], "power of two"),
        (["--mode", "user", "--ring-kib", "100"], "power of two"), (["--mode", "user", "--ring-kib", "131072"], "power of two"),
        (["--mode", "user", "--loop-delay-us", "2000000"], "--loop-delay-us must be at most 1000000"),
        (["--mode", "user", "--loop-delay-us=-1"], "-1"),
        // hybrid mode's control law
        (["--mode", "hybrid", "--bypass-target-us", "0"], "--bypass-target-us must be above 0"),
        (["--mode", "hybrid", "--bypass-target-us", "5000", "--bypass-interval-us", "5000"], "must be above --bypass-target-us (5000)"),
        (["--mode", "hybrid", "--bypass-interval-us", "60000"], "must be below --fallback-ms (50 ms)"),
        (["--mode", "hybrid", "--bypass-interval-us", "20000000"], "--bypass-interval-us must be at most 10000000"),
        (["--mode", "hybrid", "--bypass-target-us=-1"], "-1"),
        (["--mode", "hybrid", "--fallback-ms", "0"], "--fallback-ms must be above 0"),
        (["--mode", "user", "--bypass-target-us", "500"], "--bypass-target-us applies to --mode hybrid only"),
        (["--bypass-interval-us", "5000"], "--bypass-interval-us applies to --mode hybrid only"),
        (["--policy", "fifo"], "--policy applies to --mode user and --mode hybrid only"), (["--batch", "4"], "--batch applies to --mode user and --mode hybrid only"),
        (["--wakeup", "spin"], "--wakeup applies to --mode user and --mode hybrid only"),
        (["--fallback-ms", "20"], "--fallback-ms applies to --mode user and --mode hybrid only"),
        (["--ring-kib", "8"], "--ring-kib applies to --mode user and --mode hybrid only"),
        (["--loop-delay-us", "10"], "--loop-delay-us applies to --mode user and --mode hybrid only"),
        // stats, duration
        (["--stats", "0"], "--stats must be"), (["--stats=-1"], "--stats must be"), (["--stats", "nan"], "--stats must be"),
        (["--stats", "inf"], "--stats must be"), (["--stats", "often"], "often"),
        (["--duration", "0"], "--duration must be"), (["--duration=-5"], "--duration must be"),
        (["--duration", "nan"], "--duration must be"), (["--duration", "soon"], "soon"),
        // intervals that would overflow the conversion to milliseconds, or poll without pause
        (["--monitor", "1e300"], "--monitor must be from 0.1 to 86400 seconds, got 1e+300"),
        (["--monitor", "1e-9"], "--monitor must be from 0.1 to 86400 seconds, got 1e-09"),
        (["--monitor", "0"], "--monitor must be"), (["--monitor=-1"], "--monitor must be"),
        (["--monitor", "nan"], "--monitor must be"), (["--monitor", "inf"], "--monitor must be"),
        (["--monitor", "86401"], "--monitor must be"), (["--monitor", "often"], "often"),
        (["--stats", "1e300"], "--stats must be from 0.1 to 86400 seconds"), (["--stats", "0.01"], "--stats must be"),
        (["--duration", "1e300"], "--duration must be from 0.1 to 31536000 seconds"),
        (["--duration", "1e-9"], "--duration must be"), (["--duration", "inf"], "--duration must be"),
        // unknown options, stray arguments
        (["--no-such-option"], "no-such-option"), (["extra"], "extra"),
    ]

    @Test(arguments: run)
    func runRefuses(arguments: [String], message: String) {
        do {
            _ = try RunCommand.parse(arguments)
            Issue.record("run \(arguments) was accepted")
        } catch {
            let text = RunCommand.message(for: error)
            #expect(text.contains(message), "run \(arguments): \(text)")
        }
    }

    /// The ends of the interval and duration ranges are accepted.
    @Test(arguments: [["--monitor", "0.1"], ["--monitor", "86400"], ["--stats", "0.1"], ["--stats", "86400"],
                      ["--duration", "0.1"], ["--duration", "31536000"]])
    func runAcceptsTheBounds(arguments: [String]) throws {
        _ = try RunCommand.parse(arguments)
    }

    @Test(arguments: [
        (["--modes", ""], "--modes names no arm"), (["--modes", "eevdf,quantum"], "quantum"),
        (["--modes", "user:lottery"], "lottery"), (["--modes", "user:fifo:0"], "user:fifo:0"),
        (["--modes", "user:fifo:-1"], "user:fifo:-1"), (["--modes", "bpf,bpf"], "twice"),
        (["--workloads", ""], "--workloads"), (["--workloads", "nothing"], "unknown workload"),
        (["--workloads", "cmd"], "needs --workload-cmd and --workload-regex"),
        (["--workload-cmd", "true"], "apply to the cmd workload only"),
        (["--workload-regex", "([0-9]+)"], "apply to the cmd workload only"),
        (["--rounds", "0"], "--rounds must be from 1 to 100"), (["--rounds=-1"], "--rounds must be from 1 to 100"),
        (["--rounds", "101"], "--rounds must be from 1 to 100"), (["--rounds", "seven"], "seven"),
        (["--warmup=-1"], "--warmup must be from 0 to 10"), (["--warmup", "11"], "--warmup must be from 0 to 10"),
        (["--warmup", "x"], "'x'"),
        (["--seconds", "0"], "--seconds must be from 1 to 3600"), (["--seconds=-1"], "--seconds must be from 1 to 3600"),
        (["--seconds", "3601"], "--seconds must be from 1 to 3600"), (["--seconds", "1.5"], "1.5"),
        (["--hackbench-loops", "0"], "--hackbench-loops must be above 0"),
        (["--hackbench-loops=-1"], "--hackbench-loops must be above 0"), (["--hackbench-loops", "x"], "'x'"),
        (["--out", ""], "--out is empty"),
        (["--vm-cpus", "0"], "--vm-cpus"), (["--vm-cpus", "65"], "--vm-cpus"), (["--vm-cpus=-1"], "--vm-cpus"),
        (["--vm-cpus", "two"], "two"), (["--vm-memory", "100M"], "--vm-memory"), (["--vm-memory", "lots"], "--vm-memory"),
        (["--vm-memory", "0"], "--vm-memory"),
        (["--margin", "0"], "--margin must lie above 0 and below 100"), (["--margin", "100"], "--margin must lie above 0"),
        (["--margin=-5"], "--margin must lie above 0"), (["--margin", "nan"], "--margin must lie above 0"),
        (["--margin", "five"], "five"),
        (["--baseline", "cfs"], "--baseline: 'cfs' is not an arm"),
        (["--baseline", "user:fifo"], "--baseline user:fifo is not one of the arms (eevdf, bpf, user:bpfland:1, user:bpfland:8)"),
        (["--modes", "bpf,user:bpfland", "--baseline", "eevdf"], "--baseline eevdf is not one of the arms (bpf, user:bpfland)"),
        (["--check-against", "/nonexistent"], "--check-against /nonexistent: cannot read /nonexistent/experiment.json"),
    ])
    func compareRefuses(arguments: [String], message: String) {
        do {
            _ = try CompareCommand.parse(arguments)
            Issue.record("compare \(arguments) was accepted")
        } catch {
            let text = CompareCommand.message(for: error)
            #expect(text.contains(message), "compare \(arguments): \(text)")
        }
    }

    @Test(arguments: [
        (["--cpus", "0", "--", "true"], "--cpus must be between 1 and 64"),
        (["--cpus=-1", "--", "true"], "--cpus must be between 1 and 64"),
        (["--cpus", "65", "--", "true"], "--cpus must be between 1 and 64"), (["--cpus", "x", "--", "true"], "'x'"),
        (["--memory", "0", "--", "true"], "--memory"), (["--memory", "100M", "--", "true"], "at least 256M"),
        (["--memory", "-1G", "--", "true"], "--memory"), (["--memory", "12Q", "--", "true"], "unknown unit"),
        (["--memory", "2T", "--", "true"], "--memory"),
        (["--kernel", "/nonexistent", "--", "true"], "--kernel /nonexistent"),
        (["--kernel", "/etc/hostname", "--", "true"], "not a kernel image"),
        (["--add", "relative/nonexistent", "--", "true"], "--add"), (["--add", "/nonexistent", "--", "true"], "--add"),
        (["--timeout", "0", "--", "true"], "--timeout"), (["--timeout=-3", "--", "true"], "--timeout"),
        (["--timeout", "nan", "--", "true"], "--timeout"), (["--timeout", "soon", "--", "true"], "soon"),
        (["--results", "nocolon", "--", "true"], "GUESTDIR:HOSTDIR"), (["--results", "/:out", "--", "true"], "other than /"),
        (["--results", "/r:", "--", "true"], "host directory is empty"),
        (["--accel", "warp", "--", "true"], "--accel must be auto, kvm or tcg"),
        (["--boot-timeout", "0", "--", "true"], "--boot-timeout"), (["--boot-timeout=-1", "--", "true"], "--boot-timeout"),
        ([], "no COMMAND given"), (["--"], "no COMMAND given"), (["--", " "], "COMMAND"),
    ])
    func vmRefuses(arguments: [String], message: String) {
        do {
            let command = try VMCommand.parse(arguments)
            _ = try command.makeOptions()
            Issue.record("vm \(arguments) was accepted")
        } catch {
            let text = VMCommand.message(for: error)
            #expect(text.contains(message), "vm \(arguments): \(text)")
        }
    }
}
