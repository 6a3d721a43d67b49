/*
 * swiftland, bpf mode: the whole scheduling policy in BPF, after the 2024 design of
 * scx_bpfland (see README.md, "bpf mode").
 *
 *  - select_cpu: an idle CPU (the previous one first) gets the task directly, through
 *    that CPU's own DSQ.
 *  - Otherwise enqueue puts it into the priority DSQ (interactive tasks) or the shared
 *    DSQ (regular tasks), both ordered by vruntime, and kicks an idle CPU if one exists.
 *  - dispatch serves the CPU's own DSQ, then priority, then shared; a starvation guard
 *    serves shared (then priority) first when it has waited past the threshold.
 *  - A task is interactive when its average rate of voluntary context switches reaches a
 *    moving threshold; a sync wakeup promotes it until its average drops below.
 *  - The slice shrinks as more tasks wait: max(slice_max / (nr_waiting + 1), slice_min).
 *  - No task waits longer than wait_max_ns (a quarter of the watchdog timeout): a periodic
 *    scan serves such a task ahead of every queue's order, however light it is.
 *
 * user mode (cfg.mode == SWL_MODE_USER) keeps select_cpu's direct dispatch and sends
 * every other task to the Swift process over the `queued` ring buffer; the decisions come
 * back over the `dispatched` user ring buffer and are validated (dispatch_check.bpf.h)
 * before they are acted on. A task that cannot be sent (ring full) or waits in user space
 * past the fallback bound is dispatched by the kernel side, so no task is ever lost.
 *
 * Every kfunc call goes through compat.bpf.h; every structure user space reads is in
 * intf.h.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "intf.h"
#include "compat.bpf.h"
#include "dispatch_check.bpf.h"
#include "hist.bpf.h"

char _license[] SEC("license") = "GPL";

#define NSEC_PER_SEC 1000000000ULL
#define EBUSY 16              /* include/uapi/asm-generic/errno-base.h */
#define PF_KTHREAD 0x00200000 /* include/linux/sched.h: not in BTF */
#define CLOCK_MONOTONIC 1     /* include/uapi/linux/time.h */
#define SWL_RESCUE_MAX 16     /* tasks the wait guard serves per scan and DSQ */

/* Tunables: written by the loader before load, constant afterwards. */
const volatile struct swl_config cfg = {
	.slice_ns = 5000000ULL,
	.slice_min_ns = 500000ULL,
	.slice_lag_ns = 5000000ULL,
	.starvation_thresh_ns = 5000000ULL,
	.nvcsw_max_thresh = 10,
	.fallback_ns = 50000000ULL,
};

/* Read live by user space through the memory-mapped .bss. */
struct swl_stats stats;
struct swl_exit_info exit_info;
char exit_dump[SWL_EXIT_DUMP_LEN];
/*
 * The ring records are never globals, and BTF only describes the types of globals and
 * of what CO-RE touches: these two unused variables put the records into the object's
 * BTF, where the ABI test compares them with Swift's view of intf.h.
 */
struct swl_queued_task btf_anchor_queued_task;
struct swl_dispatched_task btf_anchor_dispatched_task;
/* user mode: bit n set while CPU n is idle, for a policy that picks CPUs. */
u64 idle_cpus[SWL_MAX_CPUS / 64];

/* Largest vruntime of any task that started running: the reference for the lag caps. */
static u64 vtime_now;
/* When each global DSQ was last served or found empty: the starvation guard's clock. */
static u64 prio_served_ts, shared_served_ts;
/* Online CPUs at load time; a hotplug event makes the kernel restart us. */
static u32 nr_online_cpus = 1;
static u64 online_cpus[SWL_MAX_CPUS / 64];
/* user mode: the last sequence number given to a trip; unique across tasks. */
static u64 last_enq_seq;
/* When the scan for tasks waiting past wait_max_ns last ran. */
static u64 wait_scan_ts;

struct task_ctx {
	u64 nvcsw;          /* p->nvcsw at the last sample */
	u64 nvcsw_ts;       /* time of the last sample */
	u64 avg_nvcsw;      /* EWMA of voluntary context switches per second */
	u64 slice_at_run;   /* p->scx.slice when the task last started running */
	u64 run_ts;         /* when it started running, kept slices included */
	u64 wait_ts;        /* when it last became runnable or stopped running while runnable */
	bool interactive;
	/* user mode */
	u64 in_flight_seq;  /* sequence number of the pending trip to user space, else 0 */
	u64 sent_ts;        /* when it was sent */
	u64 start_ts;       /* when the task last started running */
	u64 stop_ts;        /* when it last stopped */
	u64 exec_runtime;   /* run time since it last slept */
	bool sync_wakeup;   /* the pending enqueue follows a sync wakeup */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} task_ctx_stor SEC(".maps");

/* user mode: kernel -> user records, and user -> kernel dispatch records. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 512 * 1024); /* resized by the loader (--ring-kib) */
} queued SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_USER_RINGBUF);
	__uint(max_entries, 512 * 1024);
} dispatched SEC(".maps");

/*
 * user mode: every trip to user space in the order it started, so the oldest can be
 * found in O(1) when it passes the fallback bound. Entries of trips that ended are
 * skipped when they reach the head.
 */
