/*
 * swiftland's run-queue latency tracer: how long each task waits runnable before it runs,
 * measured on the kernel's scheduler tracepoints, so it is the same instrument under
 * EEVDF and under any sched_ext scheduler (it does not touch sched_ext at all and loads
 * on kernels without it).
 *
 * A task's wait starts when it is woken (sched_wakeup, sched_wakeup_new) or preempted
 * while still runnable (sched_switch with prev runnable), and ends when sched_switch
 * picks it. Waits go into a log2 microsecond histogram (bucket 0: [0, 1) us, bucket n:
 * [2^(n-1), 2^n) us). With a command-name filter, only tasks with one of up to
 * SWL_TRACED_COMMS names are timed (the seed measured only the wrk clients; a client and
 * its server need two names).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "intf.h"
#include "hist.bpf.h"

char _license[] SEC("license") = "GPL";

#define TASK_RUNNING 0

/* Set before load: time only tasks whose comm equals one of the first filter_count names
 * (every task when filter_count is 0). */
const volatile u32 filter_count;
const volatile char filter_comms[SWL_TRACED_COMMS][16];

/* Read by user space. */
u64 rqlat_hist[SWL_HIST_BUCKETS];
u64 rqlat_count;
u64 rqlat_sum_ns;
u64 rqlat_max_ns;

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, u64); /* when the current wait started, 0 when not waiting */
} wait_start SEC(".maps");

static __always_inline bool same_comm(const struct task_struct *p, const volatile char *comm)
{
	int i;

	for (i = 0; i < 16; i++) {
		if (p->comm[i] != comm[i])
			return false;
		if (!comm[i])
			break;
	}
	return true;
}

static __always_inline bool wanted(const struct task_struct *p)
{
	int n;

	if (!filter_count)
		return true;
	for (n = 0; n < SWL_TRACED_COMMS && n < filter_count; n++) {
		if (same_comm(p, filter_comms[n]))
			return true;
	}
	return false;
}

static __always_inline void wait_begins(struct task_struct *p)
{
	u64 *ts;

	if (!p->pid || !wanted(p))
		return;
	ts = bpf_task_storage_get(&wait_start, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (ts)
		*ts = bpf_ktime_get_ns();
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(rqlat_wakeup, struct task_struct *p)
{
	wait_begins(p);
	return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(rqlat_wakeup_new, struct task_struct *p)
{
	wait_begins(p);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(rqlat_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	u64 *ts, delta, max;

	/* Preempted while runnable: it waits again from now. */
	if (prev->__state == TASK_RUNNING)
		wait_begins(prev);

	if (!next->pid)
		return 0;
	ts = bpf_task_storage_get(&wait_start, next, 0, 0);
	if (!ts || !*ts)
		return 0;
	delta = bpf_ktime_get_ns() - *ts;
	*ts = 0;
	swl_hist_add(rqlat_hist, delta);
	__sync_fetch_and_add(&rqlat_count, 1);
	__sync_fetch_and_add(&rqlat_sum_ns, delta);
	max = rqlat_max_ns;
	if (delta > max)
		__sync_val_compare_and_swap(&rqlat_max_ns, max, delta);
	return 0;
}
