#define _GNU_SOURCE
#include "cbpfshim.h"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

static swl_log_fn log_fn;
static int log_verbose;

static int print_cb(enum libbpf_print_level level, const char *fmt, va_list args)
{
	char line[1024];

	if (!log_fn || (level == LIBBPF_DEBUG && !log_verbose))
		return 0;
	vsnprintf(line, sizeof(line), fmt, args);
	log_fn((int)level, line);
	return 0;
}

void swl_set_libbpf_logger(swl_log_fn fn, int verbose)
{
	log_fn = fn;
	log_verbose = verbose;
	libbpf_set_print(print_cb);
}

struct bpf_object *swl_open_object(const void *buf, size_t size, const char *name,
				   char *log_buf, size_t log_size, int verbose)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts,
		.object_name = name,
		.kernel_log_buf = log_buf,
		.kernel_log_size = log_size,
		.kernel_log_level = verbose ? 1 : 0);

	return bpf_object__open_mem(buf, size, &opts);
}

static const struct btf_type *find_struct(const struct btf *btf, const char *name)
{
	int id = btf__find_by_name_kind(btf, name, BTF_KIND_STRUCT);

	return id < 0 ? NULL : btf__type_by_id(btf, id);
}

int swl_datasec_var(const struct bpf_object *obj, const char *sec, const char *var,
		    __u32 *offset, __u32 *size)
{
	const struct btf *btf = bpf_object__btf(obj);
	const struct btf_var_secinfo *vs;
	const struct btf_type *t;
	int id, i;

	if (!btf)
		return -ENOENT;
	id = btf__find_by_name_kind(btf, sec, BTF_KIND_DATASEC);
	if (id < 0)
		return -ENOENT;
	t = btf__type_by_id(btf, id);
	vs = btf_var_secinfos(t);
	for (i = 0; i < btf_vlen(t); i++, vs++) {
		const struct btf_type *v = btf__type_by_id(btf, vs->type);

		if (strcmp(btf__name_by_offset(btf, v->name_off), var) == 0) {
			*offset = vs->offset;
			*size = vs->size;
			return 0;
		}
	}
	return -ENOENT;
}

int swl_struct_member_offset(const struct bpf_object *obj, const char *struct_name,
			     const char *member, __u32 *offset)
{
	const struct btf *btf = bpf_object__btf(obj);
	const struct btf_member *m;
	const struct btf_type *t;
	int i;

	if (!btf || !(t = find_struct(btf, struct_name)))
		return -ENOENT;
	m = btf_members(t);
	for (i = 0; i < btf_vlen(t); i++, m++) {
		if (strcmp(btf__name_by_offset(btf, m->name_off), member) == 0) {
			if (btf_member_bitfield_size(t, i))
				return -EINVAL;
			*offset = btf_member_bit_offset(t, i) / 8;
			return 0;
		}
	}
	return -ENOENT;
}

int swl_struct_size(const struct bpf_object *obj, const char *struct_name, __u32 *size)
{
	const struct btf *btf = bpf_object__btf(obj);
	const struct btf_type *t;

	if (!btf || !(t = find_struct(btf, struct_name)))
		return -ENOENT;
	*size = t->size;
	return 0;
}

int swl_struct_members(const struct bpf_object *obj, const char *struct_name,
		       const char **names, __u32 *offsets, int max)
{
	const struct btf *btf = bpf_object__btf(obj);
	const struct btf_member *m;
	const struct btf_type *t;
	int i, n;

	if (!btf || !(t = find_struct(btf, struct_name)))
		return -ENOENT;
	n = btf_vlen(t);
	m = btf_members(t);
	for (i = 0; i < n && i < max; i++, m++) {
		names[i] = btf__name_by_offset(btf, m->name_off);
		offsets[i] = btf_member_bit_offset(t, i) / 8;
	}
	return n;
}

void *swl_map_mmap(const struct bpf_map *map, size_t *size)
{
	size_t sz = bpf_map__value_size(map);
	void *addr;
	int fd = bpf_map__fd(map);

	if (fd < 0) {
		errno = EBADF;
		return NULL;
	}
	addr = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (addr == MAP_FAILED)
		return NULL;
	*size = sz;
	return addr;
}

void swl_map_munmap(void *addr, size_t size)
{
	munmap(addr, size);
}

int swl_prog_run(int prog_fd, void *ctx, size_t ctx_size, int *retval)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.ctx_in = ctx,
		.ctx_size_in = (__u32)ctx_size);
	int err = bpf_prog_test_run_opts(prog_fd, &opts);

	if (err)
		return -errno;
	*retval = (int)opts.retval;
	return 0;
}

int swl_prog_run_time(int prog_fd, __u64 *run_time_ns, __u64 *run_cnt)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_prog_get_info_by_fd(prog_fd, &info, &len))
		return -errno;
	*run_time_ns = info.run_time_ns;
	*run_cnt = info.run_cnt;
	return 0;
}

int swl_gettid(void)
{
	return (int)syscall(SYS_gettid);
}

unsigned long long swl_thread_page_faults(void)
{
	struct rusage usage;

	if (getrusage(RUSAGE_THREAD, &usage))
		return 0;
	return (unsigned long long)(usage.ru_minflt + usage.ru_majflt);
}

int swl_disable_thp(void)
{
	if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0))
		return -errno;
	return 0;
}

const char *swl_errno_name(int err)
{
	return strerrorname_np(err);
}