struct trip {
	s32 pid;
	u32 _pad;
	u64 seq;
	u64 sent_ts;
};

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 16384); /* resized by the loader with the ring */
	__type(value, struct trip);
} trips SEC(".maps");

/* user mode: a timer that enforces the fallback bound and wakes user space. */
struct heartbeat {
	struct bpf_timer timer;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct heartbeat);
} heartbeat_timer SEC(".maps");

/* user mode: when this CPU went idle, and whether tasks were in flight then. */
struct cpu_ctx {
	u64 idle_since;
	bool in_flight_at_idle;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct cpu_ctx);
} cpu_ctx_stor SEC(".maps");

#define SWL_OPS(name, args...) SEC("struct_ops/" #name) BPF_PROG(name, ##args)
#define SWL_OPS_SLEEPABLE(name, args...) SEC("struct_ops.s/" #name) BPF_PROG(name, ##args)

/*
 * Ejects the scheduler with a message (the kernel then falls back to its default).
 * The format must live in writable memory, hence the static array.
 */
#define swl_error(msg)								\
	({									\
		static char ___msg[] = msg;					\
		unsigned long long ___none[1] = {};				\
		scx_bpf_error_bstr(___msg, ___none, sizeof(___none));		\
	})

static __always_inline bool vtime_before(u64 a, u64 b)
{
	return (s64)(a - b) < 0;
}

static __always_inline void count(u64 *counter)
{
	__sync_fetch_and_add(counter, 1);
}

static __always_inline struct task_ctx *lookup_task_ctx(const struct task_struct *p)
{
	struct task_ctx *tctx;

	tctx = bpf_task_storage_get(&task_ctx_stor, (struct task_struct *)p, 0, 0);
	if (!tctx)
		swl_error("swiftland: task has no context");
	return tctx;
}

static __always_inline void set_interactive(struct task_ctx *tctx, bool interactive)
{
	if (tctx->interactive == interactive)
		return;
	tctx->interactive = interactive;
	if (interactive)
		__sync_fetch_and_add(&stats.nr_interactive, 1);
	else
		__sync_fetch_and_sub(&stats.nr_interactive, 1);
}

/*
 * A task keeps at most slice_lag of vruntime credit across a sleep, and is at most one
 * full slice charged at the lowest weight (1) ahead of vtime_now: a light task's charge
 * cannot pile up slice after slice, so however light it is, it stays within reach.
 */
static __always_inline u64 bounded_vtime(u64 vtime)
{
	u64 ahead = cfg.slice_ns * 100;

	if (vtime_before(vtime, vtime_now - cfg.slice_lag_ns))
		return vtime_now - cfg.slice_lag_ns;
	if (vtime_before(vtime_now + ahead, vtime))
		return vtime_now + ahead;
	return vtime;
}

/* The more tasks wait in the global DSQs, the shorter each slice. */
static __always_inline u64 task_slice(void)
{
	u64 slice = cfg.slice_ns / (stats.nr_waiting + 1);

	return slice > cfg.slice_min_ns ? slice : cfg.slice_min_ns;
}

static __always_inline bool is_per_cpu_kthread(const struct task_struct *p)
{
	return (p->flags & PF_KTHREAD) && p->nr_cpus_allowed == 1;
}

static __always_inline bool user_mode(void)
{
	return cfg.mode == SWL_MODE_USER;
}

/*
 * user mode: the kernel side dispatches a task itself (ring full, fallback bound). FIFO
 * into the DSQ shared by every CPU, and an idle CPU woken to run it.
 */
static __always_inline void kernel_dispatch(struct task_struct *p, u64 enq_flags)
{
	s32 cpu;

	swl_dsq_insert(p, SWL_DSQ_USER, cfg.slice_ns, enq_flags);
	count(&stats.nr_kernel_dispatches);
	cpu = swl_pick_idle_cpu(p->cpus_ptr, 0);
	if (cpu >= 0)
		swl_kick_cpu(cpu, SCX_KICK_IDLE);
}

/*
 * user mode: a trip to user space ends exactly once, whoever ends it (a user dispatch,
 * the fallback, a dequeue): the one whose compare-and-swap succeeds.
 */
static __always_inline bool end_trip(struct task_ctx *tctx, u64 seq)
{
	if (!seq || __sync_val_compare_and_swap(&tctx->in_flight_seq, seq, 0) != seq)
		return false;
	__sync_fetch_and_sub(&stats.nr_in_flight, 1);
	return true;
}

static __always_inline u64 ringbuf_wakeup_flags(void)
{
	switch (cfg.wakeup) {
	case SWL_WAKEUP_ALWAYS:
		return BPF_RB_FORCE_WAKEUP;
	case SWL_WAKEUP_NEVER:
		return BPF_RB_NO_WAKEUP;
	default:
		return 0;
	}
}

/*
 * user mode: whether the scheduling thread has work: tasks in flight, or records in the
 * ring it has not read (those may all be about trips the fallback already ended, and the
 * thread must still drain them, or the ring stays full and every task bypasses the policy).
 */
