import BPFLoader
import Glibc
import Testing

@Suite("scheduler errors: what failed, the errno's name, what to do")
struct SchedulerErrorTests {
    @Test("the error names what failed and what it needs")
    func errorText() {
        let text = SchedulerError.statisticsUnavailable(what: "cannot turn on BPF statistics (BPF_ENABLE_STATS)", errno: EPERM).description
        #expect(text.hasPrefix("cannot turn on BPF statistics (BPF_ENABLE_STATS): EPERM"))
        #expect(text.contains("CAP_SYS_ADMIN"))
    }
}
