/*
 * swiftland's kfunc compat layer. Every sched_ext kfunc the scheduler calls goes through
 * a swl_* wrapper here, which picks at load time the form the running kernel has:
 *
 *   generation      kernels        insert                    move to local       vtime insert
 *   original        6.12           scx_bpf_dispatch          scx_bpf_consume     scx_bpf_dispatch_vtime
 *   renamed         6.13 .. 7.x    scx_bpf_dsq_insert        .._move_to_local    .._insert_vtime
 *   args / bool     7.x ..         scx_bpf_dsq_insert___v2   .._move_to_local___v2  __scx_bpf_dsq_insert_vtime
 *
 * Kernels of the 7.x series carry the renamed AND the new forms; the renamed ones are
 * going away. libbpf resolves a weak ksym to 0 when the kernel lacks it, and
 * bpf_ksym_exists() lets the verifier prune the branch that cannot run, so one object
 * loads on all of them. A name ending in "___swl" is resolved without that suffix
 * (libbpf drops the last "___flavour"), which is how the kernel's own "___v2" names are
 * reached without clashing with their declarations in vmlinux.h.
 */
#ifndef SWIFTLAND_COMPAT_BPF_H
#define SWIFTLAND_COMPAT_BPF_H

/* Newest forms. */
bool scx_bpf_dsq_insert___v2___swl(struct task_struct *p, u64 dsq_id, u64 slice,
				   u64 enq_flags) __ksym __weak;
bool scx_bpf_dsq_move_to_local___v2___swl(u64 dsq_id, u64 enq_flags) __ksym __weak;

/* Original 6.12 names, gone from current kernels (so absent from vmlinux.h). */
void scx_bpf_dispatch___swl(struct task_struct *p, u64 dsq_id, u64 slice,
			    u64 enq_flags) __ksym __weak;
void scx_bpf_dispatch_vtime___swl(struct task_struct *p, u64 dsq_id, u64 slice, u64 vtime,
				  u64 enq_flags) __ksym __weak;
bool scx_bpf_consume___swl(u64 dsq_id) __ksym __weak;
bool scx_bpf_dispatch_from_dsq___swl(struct bpf_iter_scx_dsq *it__iter, struct task_struct *p,
				     u64 dsq_id, u64 enq_flags) __ksym __weak;
void scx_bpf_dispatch_from_dsq_set_vtime___swl(struct bpf_iter_scx_dsq *it__iter,
					       u64 vtime) __ksym __weak;

static __always_inline void swl_dsq_insert(struct task_struct *p, u64 dsq_id, u64 slice,
					   u64 enq_flags)
{
	if (bpf_ksym_exists(scx_bpf_dsq_insert___v2___swl))
		scx_bpf_dsq_insert___v2___swl(p, dsq_id, slice, enq_flags);
	else if (bpf_ksym_exists(scx_bpf_dsq_insert))
		scx_bpf_dsq_insert(p, dsq_id, slice, enq_flags);
	else
		scx_bpf_dispatch___swl(p, dsq_id, slice, enq_flags);
}

static __always_inline void swl_dsq_insert_vtime(struct task_struct *p, u64 dsq_id,
						 u64 slice, u64 vtime, u64 enq_flags)
{
	if (bpf_ksym_exists(__scx_bpf_dsq_insert_vtime)) {
		struct scx_bpf_dsq_insert_vtime_args args = {
			.dsq_id = dsq_id,
			.slice = slice,
			.vtime = vtime,
			.enq_flags = enq_flags,
		};
		__scx_bpf_dsq_insert_vtime(p, &args);
	} else if (bpf_ksym_exists(scx_bpf_dsq_insert_vtime)) {
		scx_bpf_dsq_insert_vtime(p, dsq_id, slice, vtime, enq_flags);
	} else {
		scx_bpf_dispatch_vtime___swl(p, dsq_id, slice, vtime, enq_flags);
	}
}

static __always_inline bool swl_dsq_move_to_local(u64 dsq_id)
{
	if (bpf_ksym_exists(scx_bpf_dsq_move_to_local___v2___swl))
		return scx_bpf_dsq_move_to_local___v2___swl(dsq_id, 0);
	if (bpf_ksym_exists(scx_bpf_dsq_move_to_local))
		return scx_bpf_dsq_move_to_local(dsq_id);
	return scx_bpf_consume___swl(dsq_id);
}

/* Moving a task found by a DSQ iterator: renamed in 6.13 (scx_bpf_dispatch_from_dsq). */
static __always_inline bool swl_dsq_move(struct bpf_iter_scx_dsq *it, struct task_struct *p,
					 u64 dsq_id, u64 enq_flags)
{
	if (bpf_ksym_exists(scx_bpf_dsq_move))
		return scx_bpf_dsq_move(it, p, dsq_id, enq_flags);
	return scx_bpf_dispatch_from_dsq___swl(it, p, dsq_id, enq_flags);
}

static __always_inline void swl_dsq_move_set_vtime(struct bpf_iter_scx_dsq *it, u64 vtime)
{
	if (bpf_ksym_exists(scx_bpf_dsq_move_set_vtime))
		scx_bpf_dsq_move_set_vtime(it, vtime);
	else
		scx_bpf_dispatch_from_dsq_set_vtime___swl(it, vtime);
}

/*
 * Starts iterating @dsq_id; false when the kernel has no DSQ iterator (then @it must not
 * be used). The iterator has one form since 6.12; the check keeps older kernels loading.
 */
static __always_inline bool swl_dsq_iter_new(struct bpf_iter_scx_dsq *it, u64 dsq_id)
{
	if (!bpf_ksym_exists(bpf_iter_scx_dsq_new))
		return false;
	bpf_iter_scx_dsq_new(it, dsq_id, 0);
	return true;
}

/*
 * These have kept one form since 6.12; they are wrapped anyway so that the day one
 * changes, only this file does.
 */
static __always_inline s32 swl_select_cpu_dfl(struct task_struct *p, s32 prev_cpu,
					      u64 wake_flags, bool *is_idle)
{
	return scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, is_idle);
}

static __always_inline s32 swl_pick_idle_cpu(const struct cpumask *allowed, u64 flags)
{
	return scx_bpf_pick_idle_cpu(allowed, flags);
}

static __always_inline void swl_kick_cpu(s32 cpu, u64 flags)
{
	scx_bpf_kick_cpu(cpu, flags);
}

static __always_inline s32 swl_dsq_nr_queued(u64 dsq_id)
{
	return scx_bpf_dsq_nr_queued(dsq_id);
}

static __always_inline s32 swl_create_dsq(u64 dsq_id, s32 node)
{
	return scx_bpf_create_dsq(dsq_id, node);
}

static __always_inline u32 swl_nr_cpu_ids(void)
{
	return scx_bpf_nr_cpu_ids();
}

#endif /* SWIFTLAND_COMPAT_BPF_H */
