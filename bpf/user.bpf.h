/*
 * user mode's backend: policy-agnostic. Each task that finds no idle CPU travels to the
 * Swift process as a record in the `queued` ring buffer; the policy's decisions come back
 * in the `dispatched` user ring buffer and are validated (dispatch_check.bpf.h) before
 * they are acted on. A task that cannot be sent (ring full) or waits in user space past
 * the fallback bound is dispatched here, so no task is ever lost. The scheduling thread
 * itself waits in a DSQ of its own, served first while it has work.
 *
 * hybrid mode is user mode with a bypass (bypass.bpf.h decides when): while tasks queue in
 * user space, the kernel side schedules new ones with bpf mode's policy (bpfland.bpf.h),
 * and every task it dispatches itself goes through that policy. The BPF policy's books
 * (vruntime, interactive class) are kept for every task in this mode, and the records
 * carry its vruntime, charged for every run (SWL_QUEUED_CHARGED).
 *
 * Included once, by main.bpf.c, after core.bpf.h.
 */
#ifndef SWIFTLAND_USER_BPF_H
#define SWIFTLAND_USER_BPF_H

/*
 * The ring records are never globals, and BTF only describes the types of globals and
 * of what CO-RE touches: these two unused variables put the records into the object's
 * BTF, where the ABI test compares them with Swift's view of intf.h.
 */
struct swl_queued_task btf_anchor_queued_task;
struct swl_dispatched_task btf_anchor_dispatched_task;
/* Bit n set while CPU n is idle, for a policy that picks CPUs. */
u64 idle_cpus[SWL_MAX_CPUS / 64];

/* The last sequence number given to a trip; unique across tasks. */
static u64 last_enq_seq;
/* When the scheduling thread was last queued, or kicked for. */
static u64 sched_wait_ts;
/*
 * hybrid mode: the control law's state (global: the compiler would split a static struct
 * into scalars whose BTF the kernel refuses), and who is running its step (0: nobody).
 */
struct bypass_law bypass;
static u32 bypass_busy;

/* Kernel -> user records, and user -> kernel dispatch records. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 512 * 1024); /* resized by the loader (--ring-kib) */
} queued SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_USER_RINGBUF);
	__uint(max_entries, 512 * 1024);
} dispatched SEC(".maps");

/*
 * Every trip to user space in the order it started, so the oldest can be found in O(1)
 * when it passes the fallback bound. Entries of trips that ended are skipped when they
 * reach the head.
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

/* A timer that enforces the fallback bound and wakes user space. */
struct heartbeat {
	struct bpf_timer timer;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct heartbeat);
} heartbeat_timer SEC(".maps");

/* When this CPU went idle, and whether tasks were in flight then. */
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

/* hybrid mode: whether the kernel side bypasses user space now. */
static __always_inline bool bypassing(void)
{
	return hybrid_mode() && bypass.since;
}

/*
 * The kernel side dispatches a task itself: FIFO into the DSQ every CPU serves in user
 * mode, by the BPF policy in hybrid mode.
 */
static __always_inline void kernel_dispatch(struct task_struct *p, struct task_ctx *tctx, u64 enq_flags)
{
	s32 cpu;

	count(&stats.nr_kernel_dispatches);
	if (hybrid_mode()) {
		count(&stats.nr_bypass_dispatches);
		bpfland_enqueue(p, tctx, enq_flags);
		return;
	}
	swl_dsq_insert(p, SWL_DSQ_USER, cfg.slice_ns, enq_flags);
	cpu = swl_pick_idle_cpu(p->cpus_ptr, 0);
	if (cpu >= 0)
		swl_kick_cpu(cpu, SCX_KICK_IDLE);
}

/*
 * hybrid mode: one step of the control law (bypass.bpf.h), by one CPU at a time; the
 * others skip it (they would find nothing more to do).
 */
