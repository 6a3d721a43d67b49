/*
 * The kernel/user ABI of swiftland: every constant and structure that both the BPF
 * program (bpf/main.bpf.c) and the Swift process read. It is the only place the layout
 * is written; Swift imports it through the SwiftlandABI C target, and a test compares
 * Swift's view of each structure with the BTF of the built BPF object.
 *
 * Fixed-width kernel types only (__u64, __s32, ...): vmlinux.h defines them on the BPF
 * side and <linux/types.h> in user space.
 */
#ifndef SWIFTLAND_INTF_H
#define SWIFTLAND_INTF_H

enum swl_limits {
	SWL_MAX_CPUS = 1024,       /* per-CPU DSQs are created for min(nr_cpu_ids, this) */
	SWL_EXIT_REASON_LEN = 128,
	SWL_EXIT_MSG_LEN = 1024,
	SWL_EXIT_DUMP_LEN = 32768, /* most of the kernel's exit dump that is kept */
	SWL_HIST_BUCKETS = 24,     /* log2 microsecond buckets: [0,1), [1,2), [2,4), ... */
	SWL_MAX_DISPATCH_BATCH = 8, /* user dispatches acted on per ops.dispatch call */
	SWL_TRACED_COMMS = 4,      /* command names the run-queue latency tracer can be limited to */
};

/*
 * The tunables' defaults, in one place: the loader's SchedulerConfig, the user-mode policies'
 * PolicyConfig and the command line's options all start from these.
 */
enum swl_defaults {
	SWL_DEFAULT_SLICE_US = 5000,              /* 2024 bpfland: responsive, not thrashing caches */
	SWL_DEFAULT_SLICE_MIN_US = 500,
	SWL_DEFAULT_SLICE_LAG_US = 5000,          /* one longest slice */
	SWL_DEFAULT_STARVATION_THRESH_US = 5000,  /* one longest slice */
	SWL_DEFAULT_NVCSW_MAX_THRESH = 10,
	SWL_DEFAULT_TIMEOUT_MS = 5000,            /* sched_ext's watchdog */
	SWL_DEFAULT_FALLBACK_MS = 50,             /* user mode: well below the watchdog */
	SWL_DEFAULT_RING_KIB = 512,               /* user mode: each ring */
	SWL_DEFAULT_BATCH = 8,                    /* user mode: decisions per loop */
	SWL_DEFAULT_BYPASS_TARGET_US = 1000,      /* hybrid mode: the sojourn target */
	SWL_DEFAULT_BYPASS_INTERVAL_US = 10000,   /* hybrid mode: the interval it is judged over */
};

/* bpf mode: the order of the waiting tasks. */
enum swl_ordering {
	SWL_ORDER_CLASSES = 0,  /* 2024 bpfland: interactive tasks first, each class by vruntime */
	SWL_ORDER_DEADLINE = 1, /* one queue by deadline: vruntime plus what ran since the wakeup */
};

enum swl_mode {
	SWL_MODE_BPF = 0,   /* the policy runs in BPF */
	SWL_MODE_USER = 1,  /* tasks go to the Swift process and back over ring buffers */
	SWL_MODE_HYBRID = 2, /* user mode, bypassed by the BPF policy while tasks queue in user space */
};

/* When the kernel side wakes user space for a new record (user mode). */
enum swl_wakeup {
	SWL_WAKEUP_ADAPTIVE = 0, /* only when user space has caught up, so it may be asleep */
	SWL_WAKEUP_ALWAYS = 1,   /* every record */
	SWL_WAKEUP_NEVER = 2,    /* never: user space polls (the heartbeat still wakes it) */
};

/*
 * DSQ ids. Custom ids must stay below 2^63 (the top bit marks the kernel's built-in
 * DSQs). CPU n's own DSQ has id n.
 */
#define SWL_DSQ_PRIO   0x100000ULL  /* interactive tasks, vruntime order */
#define SWL_DSQ_SHARED 0x100001ULL  /* regular tasks, vruntime order */
#define SWL_DSQ_USER   0x100002ULL  /* user mode: "any CPU" dispatches and fallbacks, FIFO */
#define SWL_DSQ_SCHED  0x100003ULL  /* user mode: swiftland's own scheduling thread */