static __always_inline bool sched_thread_has_work(void)
{
	return stats.nr_in_flight || bpf_ringbuf_query(&queued, BPF_RB_AVAIL_DATA);
}

/* user mode: send the task to user space; if that is impossible, dispatch it here. */
static __always_inline void send_to_user(struct task_struct *p, struct task_ctx *tctx,
					 u64 enq_flags)
{
	struct swl_queued_task *r;
	/* One counter for all tasks: a record about an earlier task with a reused pid can never match. */
	u64 now = bpf_ktime_get_ns(), seq = __sync_fetch_and_add(&last_enq_seq, 1) + 1;
	struct trip trip = { .pid = p->pid, .seq = seq, .sent_ts = now };

	r = bpf_ringbuf_reserve(&queued, sizeof(*r), 0);
	if (!r) {
		count(&stats.nr_ring_full);
		kernel_dispatch(p, enq_flags);
		return;
	}
	if (bpf_map_push_elem(&trips, &trip, 0)) {
		bpf_ringbuf_discard(r, BPF_RB_NO_WAKEUP);
		count(&stats.nr_ring_full);
		kernel_dispatch(p, enq_flags);
		return;
	}
	r->pid = p->pid;
	r->prev_cpu = scx_bpf_task_cpu(p);
	r->nr_cpus_allowed = p->nr_cpus_allowed;
	r->flags = tctx->sync_wakeup ? SWL_QUEUED_SYNC_WAKEUP : 0;
	tctx->sync_wakeup = false;
	r->enq_flags = enq_flags;
	r->exec_runtime_ns = tctx->exec_runtime;
	r->nvcsw = p->nvcsw;
	r->weight = p->scx.weight;
	r->vtime = p->scx.dsq_vtime;
	r->enq_seq = seq;
	r->enqueue_ts_ns = now;
	r->start_ts_ns = tctx->start_ts;
	r->stop_ts_ns = tctx->stop_ts;
	__builtin_memcpy(r->comm, p->comm, sizeof(r->comm));

	/* Visible before the record is, so that no answer can arrive before it. */
	tctx->sent_ts = now;
	tctx->in_flight_seq = seq;
	__sync_fetch_and_add(&stats.nr_in_flight, 1);
	count(&stats.nr_sent);
	bpf_ringbuf_submit(r, ringbuf_wakeup_flags());
}

s32 SWL_OPS(swl_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	struct task_ctx *tctx;
	bool is_idle = false;
	s32 cpu;

	tctx = lookup_task_ctx(p);
	if (!tctx)
		return prev_cpu;

	/*
	 * A sync wakeup means the waker is about to sleep and hand over to the wakee:
	 * typical of pipelines and request/response pairs. Promote the wakee, unless the
	 * priority DSQ is already crowded (then a promotion would only add to its queue).
	 * In user mode the policy decides: the flag travels with the task's record.
	 */
	if (!user_mode() && (wake_flags & SCX_WAKE_SYNC) && cfg.nvcsw_max_thresh &&
	    swl_dsq_nr_queued(SWL_DSQ_PRIO) <= 4 * nr_online_cpus)
		set_interactive(tctx, true);

	cpu = swl_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
	if (is_idle) {
		/*
		 * The CPU's built-in local DSQ, not our per-CPU DSQ: the kernel moves what is
		 * in a local DSQ when the CPU goes offline, while a task left in our DSQ of an
		 * offline CPU would wait there until the scheduler is gone (the fault suite's
		 * hotplug test saw a 21 s RCU stall and the kernel ejecting swiftland).
		 */
		swl_dsq_insert(p, SCX_DSQ_LOCAL, user_mode() ? cfg.slice_ns : task_slice(), 0);
		count(&stats.nr_direct_dispatches);
		if (user_mode())
			count(&stats.nr_kernel_dispatches);
	}
	if (user_mode())
		tctx->sync_wakeup = !is_idle && (wake_flags & SCX_WAKE_SYNC);
	return cpu;
}

void SWL_OPS(swl_enqueue, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *tctx;
	u64 vtime, slice;
	s32 cpu;

	if ((cfg.local_kthreads || user_mode()) && is_per_cpu_kthread(p)) {
		swl_dsq_insert(p, SCX_DSQ_LOCAL, cfg.slice_ns, enq_flags);
		count(&stats.nr_kthread_dispatches);
		if (user_mode())
			count(&stats.nr_kernel_dispatches);
		return;
	}

	/*
	 * user mode: the scheduling thread waits in its own DSQ. dispatch drains the user
	 * ring first (so a yield of the thread delivers its decisions), then serves this DSQ
	 * first while the thread has work. While it has, its CPU is kicked so that it does
	 * not wait for the running task's slice to end.
	 */
	if (user_mode() && p->pid == cfg.sched_tid) {
		swl_dsq_insert(p, SWL_DSQ_SCHED, cfg.slice_ns, enq_flags);
		if (sched_thread_has_work())
			swl_kick_cpu(scx_bpf_task_cpu(p), SCX_KICK_PREEMPT);
		return;
	}

	tctx = lookup_task_ctx(p);
#ifdef SWL_TEST_VERIFIER_REJECT
	/* Test build only: a NULL check left out on purpose, so the verifier refuses. */
	tctx->avg_nvcsw++;
#else
	if (!tctx)
		return;
#endif

	if (user_mode()) {
		send_to_user(p, tctx, enq_flags);
		return;
	}

	vtime = bounded_vtime(p->scx.dsq_vtime);

	slice = task_slice();
	if (tctx->interactive) {
		swl_dsq_insert_vtime(p, SWL_DSQ_PRIO, slice, vtime, enq_flags);
		count(&stats.nr_prio_dispatches);
	} else {
		swl_dsq_insert_vtime(p, SWL_DSQ_SHARED, slice, vtime, enq_flags);
		count(&stats.nr_shared_dispatches);
	}

	/* Work conservation: wake an idle CPU that may run the task. */
	cpu = swl_pick_idle_cpu(p->cpus_ptr, 0);
	if (cpu >= 0)
		swl_kick_cpu(cpu, SCX_KICK_IDLE);
}

