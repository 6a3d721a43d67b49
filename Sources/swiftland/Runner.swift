import BPFLoader
import Foundation
import Glibc

/// The life of `swiftland run`: attach, watch, report, and load again when the kernel asks
/// for a restart (CPU hotplug). In user mode a scheduling thread runs beside it.
struct Runner {
    let config: SchedulerConfig
    /// user mode only.
    let userOptions: SchedulingThread.Options?
    let verbose: Bool
    let objectBytes: [UInt8]?
    let statsInterval: Double?
    let duration: Double?
    let signals: SignalWaiter

    /// Why one attachment ended.
    enum Outcome {
        case signal(Int32)
        case duration
        case kernelExit
        case userLoopFailed(String)
    }

    /// Runs until a signal, the duration, or a kernel exit that is not a restart.
    /// Returns false when the scheduler ended with an error.
    func run() throws(SchedulerError) -> Bool {
        let preflight = Preflight()
        try preflight.check()
        if userOptions != nil, mlockall(MCL_CURRENT | MCL_FUTURE) != 0 {
            // Not fatal: page faults are counted, and the fallback bound covers a stall.
            Terminal.error("swiftland: warning: mlockall failed (\(errnoName(errno))); the scheduling thread may page-fault")
        }
        let deadline = duration.map { Date().addingTimeInterval($0) }
        while true {
            var config = self.config
            let thread = userOptions.map { SchedulingThread(options: $0) }
            if let thread { config.schedTid = thread.start() }
            let scheduler: BPFScheduler
            do {
                scheduler = try BPFScheduler(
                    config: config, hotplugSeq: preflight.hotplugSeq(), verbose: verbose, objectBytes: objectBytes)
                if let thread {
                    let fds = try scheduler.ringFDs()
                    thread.begin(queuedFD: fds.queued, dispatchedFD: fds.dispatched, idleCPUs: scheduler.idleCPUBitmap)
                }
                try scheduler.attach()
            } catch {
                thread?.stop()
                throw error
            }
            Terminal.out("swiftland: attached, \(describe(config))")
            let outcome = watch(scheduler, thread, until: deadline)
            scheduler.detach()
            thread?.stop()
            let info = scheduler.exitInfo()
            switch outcome {
            case .signal(let sig): Terminal.out("swiftland: \(signalName(sig)) received, detached")
            case .duration: Terminal.out("swiftland: --duration reached, detached")
            case .kernelExit: Terminal.out("swiftland: the kernel stopped the scheduler")
            case .userLoopFailed(let why): Terminal.out("swiftland: the scheduling thread failed (\(why)), detached")
            }
            Terminal.out("swiftland: \(info.summary)")
            if info.isError {
                let dump = scheduler.exitDump()
                if !dump.isEmpty { Terminal.out("swiftland: kernel debug dump:\n\(dump)") }
            }
            Terminal.out("swiftland: counters: \(statsLine(scheduler, thread))")
            if case .kernelExit = outcome, info.wantsRestart {
                Terminal.out("swiftland: restarting as the kernel asked\(info.isHotplug ? " (CPU hotplug)" : "")")
                continue
            }
            if case .userLoopFailed = outcome { return false }
            return !info.isError
        }
    }

    private func watch(_ scheduler: BPFScheduler, _ thread: SchedulingThread?, until deadline: Date?) -> Outcome {
        var nextStats = statsInterval.map { Date().addingTimeInterval($0) }
        while true {
            if let sig = signals.wait(milliseconds: 100) { return .signal(sig) }
            if !scheduler.exitInfo().isRunning { return .kernelExit }
            if let why = thread?.error { return .userLoopFailed(why) }
            let now = Date()
            if let deadline, now >= deadline { return .duration }
            if let interval = statsInterval, let due = nextStats, now >= due {
                Terminal.out("swiftland: \(statsLine(scheduler, thread))")
                nextStats = due.addingTimeInterval(interval)
            }
        }
    }

    /// The kernel side's counters of this mode, then user space's own (user mode).
    private func statsLine(_ scheduler: BPFScheduler, _ thread: SchedulingThread?) -> String {
        var line = scheduler.counters().line(for: config.mode)
        if let s = thread?.snapshot {
            line += " queued=\(s.queued) held=\(s.held) loops=\(s.loops) page_faults=\(s.pageFaults) ring_retries=\(s.ringErrors)"
            if userOptions?.hostileRecords == true { line += " test_hostile_sent=\(s.hostileSent)" }
            if let p = s.policy, config.mode == .user, userOptions?.policy == .bpfland {
                line += " interactive=\(p.interactive) prio=\(p.prioDispatches) regular=\(p.regularDispatches) starvation=\(p.starvationRegular + p.starvationPrio)"
            }
        }
        return line
    }

    private func describe(_ c: SchedulerConfig) -> String {
        var s = "mode \(c.mode.rawValue)"
        if let u = userOptions {
            s += ", policy \(u.policy.rawValue), batch \(u.batch), wakeup \(c.wakeup.rawValue), fallback \(c.fallbackMs) ms"
        }
        s += " (slice \(c.sliceUs) us, min \(c.sliceMinUs) us, lag \(c.sliceLagUs) us, starvation \(c.starvationThreshUs) us, nvcsw max \(c.nvcswMaxThresh), timeout \(c.timeoutMs) ms\(c.localKthreads ? ", local kthreads" : ""))"
        return s
    }
}

func signalName(_ sig: Int32) -> String {
    switch sig {
    case SIGINT: "SIGINT"
    case SIGTERM: "SIGTERM"
    default: "signal \(sig)"
    }
}

/// Blocks the given signals for the whole process and waits for them synchronously, so no
/// handler runs at an arbitrary point while the scheduler is attached.
struct SignalWaiter {
    private var set = sigset_t()

    init(_ signals: [Int32]) {
        sigemptyset(&set)
        for s in signals { sigaddset(&set, s) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// The signal received within the timeout, or nil.
    func wait(milliseconds: Int) -> Int32? {
        var set = self.set
        var timeout = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
        let sig = sigtimedwait(&set, nil, &timeout)
        return sig > 0 ? sig : nil
    }
}
