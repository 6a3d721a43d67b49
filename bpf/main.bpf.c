/*
 * swiftland: one sched_ext scheduler, two places for its policy.
 *
 *  - core.bpf.h: what both modes share: the task context, counters, and the rules that
 *    keep every runnable task within reach of a CPU (keep_running, the wait guard).
 *  - bpfland.bpf.h: bpf mode's policy, in BPF (cfg.mode == SWL_MODE_BPF).
 *  - user.bpf.h: user mode's backend, which sends tasks to a policy in the Swift process
 *    and acts on its decisions (cfg.mode == SWL_MODE_USER); in hybrid mode
 *    (SWL_MODE_HYBRID) it also bypasses user space with bpf mode's policy while tasks
 *    queue there (bypass.bpf.h says when), and that policy's books are kept for every task.
 *
 * Each callback below does the shared step, then the mode's step. A task that wakes to an
 * idle CPU goes straight to it in both modes. Every kfunc call goes through compat.bpf.h;
 * every structure user space reads is in intf.h.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "intf.h"
#include "compat.bpf.h"
#include "dispatch_check.bpf.h"
#include "hist.bpf.h"
#include "bypass.bpf.h"
#include "core.bpf.h"
#include "bpfland.bpf.h"
#include "user.bpf.h"

char _license[] SEC("license") = "GPL";

s32 SWL_OPS(swl_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	struct task_ctx *tctx;
	bool is_idle = false;
	s32 cpu;

	tctx = lookup_task_ctx(p);
	if (!tctx)
		return prev_cpu;
	if (!user_mode() || hybrid_mode())
		bpfland_select_cpu(tctx, wake_flags);

	cpu = swl_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
	if (is_idle) {
		/*
		 * The CPU's built-in local DSQ, not our per-CPU DSQ: the kernel moves what is
		 * in a local DSQ when the CPU goes offline, while a task left in our DSQ of an
		 * offline CPU would wait there until the scheduler is gone.
		 */
		swl_dsq_insert(p, SCX_DSQ_LOCAL, user_mode() ? cfg.slice_ns : task_slice(), 0);
		count(&stats.nr_direct_dispatches);
		if (user_mode())
			count(&stats.nr_kernel_dispatches);
	}
	if (user_mode())
		user_select_cpu(tctx, wake_flags, is_idle);
	return cpu;
}

void SWL_OPS(swl_enqueue, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *tctx;

	/* Per-CPU kthreads go straight to their CPU: always in user mode, with -k in bpf mode. */
	if ((cfg.local_kthreads || user_mode()) && is_per_cpu_kthread(p)) {
		swl_dsq_insert(p, SCX_DSQ_LOCAL, cfg.slice_ns, enq_flags);
		count(&stats.nr_kthread_dispatches);
		if (user_mode())
			count(&stats.nr_kernel_dispatches);
		return;
	}
	if (user_mode() && enqueue_sched_thread(p, enq_flags))
		return;

	tctx = lookup_task_ctx(p);
	if (!tctx)
		return;
	if (user_mode())
		user_enqueue(p, tctx, enq_flags);
	else
		bpfland_enqueue(p, tctx, enq_flags);
}

void SWL_OPS(swl_dispatch, s32 cpu, struct task_struct *prev)
{
	u64 now = bpf_ktime_get_ns();

	guard_waits(cpu, now);
	if (user_mode())
		user_dispatch(cpu, prev, now);
	else
		bpfland_dispatch(cpu, prev, now);
}

void SWL_OPS(swl_runnable, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *tctx;

	tctx = lookup_task_ctx(p);
	if (!tctx)
		return;
	tctx->wait_ts = bpf_ktime_get_ns();
	if (user_mode())
		user_runnable(tctx, enq_flags);
	if (!user_mode() || hybrid_mode())
		bpfland_runnable(tctx, enq_flags);
}

void SWL_OPS(swl_running, struct task_struct *p)
{
	struct task_ctx *tctx;

	__sync_fetch_and_add(&stats.nr_running, 1);
	tctx = lookup_task_ctx(p);
	if (!tctx)
		return;
	tctx->slice_at_run = p->scx.slice;
	tctx->run_ts = bpf_ktime_get_ns();
	tctx->charge_ts = tctx->run_ts;
	if (user_mode())
		user_running(p, tctx);
	else
		bpfland_running(p, tctx, tctx->run_ts);
}

