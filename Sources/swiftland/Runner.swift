import BPFLoader
import Foundation
import Glibc

/// The life of `swiftland run`: attach, watch, report, and load again when the kernel asks
/// for a restart (CPU hotplug).
struct Runner {
    let config: SchedulerConfig
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
    }

    /// Runs until a signal, the duration, or a kernel exit that is not a restart.
    /// Returns false when the kernel ejected the scheduler with an error.
    func run() throws(SchedulerError) -> Bool {
        let preflight = Preflight()
        try preflight.check()
        let deadline = duration.map { Date().addingTimeInterval($0) }
        while true {
            let scheduler = try BPFScheduler(
                config: config, hotplugSeq: preflight.hotplugSeq(), verbose: verbose, objectBytes: objectBytes)
            try scheduler.attach()
            Terminal.out("swiftland: attached, mode bpf (\(describe(config)))")
            let outcome = watch(scheduler, until: deadline)
            scheduler.detach()
            let info = scheduler.exitInfo()
            switch outcome {
            case .signal(let sig): Terminal.out("swiftland: \(signalName(sig)) received, detached")
            case .duration: Terminal.out("swiftland: --duration reached, detached")
            case .kernelExit: Terminal.out("swiftland: the kernel stopped the scheduler")
            }
            Terminal.out("swiftland: \(info.summary)")
            if info.isError {
                let dump = scheduler.exitDump()
                if !dump.isEmpty { Terminal.out("swiftland: kernel debug dump:\n\(dump)") }
            }
            Terminal.out("swiftland: counters: \(scheduler.counters().line(for: config.mode))")
            if case .kernelExit = outcome, info.wantsRestart {
                Terminal.out("swiftland: restarting as the kernel asked\(info.isHotplug ? " (CPU hotplug)" : "")")
                continue
            }
            return !info.isError
        }
    }

    private func watch(_ scheduler: BPFScheduler, until deadline: Date?) -> Outcome {
        var nextStats = statsInterval.map { Date().addingTimeInterval($0) }
        while true {
            if let sig = signals.wait(milliseconds: 100) { return .signal(sig) }
            if !scheduler.exitInfo().isRunning { return .kernelExit }
            let now = Date()
            if let deadline, now >= deadline { return .duration }
            if let interval = statsInterval, let due = nextStats, now >= due {
                Terminal.out("swiftland: \(scheduler.counters().line(for: config.mode))")
                nextStats = due.addingTimeInterval(interval)
            }
        }
    }

    private func describe(_ c: SchedulerConfig) -> String {
        "slice \(c.sliceUs) us, min \(c.sliceMinUs) us, lag \(c.sliceLagUs) us, starvation \(c.starvationThreshUs) us, nvcsw max \(c.nvcswMaxThresh), timeout \(c.timeoutMs) ms\(c.localKthreads ? ", local kthreads" : "")"
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
