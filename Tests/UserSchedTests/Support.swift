import SwiftlandABI
import UserSched

/// A queued-task record as the kernel side would send it; fields not given are 0.
func record(
    pid: Int32, vtime: UInt64 = 0, weight: UInt64 = 100, enqSeq: UInt64 = 1, startNs: UInt64 = 0,
    stopNs: UInt64 = 0, execRuntimeNs: UInt64 = 0, nvcsw: UInt64 = 0, enqueueNs: UInt64 = 0,
    prevCPU: Int32 = 0
) -> swl_queued_task {
    var task = swl_queued_task()
    task.pid = pid
    task.prev_cpu = prevCPU
    task.nr_cpus_allowed = 2
    task.vtime = vtime
    task.weight = weight
    task.enq_seq = enqSeq
    task.start_ts_ns = startNs
    task.stop_ts_ns = stopNs
    task.exec_runtime_ns = execRuntimeNs
    task.nvcsw = nvcsw
    task.enqueue_ts_ns = enqueueNs
    return task
}

/// Takes every held task out of `policy`, in the order it dispatches them.
func drain(_ policy: inout some SchedulingPolicy & ~Copyable, nowNs: UInt64 = 0) -> [swl_dispatched_task] {
    var out: [swl_dispatched_task] = []
    var idle = CPUMask()
    while let task = policy.next(nowNs: nowNs, idleCPUs: &idle) { out.append(task) }
    return out
}

let msNs: UInt64 = 1_000_000
let secondNs: UInt64 = 1_000_000_000
