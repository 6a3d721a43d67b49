/*
 * user mode: the one function that decides what a dispatch record from user space may do.
 * Nothing user space writes is trusted: the record may be stale, malformed or hostile.
 * It is shared by the scheduler (main.bpf.c) and by a SEC("syscall") test program that
 * runs it on any kernel, sched_ext or not (test_rings.bpf.c), so it calls no sched_ext
 * kfunc: the caller looks the task up and acts on the verdict.
 */
#ifndef SWIFTLAND_DISPATCH_CHECK_BPF_H
#define SWIFTLAND_DISPATCH_CHECK_BPF_H

enum swl_verdict {
	SWL_VERDICT_DISPATCH = 0, /* go ahead, on *cpu (a CPU or SWL_CPU_ANY) */
	SWL_VERDICT_BOUNCE = 1,   /* the CPU is not allowed: go ahead on *cpu instead */
	SWL_VERDICT_CANCEL = 2,   /* stale: the task was re-enqueued, or is not in user space */
	SWL_VERDICT_NO_TASK = 3,  /* no such task (any more) */
	SWL_VERDICT_INVALID = 4,  /* malformed record */
};

/* Longest slice user space may ask for: anything above is a malformed record. */
#define SWL_MAX_USER_SLICE_NS (1000ULL * 1000 * 1000)

/*
 * d: the record; p: the task with pid d->pid, or NULL if there is none; in_flight_seq:
 * the sequence number of the task's pending trip to user space, 0 if it has none;
 * nr_cpus: number of CPU ids that have a per-CPU DSQ (at most SWL_MAX_CPUS); online:
 * bitmap of the CPUs that were online at load time (SWL_MAX_CPUS / 64 words). On DISPATCH
 * and BOUNCE, *cpu is where to put it: an online CPU the task may use, or SWL_CPU_ANY.
 * A CPU that is offline is bounced like one outside the task's affinity: a per-CPU DSQ
 * of an offline CPU is never served, so a task sent there would wait forever.
 */
static __always_inline enum swl_verdict
swl_check_dispatch(const struct swl_dispatched_task *d, struct task_struct *p,
		   u64 in_flight_seq, u32 nr_cpus, const u64 *online, s32 *cpu)
{
	u32 c;

	if (d->pid <= 0 || d->enq_seq == 0 || d->slice_ns > SWL_MAX_USER_SLICE_NS ||
	    (d->flags & ~(u64)SWL_DISPATCH_FLAGS))
		return SWL_VERDICT_INVALID;
	if (nr_cpus > SWL_MAX_CPUS)
		nr_cpus = SWL_MAX_CPUS;
	if (d->cpu != SWL_CPU_ANY && (d->cpu < 0 || (u32)d->cpu >= nr_cpus))
		return SWL_VERDICT_INVALID;
	if (!p)
		return SWL_VERDICT_NO_TASK;
	if (!in_flight_seq || d->enq_seq != in_flight_seq)
		return SWL_VERDICT_CANCEL;
	if (d->cpu == SWL_CPU_ANY) {
		*cpu = SWL_CPU_ANY;
		return SWL_VERDICT_DISPATCH;
	}
	c = (u32)d->cpu;
	if ((online[(c / 64) & (SWL_MAX_CPUS / 64 - 1)] & (1ULL << (c & 63))) &&
	    bpf_cpumask_test_cpu(c, p->cpus_ptr)) {
		*cpu = d->cpu;
		return SWL_VERDICT_DISPATCH;
	}
	*cpu = SWL_CPU_ANY;
	return SWL_VERDICT_BOUNCE;
}

#endif /* SWIFTLAND_DISPATCH_CHECK_BPF_H */