/* Serve a global DSQ; an empty one counts as served (nothing in it is starving). */
static __always_inline bool serve(u64 dsq_id, u64 *served_ts, u64 now)
{
	bool moved = swl_dsq_move_to_local(dsq_id);

	*served_ts = now;
	return moved;
}

struct drain_ctx {
	u64 now;
	u32 nr_cpus;
	u32 budget;	/* inserts left in this ops.dispatch call */
};

/* user mode: act on one dispatch record. Returns 1 to stop draining. */
static long handle_dispatch(struct bpf_dynptr *dynptr, void *data)
{
	struct drain_ctx *ctx = data;
	struct swl_dispatched_task d;
	struct task_struct *p;
	struct task_ctx *tctx = NULL;
	enum swl_verdict verdict;
	u64 seq = 0;
	s32 cpu = SWL_CPU_ANY;

	if (bpf_dynptr_read(&d, sizeof(d), dynptr, 0, 0)) {
		count(&stats.nr_invalid_dispatches);
		return 0;
	}
	p = d.pid > 0 ? bpf_task_from_pid(d.pid) : NULL;
	if (p) {
		tctx = bpf_task_storage_get(&task_ctx_stor, p, 0, 0);
		if (tctx)
			seq = tctx->in_flight_seq;
	}
	verdict = swl_check_dispatch(&d, p, seq, ctx->nr_cpus, online_cpus, &cpu);
	switch (verdict) {
	case SWL_VERDICT_INVALID:
		count(&stats.nr_invalid_dispatches);
		break;
	case SWL_VERDICT_NO_TASK:
		count(&stats.nr_missing_tasks);
		break;
	case SWL_VERDICT_CANCEL:
		count(&stats.nr_cancel_dispatches);
		break;
	case SWL_VERDICT_BOUNCE:
	case SWL_VERDICT_DISPATCH:
		if (!tctx || !end_trip(tctx, d.enq_seq)) {
			count(&stats.nr_cancel_dispatches); /* lost a race with the fallback */
			break;
		}
		if (verdict == SWL_VERDICT_BOUNCE)
			count(&stats.nr_bounce_dispatches);
		count(&stats.nr_user_dispatches);
		swl_hist_add(stats.decision_hist, ctx->now - tctx->sent_ts);
		p->scx.dsq_vtime = d.vtime;
		if (cpu == SWL_CPU_ANY) {
			swl_dsq_insert(p, SWL_DSQ_USER, d.slice_ns ?: cfg.slice_ns, 0);
			cpu = swl_pick_idle_cpu(p->cpus_ptr, 0);
		} else {
			swl_dsq_insert(p, cpu, d.slice_ns ?: cfg.slice_ns, 0);
		}
		if (cpu >= 0)
			swl_kick_cpu(cpu, SCX_KICK_IDLE);
		ctx->budget--;
		break;
	}
	if (p)
		bpf_task_release(p);
	return ctx->budget ? 0 : 1;
}

/*
 * user mode: dispatch, here, up to @budget trips to user space that passed the fallback
 * bound. The trips queue is in send order, so the first recent one ends the scan. Entries
 * of trips that ended already are dropped on the way and use none of the budget.
 */
static __always_inline void dispatch_expired(u64 now, u32 budget)
{
	struct task_struct *p;
	struct task_ctx *tctx;
	struct trip trip;
	u32 i;

	bpf_for(i, 0, 64) {
		if (!budget || bpf_map_peek_elem(&trips, &trip) ||
		    now - trip.sent_ts < cfg.fallback_ns)
			break;
		if (bpf_map_pop_elem(&trips, &trip))
			break;
		p = bpf_task_from_pid(trip.pid);
		if (!p)
			continue;
		tctx = bpf_task_storage_get(&task_ctx_stor, p, 0, 0);
		if (tctx && end_trip(tctx, trip.seq)) {
			count(&stats.nr_user_timeouts);
			kernel_dispatch(p, 0);
			budget--;
		}
		bpf_task_release(p);
	}
}

/*
 * Whether the first task of @dsq_id that may run on @cpu comes after @vtime (true too when
 * there is none). Looks at the first 32 tasks at most.
 */
