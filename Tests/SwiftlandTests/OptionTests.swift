import ArgumentParser
@testable import swiftland
import Testing

@Suite("swiftland run: option validation")
struct OptionTests {
    @Test func defaults() throws {
        let cmd = try RunCommand.parse([])
        #expect(cmd.config.sliceUs == 5000)
        #expect(cmd.config.sliceMinUs == 500)
        #expect(cmd.config.timeoutMs == 5000)
        #expect(cmd.mode == .bpf)
        #expect(cmd.config.preempt && cmd.config.ordering == .classes)
        #expect(cmd.config.problem() == nil)
        let old = try RunCommand.parse(["--preempt", "off", "--ordering", "deadline"])
        #expect(!old.config.preempt && old.config.ordering == .deadline)
    }

    @Test func scxStyleShortOptions() throws {
        let cmd = try RunCommand.parse(["-s", "20000", "-S", "1000", "-l", "40000", "-c", "0", "-t", "1000", "-k",
                                        "--timeout-ms", "30000", "--stats", "1.5", "--duration", "20", "--mode", "bpf"])
        #expect(cmd.config.sliceUs == 20000)
        #expect(cmd.config.sliceMinUs == 1000)
        #expect(cmd.config.sliceLagUs == 40000)
        #expect(cmd.config.nvcswMaxThresh == 0)
        #expect(cmd.config.starvationThreshUs == 1000)
        #expect(cmd.config.localKthreads)
        #expect(cmd.options.output.stats == 1.5)
        #expect(cmd.options.output.duration == 20)
    }

    @Test(arguments: [
        (["-s", "100", "-S", "200"], "shortest slice cannot be longer"),
        (["-s", "0"], "--slice-us must be above 0"),
        (["-S", "0"], "--slice-us-min must be above 0"),
        (["--timeout-ms", "30001"], "above 30000, the most sched_ext accepts"),
        (["--timeout-ms", "0"], "--timeout-ms must be above 0"),
        (["-t", "0"], "--starvation-thresh-us must be above 0"),
        (["--stats", "0"], "--stats must be"),
        (["--duration=-1"], "--duration must be"),
        (["--slice-us=-5"], "-5"),
        (["-s", "abc"], "abc"),
        (["--timeout-ms", "1e3"], "1e3"),
        (["--mode", "quantum"], "quantum"),
        (["--no-such-option"], "no-such-option"),
    ])
    func rejected(arguments: [String], message: String) {
        do {
            _ = try RunCommand.parse(arguments)
            Issue.record("\(arguments) was accepted")
        } catch {
            let text = RunCommand.message(for: error)
            #expect(text.contains(message), "\(arguments): \(text)")
        }
    }
}