static __always_inline void bypass_step(u64 now)
{
	enum bypass_event ev;

	if (!hybrid_mode() || __sync_val_compare_and_swap(&bypass_busy, 0, 1))
		return;
	ev = bypass_tick(&bypass, now, stats.nr_in_flight, !bpf_ringbuf_query(&queued, BPF_RB_AVAIL_DATA),
			 cfg.bypass_target_ns, cfg.bypass_interval_ns);
	if (ev == BYPASS_ENTER)
		count(&stats.nr_bypass_entries);
	stats.in_bypass = bypass.since ? 1 : 0;
	stats.bypass_ns = bypass.total_ns;
	__sync_val_compare_and_swap(&bypass_busy, 1, 0);
}

/*
 * A trip to user space ends exactly once, whoever ends it (a user dispatch, the fallback,
 * a dequeue): the one whose compare-and-swap succeeds.
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
 * Whether the scheduling thread has work: tasks in flight, or records in the ring it has
 * not read (those may all be about trips the fallback already ended, and the thread must
 * still drain them, or the ring stays full and every task bypasses the policy).
 */
static __always_inline bool sched_thread_has_work(void)
{
	return stats.nr_in_flight || bpf_ringbuf_query(&queued, BPF_RB_AVAIL_DATA);
}

/* A sync wakeup's flag travels with the task's record: the policy decides what it means. */
static __always_inline void user_select_cpu(struct task_ctx *tctx, u64 wake_flags, bool is_idle)
{
	tctx->sync_wakeup = !is_idle && (wake_flags & SCX_WAKE_SYNC);
}

/*
 * The scheduling thread waits in its own DSQ. dispatch drains the user ring first (so a
 * yield of the thread delivers its decisions), then serves this DSQ first while the thread
 * has work. While it has, its CPU is kicked so that it does not wait for the running
 * task's slice to end.
 */
static __always_inline bool enqueue_sched_thread(struct task_struct *p, u64 enq_flags)
{
	if (p->pid != cfg.sched_tid)
		return false;
	swl_dsq_insert(p, SWL_DSQ_SCHED, cfg.slice_ns, enq_flags);
	sched_wait_ts = bpf_ktime_get_ns();
	if (sched_thread_has_work())
		swl_kick_cpu(scx_bpf_task_cpu(p), SCX_KICK_PREEMPT);
	return true;
}

/*
 * A scheduling thread that has waited for a CPU longer than slice_min (it yielded, or it
 * spins, while every CPU runs something) gets one now: this one, whose dispatch serves it
 * first. Not sooner: where CPUs dispatch often, it gets one without preempting anything.
 * A sleeping thread is woken by the ring and kicks its CPU when it is queued.
 */
static __always_inline void kick_sched_thread(u64 now)
{
	u64 since = sched_wait_ts;

	if (!swl_dsq_nr_queued(SWL_DSQ_SCHED) || now - since < cfg.slice_min_ns ||
	    __sync_val_compare_and_swap(&sched_wait_ts, since, now) != since)
		return;
	swl_kick_cpu(bpf_get_smp_processor_id(), SCX_KICK_PREEMPT);
}

