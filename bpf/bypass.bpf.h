/*
 * hybrid mode's control law: when the kernel side stops sending tasks to user space and
 * schedules them with the BPF policy itself (bypass), and when it hands back.
 *
 * After CoDel (Nichols and Jacobson, "Controlling Queue Delay", 2012): the signal is each
 * trip's sojourn, from the task sent to its decision drained, and a standing queue in user
 * space shows as a *smallest* sojourn over an interval that stays above the target; a
 * burst does not, since some decisions of the interval still come back fast.
 *
 *  - Outside bypass, time is cut into intervals. At the end of one, bypass starts when its
 *    smallest sojourn was above the target, or when no decision was drained in it at all
 *    while tasks were in flight from its start to its end (a stalled thread).
 *  - Bypass lasts at least one interval, and ends once user space has caught up: no trip
 *    in flight and no record left unread in the ring. A new interval starts then.
 *
 * Pure functions of the state and their arguments, so that tests drive them with chosen
 * times (bpf/test_rings.bpf.c); the caller serialises bypass_tick and owns the state.
 */
#ifndef SWIFTLAND_BYPASS_BPF_H
#define SWIFTLAND_BYPASS_BPF_H

#define SWL_NO_SOJOURN (~0ULL)

struct bypass_law {
	__u64 interval_start;     /* when the current interval began; 0 before the first */
	__u64 min_sojourn;        /* smallest sojourn drained in it; SWL_NO_SOJOURN: none */
	__u64 in_flight_at_start; /* trips in flight when it began */
	__u64 since;              /* when bypass began; 0 while not bypassing */
	__u64 accounted;          /* bypass time is counted in total_ns up to here */
	__u64 total_ns;           /* time spent bypassing */
};

enum bypass_event {
	BYPASS_NONE = 0,
	BYPASS_ENTER = 1,
	BYPASS_LEAVE = 2,
};

static __always_inline void bypass_new_interval(struct bypass_law *law, __u64 now, __u64 in_flight)
{
	law->interval_start = now;
	law->min_sojourn = SWL_NO_SOJOURN;
	law->in_flight_at_start = in_flight;
}

/* One decision drained, @sojourn after its task was sent. */
static __always_inline void bypass_sample(struct bypass_law *law, __u64 sojourn)
{
	if (sojourn < law->min_sojourn)
		law->min_sojourn = sojourn;
}

/*
 * The law's step at @now, with @in_flight trips in flight and @ring_empty when user space
 * has read every record: what changed. Called often (every dispatch, the heartbeat); it
 * only acts at the end of an interval, or in bypass.
 */
static __always_inline enum bypass_event bypass_tick(struct bypass_law *law, __u64 now, __u64 in_flight,
						     bool ring_empty, __u64 target, __u64 interval)
{
	bool standing;

	if (law->since) {
		if ((__s64)(now - law->accounted) > 0) {
			law->total_ns += now - law->accounted;
			law->accounted = now;
		}
		if ((__s64)(now - law->since) < (__s64)interval || in_flight || !ring_empty)
			return BYPASS_NONE;
		law->since = 0;
		bypass_new_interval(law, now, 0);
		return BYPASS_LEAVE;
	}
	if (!law->interval_start) {
		bypass_new_interval(law, now, in_flight);
		return BYPASS_NONE;
	}
	if ((__s64)(now - law->interval_start) < (__s64)interval)
		return BYPASS_NONE;
	if (law->min_sojourn != SWL_NO_SOJOURN)
		standing = law->min_sojourn > target;
	else
		standing = law->in_flight_at_start && in_flight;
	bypass_new_interval(law, now, in_flight);
	if (!standing)
		return BYPASS_NONE;
	law->since = now;
	law->accounted = now;
	return BYPASS_ENTER;
}

#endif /* SWIFTLAND_BYPASS_BPF_H */