static __always_inline bool head_comes_after(u64 dsq_id, s32 cpu, u64 vtime)
{
	struct bpf_iter_scx_dsq it;
	struct task_struct *p;
	bool after = true;
	int seen = 0;

	if (!swl_dsq_iter_new(&it, dsq_id))
		return false;
	while ((p = bpf_iter_scx_dsq_next(&it))) {
		if (bpf_cpumask_test_cpu(cpu, p->cpus_ptr)) {
			after = vtime_before(vtime, p->scx.dsq_vtime);
			break;
		}
		if (++seen >= 32)
			break;
	}
	bpf_iter_scx_dsq_destroy(&it);
	return after;
}

/*
 * @prev's slice ran out and it is still runnable. sched_ext asks for the next task before
 * @prev is queued again, so the first task waiting in @dsq_id would win without being
 * compared with it, and two CPU-bound tasks sharing a CPU would take turns a slice each,
 * whatever their weights. Give @prev another @slice while its vruntime, charged for the
 * slice it just used (runtime x 100 / weight), still comes before that task's, for at most
 * wait_max_ns in a row: then the waiting task runs, however light it is, long before the
 * watchdog would see it starve.
 */
static __always_inline bool keep_running(struct task_struct *prev, struct task_ctx *tctx,
					 u64 dsq_id, s32 cpu, u64 now, u64 slice)
{
	u64 used, vtime;

	if (now - tctx->run_ts > cfg.wait_max_ns)
		return false;
	used = tctx->slice_at_run > prev->scx.slice ? tctx->slice_at_run - prev->scx.slice : 0;
	vtime = prev->scx.dsq_vtime + used * 100 / prev->scx.weight;
	if (!head_comes_after(dsq_id, cpu, vtime))
		return false;

	/* Charge now (stopping will charge only the new slice) and go on. */
	prev->scx.dsq_vtime = vtime;
	prev->scx.slice = slice;
	tctx->slice_at_run = slice;
	count(&stats.nr_kept);
	return true;
}

/* bpf mode: keep a regular @prev over the shared DSQ's head (see keep_running). */
static __always_inline bool keep_prev(struct task_struct *prev, s32 cpu, u64 now)
{
	struct task_ctx *tctx;

	if (!prev || !(prev->scx.flags & SCX_TASK_QUEUED) || is_per_cpu_kthread(prev))
		return false;
	tctx = lookup_task_ctx(prev);
	if (!tctx || tctx->interactive)
		return false;
	if (swl_dsq_nr_queued(SWL_DSQ_PRIO) || swl_dsq_nr_queued(cpu) ||
	    now - prio_served_ts > cfg.starvation_thresh_ns)
		return false;
	if (!keep_running(prev, tctx, SWL_DSQ_SHARED, cpu, now, task_slice()))
		return false;
	if (vtime_before(vtime_now, prev->scx.dsq_vtime))
		vtime_now = prev->scx.dsq_vtime;
	shared_served_ts = now;  /* the shared queue's order was followed */
	return true;
}

/*
 * user mode: the same for the tasks the policy has dispatched to "any CPU", compared by the
 * vruntime the policy gave them (their dispatch records' vtime), unless the policy sent a
 * task to this CPU itself. The policy charges runtime the same way, so a task kept here is
 * charged as if it had gone round through user space; its next record counts its run from
 * now. Without this, the policy sees at most one of two tasks pinned together at a time and
 * they take turns (the fault suite measured nice 0 against nice 19 at 49.7%).
 */
static __always_inline bool user_keep_prev(struct task_struct *prev, s32 cpu, u64 now)
{
	struct task_ctx *tctx;

	if (!prev || !(prev->scx.flags & SCX_TASK_QUEUED) || is_per_cpu_kthread(prev) ||
	    prev->pid == cfg.sched_tid)
		return false;
	tctx = lookup_task_ctx(prev);
	if (!tctx || tctx->in_flight_seq || swl_dsq_nr_queued(cpu))
		return false;
	if (!keep_running(prev, tctx, SWL_DSQ_USER, cpu, now, tctx->slice_at_run ?: cfg.slice_ns))
		return false;
	tctx->exec_runtime += now - tctx->start_ts;
	tctx->start_ts = now;
	return true;
}

static __always_inline void user_dispatch(s32 cpu, struct task_struct *prev)
{
	struct drain_ctx ctx = {
		.now = bpf_ktime_get_ns(),
		.nr_cpus = swl_nr_cpu_ids() < SWL_MAX_CPUS ? swl_nr_cpu_ids() : SWL_MAX_CPUS,
		.budget = SWL_MAX_DISPATCH_BATCH,
	};
	long drained;

	/* Decisions first: they wake the CPUs that will run them. */
	drained = bpf_user_ringbuf_drain(&dispatched, handle_dispatch, &ctx, 0);
	if (drained == -EBUSY)
		count(&stats.nr_drain_busy);
	else if (drained < 0)
		count(&stats.nr_drain_errors);
	/*
	 * A budget of its own: with the decisions' budget spent, expired trips would never
	 * be looked at under a steady flow of decisions. Both together stay well within the
	 * kernel's dispatch buffer (32 inserts per call).
	 */
	dispatch_expired(ctx.now, SWL_MAX_DISPATCH_BATCH);

	/* Then swiftland's own scheduling thread, while it has work. */
	if (sched_thread_has_work() && swl_dsq_move_to_local(SWL_DSQ_SCHED))
		return;

	if (user_keep_prev(prev, cpu, ctx.now))
		return;

	if (swl_dsq_move_to_local(cpu))
		return;
	if (swl_dsq_move_to_local(SWL_DSQ_USER))
		return;
	if (swl_dsq_move_to_local(SWL_DSQ_SCHED))
		return;
	if (prev && (prev->scx.flags & SCX_TASK_QUEUED))
		prev->scx.slice = cfg.slice_ns;
}

