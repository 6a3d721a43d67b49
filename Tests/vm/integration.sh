#!/bin/sh
# swiftland's integration suite, run as root INSIDE a sched_ext kernel (one VM boot for
# the whole suite, started by scripts/test.sh through `swiftland vm`). POSIX sh: the guest
# has busybox. Each check prints "ok - NAME" or "not ok - NAME" with the evidence, and
# the last line counts them.
#
#   integration.sh BROKEN_OBJECT [STRESS_SECONDS [USER_STRESS_SECONDS [EXAMPLE [PEERS]]]]
#
# EXAMPLE: the policy written outside the package (Examples/RoundRobin), run like the
# built-in ones. PEERS: the kernel's own sched_ext example schedulers as scripts/kernel.sh
# builds them (`kernel.sh peers`), for one round of an scx: arm.
#
# The stress run is the one sched-ext's own CI uses: every CPU busy with CPU and file
# stressors while affinity workers re-pin themselves constantly.
set -u
broken=${1:?usage: integration.sh BROKEN_OBJECT [STRESS_SECONDS [USER_STRESS_SECONDS [EXAMPLE]]]}
stress_secs=${2:-30}
user_secs=${3:-20}
example=${4:-}
peers=${5:-}
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

echo "# kernel $(uname -r), $ncpu CPUs, stress ${stress_secs}s (bpf mode), ${user_secs}s (each user-mode policy)"
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
elif grep -q "verifier rejected program 'swl_broken'" "$work/broken.out" &&
     grep -q "invalid mem access" "$work/broken.out" &&
     [ "$(state)" = disabled ]; then
  ok "a BPF object the verifier rejects is reported with the program and the log's tail"
else
  not_ok "a BPF object the verifier rejects is reported with the program and the log's tail" "$work/broken.out"
fi

# --- 2. stress runs: bpf mode, then user mode with each policy ---------------------------
# stress_run LABEL SECONDS SWIFTLAND-RUN-ARGS...: swiftland attached through a stress-ng run
# with pinned tasks beside it, then SIGINT. With $program set, that program runs instead of
# `swiftland run` (a scheduler built on the SwiftlandUserMode library takes the same options).
stress_run() {
  label=$1 secs=$2
  shift 2
  out="$work/run-$label.out"
  ${program:-swiftland run} --stats 5 "$@" >"$out" 2>&1 &
  swl=$!
  if wait_state enabled 30 && [ "$(ops)" = swiftland ]; then
    ok "$label: swiftland attaches (state enabled, root/ops = swiftland)"
  else
    not_ok "$label: swiftland attaches (state enabled, root/ops = swiftland)" "$out"
  fi

  # Pinned tasks: a busy loop pinned to the last CPU, and short-lived pinned processes
  # that report the CPU they run on from inside themselves (/proc/self/stat field 39).
  last=$((ncpu - 1))
  taskset -c "$last" sh -c 'while :; do :; done' &
  spin=$!
  (
    end=$(($(date +%s) + secs))
    while [ "$(date +%s)" -lt "$end" ]; do
      taskset -c "$last" awk '{ print $39 }' /proc/self/stat
      awk '{ print $39 }' "/proc/$spin/stat"
      sleep 0.2
    done
  ) >"$work/pinned-$label" 2>/dev/null &
  pinned=$!
  # Watch the scheduler stay attached for the whole stress run.
  # (Shell built-ins only, but for sleep: a starved sampler forks as little as it can.)
  ( while :; do
      read -r s </sys/kernel/sched_ext/state; o=; read -r o </sys/kernel/sched_ext/root/ops
      echo "$s $o"; sleep 1
    done ) >"$work/states-$label" 2>/dev/null &
  watcher=$!

  stress-ng -t "$secs" --aggressive -M -c "$ncpu" -f "$ncpu" --affinity 1 \
    --affinity-delay 1 --affinity-pin --metrics-brief >"$work/stress-$label" 2>&1
  stress_rc=$?
  wait "$pinned"
  kill "$watcher" "$spin" 2>/dev/null
  wait "$watcher" "$spin" 2>/dev/null

  if [ $stress_rc -eq 0 ]; then ok "$label: stress-ng completed ($secs s)"; else not_ok "$label: stress-ng completed (exit $stress_rc)" "$work/stress-$label"; fi
  # Every sample must say attached. (Under TCG and this stress a 1 s sampling loop manages
  # one sample every 2-4 s; that swiftland never detached is also shown by its exit reason
  # below, which must be the UNREG our SIGINT causes.)
  samples=$(wc -l <"$work/states-$label")
  if [ "$samples" -ge 3 ] && ! grep -qv '^enabled swiftland$' "$work/states-$label"; then
    ok "$label: swiftland stayed attached during the stress run ($samples samples)"
  else
    not_ok "$label: swiftland stayed attached during the stress run ($samples samples)" "$work/states-$label" "$out"
  fi
  if [ -s "$work/pinned-$label" ] && ! grep -qv "^$last\$" "$work/pinned-$label"; then
    ok "$label: pinned tasks ran only on CPU $last ($(wc -l <"$work/pinned-$label") samples)"
  else
    not_ok "$label: pinned tasks ran only on CPU $last" "$work/pinned-$label"
  fi

  kill -INT "$swl"
  wait "$swl"
  rc=$?
  if [ $rc -eq 0 ] && grep -q 'exit: UNREG (64)' "$out" && grep -q 'counters: nr_running=' "$out" &&
     wait_state disabled 10; then
    ok "$label: SIGINT detaches: exit status 0, exit reason and counters printed"
  else
    not_ok "$label: SIGINT detaches: exit status 0, exit reason and counters printed (exit $rc)" "$out"
  fi
  echo "# $label counters: $(grep 'counters:' "$out" | tail -n 1 | sed 's/.*counters: //')"
}

