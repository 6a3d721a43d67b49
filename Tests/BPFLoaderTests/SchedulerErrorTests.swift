import BPFLoader
import Glibc
import SystemPackage
import Testing

@Suite("scheduler errors: what failed, the errno's name, what to do")
struct SchedulerErrorTests {
    @Test("the error names what failed and what it needs")
    func errorText() {
        let text = SchedulerError.statisticsUnavailable(what: "cannot turn on BPF statistics (BPF_ENABLE_STATS)", errno: .notPermitted).description
        #expect(text.hasPrefix("cannot turn on BPF statistics (BPF_ENABLE_STATS): EPERM"))
        #expect(text.contains("CAP_SYS_ADMIN"))
    }

    /// The names the loader's messages give: the C library's, and ENOTSUPP (524), which
    /// BPF system calls return and the C library does not know.
    @Test("an errno is named as in C, with the C library's text")
    func errnoNames() {
        let names: [(Int32, String)] = [
            (EPERM, "EPERM"), (ENOENT, "ENOENT"), (ESRCH, "ESRCH"), (E2BIG, "E2BIG"), (ENOMEM, "ENOMEM"),
            (EACCES, "EACCES"), (EBUSY, "EBUSY"), (EEXIST, "EEXIST"), (EINVAL, "EINVAL"), (ENOSPC, "ENOSPC"),
            (EOPNOTSUPP, "EOPNOTSUPP"), (524, "ENOTSUPP"),
        ]
        for (value, name) in names {
            #expect(Errno(rawValue: value).name == name)
        }
        #expect(Errno.notPermitted.nameAndText == "EPERM (Operation not permitted)")
        #expect(Errno.kernelNotSupported.nameAndText == "ENOTSUPP (Unknown error 524)")
        #expect(Errno(rawValue: 4000).nameAndText == "errno 4000 (Unknown error 4000)")
        #expect(SchedulerError.attachFailed(errno: .resourceBusy).description == "cannot attach the scheduler: EBUSY (Device or resource busy).")
    }
}