/*
 * Where a task the wait guard serves goes: the head of the per-CPU DSQ of this CPU when it
 * may run here, else of the CPU it is on. A CPU moves a task out of its per-CPU DSQ only
 * when it can run it, so this never asks a CPU to run what it may not (a task whose
 * migration is disabled runs only where it is).
 */
static __always_inline s32 rescue_cpu(struct task_struct *p, s32 this_cpu)
{
	s32 cpu;

	if ((u32)this_cpu < SWL_MAX_CPUS && !p->migration_disabled &&
	    bpf_cpumask_test_cpu(this_cpu, p->cpus_ptr))
		return this_cpu;
	cpu = scx_bpf_task_cpu(p);
	return (u32)cpu < SWL_MAX_CPUS ? cpu : -1;
}

/*
 * The wait guard's work on one DSQ: every task of @dsq_id that has waited longer than
 * wait_max_ns is served next, ahead of the DSQ's order (at most SWL_RESCUE_MAX per scan).
 * In bpf mode it runs at vtime_now: it did not earn its turn, so it must not carry
 * vtime_now forward either (every sleeper would then wake behind it).
 */
static __always_inline void rescue_waiting(u64 dsq_id, s32 this_cpu, u64 now)
{
	struct bpf_iter_scx_dsq it;
	struct task_struct *p;
	struct task_ctx *tctx;
	u32 moved = 0;
	s32 cpu;

	if (!swl_dsq_iter_new(&it, dsq_id))
		return;
	while ((p = bpf_iter_scx_dsq_next(&it))) {
		tctx = bpf_task_storage_get(&task_ctx_stor, p, 0, 0);
		if (!tctx || (s64)(now - tctx->wait_ts) < (s64)cfg.wait_max_ns)
			continue;
		cpu = rescue_cpu(p, this_cpu);
		if (cpu < 0)
			continue;
		if (!user_mode())
			swl_dsq_move_set_vtime(&it, vtime_now);
		if (!swl_dsq_move(&it, p, cpu, SCX_ENQ_HEAD))
			continue;
		count(&stats.nr_starvation_tasks);
		if (cpu != this_cpu)
			swl_kick_cpu(cpu, SCX_KICK_PREEMPT);
		if (++moved >= SWL_RESCUE_MAX)
			break;
	}
	bpf_iter_scx_dsq_destroy(&it);
}

/*
 * The wait guard: no task waits for a CPU longer than about wait_max_ns, whatever its
 * weight or its place in a queue. The queues' own order (vruntime, the starvation guard,
 * keep_running) can leave a light task behind heavier ones for far longer than the
 * watchdog allows; every wait_max_ns / 8 one CPU scans the shared queues for tasks that
 * waited too long and serves them first. The per-CPU DSQs need no scan: each is served
 * first by its own CPU.
 */
static __always_inline void guard_waits(s32 cpu, u64 now)
{
	u64 last = wait_scan_ts;

	if ((s64)(now - last) < (s64)(cfg.wait_max_ns / 8) ||
	    __sync_val_compare_and_swap(&wait_scan_ts, last, now) != last)
		return;
	if (user_mode()) {
		rescue_waiting(SWL_DSQ_USER, cpu, now);
		rescue_waiting(SWL_DSQ_SCHED, cpu, now);
	} else {
		rescue_waiting(SWL_DSQ_SHARED, cpu, now);
		rescue_waiting(SWL_DSQ_PRIO, cpu, now);
	}
}

void SWL_OPS(swl_dispatch, s32 cpu, struct task_struct *prev)
{
	u64 now = bpf_ktime_get_ns(), waiting;

	guard_waits(cpu, now);
	if (user_mode()) {
		user_dispatch(cpu, prev);
		return;
	}

	waiting = swl_dsq_nr_queued(SWL_DSQ_PRIO) + swl_dsq_nr_queued(SWL_DSQ_SHARED);
	stats.nr_waiting = (stats.nr_waiting + waiting) / 2;

	/* bpf mode's per-CPU DSQs hold only tasks the wait guard serves. */
	if (swl_dsq_move_to_local(cpu))
		return;
	if (now - shared_served_ts > cfg.starvation_thresh_ns &&
	    serve(SWL_DSQ_SHARED, &shared_served_ts, now)) {
		count(&stats.nr_starvation_shared);
		return;
	}
	if (now - prio_served_ts > cfg.starvation_thresh_ns &&
	    serve(SWL_DSQ_PRIO, &prio_served_ts, now)) {
		count(&stats.nr_starvation_prio);
		return;
	}
	if (keep_prev(prev, cpu, now))
		return;

	if (serve(SWL_DSQ_PRIO, &prio_served_ts, now))
		return;
	if (serve(SWL_DSQ_SHARED, &shared_served_ts, now))
		return;

	/* Nothing else to run: let the previous task go on with a fresh slice. */
	if (prev && (prev->scx.flags & SCX_TASK_QUEUED))
		prev->scx.slice = task_slice();
}