stress_run bpf "$stress_secs"

# A second instance must refuse and name the first.
swiftland run >"$work/first.out" 2>&1 &
first=$!
wait_state enabled 30
if swiftland run --duration 1 >"$work/second.out" 2>&1; then
  not_ok "a second swiftland refuses to start" "$work/second.out"
elif grep -q 'another sched_ext scheduler is already running: "swiftland"' "$work/second.out" &&
     [ "$(state)" = enabled ] && kill -0 "$first" 2>/dev/null; then
  ok "a second swiftland refuses to start, names the running one, and the first keeps running"
else
  not_ok "a second swiftland refuses to start, names the running one, and the first keeps running" "$work/second.out"
fi
kill -INT "$first"; wait "$first"; wait_state disabled 10

# --duration ends a run by itself, the same way.
if swiftland run --duration 2 >"$work/duration.out" 2>&1 && grep -q -- '--duration reached' "$work/duration.out" &&
   wait_state disabled 10; then
  ok "--duration detaches by itself with exit status 0"
else
  not_ok "--duration detaches by itself with exit status 0" "$work/duration.out"
fi

# The stats socket: served where sched-ext's tools look while swiftland runs, read by
# `run --monitor` and `metrics`, gone when swiftland exits.
sock=/var/run/scx/root/stats
swiftland run >"$work/served.out" 2>&1 &
swl=$!
wait_state enabled 30
sleep 1
swiftland run --monitor 0.5 >"$work/monitor.out" 2>&1 &
mon=$!
sleep 2
swiftland metrics >"$work/metrics.out" 2>&1
metrics_rc=$?
sock_mode=$(stat -c %a "$sock" 2>/dev/null)
kill -INT "$swl"; wait "$swl"; wait "$mon"; mon_rc=$?
if [ "$sock_mode" = 600 ] && [ "$(grep -c '^swiftland: nr_running=' "$work/monitor.out")" -ge 2 ] &&
   grep -q 'the monitored swiftland stopped' "$work/monitor.out" && [ $mon_rc -eq 0 ] && [ ! -e "$sock" ]; then
  ok "stats socket: served while running (mode 600), --monitor prints the counters until swiftland exits, socket removed"
else
  not_ok "stats socket: served while running (mode ${sock_mode:-none}), --monitor prints the counters until swiftland exits (exit $mon_rc), socket removed" "$work/monitor.out" "$work/served.out"
fi
if [ $metrics_rc -eq 0 ] && grep -q '^# TYPE swiftland_nr_direct_dispatches_total counter$' "$work/metrics.out" &&
   grep -Eq '^swiftland_mode_info\{mode="bpf"\} 1(\.0)?$' "$work/metrics.out" &&
   ! swiftland metrics >"$work/metrics-none.out" 2>&1 && grep -q 'no swiftland is running' "$work/metrics-none.out"; then
  ok "metrics: Prometheus text while swiftland runs, a clear error and exit 1 when none does"
else
  not_ok "metrics: Prometheus text while swiftland runs, a clear error and exit 1 when none does" "$work/metrics.out" "$work/metrics-none.out"
fi

