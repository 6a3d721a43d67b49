import CBPFShim
import CLibbpf
import Foundation
import Glibc
import SystemPackage

/// Time the kernel spent running BPF programs, as it counts it per program (run_time_ns,
/// run_cnt of the program's info). The kernel counts only while BPF statistics are on:
/// each run then costs two more clock reads, so they are off unless someone turns them on
/// (`BPFStatistics`).
public struct ProgramRunTime: Sendable, Equatable {
    public var runTimeNs: UInt64
    public var runCount: UInt64

    public init(runTimeNs: UInt64, runCount: UInt64) {
        self.runTimeNs = runTimeNs
        self.runCount = runCount
    }

    public static let zero = ProgramRunTime(runTimeNs: 0, runCount: 0)

    public static func + (a: ProgramRunTime, b: ProgramRunTime) -> ProgramRunTime {
        ProgramRunTime(runTimeNs: a.runTimeNs &+ b.runTimeNs, runCount: a.runCount &+ b.runCount)
    }

    /// What ran between `earlier` and this reading.
    public func since(_ earlier: ProgramRunTime) -> ProgramRunTime {
        ProgramRunTime(runTimeNs: runTimeNs &- earlier.runTimeNs, runCount: runCount &- earlier.runCount)
    }
}

/// Making the kernel count BPF programs' run time for a while.
///
/// It counts while the sysctl kernel.bpf_stats_enabled is 1 or any session is open. The
/// sysctl reads back only what was written to it, not whether a session is open, so
/// whether run time is counted shows best in the counts themselves: a program that runs
/// while counting is off keeps its run count.
public enum BPFStatistics {
    /// Run time is counted for as long as a session lives (BPF_ENABLE_STATS). Its
    /// descriptor closes with it, or when the process dies, and then the kernel stops
    /// counting unless the sysctl or another session keeps it on: nothing is left
    /// changed. Needs CAP_SYS_ADMIN.
    public final class Session {
        private let fd: Int32

        public init() throws(SchedulerError) {
            let fd = bpf_enable_stats(BPF_STATS_RUN_TIME)
            guard fd >= 0 else { throw .statisticsUnavailable(what: "cannot turn on BPF statistics (BPF_ENABLE_STATS)", errno: Errno(rawValue: -fd)) }
            self.fd = fd
        }

        deinit { close(fd) }
    }
}

extension BPFObject {
    /// The run time of every loaded program of the object, added up.
    public func programRunTime() throws(SchedulerError) -> ProgramRunTime {
        var total = ProgramRunTime.zero
        var prog = bpf_object__next_program(handle, nil)
        while let p = prog {
            prog = bpf_object__next_program(handle, p)
            let fd = bpf_program__fd(p)
            guard fd >= 0 else { continue }  // not loaded (autoload off)
            var ns: UInt64 = 0, count: UInt64 = 0
            let err = swl_prog_run_time(fd, &ns, &count)
            if err != 0 {
                throw .statisticsUnavailable(
                    what: "cannot read the run time of program \(String(cString: bpf_program__name(p)))", errno: Errno(rawValue: -err))
            }
            total = total + ProgramRunTime(runTimeNs: ns, runCount: count)
        }
        return total
    }
}
