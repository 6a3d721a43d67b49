import BPFLoader
import CBPFShim
import Foundation
import Glibc
import Logging
import ScxStats

/// The life of `swiftland run`: attach, watch, report, and load again when the kernel asks
/// for a restart (CPU hotplug). In user mode a scheduling thread runs beside it.
struct Runner {
    let config: SchedulerConfig
    /// user mode only: makes a new scheduling loop for each attachment.
    let makeLoop: (() -> any SchedulingLoop)?
    let verbose: Bool
    let objectBytes: [UInt8]?
    let statsInterval: Double?
    let duration: Double?
    let signals: SignalWaiter
    /// Where the stats server listens while the scheduler runs.
    let statsSocket: String
    private let board = StatsBoard()
    private let live = LiveCost()
    private let log = Log.swiftland

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
        // No transparent huge pages in user mode: khugepaged collapses 2 MiB of a process's
        // memory every 10 s or so (scan_sleep_millisecs), and the scheduling thread faults
        // once on any page of the range while it is being copied (seen under THP "always":
        // its malloc arena, one fault per run). mlockall does not prevent a collapse.
        if makeLoop != nil {
            let err = swl_disable_thp()
            if err != 0 {
                Terminal.error("swiftland: warning: PR_SET_THP_DISABLE failed (\(errnoName(-err))); the scheduling thread may page-fault when khugepaged collapses its memory")
            }
        }
        if makeLoop != nil, mlockall(MCL_CURRENT | MCL_FUTURE) != 0 {
            // Not fatal: page faults are counted, and the fallback bound covers a stall.
            log.warning("mlockall failed (\(errnoName(errno))); the scheduling thread may page-fault")
        }
        let deadline = duration.map { Date().addingTimeInterval($0) }
        var server: StatsServer?
        defer { server?.stop() }
        while true {
            var config = self.config
            let thread = makeLoop?()
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
            let meter = CostMeter(scheduler: scheduler, schedTid: thread.map { _ in config.schedTid })
            log.notice("attached, \(describe(config, thread))")
            board.publish(counters(scheduler, thread).sample(mode: config.mode))
            live.set(meter)
            if server == nil { server = startStatsServer() }
            let outcome = watch(scheduler, thread, signals, until: deadline, publishing: server != nil)
            // Before detaching: the cost of the attachment itself, not of the way out.
            live.set(nil)
            let spent = meter.spent()
            scheduler.detach()
            thread?.stop()
            let info = scheduler.exitInfo()
            switch outcome {
            case .signal(let sig): log.notice("\(signalName(sig)) received, detached")
            case .duration: log.notice("--duration reached, detached")
            case .kernelExit: log.notice("the kernel stopped the scheduler")
            case .userLoopFailed(let why): log.error("the scheduling thread failed (\(why)), detached")
            }
            log.log(level: info.isError ? .error : .notice, "\(info.summary)")
            if info.isError {
                let dump = scheduler.exitDump()
                if !dump.isEmpty { log.error("kernel debug dump:\n\(dump)") }
            }
            let final = counters(scheduler, thread)
            board.publish(RunStats.sample(final, mode: config.mode, cost: spent))
            Terminal.out("swiftland: counters: \(final.line(for: config.mode))")
            Terminal.out("swiftland: cost: \(CostMeter.fields(spent))")
            log.notice("\(CostMeter.summary(spent))")
            if config.mode.usesUserSpace {
                // user mode's queueing, as a distribution (compare plots it).
                Terminal.out("swiftland: \(RunOutput.decisionHistogramPrefix)\(final.decisionHistogram.map(String.init).joined(separator: ","))")
                Terminal.out("swiftland: \(RunOutput.runHistogramPrefix)\(final.runHistogram.map(String.init).joined(separator: ","))")
            }
            if case .kernelExit = outcome, info.wantsRestart {
                log.notice("restarting as the kernel asked\(info.isHotplug ? " (CPU hotplug)" : "")")
                continue
            }
            if case .userLoopFailed = outcome { return false }
            return !info.isError
        }
    }

    /// Serves the counters over sched-ext's stats socket, with the cost read at each request
    /// (`LiveCost`); a failure is reported and the scheduler runs on without it.
    private func startStatsServer() -> StatsServer? {
        let board = self.board
        let live = self.live
        let responder = StatsResponder(schema: RunStats.schema) {
            let sample = board.sample
            return live.spent().map { RunStats.adding($0, to: sample) } ?? sample
        }
        do {
            return try StatsServer(path: statsSocket, responder: responder)
        } catch {
            log.warning("no stats server: \(error)")
            return nil
        }
    }

    /// `publishing`: refresh the stats server's counters at every tick (100 ms). Returns on
    /// any signal of `signals`.
    private func watch(
        _ scheduler: BPFScheduler, _ thread: (any SchedulingLoop)?, _ signals: SignalWaiter,
        until deadline: Date?, publishing: Bool
    ) -> Outcome {
        var nextStats = statsInterval.map { Date().addingTimeInterval($0) }
        while true {
            if let sig = signals.wait(milliseconds: 100) { return .signal(sig) }
            if !scheduler.exitInfo().isRunning { return .kernelExit }
            if let why = thread?.error { return .userLoopFailed(why) }
            let now = Date()
            if let deadline, now >= deadline { return .duration }
            let due = statsInterval != nil && nextStats.map { now >= $0 } == true
            guard publishing || due else { continue }
            let current = counters(scheduler, thread)
            if publishing { board.publish(current.sample(mode: config.mode)) }
            if due, let interval = statsInterval, let next = nextStats {
                Terminal.out("swiftland: \(current.line(for: config.mode))")
                nextStats = next.addingTimeInterval(interval)
            }
        }
    }

    /// The kernel side's counters, and user space's own in user mode.
    private func counters(_ scheduler: BPFScheduler, _ thread: (any SchedulingLoop)?) -> Counters {
        scheduler.counters(userSpace: thread.map { Self.userSpaceCounters($0.snapshot) })
    }

    static func userSpaceCounters(_ s: LoopSnapshot) -> UserSpaceCounters {
        var u = UserSpaceCounters()
        u.queued = s.queued
        u.held = s.held
        u.loops = s.loops
        u.pageFaults = s.pageFaults
        u.ringRetries = s.ringErrors
        if let p = s.policy {
            u.interactive = UInt64(p.interactive)
            u.prioDispatches = p.prioDispatches
            u.regularDispatches = p.regularDispatches
            u.starvation = p.starvationRegular + p.starvationPrio
        }
        return u
    }

    private func describe(_ c: SchedulerConfig, _ loop: (any SchedulingLoop)?) -> String {
        var s = "mode \(c.mode.rawValue)"
        if let loop {
            s += ", policy \(loop.policyName), batch \(loop.options.batch), wakeup \(c.wakeup.rawValue), fallback \(c.fallbackMs) ms"
        }
        s += ", preempt \(c.preempt ? "on" : "off")"
        if c.mode == .bpf { s += ", ordering \(c.ordering.rawValue)" }
        s += " (slice \(c.sliceUs) us, min \(c.sliceMinUs) us, lag \(c.sliceLagUs) us, starvation \(c.starvationThreshUs) us, nvcsw max \(c.nvcswMaxThresh), timeout \(c.timeoutMs) ms\(c.localKthreads ? ", local kthreads" : ""))"
        return s
    }
}

public func signalName(_ sig: Int32) -> String {
    switch sig {
    case SIGINT: "SIGINT"
    case SIGTERM: "SIGTERM"
    default: "signal \(sig)"
    }
}

/// Blocks the given signals for the whole process and waits for them synchronously, so no
/// handler runs at an arbitrary point while the scheduler is attached.
public struct SignalWaiter: Sendable {
    private var set = sigset_t()

    public init(_ signals: [Int32]) {
        sigemptyset(&set)
        for s in signals { sigaddset(&set, s) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// The signal received within the timeout, or nil.
    public func wait(milliseconds: Int) -> Int32? {
        var set = self.set
        var timeout = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
        let sig = sigtimedwait(&set, nil, &timeout)
        return sig > 0 ? sig : nil
    }
}