void SWL_OPS(swl_running, struct task_struct *p)
{
	struct task_ctx *tctx;

	__sync_fetch_and_add(&stats.nr_running, 1);
	if (vtime_before(vtime_now, p->scx.dsq_vtime))
		vtime_now = p->scx.dsq_vtime;

	tctx = lookup_task_ctx(p);
	if (!tctx)
		return;
	tctx->slice_at_run = p->scx.slice;
	tctx->run_ts = bpf_ktime_get_ns();
	if (user_mode())
		tctx->start_ts = tctx->run_ts;
}

/* At most once a second per task: refresh its switch rate and the global threshold. */
static __always_inline void update_interactive(struct task_struct *p, struct task_ctx *tctx,
					       u64 now)
{
	u64 elapsed = now - tctx->nvcsw_ts, rate, avg, thresh, cap;
	u64 nvcsw = p->nvcsw;

	if (elapsed < NSEC_PER_SEC)
		return;

	cap = cfg.nvcsw_max_thresh * 8;
	rate = (nvcsw - tctx->nvcsw) * NSEC_PER_SEC / elapsed;
	if (rate > cap)
		rate = cap;
	avg = (tctx->avg_nvcsw * 3 + rate) / 4;
	tctx->avg_nvcsw = avg;
	tctx->nvcsw = nvcsw;
	tctx->nvcsw_ts = now;

	thresh = (stats.nvcsw_avg_thresh * 3 + avg) / 4;
	if (thresh < 1)
		thresh = 1;
	if (thresh > cfg.nvcsw_max_thresh)
		thresh = cfg.nvcsw_max_thresh;
	stats.nvcsw_avg_thresh = thresh;

	set_interactive(tctx, cfg.nvcsw_max_thresh && avg >= thresh);
}

void SWL_OPS(swl_stopping, struct task_struct *p, bool runnable)
{
	struct task_ctx *tctx;
	u64 used, now;

	__sync_fetch_and_sub(&stats.nr_running, 1);

	tctx = lookup_task_ctx(p);
	if (!tctx)
		return;
	now = bpf_ktime_get_ns();
	if (runnable)
		tctx->wait_ts = now;

	if (user_mode()) {
		/* user space owns vruntime: it only needs the run times. */
		tctx->stop_ts = now;
		tctx->exec_runtime += now - tctx->start_ts;
		return;
	}

	/* Charge the slice used, scaled by weight (100 = nice 0). */
	used = tctx->slice_at_run > p->scx.slice ? tctx->slice_at_run - p->scx.slice : 0;
	p->scx.dsq_vtime += used * 100 / p->scx.weight;

	if (cfg.nvcsw_max_thresh)
		update_interactive(p, tctx, now);
}

void SWL_OPS(swl_runnable, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *tctx;

	tctx = lookup_task_ctx(p);
	if (!tctx)
		return;
	tctx->wait_ts = bpf_ktime_get_ns();
	if (user_mode() && (enq_flags & SCX_ENQ_WAKEUP))
		tctx->exec_runtime = 0; /* it slept: a new burst starts */
}

/* user mode: a task in user space left the scheduler's hands (affinity change, exit...). */
void SWL_OPS(swl_dequeue, struct task_struct *p, u64 deq_flags)
{
	struct task_ctx *tctx;

	if (!user_mode())
		return;
	tctx = bpf_task_storage_get(&task_ctx_stor, p, 0, 0);
	if (tctx && end_trip(tctx, tctx->in_flight_seq))
		count(&stats.nr_dequeued_in_flight);
}

void SWL_OPS(swl_update_idle, s32 cpu, bool idle)
{
	struct cpu_ctx *cctx;
	u32 zero = 0, word = (u32)cpu / 64;
	u64 bit = 1ULL << (cpu & 63), now;

	if (!user_mode() || word >= SWL_MAX_CPUS / 64)
		return;
	cctx = bpf_map_lookup_elem(&cpu_ctx_stor, &zero);
	if (!cctx)
		return;
	now = bpf_ktime_get_ns();
	if (idle) {
		__sync_fetch_and_or(&idle_cpus[word], bit);
		cctx->idle_since = now;
		cctx->in_flight_at_idle = stats.nr_in_flight > 0;
		return;
	}
	__sync_fetch_and_and(&idle_cpus[word], ~bit);
	/* Idle while tasks waited in user space: the lost work conservation. */
	if (cctx->idle_since && (cctx->in_flight_at_idle || stats.nr_in_flight))
		__sync_fetch_and_add(&stats.idle_in_flight_ns, now - cctx->idle_since);
	cctx->idle_since = 0;
}

