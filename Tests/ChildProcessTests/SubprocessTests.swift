import ChildProcess
import Foundation
import Glibc
import Testing

@Suite("ChildProcess: running programs")
struct SubprocessTests {
    @Test func runCapturesOrMergesStderr() throws {
        let script = "echo out; echo err >&2; echo more; exit 3"
        let apart = try Subprocess.run("/bin/sh", ["-c", script])
        #expect(apart.termination == .exited(3))
        #expect(apart.stdoutText == "out\nmore\n")
        #expect(apart.stderrText == "err\n")
        let merged = try Subprocess.run("/bin/sh", ["-c", script], stderr: .mergedWithOutput)
        #expect(merged.stdoutText == "out\nerr\nmore\n")
        #expect(merged.stderr.isEmpty)
    }

    @Test func inputReachesStdin() throws {
        let out = try Subprocess.run("/bin/cat", [], input: Data("through stdin".utf8))
        #expect(out.stdoutText == "through stdin")
        #expect(out.termination.succeeded)
    }

    @Test func pollSeesARunningChildThenItsEnd() throws {
        let pid = try Subprocess.spawn("/bin/sleep", ["30"])
        #expect(Subprocess.poll(pid) == nil)
        kill(pid, SIGTERM)
        var ended: Subprocess.Termination?
        for _ in 0..<500 where ended == nil {
            ended = Subprocess.poll(pid)
            usleep(10_000)
        }
        #expect(ended == .signaled(SIGTERM))
        #expect(ended?.shellStatus == 128 + SIGTERM)
    }

    @Test func newProcessGroupPutsTheChildInAGroupOfItsOwn() throws {
        let own = try Subprocess.run("/bin/sh", ["-c", "ps -o pgid= -p $$"], newProcessGroup: true)
        let ours = try Subprocess.run("/bin/sh", ["-c", "ps -o pgid= -p $$"])
        #expect(Int32(ours.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)) == getpgrp())
        #expect(Int32(own.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)) != getpgrp())
    }

    @Test func aMissingProgramIsAnError() {
        #expect(throws: Subprocess.Failure.self) { try Subprocess.run("/nonexistent/program", []) }
        #expect(Subprocess.which("sh") != nil)
        #expect(Subprocess.which("no-such-program-here") == nil)
    }
}