# Every built-in policy in user mode and in hybrid mode (where the kernel side keeps the
# vruntime books and orders the decisions by them, whatever the policy does with vruntime).
for mode in user hybrid; do
  for policy in bpfland vruntime fifo; do
    stress_run "$mode:$policy" "$user_secs" --mode "$mode" --policy "$policy"
    if grep 'counters:' "$work/run-$mode:$policy.out" | tail -n 1 | grep -q ' nr_in_flight=0 '; then
      ok "$mode:$policy: no task left in flight at exit"
    else
      not_ok "$mode:$policy: no task left in flight at exit" "$work/run-$mode:$policy.out"
    fi
  done
done

# The policy written outside the package, on the SwiftlandUserMode library.
if [ -n "$example" ]; then
  program=$example
  stress_run "example:roundrobin" "$user_secs"
  program=
  last_counters=$(grep 'counters:' "$work/run-example:roundrobin.out" | tail -n 1)
  dispatched=$(echo "$last_counters" | tr ' ' '\n' | sed -n 's/^nr_user_dispatches=//p')
  if echo "$last_counters" | grep -q ' nr_in_flight=0 ' && [ "${dispatched:-0}" -gt 0 ] &&
     grep -q 'attached, mode user, policy roundrobin' "$work/run-example:roundrobin.out"; then
    ok "example:roundrobin: its policy made ${dispatched} decisions, no task left in flight at exit"
  else
    not_ok "example:roundrobin: its policy made decisions, no task left in flight at exit" "$work/run-example:roundrobin.out"
  fi
fi

# user mode, the scheduler stopped for far longer than the fallback bound: the kernel side
# keeps every task running, and nothing trips the watchdog.
swiftland run --mode user --fallback-ms 50 >"$work/stop.out" 2>&1 &
swl=$!
wait_state enabled 30
# Every CPU busy, so that wakeups find no idle CPU and must go through user space; the
# probe counts its wakeups in a file. Progress while swiftland is stopped comes from the
# kernel side's fallback.
stress-ng -c "$ncpu" -t 8 >/dev/null 2>&1 &
hogs=$!
( n=0; while :; do sleep 0.05; n=$((n + 1)); echo "$n" >"$work/probe.n"; done ) &
probe=$!
sleep 1
kill -STOP "$swl"
before=$(cat "$work/probe.n" 2>/dev/null || echo 0)
sleep 3
after=$(cat "$work/probe.n" 2>/dev/null || echo 0)
st=$(state)
kill -CONT "$swl"
kill "$probe" "$hogs"; wait "$probe" "$hogs" 2>/dev/null
kill -INT "$swl"; wait "$swl"; rc=$?
progress=$((after - before))
timeouts=$(grep 'counters:' "$work/stop.out" | tail -n 1 | sed -n 's/.* nr_user_timeouts=\([0-9]*\).*/\1/p')
in_flight=$(grep 'counters:' "$work/stop.out" | tail -n 1 | sed -n 's/.* nr_in_flight=\([0-9]*\).*/\1/p')
if [ "$st" = enabled ] && [ "$progress" -ge 5 ] && [ "${timeouts:-0}" -gt 0 ] && [ "${in_flight:-1}" -eq 0 ] && [ $rc -eq 0 ]; then
  ok "user mode stopped 3 s (SIGSTOP): tasks kept running through the kernel side ($progress probe wakeups while stopped, $timeouts fallbacks, none left in flight)"
else
  not_ok "user mode stopped 3 s (SIGSTOP): tasks kept running through the kernel side (state $st, $progress probe wakeups, fallbacks ${timeouts:-none}, in flight ${in_flight:-?}, exit $rc)" "$work/stop.out"
fi

# user mode, the scheduler killed: the kernel takes every task back at once.
swiftland run --mode user >"$work/kill.out" 2>&1 &
swl=$!
wait_state enabled 30
sleep 1
kill -KILL "$swl"
wait "$swl" 2>/dev/null
if wait_state disabled 10 && sh -c 'sleep 0.1; echo alive' | grep -q alive; then
  ok "user mode killed (SIGKILL): the kernel's default scheduler took over"
else
  not_ok "user mode killed (SIGKILL): the kernel's default scheduler took over (state $(state))" "$work/kill.out"
fi

# --- 3. compare: one short round of each arm -------------------------------------------------
if swiftland compare --modes eevdf,bpf,user:bpfland --workloads hackbench --rounds 1 --warmup 0 \
     --hackbench-loops 10 --out "$work/compare" >"$work/compare.out" 2>&1 &&
   [ -s "$work/compare/report.html" ] && [ -s "$work/compare/experiment.json" ] &&
   [ "$(grep -c ',hackbench,time,[0-9.]' "$work/compare/rounds.csv")" -eq 3 ] &&
   grep -q '^\[hackbench - user:bpfland\]' "$work/compare.out"; then
  ok "compare: one round of eevdf, bpf and user:bpfland gives a figure for each, the histograms and the report"
