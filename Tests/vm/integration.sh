#!/bin/sh
# swiftland's integration suite, run as root INSIDE a sched_ext kernel (one VM boot for
# the whole suite, started by scripts/test.sh through `swiftland vm`). POSIX sh: the guest
# has busybox. Each check prints "ok - NAME" or "not ok - NAME" with the evidence, and
# the last line counts them.
#
#   integration.sh BROKEN_OBJECT [STRESS_SECONDS]
#
# The stress run is the one sched-ext's own CI uses: every CPU busy with CPU and file
# stressors while affinity workers re-pin themselves constantly.
set -u
broken=${1:?usage: integration.sh BROKEN_OBJECT [STRESS_SECONDS]}
stress_secs=${2:-30}
ncpu=$(nproc)
work=/tmp/swl-it
mkdir -p "$work"
passed=0
failed=0

ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() {
  echo "not ok - $1"
  shift
  for f in "$@"; do [ -f "$f" ] && sed 's/^/    | /' "$f" | tail -n 40; done
  failed=$((failed + 1))
}
state() { cat /sys/kernel/sched_ext/state 2>/dev/null; }
ops() { cat /sys/kernel/sched_ext/root/ops 2>/dev/null; }
wait_state() { # want timeout_s
  i=0
  while [ "$(state)" != "$1" ] && [ $i -lt $(($2 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
  [ "$(state)" = "$1" ]
}

echo "# kernel $(uname -r), $ncpu CPUs, stress ${stress_secs}s"
[ -d /sys/kernel/sched_ext ] || { echo "not ok - this kernel has no sched_ext"; echo "vm-integration: 0 passed, 1 failed"; exit 1; }
dmesg -c >/dev/null 2>&1 || true

# --- 1. bad input is refused before anything is loaded --------------------------------------
if capsh --drop=cap_sys_admin,cap_bpf -- -c "swiftland run --duration 1" >"$work/caps.out" 2>&1; then
  not_ok "without CAP_SYS_ADMIN and CAP_BPF swiftland refuses to start" "$work/caps.out"
elif grep -q "missing privileges: CAP_SYS_ADMIN and CAP_BPF" "$work/caps.out" && [ "$(state)" = disabled ]; then
  ok "without CAP_SYS_ADMIN and CAP_BPF swiftland refuses to start, naming both"
else
  not_ok "without CAP_SYS_ADMIN and CAP_BPF swiftland refuses to start, naming both" "$work/caps.out"
fi

if swiftland run --bpf-object "$broken" --duration 1 >"$work/broken.out" 2>&1; then
  not_ok "a BPF object the verifier rejects is reported" "$work/broken.out"
elif grep -q "verifier rejected program 'swl_enqueue'" "$work/broken.out" &&
     grep -q "invalid mem access\|map_value_or_null\|R[0-9] invalid" "$work/broken.out" &&
     [ "$(state)" = disabled ]; then
  ok "a BPF object the verifier rejects is reported with the program and the log's tail"
else
  not_ok "a BPF object the verifier rejects is reported with the program and the log's tail" "$work/broken.out"
fi

# --- 2. the stress run -----------------------------------------------------------------------
swiftland run --stats 5 >"$work/run.out" 2>&1 &
swl=$!
if wait_state enabled 30 && [ "$(ops)" = swiftland ]; then
  ok "swiftland attaches (state enabled, root/ops = swiftland)"
else
  not_ok "swiftland attaches (state enabled, root/ops = swiftland)" "$work/run.out"
fi

# A second instance must refuse and name the first.
if swiftland run --duration 1 >"$work/second.out" 2>&1; then
  not_ok "a second swiftland refuses to start" "$work/second.out"
elif grep -q 'another sched_ext scheduler is already running: "swiftland"' "$work/second.out"; then
  ok "a second swiftland refuses to start and names the running one"
else
  not_ok "a second swiftland refuses to start and names the running one" "$work/second.out"
fi

# Pinned tasks: a busy loop pinned to the last CPU, and short-lived pinned processes that
# report the CPU they run on from inside themselves (/proc/self/stat field 39).
last=$((ncpu - 1))
taskset -c "$last" sh -c 'while :; do :; done' &
spin=$!
(
  end=$(($(date +%s) + stress_secs))
  while [ "$(date +%s)" -lt "$end" ]; do
    taskset -c "$last" awk '{ print $39 }' /proc/self/stat
    awk '{ print $39 }' "/proc/$spin/stat"
    sleep 0.2
  done
) >"$work/pinned.cpus" 2>/dev/null &
pinned=$!

# Watch the scheduler stay attached for the whole stress run.
(
  while :; do echo "$(state) $(ops)"; sleep 1; done
) >"$work/states" 2>/dev/null &
watcher=$!

stress-ng -t "$stress_secs" --aggressive -M -c "$ncpu" -f "$ncpu" --affinity 1 \
  --affinity-delay 1 --affinity-pin --metrics-brief >"$work/stress.out" 2>&1
stress_rc=$?
wait "$pinned"
kill "$watcher" "$spin" 2>/dev/null
wait "$watcher" "$spin" 2>/dev/null

if [ $stress_rc -eq 0 ]; then ok "stress-ng completed ($stress_secs s)"; else not_ok "stress-ng completed (exit $stress_rc)" "$work/stress.out"; fi

samples=$(wc -l <"$work/states")
if [ "$samples" -ge $((stress_secs / 2)) ] && ! grep -qv '^enabled swiftland$' "$work/states"; then
  ok "swiftland stayed attached during the stress run ($samples samples)"
else
  not_ok "swiftland stayed attached during the stress run ($samples samples)" "$work/states" "$work/run.out"
fi

if [ -s "$work/pinned.cpus" ] && ! grep -qv "^$last\$" "$work/pinned.cpus"; then
  ok "pinned tasks ran only on CPU $last ($(wc -l <"$work/pinned.cpus") samples)"
else
  not_ok "pinned tasks ran only on CPU $last" "$work/pinned.cpus"
fi

kill -INT "$swl"
wait "$swl"
rc=$?
if [ $rc -eq 0 ] && grep -q 'exit: UNREG (64)' "$work/run.out" && grep -q 'counters: nr_running=' "$work/run.out" &&
   wait_state disabled 10; then
  ok "SIGINT detaches: exit status 0, exit reason and counters printed"
else
  not_ok "SIGINT detaches: exit status 0, exit reason and counters printed (exit $rc)" "$work/run.out"
fi
echo "# counters of the stress run:"
grep 'counters:' "$work/run.out" | tail -n 1 | sed 's/^/#   /'

# --duration ends a run by itself, the same way.
if swiftland run --duration 2 >"$work/duration.out" 2>&1 && grep -q -- '--duration reached' "$work/duration.out" &&
   wait_state disabled 10; then
  ok "--duration detaches by itself with exit status 0"
else
  not_ok "--duration detaches by itself with exit status 0" "$work/duration.out"
fi

# --- 3. the kernel's verdict -----------------------------------------------------------------
dmesg >"$work/dmesg"
grep -E 'sched_ext:.*disabled' "$work/dmesg" | grep -v 'unregistered from user space' >"$work/scx-errors"
grep -E 'BUG:|WARNING:|Oops|Kernel panic|general protection' "$work/dmesg" >"$work/kernel-errors"
grep -E 'rcu: INFO|rcu_.*stall' "$work/dmesg" >"$work/rcu"
if [ ! -s "$work/scx-errors" ] && [ ! -s "$work/kernel-errors" ]; then
  ok "the kernel reported no sched_ext error, BUG, WARNING or Oops"
else
  not_ok "the kernel reported no sched_ext error, BUG, WARNING or Oops" "$work/scx-errors" "$work/kernel-errors"
fi
[ -s "$work/rcu" ] && echo "# RCU warnings (TCG is slow; reported, not judged): $(wc -l <"$work/rcu")"

echo "vm-integration: $passed passed, $failed failed"
[ $failed -eq 0 ]
