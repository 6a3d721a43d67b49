/*
 * The fault suite's probe (Tests/vm/faults.sh), built on the host by scripts/faults.sh
 * (static, so the guest needs nothing more) and copied into the guest with --add.
 *
 *   probe gap FILE       SCHED_OTHER; wakes every 50 ms until SIGTERM and records the
 *                        largest gap between two consecutive runs in FILE, rewritten as
 *                        "max_gap_ms=G wakeups=N over_1s=K" whenever it changes and at exit
 *   probe pin SECS       spins for SECS seconds and checks, from inside, that it only runs
 *                        on CPUs its affinity allows (re-pin it with taskset meanwhile);
 *                        prints "checks=N violations=V cpus=LIST"
 *   probe spin SECS [NICE]  spins for SECS seconds of wall time at nice NICE (set before it
 *                        starts); prints "cpu_ms=C max_wait_ms=W": its CPU time, and the
 *                        longest it waited for a CPU (the largest gap between two of its
 *                        clock reads, which are about 0.1 ms of work apart)
 *   probe forks N [SECS] a fork/exit storm: N short-lived processes (vfork, _exit at once,
 *                        reaped), for at most SECS seconds (default 300); prints
 *                        "forks=F failed=E secs=S" (far faster than stress-ng under TCG)
 *
 * A "violation" is a CPU outside the allowed set seen in every check for 10 ms under the
 * same affinity mask: right after a re-pin the kernel needs a moment to move a running
 * task, and that is not the scheduler's doing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_term(int sig) { (void)sig; stop = 1; }

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void write_gap(const char *file, long long max_ns, long n, long over)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", file);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "max_gap_ms=%.1f wakeups=%ld over_1s=%ld\n", max_ns / 1e6, n, over);
	fclose(f);
	rename(tmp, file);
}

static int gap(const char *file)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	long long last = now_ns(), max_ns = 0;
	long n = 0, over = 0;
	write_gap(file, 0, 0, 0);
	while (!stop) {
		struct timespec d = { 0, 50 * 1000000L };
		nanosleep(&d, NULL);
		long long t = now_ns(), g = t - last;
		last = t;
		n++;
		if (g > 1000000000LL)
			over++;
		if (g > max_ns || g > 1000000000LL) {
			if (g > max_ns)
				max_ns = g;
			write_gap(file, max_ns, n, over);
		} else if (n % 20 == 0) {
			write_gap(file, max_ns, n, over);
		}
	}
	write_gap(file, max_ns, n, over);
	return 0;
}

static int pin(int secs)
{
	long long end = now_ns() + secs * 1000000000LL, bad_since = 0;
	long checks = 0, violations = 0;
	unsigned long seen = 0;
	cpu_set_t bad_mask;
	while (now_ns() < end) {
		cpu_set_t before, after;
		if (sched_getaffinity(0, sizeof(before), &before))
			return perror("sched_getaffinity"), 2;
		int cpu = sched_getcpu();
		sched_getaffinity(0, sizeof(after), &after);
		checks++;
		if (cpu >= 0 && cpu < 64)
			seen |= 1UL << cpu;
		if (CPU_EQUAL(&before, &after) && cpu >= 0 && !CPU_ISSET(cpu, &after)) {
			if (!bad_since || !CPU_EQUAL(&bad_mask, &after)) {
				bad_since = now_ns();
				bad_mask = after;
			} else if (now_ns() - bad_since > 10000000LL) {
				violations++;
				fprintf(stderr, "probe pin: on CPU %d, outside its affinity, for %lld ms\n", cpu,
					(now_ns() - bad_since) / 1000000);
				bad_since = 0;
			}
		} else {
			bad_since = 0;
		}
		for (volatile int i = 0; i < 20000; i++)
			;
	}
	printf("checks=%ld violations=%ld cpus=", checks, violations);
	for (int c = 0, first = 1; c < 64; c++)
		if (seen & (1UL << c)) {
			printf(first ? "%d" : ",%d", c);
			first = 0;
		}
	printf("\n");
	return violations ? 1 : 0;
}

static int spin(int secs, int nice_value)
{
	if (nice_value && setpriority(PRIO_PROCESS, 0, nice_value))
		return perror("setpriority"), 2;
	long long start = now_ns(), end = start + secs * 1000000000LL, last = start, max_wait = 0;
	for (long long t = start; t < end; t = now_ns()) {
		if (t - last > max_wait)
			max_wait = t - last;
		last = t;
		for (volatile int i = 0; i < 5000; i++)
			;
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("cpu_ms=%ld max_wait_ms=%.1f\n",
	       ru.ru_utime.tv_sec * 1000 + ru.ru_utime.tv_usec / 1000 + ru.ru_stime.tv_sec * 1000 +
		       ru.ru_stime.tv_usec / 1000,
	       max_wait / 1e6);
	return 0;
}

static int forks(long n, int secs)
{
	long long start = now_ns(), end = start + secs * 1000000000LL;
	long done = 0, failed = 0;
	while (done < n && now_ns() < end) {
		/* vfork: a new task each time without copying the page tables (plain fork costs
		 * about 12 ms under TCG); the child exits at once. */
		pid_t pid = vfork();
		if (pid == 0)
			_exit(0);
		if (pid < 0) {
			failed++;
			continue;
		}
		if (waitpid(pid, NULL, 0) == pid)
			done++;
	}
	printf("forks=%ld failed=%ld secs=%.1f\n", done, failed, (now_ns() - start) / 1e9);
	return done >= n ? 0 : 1;
}

int main(int argc, char **argv)
{
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "forks"))
		return forks(atol(argv[2]), argc == 4 ? atoi(argv[3]) : 300);
	if (argc == 3 && !strcmp(argv[1], "gap"))
		return gap(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "pin"))
		return pin(atoi(argv[2]));
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "spin"))
		return spin(atoi(argv[2]), argc == 4 ? atoi(argv[3]) : 0);
	fprintf(stderr, "usage: probe gap FILE | probe pin SECS | probe spin SECS [NICE] | probe forks N [SECS]\n");
	return 2;
}
