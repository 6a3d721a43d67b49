/*
 * Test object (`bpf/build.sh test-reject-object`): the scheduler plus one program the
 * verifier must refuse, a task context used without its NULL check. The integration
 * suite loads it with `swiftland run --bpf-object` and expects the loader to name the
 * program and show the end of the verifier's log.
 */
#include "main.bpf.c"

SEC("tp_btf/sched_switch")
int BPF_PROG(swl_broken, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	struct task_ctx *tctx = bpf_task_storage_get(&task_ctx_stor, next, 0, 0);

	tctx->run_ts++;
	return 0;
}