/* Send the task to user space; if that is impossible, dispatch it here. */
static __always_inline void user_enqueue(struct task_struct *p, struct task_ctx *tctx,
					 u64 enq_flags)
{
	struct swl_queued_task *r;
	struct trip trip;
	u64 now, seq;

	if (bypassing()) {
		tctx->sync_wakeup = false;
		kernel_dispatch(p, tctx, enq_flags);
		return;
	}
	now = bpf_ktime_get_ns();
	/* One counter for all tasks: a record about an earlier task with a reused pid can never match. */
	seq = __sync_fetch_and_add(&last_enq_seq, 1) + 1;
	trip = (struct trip){ .pid = p->pid, .seq = seq, .sent_ts = now };
	r = bpf_ringbuf_reserve(&queued, sizeof(*r), 0);
	if (!r) {
		count(&stats.nr_ring_full);
		kernel_dispatch(p, tctx, enq_flags);
		return;
	}
	if (bpf_map_push_elem(&trips, &trip, 0)) {
		bpf_ringbuf_discard(r, BPF_RB_NO_WAKEUP);
		count(&stats.nr_ring_full);
		kernel_dispatch(p, tctx, enq_flags);
		return;
	}
	r->pid = p->pid;
	r->prev_cpu = scx_bpf_task_cpu(p);
	r->nr_cpus_allowed = p->nr_cpus_allowed;
	r->flags = (tctx->sync_wakeup ? SWL_QUEUED_SYNC_WAKEUP : 0) |
		   ((enq_flags & SCX_ENQ_WAKEUP) ? SWL_QUEUED_WAKEUP : 0);
	tctx->sync_wakeup = false;
	tctx->sent_woken = enq_flags & SCX_ENQ_WAKEUP;
	r->enq_flags = enq_flags;
	r->exec_runtime_ns = tctx->exec_runtime;
	r->nvcsw = p->nvcsw;
	r->weight = p->scx.weight;
	r->vtime = p->scx.dsq_vtime;
	if (hybrid_mode()) {
		r->vtime = tctx->vtime;
		r->flags |= SWL_QUEUED_CHARGED;
	}
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
	kick_sched_thread(now);
}

struct drain_ctx {
	u64 now;
	u32 nr_cpus;
	u32 budget;	/* inserts left in this ops.dispatch call */
};

/*
 * A decision that asks to preempt: granted when the task woke up (as the kernel side saw
 * it, not as the record says) and a CPU it may use, the one the record names or any, runs
 * a task that has been running since it last woke longer than the waker ran before it
 * slept, by more than a longest slice, both by weight (pick_victim BY_KEY on these bursts,
 * which the kernel side measures itself). The policy says which tasks it would run first;
 * the kernel side's own measure keeps a policy from preempting at will, and keeps tasks
 * that hand work to each other (short bursts all) from preempting one another. The task
 * then goes to the head of that CPU's DSQ and the CPU is kicked, at once or once the
 * running task has had its shortest slice.
 */
static __always_inline bool user_preempt(struct task_struct *p, struct task_ctx *tctx,
					 const struct swl_dispatched_task *d, s32 cpu, u64 now)
{
	struct victim v;
	u64 burst;

	count(&stats.nr_preempt_asked);
	if (!cfg.preempt || !tctx->sent_woken) {
		count(&stats.nr_preempt_refused);
		return false;
	}
	burst = charge_of(p, tctx->last_burst);
	if (cpu == SWL_CPU_ANY)
		v = pick_victim(p, burst, cfg.slice_ns, false, BY_KEY, scx_bpf_task_cpu(p), SWL_VICTIM_SCAN, now);
	else
		v = pick_victim(p, burst, cfg.slice_ns, false, BY_KEY, cpu, 1, now);
	if (v.cpu < 0) {
		count(&stats.nr_preempt_refused);
		return false;
	}
	preempt_for(p, v, d->slice_ns ?: cfg.slice_ns, SCX_ENQ_HEAD);
	count(&stats.nr_preempt_granted);
	return true;
}

