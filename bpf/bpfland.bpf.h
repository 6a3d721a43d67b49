/*
 * bpf mode's policy, after the 2024 design of scx_bpfland (see README.md):
 *
 *  - A task that finds no idle CPU waits in the priority DSQ (interactive tasks) or the
 *    shared DSQ (regular tasks), both ordered by vruntime; an idle CPU is kicked for it.
 *  - dispatch serves the priority DSQ, then the shared one; a starvation guard serves
 *    shared (then priority) first when it has not been served for the threshold.
 *  - A task is interactive when its average rate of voluntary context switches reaches a
 *    moving threshold; a sync wakeup promotes it until its average drops below.
 *  - The slice shrinks as more tasks wait: max(slice_max / (nr_waiting + 1), slice_min).
 *
 * Beyond the 2024 design, each an option:
 *  - ordering deadline: one queue, by deadline (vruntime plus what the task ran since it
 *    last woke up, at most slice_lag), instead of the two classes;
 *  - preempt: a waking task that finds no idle CPU preempts a CPU whose running task comes
 *    after it (pick_victim in core.bpf.h) instead of waiting for that task's slice to end.
 *
 * Included once, by main.bpf.c, after core.bpf.h.
 */
#ifndef SWIFTLAND_BPFLAND_BPF_H
#define SWIFTLAND_BPFLAND_BPF_H

/* When each global DSQ was last served or found empty: the starvation guard's clock. */
static u64 prio_served_ts, shared_served_ts;

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

/* The order a task with vruntime @vtime waits in: its vruntime, or its deadline. */
static __always_inline u64 task_key(u64 vtime, u64 awake_vtime)
{
	if (cfg.ordering != SWL_ORDER_DEADLINE)
		return vtime;
	return vtime + (awake_vtime < cfg.slice_lag_ns ? awake_vtime : cfg.slice_lag_ns);
}

/* The smoothed number of tasks waiting in the global DSQs, which task_slice divides by. */
static __always_inline void update_nr_waiting(void)
{
	u64 waiting = swl_dsq_nr_queued(SWL_DSQ_PRIO) + swl_dsq_nr_queued(SWL_DSQ_SHARED);

	stats.nr_waiting = (stats.nr_waiting + waiting) / 2;
}

/* The more tasks wait in the global DSQs, the shorter each slice. */
static __always_inline u64 task_slice(void)
{
	u64 slice = cfg.slice_ns / (stats.nr_waiting + 1);

	return slice > cfg.slice_min_ns ? slice : cfg.slice_min_ns;
}

/*
 * A sync wakeup means the waker is about to sleep and hand over to the wakee: typical of
 * pipelines and request/response pairs. Promote the wakee, unless the priority DSQ is
 * already crowded (then a promotion would only add to its queue).
 */
static __always_inline void bpfland_select_cpu(struct task_ctx *tctx, u64 wake_flags)
{
	if ((wake_flags & SCX_WAKE_SYNC) && cfg.nvcsw_max_thresh &&
	    swl_dsq_nr_queued(SWL_DSQ_PRIO) <= 4 * nr_online_cpus)
		set_interactive(tctx, true);
}

/*
 * A waking task that found no idle CPU preempts the CPU pick_victim chooses, through that
 * CPU's own DSQ (served first): a task that wakes never waits for a later one's slice.
 */
static __always_inline bool bpfland_preempt(struct task_struct *p, struct task_ctx *tctx, u64 key,
					    u64 slice, u64 enq_flags)
{
	struct victim v;

	if (!cfg.preempt || !(enq_flags & SCX_ENQ_WAKEUP))
		return false;
	count(&stats.nr_preempt_asked);
	if (hybrid_mode())
		/* The running tasks' keys are user mode's (user_running): their bursts. */
		v = pick_victim(p, charge_of(p, tctx->last_burst), cfg.slice_ns, false, BY_KEY,
				scx_bpf_task_cpu(p), SWL_VICTIM_SCAN, bpf_ktime_get_ns());
	else
		v = pick_victim(p, key, cfg.slice_min_ns, tctx->interactive,
				cfg.ordering == SWL_ORDER_CLASSES ? BY_CLASS : BY_KEY, scx_bpf_task_cpu(p),
				SWL_VICTIM_SCAN, bpf_ktime_get_ns());
	if (v.cpu < 0) {
		count(&stats.nr_preempt_refused);
		return false;
	}
	preempt_for(p, v, slice, enq_flags);
	count(&stats.nr_preempt_granted);
	return true;
}