else
  not_ok "compare: one round of eevdf, bpf and user:bpfland gives a figure for each, the histograms and the report" "$work/compare.out" "$work/compare/rounds.csv"
fi
# The schedulers' own cost: measured for bpf (its BPF programs) and user mode (BPF programs
# and the scheduling thread), left empty for eevdf. Columns are found by their header names.
cost=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
  $3 == "bpf" && $(col["bpf_cpu_pct"]) != "" && $(col["process_cpu_pct"]) != "" { b++ }
  $3 == "user:bpfland" && $(col["bpf_cpu_pct"]) != "" && $(col["sched_thread_cpu_pct"]) != "" { u++ }
  $3 == "eevdf" && $(col["process_cpu_pct"]) == "" && $(col["bpf_cpu_pct"]) == "" { e++ }
  END { print (b + 0 > 0 && u + 0 > 0 && e + 0 > 0) ? "measured" : "missing" }' "$work/compare/rounds.csv" 2>/dev/null)
if [ "$cost" = measured ]; then
  ok "compare: the schedulers' own CPU cost measured for bpf and user:bpfland (BPF programs, scheduling thread), not for eevdf"
else
  not_ok "compare: the schedulers' own CPU cost measured for bpf and user:bpfland (BPF programs, scheduling thread), not for eevdf" "$work/compare/rounds.csv"
fi

# The request/response workload: nginx started and stopped around each round, wrk's figure
# parsed, both sides traced, beside the hogs; nothing of the server left behind.
if swiftland compare --modes eevdf,bpf --workloads wrk-hogs --rounds 1 --warmup 0 --seconds 2 \
     --out "$work/compare-wrk" >"$work/compare-wrk.out" 2>&1 &&
   [ "$(grep -c ',wrk-hogs,throughput,[0-9.]*,,requests/s,1,,[1-9]' "$work/compare-wrk/rounds.csv")" -eq 2 ] &&
   grep -q '^wrk-hogs: run-queue latency, us (nginx and wrk only)' "$work/compare-wrk.out" &&
   grep -q '"latency_p99_us"' "$work/compare-wrk/experiment.json" &&
   [ ! -e /tmp/swiftland-wrk ] && ! pidof nginx >/dev/null; then
  ok "compare: wrk-hogs against nginx under eevdf and bpf gives requests/s, wrk's p99 and traced waits, and stops nginx"
else
  not_ok "compare: wrk-hogs against nginx under eevdf and bpf gives requests/s, wrk's p99 and traced waits, and stops nginx" "$work/compare-wrk.out" "$work/compare-wrk/rounds.csv"
fi

# A peer: one round of the kernel's own scx_simple, its cost from its process, no counters.
if [ -n "$peers" ] && [ -x "$peers/bin/scx_simple" ] && [ "$(cat "$peers/version")" = "$(uname -r)" ]; then
  peer_cost=missing
  if swiftland compare --modes scx:simple --workloads hackbench --rounds 1 --warmup 0 --hackbench-loops 10 \
       --peers-dir "$peers" --out "$work/peer" >"$work/peer.out" 2>&1; then
    peer_cost=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
      $3 == "scx:simple" && $4 == "hackbench" && $(col["process_cpu_pct"]) != "" && $(col["bpf_cpu_pct"]) == "" { n++ }
      END { print (n + 0 == 1) ? "measured" : "missing" }' "$work/peer/rounds.csv" 2>/dev/null)
  fi
  if [ "$peer_cost" = measured ] && [ "$(grep -c ',hackbench,time,[0-9.]' "$work/peer/rounds.csv")" -eq 1 ] &&
     [ "$(state)" = disabled ]; then
    ok "compare: one round of scx:simple (the kernel's example scheduler) gives a figure and its process's CPU cost, then detaches"
  else
    not_ok "compare: one round of scx:simple (the kernel's example scheduler) gives a figure and its process's CPU cost, then detaches" \
      "$work/peer.out" "$work/peer/rounds.csv"
  fi
else
  echo "# skipped: compare with an scx: arm (needs the example schedulers built for $(uname -r): PEERS, given by scripts/test.sh)"
fi

# --- 4. the kernel's verdict -----------------------------------------------------------------
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
