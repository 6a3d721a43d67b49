/*
 * What both modes share: the tunables and counters, each task's context, and the rules
 * that keep every runnable task within reach of a CPU (keep_running and the wait guard).
 * Included once, by main.bpf.c, before the mode-specific parts.
 */
#ifndef SWIFTLAND_CORE_BPF_H
#define SWIFTLAND_CORE_BPF_H

#define NSEC_PER_SEC 1000000000ULL
#define EBUSY 16              /* include/uapi/asm-generic/errno-base.h */
#define PF_KTHREAD 0x00200000 /* include/linux/sched.h: not in BTF */
#define CLOCK_MONOTONIC 1     /* include/uapi/linux/time.h */
#define SWL_RESCUE_MAX 16     /* tasks the wait guard serves per scan and DSQ */

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

/* Tunables: written by the loader before load (every field), constant afterwards. */
const volatile struct swl_config cfg;

/* Read live by user space through the memory-mapped .bss. */
struct swl_stats stats;
struct swl_exit_info exit_info;
char exit_dump[SWL_EXIT_DUMP_LEN];

/* Largest vruntime of any task that started running: the reference for the lag caps. */
static u64 vtime_now;
/* Online CPUs at load time; a hotplug event makes the kernel restart us. */
static u32 nr_online_cpus = 1;
static u64 online_cpus[SWL_MAX_CPUS / 64];
/* When the scan for tasks waiting past wait_max_ns last ran. */
static u64 wait_scan_ts;

struct task_ctx {
	u64 slice_at_run;   /* p->scx.slice when the task last started running */
	u64 run_ts;         /* when it started running, kept slices included */
	u64 wait_ts;        /* when it last became runnable or stopped running while runnable */
	/* bpf mode's policy */
	u64 nvcsw;          /* p->nvcsw at the last sample */
	u64 nvcsw_ts;       /* time of the last sample */
	u64 avg_nvcsw;      /* EWMA of voluntary context switches per second */
	bool interactive;
	/* user mode's backend */
	bool sync_wakeup;   /* the pending enqueue follows a sync wakeup */
	u64 in_flight_seq;  /* sequence number of the pending trip to user space, else 0 */
	u64 sent_ts;        /* when it was sent */
	u64 start_ts;       /* when the task last started running */
	u64 stop_ts;        /* when it last stopped */
	u64 exec_runtime;   /* run time since it last slept */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} task_ctx_stor SEC(".maps");

static __always_inline bool user_mode(void)
{
	return cfg.mode == SWL_MODE_USER;
}

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

static __always_inline bool is_per_cpu_kthread(const struct task_struct *p)
{
	return (p->flags & PF_KTHREAD) && p->nr_cpus_allowed == 1;
}

/* Whether @prev's slice ended with @prev still runnable: a candidate to keep running. */
static __always_inline bool still_runnable(const struct task_struct *prev)
{
	return prev && (prev->scx.flags & SCX_TASK_QUEUED);
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
 * With @set_vtime it runs at vtime_now: it did not earn its turn, so it must not carry
 * vtime_now forward either (every sleeper would then wake behind it).
 */
static __always_inline void rescue_waiting(u64 dsq_id, s32 this_cpu, u64 now, bool set_vtime)
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
		if (set_vtime)
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
		rescue_waiting(SWL_DSQ_USER, cpu, now, false);
		rescue_waiting(SWL_DSQ_SCHED, cpu, now, false);
	} else {
		rescue_waiting(SWL_DSQ_SHARED, cpu, now, true);
		rescue_waiting(SWL_DSQ_PRIO, cpu, now, true);
	}
}

/* The online CPUs at load time, and one FIFO DSQ per CPU id below SWL_MAX_CPUS. */
static __always_inline s32 init_cpus(void)
{
	const struct cpumask *online;
	u32 nr_cpus = swl_nr_cpu_ids(), i;
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
	return 0;
}

#endif /* SWIFTLAND_CORE_BPF_H */