static __always_inline void bpfland_enqueue(struct task_struct *p, struct task_ctx *tctx,
					    u64 enq_flags)
{
	u64 slice = task_slice(), key;
	s32 cpu;

	tctx->vtime = bounded_vtime(tctx->vtime);
	key = task_key(tctx->vtime, tctx->awake_vtime);

	/* Work conservation: an idle CPU that may run the task is woken for it. */
	cpu = swl_pick_idle_cpu(p->cpus_ptr, 0);
	if (cpu < 0 && bpfland_preempt(p, tctx, key, slice, enq_flags))
		return;
	if (tctx->interactive && cfg.ordering == SWL_ORDER_CLASSES) {
		swl_dsq_insert_vtime(p, SWL_DSQ_PRIO, slice, key, enq_flags);
		count(&stats.nr_prio_dispatches);
	} else {
		swl_dsq_insert_vtime(p, SWL_DSQ_SHARED, slice, key, enq_flags);
		count(&stats.nr_shared_dispatches);
	}
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

/* Keep a regular @prev (@tctx from regular_prev) over the shared DSQ's head (see keep_running). */
static __always_inline bool keep_prev(struct task_struct *prev, struct task_ctx *tctx, s32 cpu,
				      u64 now)
{
	u64 charge, vtime, awake, key;

	if (!tctx || !still_runnable(prev))
		return false;
	if (swl_dsq_nr_queued(SWL_DSQ_PRIO) || swl_dsq_nr_queued(cpu) ||
	    now - prio_served_ts > cfg.starvation_thresh_ns)
		return false;
	charge = charge_of(prev, now - tctx->charge_ts);
	vtime = tctx->vtime + charge;
	awake = tctx->awake_vtime + charge;
	key = task_key(vtime, awake);
	if (!may_keep_running(tctx, SWL_DSQ_SHARED, cpu, now, key))
		return false;
	tctx->vtime = vtime;
	tctx->awake_vtime = awake < cfg.slice_lag_ns ? awake : cfg.slice_lag_ns;
	keep_running(prev, tctx, key, task_slice(), now);
	if (vtime_before(vtime_now, vtime))
		vtime_now = vtime;
	return true;
}

/* The context of @prev when it is a regular task (not interactive, not a per-CPU kthread). */
static __always_inline struct task_ctx *regular_prev(struct task_struct *prev)
{
	struct task_ctx *tctx;

	if (!prev || is_per_cpu_kthread(prev))
		return NULL;
	tctx = lookup_task_ctx(prev);
	return tctx && !tctx->interactive ? tctx : NULL;
}

static __always_inline void bpfland_dispatch(s32 cpu, struct task_struct *prev, u64 now)
{
	struct task_ctx *prev_ctx = regular_prev(prev);

	update_nr_waiting();
	/*
	 * A regular task that ran until now was the regular tasks' turn: the shared queue was
	 * not starved meanwhile, however long the slice lasted (a late tick stretches it).
	 */
	if (prev_ctx)
		shared_served_ts = now;

	/* A waker sent here to preempt, or a task the wait guard serves, goes first. */
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
	if (keep_prev(prev, prev_ctx, cpu, now))
		return;

	if (serve(SWL_DSQ_PRIO, &prio_served_ts, now))
		return;
	if (serve(SWL_DSQ_SHARED, &shared_served_ts, now))
		return;

	/* Nothing else to run: let the previous task go on with a fresh slice. */
	if (still_runnable(prev))
		prev->scx.slice = task_slice();
}

/*
 * hybrid mode: serve the priority DSQ, then the shared one, as bpf mode does; with
 * @starved_only, only one not served for the starvation threshold.
 */
static __always_inline bool bpfland_serve(u64 now, bool starved_only)
{
	if ((!starved_only || now - prio_served_ts > cfg.starvation_thresh_ns) &&
	    serve(SWL_DSQ_PRIO, &prio_served_ts, now))
		return true;
	return (!starved_only || now - shared_served_ts > cfg.starvation_thresh_ns) &&
	       serve(SWL_DSQ_SHARED, &shared_served_ts, now);
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

/*
 * Charge the time it ran, scaled by weight (100 = nice 0), and reclassify. The time, not
 * the slice used: a preempted task's slice is zeroed, and it must not pay for the rest.
 */
static __always_inline void bpfland_stopping(struct task_struct *p, struct task_ctx *tctx,
					     u64 now)
{
	u64 charge = charge_of(p, now - tctx->charge_ts);

	tctx->vtime += charge;
	tctx->awake_vtime += charge;
	if (tctx->awake_vtime > cfg.slice_lag_ns)
		tctx->awake_vtime = cfg.slice_lag_ns;
	if (cfg.nvcsw_max_thresh)
		update_interactive(p, tctx, now);
}

/* A new burst starts when it wakes up. */
static __always_inline void bpfland_runnable(struct task_ctx *tctx, u64 enq_flags)
{
	if (enq_flags & SCX_ENQ_WAKEUP)
		tctx->awake_vtime = 0;
}

/* It starts running with its vruntime as the reference's candidate, and its key. */
static __always_inline void bpfland_running(struct task_struct *p, struct task_ctx *tctx, u64 now)
{
	if (vtime_before(vtime_now, tctx->vtime))
		vtime_now = tctx->vtime;
	note_running(p, task_key(tctx->vtime, tctx->awake_vtime), tctx->interactive,
		     !is_per_cpu_kthread(p), now);
}

static __always_inline void bpfland_init_task(struct task_struct *p, struct task_ctx *tctx,
					      u64 now)
{
	tctx->nvcsw = p->nvcsw;
	tctx->nvcsw_ts = now;
	tctx->vtime = vtime_now;
}

#endif /* SWIFTLAND_BPFLAND_BPF_H */