/* Tunables, written into the program's read-only data before load. */
struct swl_config {
	__u64 slice_ns;             /* longest time slice (-s) */
	__u64 slice_min_ns;         /* shortest time slice (-S) */
	__u64 slice_lag_ns;         /* sleep credit cap (-l) */
	__u64 starvation_thresh_ns; /* starvation guard (-t) */
	__u64 nvcsw_max_thresh;     /* cap of the interactive threshold; 0 = no classification (-c) */
	__u32 local_kthreads;       /* per-CPU kthreads go straight to their CPU (-k) */
	__u32 mode;                 /* enum swl_mode */
	__u32 wakeup;               /* enum swl_wakeup (user mode) */
	__s32 sched_tid;            /* user mode: thread id of swiftland's scheduling thread */
	__u64 fallback_ns;          /* user mode: longest a task waits in user space before
				       the kernel side dispatches it itself */
	__u32 preempt;              /* a waking task may preempt a running one that comes later */
	__u32 ordering;             /* enum swl_ordering (bpf mode) */
	__u64 wait_max_ns;          /* longest a runnable task should wait for a CPU: a task
				       whose slices run out keeps its CPU at most this long
				       while another waits, and a task waiting longer is served
				       ahead of every queue's order (a quarter of the watchdog
				       timeout, so no waiting task ever trips it) */
	__u64 bypass_target_ns;     /* hybrid mode: the sojourn the trip should stay under */
	__u64 bypass_interval_ns;   /* hybrid mode: the window the smallest sojourn is taken over */
};

/*
 * Counters, read live by user space (the program's .bss is memory-mapped). Gauges are
 * marked; everything else only grows.
 */
struct swl_stats {
	__u64 nr_running;          /* gauge: tasks running on a CPU now */
	__u64 nr_interactive;      /* gauge: tasks classified interactive now */
	__u64 nr_waiting;          /* gauge: smoothed number of tasks in the prio + shared DSQs */
	__u64 nvcsw_avg_thresh;    /* gauge: the moving interactive threshold (switches/s) */
	__u64 nr_direct_dispatches;   /* to an idle CPU's own DSQ from select_cpu */
	__u64 nr_prio_dispatches;     /* into the priority DSQ */
	__u64 nr_shared_dispatches;   /* into the shared DSQ */
	__u64 nr_kthread_dispatches;  /* per-CPU kthreads to their local DSQ (-k) */
	__u64 nr_starvation_shared;   /* shared DSQ served first by the starvation guard */
	__u64 nr_starvation_prio;     /* priority DSQ served first by the starvation guard */
	__u64 nr_kept;                /* slices renewed for a task whose vruntime, charged, still
					 came before that of the next task waiting for its CPU */
	__u64 nr_starvation_tasks;    /* tasks that waited past wait_max_ns, served first */
	__u64 nr_preempt_asked;       /* wakeups that found no idle CPU and looked for a CPU to
					 preempt (bpf mode), or dispatch records asking for it */
	__u64 nr_preempt_granted;     /* of those, CPUs whose running task was preempted */
	__u64 nr_preempt_refused;     /* of those, none that came later */
	__u64 nr_preempt_deferred;    /* of the granted, preemptions that waited (a timer) until
					 the running task had run slice_min */

	/* user mode */
	__u64 nr_in_flight;           /* gauge: sent to user space, not yet dispatched back */
	__u64 nr_sent;                /* tasks sent to user space */
	__u64 nr_user_dispatches;     /* dispatched as user space decided */
	__u64 nr_kernel_dispatches;   /* dispatched by the kernel side (idle CPU, kthread,
					 fallbacks); the scheduling thread itself is not counted */
	__u64 nr_bounce_dispatches;   /* user dispatch to a CPU the task may not use, redirected */
	__u64 nr_cancel_dispatches;   /* user dispatch for a task re-enqueued since (stale) */
	__u64 nr_invalid_dispatches;  /* malformed dispatch records, dropped */
	__u64 nr_missing_tasks;       /* dispatch records for a pid that no longer exists */
	__u64 nr_ring_full;           /* tasks dispatched by the kernel: no room to send them */
	__u64 nr_user_timeouts;       /* tasks dispatched by the kernel: past the fallback bound */
	__u64 nr_drain_errors;        /* user ring drains that failed (not counting nr_drain_busy) */
	__u64 nr_drain_busy;          /* drains that found another CPU draining (EBUSY): benign,
					 that CPU acts on the records */
	__u64 nr_dequeued_in_flight;  /* tasks dequeued (affinity, exit, ...) while in user space */
	__u64 idle_in_flight_ns;      /* CPU time spent idle while tasks were in flight */
	__u64 decision_hist[SWL_HIST_BUCKETS]; /* enqueue -> dispatch decision, log2 us */
	__u64 run_hist[SWL_HIST_BUCKETS];      /* a user dispatch drained -> the task runs, log2 us */

