/*
 * Test and benchmark programs for user mode's ring buffers, runnable on any kernel with
 * BPF ring buffers (5.19+), sched_ext or not: each is a SEC("syscall") program that user
 * space runs with bpf_prog_test_run_opts(). They use the same records (intf.h) and the
 * same dispatch validation (dispatch_check.bpf.h) as the scheduler, and hybrid mode's
 * control law (bypass.bpf.h).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "intf.h"
#include "dispatch_check.bpf.h"
#include "bypass.bpf.h"

char _license[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 512 * 1024);
} queued SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_USER_RINGBUF);
	__uint(max_entries, 512 * 1024);
} dispatched SEC(".maps");

/* pid -> sequence number of its pending trip, as the scheduler's task storage would hold. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, s32);
	__type(value, u64);
} trips SEC(".maps");

/* Results of the last run, read by user space. */
u64 nr_drained;
u64 nr_ring_full;

/* Room for one more queued record (with its 8-byte header) in the kernel ring? */
static __always_inline bool room_for_one(void)
{
	return bpf_ringbuf_query(&queued, BPF_RB_RING_SIZE) -
	       bpf_ringbuf_query(&queued, BPF_RB_AVAIL_DATA) >= sizeof(struct swl_queued_task) + 8;
}

/*
 * echo: every dispatch record comes back as a queued record carrying all its fields.
 * A drained record is consumed, so draining stops while there is still room for the one
 * being echoed: nothing is dropped when the kernel ring fills.
 */
static long echo_one(struct bpf_dynptr *dynptr, void *ctx)
{
	struct swl_dispatched_task d;
	struct swl_queued_task *r;

	if (bpf_dynptr_read(&d, sizeof(d), dynptr, 0, 0))
		return 1;
	nr_drained++;
	r = bpf_ringbuf_reserve(&queued, sizeof(*r), 0);
	if (!r) {
		nr_ring_full++;
		return 1;
	}
	__builtin_memset(r, 0, sizeof(*r));
	r->pid = d.pid;
	r->prev_cpu = d.cpu;
	r->exec_runtime_ns = d.slice_ns;
	r->vtime = d.vtime;
	r->enq_seq = d.enq_seq;
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	return room_for_one() ? 0 : 1;
}

SEC("syscall")
int echo(void *ctx)
{
	nr_drained = 0;
	nr_ring_full = 0;
	if (!room_for_one())
		return 0;
	return bpf_user_ringbuf_drain(&dispatched, echo_one, NULL, 0);
}

struct produce_args {
	u32 count;
	u32 first;
};

/* produce: count queued records with pid and enq_seq first, first + 1, ... */
SEC("syscall")
int produce(struct produce_args *args)
{
	u32 i, n = args->count, first = args->first;

	nr_ring_full = 0;
	bpf_for(i, 0, n) {
		struct swl_queued_task *r = bpf_ringbuf_reserve(&queued, sizeof(*r), 0);

		if (!r) {
			nr_ring_full++;
			break;
		}
		__builtin_memset(r, 0, sizeof(*r));
		r->pid = first + i;
		r->enq_seq = first + i;
		bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	}
	return 0;
}

struct check_args {
	u32 nr_cpus;
	u32 _pad;
	u64 online[SWL_MAX_CPUS / 64]; /* the CPUs to treat as online */
};

/* check's online bitmap, copied out of its arguments (the context has no variable indexing). */
static u64 online[SWL_MAX_CPUS / 64];

/*
 * check: every dispatch record goes through swl_check_dispatch() as the scheduler's
 * would; the verdict comes back in enq_flags and the chosen CPU in prev_cpu.
 */
static long check_one(struct bpf_dynptr *dynptr, void *data)
{
	struct check_args *args = data;
	struct swl_dispatched_task d;
	struct swl_queued_task *r;
	struct task_struct *p = NULL;
	u64 *seq, in_flight = 0;
	s32 cpu = -2;

	if (bpf_dynptr_read(&d, sizeof(d), dynptr, 0, 0))
		return 1;
	nr_drained++;
	if (d.pid > 0)
		p = bpf_task_from_pid(d.pid);
	seq = bpf_map_lookup_elem(&trips, &d.pid);
	if (seq)
		in_flight = *seq;
	r = bpf_ringbuf_reserve(&queued, sizeof(*r), 0);
	if (!r) {
		nr_ring_full++;
		if (p)
			bpf_task_release(p);
		return 1;
	}
	__builtin_memset(r, 0, sizeof(*r));
	/* Syscall programs may sleep: p->cpus_ptr needs an explicit RCU read section. */
	bpf_rcu_read_lock();
	r->enq_flags = swl_check_dispatch(&d, p, in_flight, args->nr_cpus, online, &cpu);
	bpf_rcu_read_unlock();
	r->pid = d.pid;
	r->prev_cpu = cpu;
	r->enq_seq = d.enq_seq;
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	if (p)
		bpf_task_release(p);
	return 0;
}

SEC("syscall")
int check(struct check_args *args)
{
	struct check_args local = { .nr_cpus = args->nr_cpus };

	__builtin_memcpy(online, args->online, sizeof(online));
	nr_drained = 0;
	nr_ring_full = 0;
	return bpf_user_ringbuf_drain(&dispatched, check_one, &local, 0);
}

struct sink_args {
	u64 count;
	u64 seq_sum;
	u64 pid_sum;
};

static long sink_one(struct bpf_dynptr *dynptr, void *data)
{
	struct sink_args *acc = data;
	struct swl_dispatched_task d;

	if (bpf_dynptr_read(&d, sizeof(d), dynptr, 0, 0))
		return 1;
	acc->count++;
	acc->seq_sum += d.enq_seq;
	acc->pid_sum += d.pid;
	return 0;
}

/*
 * sink: drains every dispatch record, adding to the caller's count and sums (the context
 * is copied back to the caller), and writes nothing into the kernel ring: a stand-in for
 * the scheduler's dispatch when user space's scheduling loop is under test.
 */
SEC("syscall")
int sink(struct sink_args *args)
{
	struct sink_args acc = {};
	long n;

	n = bpf_user_ringbuf_drain(&dispatched, sink_one, &acc, 0);
	args->count += acc.count;
	args->seq_sum += acc.seq_sum;
	args->pid_sum += acc.pid_sum;
	return n < 0 ? n : 0;
}

/* One step of hybrid mode's control law, on a state the caller keeps. */
struct law_args {
	struct bypass_law law;  /* in and out */
	u64 op;                 /* 0: bypass_tick, 1: bypass_sample */
	u64 now;
	u64 in_flight;
	u64 ring_empty;
	u64 target;
	u64 interval;
	u64 sojourn;
	u64 event;              /* out: enum bypass_event of a tick */
};

/* law: runs one step of bypass.bpf.h on the state in the context, which is copied back. */
SEC("syscall")
int law(struct law_args *args)
{
	struct law_args a;

	__builtin_memcpy(&a, args, sizeof(a));
	if (a.op == 1) {
		bypass_sample(&a.law, a.sojourn);
		a.event = BYPASS_NONE;
	} else {
		a.event = bypass_tick(&a.law, a.now, a.in_flight, a.ring_empty, a.target, a.interval);
	}
	__builtin_memcpy(args, &a, sizeof(a));
	return 0;
}