/*
 * user mode heartbeat: while the scheduling thread has work, wake it (a record with pid
 * 0; none fits in a full ring, but then the thread has records to read anyway) and, when
 * it waits for a CPU or the oldest trip passed the fallback bound, kick a CPU: its
 * dispatch serves the thread first and runs the fallback even if every CPU was idle.
 */
static __always_inline u64 heartbeat_period(void)
{
	u64 period = cfg.fallback_ns / 4;

	return period > 1000000 ? period : 1000000;
}

static int heartbeat_fn(void *map, int *key, struct heartbeat *hb)
{
	struct swl_queued_task beat = {};
	struct trip trip;

	if (sched_thread_has_work()) {
		bpf_ringbuf_output(&queued, &beat, sizeof(beat), BPF_RB_FORCE_WAKEUP);
		if (swl_dsq_nr_queued(SWL_DSQ_SCHED) ||
		    (!bpf_map_peek_elem(&trips, &trip) &&
		     bpf_ktime_get_ns() - trip.sent_ts >= cfg.fallback_ns))
			swl_kick_cpu(bpf_get_smp_processor_id(), SCX_KICK_PREEMPT);
	}
	bpf_timer_start(&hb->timer, heartbeat_period(), 0);
	return 0;
}

void SWL_OPS(swl_enable, struct task_struct *p)
{
	p->scx.dsq_vtime = vtime_now;
}

s32 SWL_OPS(swl_init_task, struct task_struct *p, struct scx_init_task_args *args)
{
	struct task_ctx *tctx;

	tctx = bpf_task_storage_get(&task_ctx_stor, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!tctx)
		return -12; /* -ENOMEM */
	tctx->nvcsw = p->nvcsw;
	tctx->nvcsw_ts = bpf_ktime_get_ns();
	tctx->wait_ts = tctx->nvcsw_ts;
	return 0;
}

void SWL_OPS(swl_exit_task, struct task_struct *p, struct scx_exit_task_args *args)
{
	struct task_ctx *tctx;

	tctx = bpf_task_storage_get(&task_ctx_stor, p, 0, 0);
	if (!tctx)
		return;
	set_interactive(tctx, false);
	if (end_trip(tctx, tctx->in_flight_seq))
		count(&stats.nr_dequeued_in_flight);
}

s32 SWL_OPS_SLEEPABLE(swl_init)
{
	const struct cpumask *online;
	u32 nr_cpus = swl_nr_cpu_ids(), i, zero = 0;
	struct heartbeat *hb;
	s32 err;

	if (nr_cpus > SWL_MAX_CPUS)
		nr_cpus = SWL_MAX_CPUS;
	online = scx_bpf_get_online_cpumask();
	nr_online_cpus = bpf_cpumask_weight(online);
	bpf_for(i, 0, nr_cpus) {
		if (bpf_cpumask_test_cpu(i, online))
			online_cpus[i / 64 & (SWL_MAX_CPUS / 64 - 1)] |= 1ULL << (i & 63);
	}
	scx_bpf_put_cpumask(online);

	bpf_for(i, 0, nr_cpus) {
		err = swl_create_dsq(i, -1);
		if (err)
			return err;
	}
	err = swl_create_dsq(SWL_DSQ_PRIO, -1) ?: swl_create_dsq(SWL_DSQ_SHARED, -1) ?:
	      swl_create_dsq(SWL_DSQ_USER, -1) ?: swl_create_dsq(SWL_DSQ_SCHED, -1);
	if (err || !user_mode())
		return err;

	hb = bpf_map_lookup_elem(&heartbeat_timer, &zero);
	if (!hb)
		return -2; /* -ENOENT */
	bpf_timer_init(&hb->timer, &heartbeat_timer, CLOCK_MONOTONIC);
	bpf_timer_set_callback(&hb->timer, heartbeat_fn);
	return bpf_timer_start(&hb->timer, heartbeat_period(), 0);
}

void SWL_OPS(swl_exit, struct scx_exit_info *ei)
{
	exit_info.kind = ei->kind;
	exit_info.exit_cpu = ei->exit_cpu;
	exit_info.exit_code = ei->exit_code;
	bpf_probe_read_kernel_str(exit_info.reason, sizeof(exit_info.reason), ei->reason);
	bpf_probe_read_kernel_str(exit_info.msg, sizeof(exit_info.msg), ei->msg);
	if (ei->dump)
		bpf_probe_read_kernel_str(exit_dump, sizeof(exit_dump), ei->dump);
}

SEC(".struct_ops.link")
struct sched_ext_ops swiftland_ops = {
	.select_cpu = (void *)swl_select_cpu,
	.enqueue = (void *)swl_enqueue,
	.dispatch = (void *)swl_dispatch,
	.dequeue = (void *)swl_dequeue,
	.runnable = (void *)swl_runnable,
	.running = (void *)swl_running,
	.stopping = (void *)swl_stopping,
	.update_idle = (void *)swl_update_idle,
	.enable = (void *)swl_enable,
	.init_task = (void *)swl_init_task,
	.exit_task = (void *)swl_exit_task,
	.init = (void *)swl_init,
	.exit = (void *)swl_exit,
	.flags = SCX_OPS_KEEP_BUILTIN_IDLE,
	.timeout_ms = 5000,
	.name = "swiftland",
};