	/* hybrid mode */
	__u64 in_bypass;              /* gauge: 1 while the kernel side bypasses user space */
	__u64 nr_bypass_entries;      /* times it started bypassing */
	__u64 bypass_ns;              /* time spent bypassing */
	__u64 nr_bypass_dispatches;   /* tasks the BPF policy scheduled (bypass, recalls, ring full,
					 fallback) */
	__u64 nr_bypass_recalls;      /* trips ended by the kernel side on entering or during bypass */
};

/*
 * What ops.exit saw, copied out of the kernel's struct scx_exit_info. The debug dump that
 * comes with an error exit is kept beside it, in char exit_dump[SWL_EXIT_DUMP_LEN].
 */
struct swl_exit_info {
	__s32 kind;        /* enum scx_exit_kind; 0 while the scheduler runs */
	__s32 exit_cpu;
	__s64 exit_code;   /* SCX_ECODE_* bits: action (restart) and reason (hotplug) */
	char reason[SWL_EXIT_REASON_LEN];
	char msg[SWL_EXIT_MSG_LEN];
};

/*
 * user mode: the kernel side sends each task it does not dispatch itself to user space
 * as a swl_queued_task (BPF_MAP_TYPE_RINGBUF), and user space answers with a
 * swl_dispatched_task (BPF_MAP_TYPE_USER_RINGBUF). Nothing in a dispatch record is
 * trusted by the kernel side: each one is validated before it is acted on.
 */
#define SWL_CPU_ANY (-1) /* dispatch to whichever allowed CPU frees up first */

/* swl_queued_task.flags */
#define SWL_QUEUED_SYNC_WAKEUP 1 /* woken by a sync wakeup (bpfland promotes these) */
#define SWL_QUEUED_WAKEUP 2      /* it woke up (it did not just use up a slice) */
#define SWL_QUEUED_CHARGED 4     /* vtime already includes the last run (hybrid mode: the
				    kernel side charges every run, the policy's rule alike) */

/* swl_dispatched_task.flags */
#define SWL_DISPATCH_PREEMPT 1   /* run it now on a CPU whose running task comes after it; only
				    for a task that woke up, and only if such a CPU exists */
#define SWL_DISPATCH_FLAGS (SWL_DISPATCH_PREEMPT) /* any other bit: a malformed record */

struct swl_queued_task {
	__s32 pid;
	__s32 prev_cpu;          /* CPU the task last ran on */
	__u32 nr_cpus_allowed;
	__u32 flags;             /* SWL_QUEUED_* */
	__u64 enq_flags;         /* SCX_ENQ_* */
	__u64 exec_runtime_ns;   /* run time since the task last slept */
	__u64 nvcsw;             /* voluntary context switches so far */
	__u64 weight;            /* p->scx.weight: 100 is nice 0 */
	__u64 vtime;             /* p->scx.dsq_vtime */
	__u64 enq_seq;           /* this enqueue's sequence number, echoed back */
	__u64 enqueue_ts_ns;     /* when it was sent (CLOCK_MONOTONIC) */
	__u64 start_ts_ns;       /* when it last started running */
	__u64 stop_ts_ns;        /* when it last stopped running */
	char comm[16];
};

struct swl_dispatched_task {
	__s32 pid;
	__s32 cpu;               /* a CPU, or SWL_CPU_ANY */
	__u64 slice_ns;          /* 0: the default slice */
	__u64 vtime;             /* the task's vruntime as user space charged it (runtime x
				    100 / weight); a task whose slice ends keeps its CPU while
				    its vruntime, charged alike, comes before this */
	__u64 enq_seq;           /* from the swl_queued_task this answers */
	__u64 flags;             /* SWL_DISPATCH_* */
};

#endif /* SWIFTLAND_INTF_H */
