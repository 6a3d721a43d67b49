@testable import BPFLoader
import SwiftlandABI
import Testing

@Suite("Exit info decoding")
struct ExitInfoTests {
    @Test func detachFromUserSpace() {
        let info = ExitInfo(kind: 64, reason: "unregistered from user space")
        #expect(!info.isRunning)
        #expect(!info.isError)
        #expect(!info.wantsRestart)
        #expect(info.summary == #"exit: UNREG (64) "unregistered from user space""#)
    }

    @Test func watchdogStall() {
        let info = ExitInfo(kind: 1026, reason: "runnable task stall", message: "kworker/0:1[12] failed to run for 5.2s")
        #expect(info.isError)
        #expect(info.kindName == "ERROR_STALL")
        #expect(info.summary.contains("message: kworker/0:1[12] failed to run for 5.2s"))
    }

    @Test func hotplugAsksForRestart() {
        // SCX_ECODE_ACT_RESTART | SCX_ECODE_RSN_HOTPLUG, as the kernel sets it.
        let info = ExitInfo(kind: 66, exitCode: (1 << 48) | (1 << 32), reason: "CPU 1 going offline")
        #expect(info.wantsRestart)
        #expect(info.isHotplug)
        #expect(!info.isError)
        #expect(info.summary.contains("code=0x1000100000000 [restart: CPU hotplug]"))
    }

    @Test func runningScheduler() {
        #expect(ExitInfo(kind: 0).isRunning)
        #expect(ExitInfo(kind: 9999).kindName == "UNKNOWN")
    }

    @Test func decodesTheRawStruct() {
        var raw = swl_exit_info()
        raw.kind = 1025
        raw.exit_cpu = 1
        raw.exit_code = 7
        withUnsafeMutableBytes(of: &raw.reason) { buf in
            for (i, b) in "scx_bpf_error".utf8.enumerated() { buf[i] = b }
        }
        withUnsafeMutableBytes(of: &raw.msg) { buf in
            for (i, b) in "swiftland: task has no context".utf8.enumerated() { buf[i] = b }
        }
        let info = ExitInfo(raw)
        #expect(info == ExitInfo(kind: 1025, exitCPU: 1, exitCode: 7, reason: "scx_bpf_error",
                                 message: "swiftland: task has no context"))
        #expect(info.kindName == "ERROR_BPF")
    }

    @Test func verifierLogTail() {
        let log = (1...100).map { "line \($0)" }.joined(separator: "\n") + "\n\n"
        let tail = BPFObject.tail(of: log, lines: 3)
        #expect(tail == "line 98\nline 99\nline 100")
        // A 7.x log: the verdict and its explanation, not the long causal path.
        let explained = """
            0: R1=ctx() R10=fp0
            59: (79) r1 = *(u64 *)(r8 +16)
            R8 invalid mem access 'scalar'

            Verification failed: Register Type Safety: Invalid dereference

            Reason:
              R8 is an integer scalar here, not a pointer to memory.

            Causal path:
              swl_enqueue @ main.bpf.c:173:9
              a great many lines
            processed 25 insns (limit 1000000)
            """
        let verdict = BPFObject.tail(of: explained)
        #expect(verdict.hasPrefix("R8 invalid mem access 'scalar'"))
        #expect(verdict.contains("R8 is an integer scalar here"))
        #expect(!verdict.contains("a great many lines"))
        #expect(verdict.hasSuffix("processed 25 insns (limit 1000000)"))
        #expect(BPFObject.failedProgram(in: [
            "libbpf: map 'x': created", "libbpf: prog 'swl_enqueue': BPF program load failed: Permission denied",
        ]) == "swl_enqueue")
        #expect(BPFObject.failedProgram(in: ["libbpf: nothing"]) == nil)
    }
}
