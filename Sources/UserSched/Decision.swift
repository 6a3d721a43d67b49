import SwiftlandABI

extension swl_dispatched_task {
    /// A policy's decision about task `pid`: run it on `cpu` (a CPU, or `SWL_CPU_ANY`) for
    /// `slice_ns` (0: the default), with the vruntime it was charged; `enq_seq` echoes the
    /// record it answers. With `preempt`, the kernel side runs it at once on a CPU whose
    /// running task comes after it by that vruntime, if the task woke up and such a CPU
    /// exists (see `SWL_DISPATCH_PREEMPT`); otherwise as without.
    public init(pid: Int32, cpu: Int32, slice_ns: UInt64, vtime: UInt64, enq_seq: UInt64, preempt: Bool = false) {
        self.init(pid: pid, cpu: cpu, slice_ns: slice_ns, vtime: vtime, enq_seq: enq_seq,
                  flags: preempt ? UInt64(SWL_DISPATCH_PREEMPT) : 0)
    }

    /// Whether this decision asks the kernel side to preempt for it.
    public var asksToPreempt: Bool { flags & UInt64(SWL_DISPATCH_PREEMPT) != 0 }
}

extension swl_queued_task {
    /// The task woke up (rather than used up its slice).
    public var wokeUp: Bool { flags & UInt32(SWL_QUEUED_WAKEUP) != 0 }

    /// `vtime` already includes every run of the task, the last one too (hybrid mode: the
    /// kernel side charges each run by the policies' rule, runtime x 100 / weight, so that
    /// runs it scheduled itself in bypass reach the policy's books). A policy adds nothing.
    public var isCharged: Bool { flags & UInt32(SWL_QUEUED_CHARGED) != 0 }
}