void SWL_OPS(swl_stopping, struct task_struct *p, bool runnable)
{
	struct task_ctx *tctx;
	u64 now;

	__sync_fetch_and_sub(&stats.nr_running, 1);
	note_stopped(bpf_get_smp_processor_id());

	tctx = lookup_task_ctx(p);
	if (!tctx)
		return;
	now = bpf_ktime_get_ns();
	if (runnable)
		tctx->wait_ts = now;
	if (user_mode())
		user_stopping(tctx, now);
	if (!user_mode() || hybrid_mode())
		bpfland_stopping(p, tctx, now);
}

void SWL_OPS(swl_dequeue, struct task_struct *p, u64 deq_flags)
{
	struct task_ctx *tctx;

	if (!user_mode())
		return;
	tctx = bpf_task_storage_get(&task_ctx_stor, p, 0, 0);
	if (tctx)
		user_task_gone(tctx);
}

void SWL_OPS(swl_update_idle, s32 cpu, bool idle)
{
	if (idle)
		note_stopped(cpu);
	if (user_mode())
		user_update_idle(cpu, idle);
}

void SWL_OPS(swl_enable, struct task_struct *p)
{
	struct task_ctx *tctx = lookup_task_ctx(p);

	p->scx.dsq_vtime = vtime_now;
	if (tctx)
		tctx->vtime = vtime_now;
}

s32 SWL_OPS(swl_init_task, struct task_struct *p, struct scx_init_task_args *args)
{
	struct task_ctx *tctx;
	u64 now = bpf_ktime_get_ns();

	tctx = bpf_task_storage_get(&task_ctx_stor, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!tctx)
		return -12; /* -ENOMEM */
	tctx->wait_ts = now;
	bpfland_init_task(p, tctx, now);
	return 0;
}

void SWL_OPS(swl_exit_task, struct task_struct *p, struct scx_exit_task_args *args)
{
	struct task_ctx *tctx;

	tctx = bpf_task_storage_get(&task_ctx_stor, p, 0, 0);
	if (!tctx)
		return;
	set_interactive(tctx, false);
	user_task_gone(tctx);
}

s32 SWL_OPS_SLEEPABLE(swl_init)
{
	s32 err;

	err = init_cpus() ?: swl_create_dsq(SWL_DSQ_PRIO, -1) ?: swl_create_dsq(SWL_DSQ_SHARED, -1) ?:
	      swl_create_dsq(SWL_DSQ_USER, -1) ?: swl_create_dsq(SWL_DSQ_SCHED, -1);
	if (err || !user_mode())
		return err;
	return user_init();
}

void SWL_OPS(swl_exit, struct scx_exit_info *ei)
{
	exit_info.kind = ei->kind;
	exit_info.exit_cpu = ei->exit_cpu;
	exit_info.exit_code = ei->exit_code;
	bpf_probe_read_kernel_str(exit_info.reason, sizeof(exit_info.reason), ei->reason);
	bpf_probe_read_kernel_str(exit_info.msg, sizeof(exit_info.msg), ei->msg);
	if (ei->dump)
		bpf_probe_read_kernel_str(exit_dump, sizeof(exit_dump), ei->dump);
}

SEC(".struct_ops.link")
struct sched_ext_ops swiftland_ops = {
	.select_cpu = (void *)swl_select_cpu,
	.enqueue = (void *)swl_enqueue,
	.dispatch = (void *)swl_dispatch,
	.dequeue = (void *)swl_dequeue,
	.runnable = (void *)swl_runnable,
	.running = (void *)swl_running,
	.stopping = (void *)swl_stopping,
	.update_idle = (void *)swl_update_idle,
	.enable = (void *)swl_enable,
	.init_task = (void *)swl_init_task,
	.exit_task = (void *)swl_exit_task,
	.init = (void *)swl_init,
	.exit = (void *)swl_exit,
	.flags = SCX_OPS_KEEP_BUILTIN_IDLE,
	.timeout_ms = 5000,
	.name = "swiftland",
};
