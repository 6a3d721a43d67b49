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
#define SWL_VICTIM_SCAN 64    /* CPUs a waking task looks at for one to preempt */

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
	u64 charge_ts;      /* since when its run is not charged yet */
	u64 wait_ts;        /* when it last became runnable or stopped running while runnable */
	/* bpf mode's policy */
	u64 vtime;          /* its vruntime (p->scx.dsq_vtime is its key in a DSQ) */
	u64 awake_vtime;    /* vruntime charged since it last woke up */
	u64 nvcsw;          /* p->nvcsw at the last sample */
	u64 nvcsw_ts;       /* time of the last sample */
	u64 avg_nvcsw;      /* EWMA of voluntary context switches per second */
	bool interactive;
	/* user mode's backend */
	bool sync_wakeup;   /* the pending enqueue follows a sync wakeup */
	bool sent_woken;    /* the pending trip to user space began with a wakeup */
	u64 in_flight_seq;  /* sequence number of the pending trip to user space, else 0 */
	u64 sent_ts;        /* when it was sent */
	u64 start_ts;       /* when the task last started running */
	u64 stop_ts;        /* when it last stopped */
	u64 exec_runtime;   /* run time since it last slept */
	u64 last_burst;     /* exec_runtime when it last went to sleep */
	u64 drained_ts;     /* when its last user dispatch was drained, until it runs */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} task_ctx_stor SEC(".maps");

/* Tasks travel to user space: user mode, and hybrid mode outside bypass. */
static __always_inline bool user_mode(void)
{
	return cfg.mode != SWL_MODE_BPF;
}

/* user mode whose kernel side schedules with the BPF policy while tasks queue in user space. */
static __always_inline bool hybrid_mode(void)
{
	return cfg.mode == SWL_MODE_HYBRID;
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

/* Whether @cpu was online at load time. */
static __always_inline bool cpu_was_online(u32 cpu)
{
	u32 word = cpu / 64;

	/* The mask keeps the index provably in bounds for the verifier, even where the
	 * compiler knows it already is and would drop it. */
	barrier_var(word);
	word &= SWL_MAX_CPUS / 64 - 1;
	return online_cpus[word] & (1ULL << (cpu & 63));
}

/* @ns of running, in vruntime: scaled by weight, 100 being nice 0. */
static __always_inline u64 charge_of(const struct task_struct *p, u64 ns)
{
	return ns * 100 / p->scx.weight;
}

/*
 * What runs on each CPU, for a waking task that looks for one to preempt. Each CPU writes
 * its own entry (running, stopping, going idle); others only read it.
 */
struct cpu_run {
	u64 key;          /* the running task's key when it started */
	u64 start_ns;     /* when it started */
	u32 weight;
	s32 pid;          /* 0: nothing another task may preempt */
	bool interactive;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SWL_MAX_CPUS);
	__type(key, u32);
	__type(value, struct cpu_run);
} cpu_runs SEC(".maps");

/*
 * One timer per CPU: a preemption that must wait until the running task has had its
 * shortest slice. sched_ext checks slices only at the tick, far too coarse for this.
 */
struct preempt_timer {
	struct bpf_timer timer;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SWL_MAX_CPUS);
	__type(key, u32);
	__type(value, struct preempt_timer);
} preempt_timers SEC(".maps");

static __always_inline struct cpu_run *cpu_run_of(s32 cpu)
{
	u32 key = cpu;

	return bpf_map_lookup_elem(&cpu_runs, &key);
}

/* @p starts running on this CPU with @key; @victim says whether a waking task may preempt it. */
static __always_inline void note_running(struct task_struct *p, u64 key, bool interactive, bool victim,
					 u64 now)
{
	struct cpu_run *run = cpu_run_of(bpf_get_smp_processor_id());

	if (!run)
		return;
	run->key = key;
	run->start_ns = now;
	run->weight = p->scx.weight;
	run->interactive = interactive;
	run->pid = victim ? p->pid : 0;
}

