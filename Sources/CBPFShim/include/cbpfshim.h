/*
 * C helpers for the parts of libbpf that Swift cannot import or call directly:
 * LIBBPF_OPTS-style option structs, the va_list print callback, MAP_FAILED, and walks
 * over BTF. Each returns 0 or a negative errno, like libbpf itself.
 */
#ifndef SWIFTLAND_CBPFSHIM_H
#define SWIFTLAND_CBPFSHIM_H

#include <stddef.h>
#include <linux/types.h>
#include <bpf/libbpf.h>
#include <bpf/btf.h>

/* Receives each libbpf message, formatted. level is enum libbpf_print_level. */
typedef void (*swl_log_fn)(int level, const char *message);

/* Routes libbpf's messages to fn; debug messages only when verbose. */
void swl_set_libbpf_logger(swl_log_fn fn, int verbose);

/*
 * Opens an object from memory. The verifier's log of every program goes to log_buf
 * (log_level 1 when verbose, else only on failure), so a rejection can be explained.
 * Returns NULL and sets errno on failure.
 */
struct bpf_object *swl_open_object(const void *buf, size_t size, const char *name,
				   char *log_buf, size_t log_size, int verbose);

/* Byte offset and size of variable var in data section sec (".rodata", ".bss"). */
int swl_datasec_var(const struct bpf_object *obj, const char *sec, const char *var,
		    __u32 *offset, __u32 *size);

/* Byte offset of member in struct struct_name, from the object's BTF. */
int swl_struct_member_offset(const struct bpf_object *obj, const char *struct_name,
			     const char *member, __u32 *offset);

/* Size of struct struct_name in the object's BTF. */
int swl_struct_size(const struct bpf_object *obj, const char *struct_name, __u32 *size);

/*
 * Members of struct struct_name, in order: up to max names and byte offsets.
 * Returns the number of members, or a negative errno.
 */
int swl_struct_members(const struct bpf_object *obj, const char *struct_name,
		       const char **names, __u32 *offsets, int max);

/* Runs a loaded program once (BPF_PROG_TEST_RUN) with ctx as its context. */
int swl_prog_run(int prog_fd, void *ctx, size_t ctx_size, int *retval);

/*
 * The run time and run count the kernel kept for a loaded program (bpf_prog_info's
 * run_time_ns and run_cnt): they grow only while BPF statistics are on
 * (kernel.bpf_stats_enabled, or a BPF_ENABLE_STATS descriptor held open).
 */
int swl_prog_run_time(int prog_fd, __u64 *run_time_ns, __u64 *run_cnt);

/* Maps a loaded map's memory (global data maps are mmapable); NULL and errno on failure. */
void *swl_map_mmap(const struct bpf_map *map, size_t *size);
void swl_map_munmap(void *addr, size_t size);

/* The calling thread's id (gettid(2); Glibc hides it from Swift). */
int swl_gettid(void);

/* Page faults (minor + major) of the calling thread so far (getrusage RUSAGE_THREAD). */
unsigned long long swl_thread_page_faults(void);

/* prctl(PR_SET_THP_DISABLE, 1): no transparent huge pages for this process from now on,
 * so khugepaged never collapses its memory (prctl is variadic: Swift cannot call it).
 * 0, or -errno. */
int swl_disable_thp(void);

/* The C name of an errno value ("EPERM"), or NULL for a value the C library does not name
 * (strerrorname_np, a GNU extension Swift does not see). */
const char *swl_errno_name(int err);

#endif
