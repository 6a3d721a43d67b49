import BPFLoader
import Embedded
import SwiftlandABI
import Testing

/// bpf/intf.h is compiled twice: by clang for the BPF target and by Swift's clang importer
/// for x86_64. These tests compare the two views, member by member, using the BTF of the
/// object that was actually built and embedded.
@Suite("ABI: Swift's view of bpf/intf.h matches the built BPF object")
struct ABITests {
    let layout: BPFObject

    init() throws { layout = try BPFObject(bytes: Embedded.schedulerObject, name: "swiftland") }

    func check<T>(_ name: String, _ type: T.Type, _ swiftOffsets: [String: Int?]) {
        #expect(layout.size(of: name) == MemoryLayout<T>.size, "size of struct \(name)")
        guard let members = layout.members(of: name) else {
            Issue.record("struct \(name) is not in the object's BTF")
            return
        }
        #expect(Set(members.map(\.name)) == Set(swiftOffsets.keys), "members of struct \(name)")
        for m in members {
            #expect(swiftOffsets[m.name] == .some(m.offset), "offset of \(name).\(m.name)")
        }
    }

    @Test func config() {
        check("swl_config", swl_config.self, [
            "slice_ns": MemoryLayout<swl_config>.offset(of: \.slice_ns),
            "slice_min_ns": MemoryLayout<swl_config>.offset(of: \.slice_min_ns),
            "slice_lag_ns": MemoryLayout<swl_config>.offset(of: \.slice_lag_ns),
            "starvation_thresh_ns": MemoryLayout<swl_config>.offset(of: \.starvation_thresh_ns),
            "nvcsw_max_thresh": MemoryLayout<swl_config>.offset(of: \.nvcsw_max_thresh),
            "local_kthreads": MemoryLayout<swl_config>.offset(of: \.local_kthreads),
            "mode": MemoryLayout<swl_config>.offset(of: \.mode),
            "wakeup": MemoryLayout<swl_config>.offset(of: \.wakeup),
            "sched_tid": MemoryLayout<swl_config>.offset(of: \.sched_tid),
            "preempt": MemoryLayout<swl_config>.offset(of: \.preempt),
            "ordering": MemoryLayout<swl_config>.offset(of: \.ordering),
            "fallback_ns": MemoryLayout<swl_config>.offset(of: \.fallback_ns),
            "wait_max_ns": MemoryLayout<swl_config>.offset(of: \.wait_max_ns),
            "bypass_target_ns": MemoryLayout<swl_config>.offset(of: \.bypass_target_ns),
            "bypass_interval_ns": MemoryLayout<swl_config>.offset(of: \.bypass_interval_ns),
        ])
    }

    @Test func stats() {
        check("swl_stats", swl_stats.self, [
            "nr_running": MemoryLayout<swl_stats>.offset(of: \.nr_running),
            "nr_interactive": MemoryLayout<swl_stats>.offset(of: \.nr_interactive),
            "nr_waiting": MemoryLayout<swl_stats>.offset(of: \.nr_waiting),
            "nvcsw_avg_thresh": MemoryLayout<swl_stats>.offset(of: \.nvcsw_avg_thresh),
            "nr_direct_dispatches": MemoryLayout<swl_stats>.offset(of: \.nr_direct_dispatches),
            "nr_prio_dispatches": MemoryLayout<swl_stats>.offset(of: \.nr_prio_dispatches),
            "nr_shared_dispatches": MemoryLayout<swl_stats>.offset(of: \.nr_shared_dispatches),
            "nr_kthread_dispatches": MemoryLayout<swl_stats>.offset(of: \.nr_kthread_dispatches),
            "nr_starvation_shared": MemoryLayout<swl_stats>.offset(of: \.nr_starvation_shared),
            "nr_starvation_prio": MemoryLayout<swl_stats>.offset(of: \.nr_starvation_prio),
            "nr_kept": MemoryLayout<swl_stats>.offset(of: \.nr_kept),
            "nr_starvation_tasks": MemoryLayout<swl_stats>.offset(of: \.nr_starvation_tasks),
            "nr_preempt_asked": MemoryLayout<swl_stats>.offset(of: \.nr_preempt_asked),
            "nr_preempt_granted": MemoryLayout<swl_stats>.offset(of: \.nr_preempt_granted),
            "nr_preempt_refused": MemoryLayout<swl_stats>.offset(of: \.nr_preempt_refused),
            "nr_preempt_deferred": MemoryLayout<swl_stats>.offset(of: \.nr_preempt_deferred),
            "nr_in_flight": MemoryLayout<swl_stats>.offset(of: \.nr_in_flight),
            "nr_sent": MemoryLayout<swl_stats>.offset(of: \.nr_sent),
            "nr_user_dispatches": MemoryLayout<swl_stats>.offset(of: \.nr_user_dispatches),
            "nr_kernel_dispatches": MemoryLayout<swl_stats>.offset(of: \.nr_kernel_dispatches),
            "nr_bounce_dispatches": MemoryLayout<swl_stats>.offset(of: \.nr_bounce_dispatches),
            "nr_cancel_dispatches": MemoryLayout<swl_stats>.offset(of: \.nr_cancel_dispatches),
            "nr_invalid_dispatches": MemoryLayout<swl_stats>.offset(of: \.nr_invalid_dispatches),
            "nr_missing_tasks": MemoryLayout<swl_stats>.offset(of: \.nr_missing_tasks),
            "nr_ring_full": MemoryLayout<swl_stats>.offset(of: \.nr_ring_full),
            "nr_user_timeouts": MemoryLayout<swl_stats>.offset(of: \.nr_user_timeouts),
            "nr_drain_errors": MemoryLayout<swl_stats>.offset(of: \.nr_drain_errors),
            "nr_drain_busy": MemoryLayout<swl_stats>.offset(of: \.nr_drain_busy),
            "nr_dequeued_in_flight": MemoryLayout<swl_stats>.offset(of: \.nr_dequeued_in_flight),
            "idle_in_flight_ns": MemoryLayout<swl_stats>.offset(of: \.idle_in_flight_ns),
            "decision_hist": MemoryLayout<swl_stats>.offset(of: \.decision_hist),
            "run_hist": MemoryLayout<swl_stats>.offset(of: \.run_hist),
            "in_bypass": MemoryLayout<swl_stats>.offset(of: \.in_bypass),
            "nr_bypass_entries": MemoryLayout<swl_stats>.offset(of: \.nr_bypass_entries),
            "bypass_ns": MemoryLayout<swl_stats>.offset(of: \.bypass_ns),
            "nr_bypass_dispatches": MemoryLayout<swl_stats>.offset(of: \.nr_bypass_dispatches),
            "nr_bypass_recalls": MemoryLayout<swl_stats>.offset(of: \.nr_bypass_recalls),
        ])
    }