static __always_inline void note_stopped(s32 cpu)
{
	struct cpu_run *run = cpu_run_of(cpu);

	if (run)
		run->pid = 0;
}

/* A CPU chosen by pick_victim, and how long its running task still has before it may be
 * preempted (0: now). */
struct victim {
	s32 cpu;
	u64 delay_ns;
};

/* How the waking task's claim is judged (pick_victim). */
enum victim_rule {
	BY_KEY,      /* its key must come before the running task's key now */
	BY_CLASS,    /* an interactive waker comes before any regular task; else BY_KEY */
};

/*
 * The CPU a waking task may preempt: among its allowed online CPUs (@first, then the ones
 * after it, @candidates at most), one whose running task comes after the waking task by
 * @rule: BY_KEY, the waker's @key must be earlier than the running task's key now (its key
 * at start, as note_running recorded it, plus what it has run since, by weight) by more
 * than @margin; BY_CLASS, an interactive waker comes before any regular task, never the
 * reverse. A running task is preempted only once it has run slice_min; of the candidates,
 * one that has is preferred (the one that comes last), else the one that will have
 * soonest. cpu -1 when none qualifies.
 */
static __always_inline struct victim pick_victim(struct task_struct *p, u64 key, u64 margin,
						 bool interactive, enum victim_rule rule, s32 first,
						 u32 candidates, u64 now)
{
	struct victim best = { .cpu = -1 };
	u32 nr_cpus = swl_nr_cpu_ids(), i, cpu;
	u64 best_key = 0, key_now, ran, delay;
	bool best_regular = false, regular;
	struct cpu_run *run;

	if (nr_cpus > SWL_MAX_CPUS)
		nr_cpus = SWL_MAX_CPUS;
	if ((u32)first >= nr_cpus)
		first = 0;
	bpf_for(i, 0, SWL_VICTIM_SCAN) {
		if (i >= nr_cpus || i >= candidates)
			break;
		cpu = ((u32)first + i) % nr_cpus;
		if (!cpu_was_online(cpu) || !bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
			continue;
		run = cpu_run_of(cpu);
		if (!run || !run->pid || !run->weight || vtime_before(now, run->start_ns))
			continue;
		ran = now - run->start_ns;
		key_now = run->key + ran * 100 / run->weight;
		if (rule == BY_CLASS && interactive != run->interactive) {
			if (!interactive)
				continue;
		} else if (!vtime_before(key + margin, key_now)) {
			continue;
		}
		delay = ran < cfg.slice_min_ns ? cfg.slice_min_ns - ran : 0;
		regular = !run->interactive;
		if (best.cpu >= 0) {
			/* Sooner first; then a regular task before an interactive one; then later. */
			if (delay > best.delay_ns)
				continue;
			if (delay == best.delay_ns &&
			    (best_regular > regular ||
			     (best_regular == regular && !vtime_before(best_key, key_now))))
				continue;
		}
		best.cpu = cpu;
		best.delay_ns = delay;
		best_key = key_now;
		best_regular = regular;
	}
	return best;
}

static int preempt_timer_fn(void *map, int *key, struct preempt_timer *t)
{
	/* Only if the waking task still waits there (it may have run when the task left). */
	if (swl_dsq_nr_queued(*key))
		swl_kick_cpu(*key, SCX_KICK_PREEMPT);
	return 0;
}

/*
 * Runs @p next on @v.cpu, through that CPU's own DSQ (served first): the CPU is kicked
 * now, or by its timer once its running task has had its shortest slice.
 */
static __always_inline void preempt_for(struct task_struct *p, struct victim v, u64 slice, u64 enq_flags)
{
	struct preempt_timer *t;
	u32 key = v.cpu;

	swl_dsq_insert(p, v.cpu, slice, enq_flags);
	if (!v.delay_ns) {
		swl_kick_cpu(v.cpu, SCX_KICK_PREEMPT);
		return;
	}
	count(&stats.nr_preempt_deferred);
	t = bpf_map_lookup_elem(&preempt_timers, &key);
	if (!t || bpf_timer_start(&t->timer, v.delay_ns, 0))
		swl_kick_cpu(v.cpu, SCX_KICK_PREEMPT);
}

/* The per-CPU timers of the online CPUs. */
static __always_inline s32 init_preempt_timers(u32 nr_cpus)
{
	struct preempt_timer *t;
	u32 i, key;

	bpf_for(i, 0, nr_cpus) {
		if (i >= SWL_MAX_CPUS)
			break;
		if (!cpu_was_online(i))
			continue;
		key = i;
		t = bpf_map_lookup_elem(&preempt_timers, &key);
		if (!t)
			return -2; /* -ENOENT */
		bpf_timer_init(&t->timer, &preempt_timers, CLOCK_MONOTONIC);
		bpf_timer_set_callback(&t->timer, preempt_timer_fn);
	}
	return 0;
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
 * whatever their weights. Whether @prev, its key charged for what it ran (@key), still
 * comes before that task, and has not kept its CPU for wait_max_ns in a row: then the
 * waiting task runs, however light it is, long before the watchdog would see it starve.
 */
static __always_inline bool may_keep_running(struct task_ctx *tctx, u64 dsq_id, s32 cpu, u64 now, u64 key)
{
	return now - tctx->run_ts <= cfg.wait_max_ns && head_comes_after(dsq_id, cpu, key);
}

/* @prev goes on with a new @slice; its run so far is charged by the caller. */
static __always_inline void keep_running(struct task_struct *prev, struct task_ctx *tctx, u64 key,
					 u64 slice, u64 now)
{
	prev->scx.dsq_vtime = key;
	prev->scx.slice = slice;
	tctx->slice_at_run = slice;
	tctx->charge_ts = now;
	count(&stats.nr_kept);
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
 * wait_max_ns is served next, ahead of the DSQ's order (at most SWL_RESCUE_MAX per scan),
 * unless that would put it back where it waits (a task in another CPU's DSQ that may not
 * run here).
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
		if (cpu < 0 || (u64)cpu == dsq_id)
			continue;
		if (set_vtime) {
			swl_dsq_move_set_vtime(&it, vtime_now);
			tctx->vtime = vtime_now;
		}
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
 * watchdog allows; every wait_max_ns / 8 one CPU scans the queues for tasks that waited
 * too long and serves them first. That includes the other CPUs' own DSQs: a CPU on its
 * way offline no longer dispatches, and until the kernel has ended the scheduler for the
 * hotplug (which waits for the hotplug to finish) a task waiting there would wait for the
 * watchdog.
 */
static __always_inline void guard_waits(s32 cpu, u64 now)
{
	u64 last = wait_scan_ts;
	bool bpf_mode = !user_mode();
	u32 nr_cpus = swl_nr_cpu_ids(), i;

	if ((s64)(now - last) < (s64)(cfg.wait_max_ns / 8) ||
	    __sync_val_compare_and_swap(&wait_scan_ts, last, now) != last)
		return;
	if (bpf_mode || hybrid_mode()) {
		rescue_waiting(SWL_DSQ_SHARED, cpu, now, true);
		rescue_waiting(SWL_DSQ_PRIO, cpu, now, true);
	}
	if (!bpf_mode) {
		rescue_waiting(SWL_DSQ_USER, cpu, now, false);
		rescue_waiting(SWL_DSQ_SCHED, cpu, now, false);
	}
	if (nr_cpus > SWL_MAX_CPUS)
		nr_cpus = SWL_MAX_CPUS;
	bpf_for(i, 0, nr_cpus) {
		if (i != (u32)cpu)
			rescue_waiting(i, cpu, now, bpf_mode);
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
	return init_preempt_timers(nr_cpus);
}

#endif /* SWIFTLAND_CORE_BPF_H */
