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
 *
 * Every kfunc call goes through compat.bpf.h; every structure user space reads is in
 * intf.h.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "intf.h"
#include "compat.bpf.h"

char _license[] SEC("license") = "GPL";

#define NSEC_PER_SEC 1000000000ULL
#define PF_KTHREAD 0x00200000 /* include/linux/sched.h: not in BTF */

/* Tunables: written by the loader before load, constant afterwards. */
const volatile struct swl_config cfg = {
	.slice_ns = 5000000ULL,
	.slice_min_ns = 500000ULL,
	.slice_lag_ns = 5000000ULL,
	.starvation_thresh_ns = 5000000ULL,
	.nvcsw_max_thresh = 10,
};

/* Read live by user space through the memory-mapped .bss. */
struct swl_stats stats;
struct swl_exit_info exit_info;
char exit_dump[SWL_EXIT_DUMP_LEN];

/* Largest vruntime of any task that started running: the reference for the lag cap. */
static u64 vtime_now;
/* When each global DSQ was last served or found empty: the starvation guard's clock. */
static u64 prio_served_ts, shared_served_ts;
/* Online CPUs at load time; a hotplug event makes the kernel restart us. */
static u32 nr_online_cpus = 1;

struct task_ctx {
	u64 nvcsw;          /* p->nvcsw at the last sample */
	u64 nvcsw_ts;       /* time of the last sample */
	u64 avg_nvcsw;      /* EWMA of voluntary context switches per second */
	u64 slice_at_run;   /* p->scx.slice when the task last started running */
	bool interactive;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} task_ctx_stor SEC(".maps");

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
	 */
	if ((wake_flags & SCX_WAKE_SYNC) && cfg.nvcsw_max_thresh &&
	    swl_dsq_nr_queued(SWL_DSQ_PRIO) <= 4 * nr_online_cpus)
		set_interactive(tctx, true);

	cpu = swl_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
	if (is_idle) {
		swl_dsq_insert(p, cpu, task_slice(), 0);
		count(&stats.nr_direct_dispatches);
	}
	return cpu;
}

void SWL_OPS(swl_enqueue, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *tctx;
	u64 vtime, slice;
	s32 cpu;

	if (cfg.local_kthreads && is_per_cpu_kthread(p)) {
		swl_dsq_insert(p, SCX_DSQ_LOCAL, cfg.slice_ns, enq_flags);
		count(&stats.nr_kthread_dispatches);
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

	/* A task keeps at most slice_lag of vruntime credit across a sleep. */
	vtime = p->scx.dsq_vtime;
	if (vtime_before(vtime, vtime_now - cfg.slice_lag_ns))
		vtime = vtime_now - cfg.slice_lag_ns;

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

void SWL_OPS(swl_dispatch, s32 cpu, struct task_struct *prev)
{
	u64 now = bpf_ktime_get_ns();
	u64 waiting;

	waiting = swl_dsq_nr_queued(SWL_DSQ_PRIO) + swl_dsq_nr_queued(SWL_DSQ_SHARED);
	stats.nr_waiting = (stats.nr_waiting + waiting) / 2;

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

	if (swl_dsq_move_to_local(cpu))
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
	if (tctx)
		tctx->slice_at_run = p->scx.slice;
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
	u64 used;

	__sync_fetch_and_sub(&stats.nr_running, 1);

	tctx = lookup_task_ctx(p);
	if (!tctx)
		return;

	/* Charge the slice used, scaled by weight (100 = nice 0). */
	used = tctx->slice_at_run > p->scx.slice ? tctx->slice_at_run - p->scx.slice : 0;
	p->scx.dsq_vtime += used * 100 / p->scx.weight;

	if (cfg.nvcsw_max_thresh)
		update_interactive(p, tctx, bpf_ktime_get_ns());
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
	return 0;
}

void SWL_OPS(swl_exit_task, struct task_struct *p, struct scx_exit_task_args *args)
{
	struct task_ctx *tctx;

	tctx = bpf_task_storage_get(&task_ctx_stor, p, 0, 0);
	if (tctx)
		set_interactive(tctx, false);
}

s32 SWL_OPS_SLEEPABLE(swl_init)
{
	const struct cpumask *online;
	u32 nr_cpus = swl_nr_cpu_ids(), i;
	s32 err;

	online = scx_bpf_get_online_cpumask();
	nr_online_cpus = bpf_cpumask_weight(online);
	scx_bpf_put_cpumask(online);

	if (nr_cpus > SWL_MAX_CPUS)
		nr_cpus = SWL_MAX_CPUS;
	bpf_for(i, 0, nr_cpus) {
		err = swl_create_dsq(i, -1);
		if (err)
			return err;
	}
	err = swl_create_dsq(SWL_DSQ_PRIO, -1);
	if (err)
		return err;
	return swl_create_dsq(SWL_DSQ_SHARED, -1);
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
	.running = (void *)swl_running,
	.stopping = (void *)swl_stopping,
	.enable = (void *)swl_enable,
	.init_task = (void *)swl_init_task,
	.exit_task = (void *)swl_exit_task,
	.init = (void *)swl_init,
	.exit = (void *)swl_exit,
	.timeout_ms = 5000,
	.name = "swiftland",
};