/* Act on one dispatch record. Returns 1 to stop draining. */
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
		tctx->drained_ts = ctx->now;
		p->scx.dsq_vtime = d.vtime;
		if (hybrid_mode()) {
			/*
			 * The policy's vruntime is the task's, for the BPF policy too, within the
			 * bounds that policy keeps every vruntime in (a hostile one stays in reach).
			 */
			tctx->vtime = bounded_vtime(d.vtime);
			bypass_sample(&bypass, ctx->now - tctx->sent_ts);
		}
		if ((d.flags & SWL_DISPATCH_PREEMPT) && user_preempt(p, tctx, &d, cpu, ctx->now)) {
			ctx->budget--;
			break;
		}
		if (cpu == SWL_CPU_ANY && hybrid_mode()) {
			/*
			 * One order for both policies' tasks: the shared DSQ, by the vruntime the
			 * user policy gave (the kernel side's book too, charged for every run).
			 */
			swl_dsq_insert_vtime(p, SWL_DSQ_SHARED, d.slice_ns ?: cfg.slice_ns, tctx->vtime, 0);
			cpu = swl_pick_idle_cpu(p->cpus_ptr, 0);
		} else if (cpu == SWL_CPU_ANY) {
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
 * Dispatch, here, up to @budget trips to user space that passed the fallback bound; in
 * bypass, every trip that passed the sojourn target (recalled: user space has a standing
 * queue). The trips queue is in send order, so the first recent one ends the scan. Entries
 * of trips that ended already are dropped on the way and use none of the budget.
 */
static __always_inline void dispatch_expired(u64 now, u32 budget)
{
	u64 bound = bypassing() ? cfg.bypass_target_ns : cfg.fallback_ns;
	struct task_struct *p;
	struct task_ctx *tctx;
	struct trip trip;
	u32 i;

	bpf_for(i, 0, 64) {
		if (!budget || bpf_map_peek_elem(&trips, &trip) || now - trip.sent_ts < bound)
			break;
		if (bpf_map_pop_elem(&trips, &trip))
			break;
		p = bpf_task_from_pid(trip.pid);
		if (!p)
			continue;
		tctx = bpf_task_storage_get(&task_ctx_stor, p, 0, 0);
		if (tctx && end_trip(tctx, trip.seq)) {
			count(now - trip.sent_ts >= cfg.fallback_ns ? &stats.nr_user_timeouts
								    : &stats.nr_bypass_recalls);
			kernel_dispatch(p, tctx, 0);
			budget--;
		}
		bpf_task_release(p);
	}
}

/*
 * keep_running for the tasks the policy dispatched to "any CPU", compared by the vruntime
 * the policy gave them (their dispatch records' vtime), unless the policy sent a task to
 * this CPU itself. The policy charges runtime the same way, so a task kept here is charged
 * as if it had gone round through user space; its next record counts its run from now.
 * Without this the policy sees at most one of two tasks pinned together at a time, and they
 * take turns whatever their weights.
 */
static __always_inline bool user_keep_prev(struct task_struct *prev, s32 cpu, u64 now)
{
	struct task_ctx *tctx;
	u64 charge, vtime;

	if (!still_runnable(prev) || is_per_cpu_kthread(prev) || prev->pid == cfg.sched_tid)
		return false;
	tctx = lookup_task_ctx(prev);
	if (!tctx || tctx->in_flight_seq || swl_dsq_nr_queued(cpu))
		return false;
	charge = charge_of(prev, now - tctx->charge_ts);
	/* hybrid mode: the BPF policy's books, and its queues too. */
	vtime = (hybrid_mode() ? tctx->vtime : prev->scx.dsq_vtime) + charge;
	if (!may_keep_running(tctx, SWL_DSQ_USER, cpu, now, vtime))
		return false;
	if (hybrid_mode()) {
		if (swl_dsq_nr_queued(SWL_DSQ_PRIO) || !head_comes_after(SWL_DSQ_SHARED, cpu, vtime))
			return false;
		tctx->vtime = vtime;
		tctx->awake_vtime += charge;
	}
	keep_running(prev, tctx, vtime, tctx->slice_at_run ?: cfg.slice_ns, now);
	if (vtime_before(vtime_now, vtime))
		vtime_now = vtime;
	tctx->exec_runtime += now - tctx->start_ts;
	tctx->start_ts = now;
	return true;
}

static __always_inline void user_dispatch(s32 cpu, struct task_struct *prev, u64 now)
{
	struct drain_ctx ctx = {
		.now = now,
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
	bypass_step(now);
	if (hybrid_mode())
		update_nr_waiting();
	/*
	 * A budget of its own: with the decisions' budget spent, expired trips would never
	 * be looked at under a steady flow of decisions. Both together stay well within the
	 * kernel's dispatch buffer (32 inserts per call).
	 */
	dispatch_expired(now, SWL_MAX_DISPATCH_BATCH);

	/* Then swiftland's own scheduling thread, while it has work. */
	if (sched_thread_has_work() && swl_dsq_move_to_local(SWL_DSQ_SCHED))
		return;

	if (user_keep_prev(prev, cpu, now))
		return;

	if (swl_dsq_move_to_local(cpu))
		return;
	/*
	 * hybrid mode: every task not bound to a CPU waits in bpf mode's queues, the user
	 * policy's decisions too: a queue not served for the starvation threshold first, then
	 * the priority queue, then the shared one (bpfland_serve).
	 */
	if (hybrid_mode() && (bpfland_serve(now, true) || bpfland_serve(now, false)))
		return;
	if (swl_dsq_move_to_local(SWL_DSQ_USER))
		return;
	if (swl_dsq_move_to_local(SWL_DSQ_SCHED))
		return;
	if (still_runnable(prev))
		prev->scx.slice = cfg.slice_ns;
}

/*
 * For wakeup preemption its key is how long it has been running since it last woke, by
 * weight (see user_preempt); the policy's own thread is no victim.
 */
static __always_inline void user_running(struct task_struct *p, struct task_ctx *tctx)
{
	tctx->start_ts = tctx->run_ts;
	if (tctx->drained_ts) {
		swl_hist_add(stats.run_hist, tctx->run_ts - tctx->drained_ts);
		tctx->drained_ts = 0;
	}
	if (vtime_before(vtime_now, p->scx.dsq_vtime))
		vtime_now = p->scx.dsq_vtime;
	if (hybrid_mode() && vtime_before(vtime_now, tctx->vtime))
		vtime_now = tctx->vtime;
	note_running(p, charge_of(p, tctx->exec_runtime), false,
		     !is_per_cpu_kthread(p) && p->pid != cfg.sched_tid, tctx->run_ts);
}

/* The policy owns vruntime: it only needs the run times. */
static __always_inline void user_stopping(struct task_ctx *tctx, u64 now)
{
	tctx->stop_ts = now;
	tctx->exec_runtime += now - tctx->start_ts;
}

static __always_inline void user_runnable(struct task_ctx *tctx, u64 enq_flags)
{
	if (!(enq_flags & SCX_ENQ_WAKEUP))
		return;
	/* It slept: a new burst starts. */
	tctx->last_burst = tctx->exec_runtime;
	tctx->exec_runtime = 0;
}

/* A task in user space left the scheduler's hands (affinity change, exit...). */
static __always_inline void user_task_gone(struct task_ctx *tctx)
{
	if (end_trip(tctx, tctx->in_flight_seq))
		count(&stats.nr_dequeued_in_flight);
}

static __always_inline void user_update_idle(s32 cpu, bool idle)
{
	struct cpu_ctx *cctx;
	u32 zero = 0, word = (u32)cpu / 64;
	u64 bit = 1ULL << (cpu & 63), now;

	if (word >= SWL_MAX_CPUS / 64)
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
 * The heartbeat: while the scheduling thread has work, wake it (a record with pid 0; none
 * fits in a full ring, but then the thread has records to read anyway) and, when it waits
 * for a CPU or the oldest trip passed the fallback bound, kick a CPU: its dispatch serves
 * the thread first and runs the fallback even if every CPU was idle.
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

	bypass_step(bpf_ktime_get_ns());
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

static __always_inline s32 user_init(void)
{
	struct heartbeat *hb;
	u32 zero = 0;

	hb = bpf_map_lookup_elem(&heartbeat_timer, &zero);
	if (!hb)
		return -2; /* -ENOENT */
	bpf_timer_init(&hb->timer, &heartbeat_timer, CLOCK_MONOTONIC);
	bpf_timer_set_callback(&hb->timer, heartbeat_fn);
	return bpf_timer_start(&hb->timer, heartbeat_period(), 0);
}

#endif /* SWIFTLAND_USER_BPF_H */
