#include "cringloop.h"

#include <errno.h>
#include <string.h>
#include <linux/types.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "../../../bpf/intf.h"

struct sink {
	struct swl_queued_task *records;
	int capacity;
	int count;
};

static int keep(void *ctx, void *data, size_t size)
{
	struct sink *s = ctx;

	if (size != sizeof(struct swl_queued_task))
		return 0;
	memcpy(&s->records[s->count++], data, size);
	return s->count == s->capacity ? -ENOSPC : 0;
}

long c_ring_round_trip(int prog_fd, int queued_fd, int dispatched_fd, long total, int batch)
{
	static struct swl_queued_task storage[4096];
	struct sink sink = { .records = storage, .capacity = 4096 };
	struct user_ring_buffer *out = user_ring_buffer__new(dispatched_fd, NULL);
	struct ring_buffer *in = ring_buffer__new(queued_fd, keep, &sink, NULL);
	long sent = 1, received = 1;
	int none = 0, err = 0, i;

	if (!out || !in) {
		err = -errno;
		goto done;
	}
	while (received <= total) {
		for (i = 0; i < batch && sent <= total; i++, sent++) {
			struct swl_dispatched_task *d = user_ring_buffer__reserve(out, sizeof(*d));

			if (!d)
				break;
			d->pid = (__s32)sent;
			d->cpu = SWL_CPU_ANY;
			d->slice_ns = (__u64)sent * 7;
			d->vtime = (__u64)sent * 3;
			d->enq_seq = (__u64)sent;
			user_ring_buffer__submit(out, d);
		}
		LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &none, .ctx_size_in = sizeof(none));
		if (bpf_prog_test_run_opts(prog_fd, &opts)) {
			err = -errno;
			goto done;
		}
		do {
			sink.count = 0;
			ring_buffer__consume(in);
			for (i = 0; i < sink.count; i++, received++) {
				if (storage[i].enq_seq != (__u64)received) {
					err = -EPROTO;
					goto done;
				}
			}
		} while (sink.count > 0);
	}
done:
	ring_buffer__free(in);
	user_ring_buffer__free(out);
	return err ? err : received - 1;
}
