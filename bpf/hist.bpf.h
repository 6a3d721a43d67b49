/*
 * log2 microsecond histograms, shared by the scheduler (decision_hist) and the run-queue
 * latency tracer: bucket 0 counts [0, 1) us, bucket n counts [2^(n-1), 2^n) us, and the
 * last bucket everything beyond.
 */
#ifndef SWIFTLAND_HIST_BPF_H
#define SWIFTLAND_HIST_BPF_H

static __always_inline u32 swl_hist_bucket(u64 ns)
{
	u64 us = ns / 1000;
	u32 log = 0;

	if (!us)
		return 0;
	/* floor(log2(us)) by halving: no loop for the verifier to walk. */
	if (us >> 32) { log += 32; us >>= 32; }
	if (us >> 16) { log += 16; us >>= 16; }
	if (us >> 8) { log += 8; us >>= 8; }
	if (us >> 4) { log += 4; us >>= 4; }
	if (us >> 2) { log += 2; us >>= 2; }
	if (us >> 1) { log += 1; }
	return log + 1 < SWL_HIST_BUCKETS ? log + 1 : SWL_HIST_BUCKETS - 1;
}

/* Adds one to the bucket of ns in hist[SWL_HIST_BUCKETS]. */
static __always_inline void swl_hist_add(u64 *hist, u64 ns)
{
	u32 b = swl_hist_bucket(ns);

	if (b < SWL_HIST_BUCKETS)
		__sync_fetch_and_add(&hist[b], 1);
}

#endif /* SWIFTLAND_HIST_BPF_H */