    @Test func records() {
        check("swl_queued_task", swl_queued_task.self, [
            "pid": MemoryLayout<swl_queued_task>.offset(of: \.pid),
            "prev_cpu": MemoryLayout<swl_queued_task>.offset(of: \.prev_cpu),
            "nr_cpus_allowed": MemoryLayout<swl_queued_task>.offset(of: \.nr_cpus_allowed),
            "flags": MemoryLayout<swl_queued_task>.offset(of: \.flags),
            "enq_flags": MemoryLayout<swl_queued_task>.offset(of: \.enq_flags),
            "exec_runtime_ns": MemoryLayout<swl_queued_task>.offset(of: \.exec_runtime_ns),
            "nvcsw": MemoryLayout<swl_queued_task>.offset(of: \.nvcsw),
            "weight": MemoryLayout<swl_queued_task>.offset(of: \.weight),
            "vtime": MemoryLayout<swl_queued_task>.offset(of: \.vtime),
            "enq_seq": MemoryLayout<swl_queued_task>.offset(of: \.enq_seq),
            "enqueue_ts_ns": MemoryLayout<swl_queued_task>.offset(of: \.enqueue_ts_ns),
            "start_ts_ns": MemoryLayout<swl_queued_task>.offset(of: \.start_ts_ns),
            "stop_ts_ns": MemoryLayout<swl_queued_task>.offset(of: \.stop_ts_ns),
            "comm": MemoryLayout<swl_queued_task>.offset(of: \.comm),
        ])
        check("swl_dispatched_task", swl_dispatched_task.self, [
            "pid": MemoryLayout<swl_dispatched_task>.offset(of: \.pid),
            "cpu": MemoryLayout<swl_dispatched_task>.offset(of: \.cpu),
            "slice_ns": MemoryLayout<swl_dispatched_task>.offset(of: \.slice_ns),
            "vtime": MemoryLayout<swl_dispatched_task>.offset(of: \.vtime),
            "enq_seq": MemoryLayout<swl_dispatched_task>.offset(of: \.enq_seq),
            "flags": MemoryLayout<swl_dispatched_task>.offset(of: \.flags),
        ])
    }

    @Test func exitInfo() {
        check("swl_exit_info", swl_exit_info.self, [
            "kind": MemoryLayout<swl_exit_info>.offset(of: \.kind),
            "exit_cpu": MemoryLayout<swl_exit_info>.offset(of: \.exit_cpu),
            "exit_code": MemoryLayout<swl_exit_info>.offset(of: \.exit_code),
            "reason": MemoryLayout<swl_exit_info>.offset(of: \.reason),
            "msg": MemoryLayout<swl_exit_info>.offset(of: \.msg),
        ])
    }

    /// The check itself must be able to fail: a struct laid out differently is caught.
    @Test func mismatchIsDetected() {
        #expect(layout.size(of: "swl_stats") != MemoryLayout<swl_config>.size)
        #expect(layout.members(of: "no_such_struct") == nil)
    }
}
