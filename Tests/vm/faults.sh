#!/bin/sh
# swiftland's fault suite, run as root INSIDE a sched_ext kernel, in one VM boot (started by
# scripts/faults.sh, which also builds the probe and turns the rows into docs/faults.md).
# POSIX sh: the guest has busybox.
#
#   faults.sh PROBE OUTDIR [long]
#
# PROBE's directory also holds swiftland-hostile (Tests/Hostile): swiftland in user mode (or
# hybrid mode, --hybrid) with a hostile policy, built on the SwiftlandUserMode library as a
# policy of your own would be.
#
# Each fault is provoked against bpf mode, user mode and hybrid mode (user:bpfland, the
# default policy; hybrid: the same, bypassed by bpf mode's policy while user space lags) and
# judged on the same outcome:
#   - the probe task (PROBE gap: SCHED_OTHER, wakes every 50 ms) never waited longer than
#     GAP_BOUND_MS between two runs;
#   - the scheduler kept running (and detached on SIGINT with exit status 0), or exited
#     with its reason reported, as the fault calls for;
#   - no task lost: user and hybrid mode's nr_in_flight is 0 at exit, and the watchdog
#     (exit kind ERROR_STALL) never fired;
#   - the kernel log of that fault has no sched_ext error, BUG, WARNING or Oops. RCU stall
#     warnings (TCG is slow) are counted and shown beside the same fault under the kernel's
#     default scheduler (EEVDF) where the suite runs that too.
# Each check prints "ok - ..." / "not ok - ..." (counted by scripts/test.sh) and appends a
# row "fault|mode|expected|observed|verdict" to OUTDIR/rows.
set -u
probe=${1:?usage: faults.sh PROBE OUTDIR [long]}
out=${2:?usage: faults.sh PROBE OUTDIR [long]}
long=${3:-}
hostile=$(dirname "$probe")/swiftland-hostile
ncpu=$(nproc)
last=$((ncpu - 1))
work=/tmp/swl-faults
mkdir -p "$work" "$out"
rows=$out/rows
evidence=$out/evidence
: >"$rows"
passed=0
failed=0
skipped=0
# row and skip: the verdicts, as scripts/faults.sh gives them on the host.
. "$(dirname "$0")/lib.sh"
# The bound on the probe's largest gap, and the sched_ext watchdog given to swiftland: the
# default one, as a user runs it. No task may wait as long as the watchdog allows.
GAP_BOUND_MS=${GAP_BOUND_MS:-5000}
TIMEOUT_MS=${TIMEOUT_MS:-5000}
if [ "$long" = long ]; then
  stress_secs=300 forks=100000 churn_secs=60 fork_cap=900
else
  stress_secs=60 forks=20000 churn_secs=15 fork_cap=150
fi

state() { cat /sys/kernel/sched_ext/state 2>/dev/null; }
wait_state() { # want timeout_s
  i=0
  while [ "$(state)" != "$1" ] && [ $i -lt $(($2 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
  [ "$(state)" = "$1" ]
}
# counter NAME FILE: the value in the last counters line of a swiftland output
counter() { grep 'counters:' "$2" | tail -n 1 | tr ' ' '\n' | sed -n "s/^$1=//p"; }
# stats_value NAME FILE: the value in the last --stats line (printed while attached)
stats_value() { grep -v 'counters:' "$2" | grep " $1=" | tail -n 1 | tr ' ' '\n' | sed -n "s/^$1=//p"; }

# --- the pieces every fault uses ------------------------------------------------------------
# swl_start LABEL MODE [ARGS...]: swiftland attached (MODE eevdf: none); $swl is its pid
swl_start() {
  # (`kind`, not `mode`: the callers' loops run over `mode`.)
  label=$1 kind=$2
  shift 2
  dmesg -c >/dev/null 2>&1
  swl=
  log="$work/$label.out"
  : >"$log"
  case $kind in
    eevdf) ;;
    bpf) swiftland run --stats 5 --timeout-ms "$TIMEOUT_MS" "$@" >"$log" 2>&1 & swl=$! ;;
    user | hybrid) swiftland run --stats 5 --timeout-ms "$TIMEOUT_MS" --mode "$kind" "$@" >"$log" 2>&1 & swl=$! ;;
    hostile) "$hostile" --stats 5 --timeout-ms "$TIMEOUT_MS" "$@" >"$log" 2>&1 & swl=$! ;;
  esac
  if [ -n "$swl" ] && ! wait_state enabled 30; then
    echo "# $label: swiftland did not attach"; cat "$log"
  fi
  "$probe" gap "$work/$label.gap" &
  probe_pid=$!
}
# swl_stop: stops the probe, detaches with SIGINT (when still running) and sets
#   gap (ms, integer), gap_text, rc (exit status; 0 for eevdf), attached (1 if it was still
#   attached before SIGINT), in_flight (user and hybrid mode), kernel (kernel log verdict
#   text), kbad, rcu (count) and the common verdict `common` (0 = ok) with its text
#   `common_text`.
swl_stop() {
  kill "$probe_pid" 2>/dev/null
  wait "$probe_pid" 2>/dev/null
  gap_text=$(sed -n 's/.*max_gap_ms=\([0-9.]*\).*/\1/p' "$work/$label.gap")
  gap=${gap_text%.*}
  gap=${gap:-99999}
  rc=0 attached=1 in_flight=0
  if [ -n "$swl" ]; then
    # (A restart may be under way, after a hotplug: give it time to attach again.)
    kill -0 "$swl" 2>/dev/null && wait_state enabled 20
    if kill -0 "$swl" 2>/dev/null && [ "$(state)" = enabled ]; then attached=1; else attached=0; fi
    kill -INT "$swl" 2>/dev/null
    wait "$swl"
    rc=$?
    wait_state disabled 10
    in_flight=$(counter nr_in_flight "$log")
    in_flight=${in_flight:-0}
  fi
  dmesg -c >"$work/$label.dmesg" 2>/dev/null
  # Detaching (SIGINT, SIGKILL) and, when swiftland reports a hotplug restart, the kernel's
  # own unregistration for it are not errors.
  hot=unregistered-from-user-space
  grep -q 'restart: CPU hotplug' "$log" 2>/dev/null && hot='unregistered from the main kernel'
  grep -E 'sched_ext:.*disabled' "$work/$label.dmesg" |
    grep -v -e 'unregistered from user space' -e "$hot" >"$work/$label.scx"
  grep -E 'BUG:|WARNING:|Oops|Kernel panic|general protection' "$work/$label.dmesg" >"$work/$label.bug"
  rcu=$(grep -cE 'rcu: INFO|rcu_.*stall|self-detected stall' "$work/$label.dmesg")
  kbad=0
  if [ -s "$work/$label.scx" ] || [ -s "$work/$label.bug" ]; then kbad=1; fi
  stall=0
  grep -q 'ERROR_STALL\|runnable task stall\|watchdog' "$log" "$work/$label.dmesg" 2>/dev/null && stall=1
  # An RCU CPU stall makes the kernel eject a sched_ext scheduler ("runtime error"). When the
  # same fault under EEVDF in this VM had RCU stall warnings too (base_rcu), TCG caused it:
  # the ejection, with its reason reported, is an accepted outcome; otherwise it fails.
  kept=0
  [ $attached -eq 1 ] && [ $rc -eq 0 ] && kept=1
  rcu_eject=0
  if [ -n "$swl" ] && [ $kept -eq 0 ] && grep -q 'message: RCU CPU stall' "$log"; then
    if [ "${base_rcu:-0}" -gt 0 ]; then
      rcu_eject=1 kept=1
      grep -v 'disabled (runtime error)' "$work/$label.scx" >"$work/$label.scx2"; mv "$work/$label.scx2" "$work/$label.scx"
      kbad=0
      if [ -s "$work/$label.scx" ] || [ -s "$work/$label.bug" ]; then kbad=1; fi
    fi
  fi
  bound=$GAP_BOUND_MS
  [ -n "${base_gap:-}" ] && [ $((base_gap * 2)) -gt "$bound" ] && bound=$((base_gap * 2))
  common=0
  common_text="max gap ${gap_text:-?} ms"
  [ "$bound" -ne "$GAP_BOUND_MS" ] && common_text="$common_text (bound: twice EEVDF's, $bound ms)"
  [ "$gap" -lt "$bound" ] || common=1
  if [ -n "$swl" ]; then
    common_text="$common_text; exit $rc; in flight $in_flight"
    [ $rcu_eject -eq 0 ] || common_text="$common_text; EJECTED by the kernel on an RCU CPU stall, reason reported (EEVDF, same fault: $base_rcu RCU warnings)"
    [ "$in_flight" -eq 0 ] || common=1
    [ $stall -eq 0 ] || { common=1; common_text="$common_text; WATCHDOG"; }
  fi
  if [ $kbad -eq 0 ]; then common_text="$common_text; kernel clean"; else common_text="$common_text; KERNEL: $(cat "$work/$label.scx" "$work/$label.bug" | head -n 2 | tr '|\n' '/ ')"; common=1; fi
  common_text="$common_text; rcu $rcu"
}
expected_common="gap < $GAP_BOUND_MS ms (or twice EEVDF's), in flight 0, no watchdog, kernel clean"

echo "# kernel $(uname -r), $ncpu CPUs; fault suite${long:+ (long)}: stress ${stress_secs}s, $forks forks, churn ${churn_secs}s, gap bound $GAP_BOUND_MS ms, swiftland --timeout-ms $TIMEOUT_MS"
[ -d /sys/kernel/sched_ext ] || { echo "not ok - this kernel has no sched_ext"; exit 1; }

# --- 1. the scx CI stress -----------------------------------------------------------------------
base_gap= base_rcu=
for mode in eevdf bpf user hybrid; do
  swl_start "stress-$mode" $mode
  stress-ng -t "$stress_secs" --aggressive -M -c "$ncpu" -f "$ncpu" --affinity 1 \
    --affinity-delay 1 --affinity-pin --metrics-brief >"$work/stress-$mode.stress" 2>&1
  src=$?
  swl_stop
  eval "rcu_stress_$mode=$rcu"
  v=$common
  [ $src -eq 0 ] || v=1
  [ "$mode" = eevdf ] || { [ $kept -eq 1 ]; } || v=1
  obs="stress-ng exit $src; $common_text"
  [ "$mode" = eevdf ] || obs="$obs (EEVDF: $rcu_stress_eevdf)"
  row "scx CI stress ${stress_secs}s" $mode "stress-ng completes, stays attached, $expected_common" "$obs" $v "$log" "$work/stress-$mode.stress" "$work/stress-$mode.dmesg"
  [ "$mode" = eevdf ] && base_gap=$gap base_rcu=$rcu
done
base_gap= base_rcu=

# --- 2. CPU hotplug under load -------------------------------------------------------------------
# The kernel asks a scheduler without cpu_online/cpu_offline callbacks to restart (exit code
# ACT_RESTART | RSN_HOTPLUG); swiftland must say so and load itself again. Under EEVDF first,
# for the RCU and gap baseline (taking a CPU down under TCG is slow). Three cycles: a task
# left in the DSQ of a CPU on its way down must not wait for the watchdog, and one cycle
# hits that window only now and then.
base_gap= base_rcu=
for mode in eevdf bpf user hybrid; do
  if [ ! -w /sys/devices/system/cpu/cpu$last/online ]; then
    row "CPU hotplug" $mode "restart or adapt, said which" "CPU $last cannot be taken offline here" 1; continue
  fi
  swl_start "hotplug-$mode" $mode
  stress-ng -c "$ncpu" -t 26 >/dev/null 2>&1 &
  hogs=$!
  sleep 2
  off=0 on=0
  for cycle in 1 2 3; do
    echo 0 >/sys/devices/system/cpu/cpu$last/online || off=$((off + 1))
    sleep 4
    echo 1 >/sys/devices/system/cpu/cpu$last/online || on=$((on + 1))
    sleep 4
  done
  wait "$hogs" 2>/dev/null
  swl_stop
  restarts=$(grep -c 'restarting as the kernel asked (CPU hotplug)' "$log")
  online=$(cat /sys/devices/system/cpu/online)
  v=$common
  if [ "$mode" = eevdf ]; then
    [ $off -eq 0 ] && [ $on -eq 0 ] || v=1
    row "CPU hotplug (CPU $last off, on, 3 times)" $mode "the CPU goes down and up, kernel clean (baseline)" \
      "failed offlines $off, onlines $on; online CPUs now $online; $common_text" $v "$work/hotplug-$mode.dmesg"
    base_gap=$gap base_rcu=$rcu
    continue
  fi
  [ $off -eq 0 ] && [ $on -eq 0 ] && [ $kept -eq 1 ] && { [ "$restarts" -ge 1 ] || [ $rcu_eject -eq 1 ]; } || v=1
  row "CPU hotplug (CPU $last off, on, 3 times)" $mode "swiftland restarts (says 'CPU hotplug') and stays attached, $expected_common" \
    "failed offlines $off, onlines $on; $restarts restarts announced; online CPUs now $online; $common_text" $v "$log" "$work/hotplug-$mode.dmesg"
done
base_gap= base_rcu=

# --- 3. fork/exit storm ---------------------------------------------------------------------------
# Under EEVDF first, for the baseline.
base_gap= base_rcu=
for mode in eevdf bpf user hybrid; do
  swl_start "fork-$mode" $mode
  # One forking process per CPU; each child exits at once.
  j=0 pids=
  while [ $j -lt "$ncpu" ]; do
    "$probe" forks $((forks / ncpu)) $fork_cap >"$work/fork-$mode.$j" 2>&1 &
    pids="$pids $!"
    j=$((j + 1))
  done
  src=0
  for p in $pids; do wait "$p" || src=1; done
  swl_stop
  done_forks=$(cat "$work"/fork-$mode.[0-9]* | sed -n 's/^forks=\([0-9]*\) .*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
  fork_secs=$(cat "$work"/fork-$mode.[0-9]* | sed -n 's/.* secs=\([0-9.]*\).*/\1/p' | sort -n | tail -n 1)
  v=$common
  # Every fork must succeed; the storm ends at its count or at its time cap (user mode's
  # round trip per new task makes it far slower under TCG: the row gives the rate).
  fork_failed=$(cat "$work"/fork-$mode.[0-9]* | sed -n 's/.* failed=\([0-9]*\) .*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
  [ "$fork_failed" -eq 0 ] && [ "${done_forks:-0}" -ge 1000 ] || v=1
  [ "$mode" = eevdf ] || { [ $kept -eq 1 ]; } || v=1
  row "fork/exit storm" $mode "$forks short-lived processes (or as many as fit in ${fork_cap} s), none failed, stays attached, $expected_common" "${done_forks:-?} forks in ${fork_secs:-?} s, $fork_failed failed; $common_text" $v "$log" "$work/fork-$mode.dmesg"
  [ "$mode" = eevdf ] && base_gap=$gap base_rcu=$rcu
done
base_gap= base_rcu=

# --- 4. affinity churn: re-pinned while running, checked from inside ---------------------------
for mode in bpf user hybrid; do
  swl_start "affinity-$mode" $mode
  stress-ng -c "$ncpu" -t $((churn_secs + 2)) >/dev/null 2>&1 &
  hogs=$!
  "$probe" pin "$churn_secs" >"$work/affinity-$mode.a" 2>&1 &
  a=$!
  "$probe" pin "$churn_secs" >"$work/affinity-$mode.b" 2>&1 &
  b=$!
  repins=0 i=0
  while kill -0 "$a" 2>/dev/null || kill -0 "$b" 2>/dev/null; do
    for p in $a $b; do
      i=$((i + 1))
      case $((i % 5)) in 0 | 3) set_=0 ;; 1 | 4) set_=$last ;; *) set_=0-$last ;; esac
      taskset -pc "$set_" "$p" >/dev/null 2>&1 && repins=$((repins + 1))
    done
    sleep 0.1
  done
  wait "$a"; ra=$?
  wait "$b"; rb=$?
  wait "$hogs" 2>/dev/null
  swl_stop
  v=$common
  [ $ra -eq 0 ] && [ $rb -eq 0 ] && [ $kept -eq 1 ] || v=1
  row "affinity churn" $mode "re-pinned tasks only ever run on allowed CPUs, $expected_common" \
    "$repins re-pins; task A $(cat "$work/affinity-$mode.a" | tail -n 1); task B $(cat "$work/affinity-$mode.b" | tail -n 1); $common_text" $v "$work/affinity-$mode.a" "$work/affinity-$mode.b" "$log"
done

# --- 5. weights, then priority churn ------------------------------------------------------------
# Weights first, with the pair alone on its CPU: a nice 0 and a nice 19 spinner pinned
# together (weights 1024 and 15: 98.5% / 1.5%). Then two spinners whose nice and policy change
# all the time run for the churn phase, judged on the common outcome.
#
# When a slice ends, sched_ext asks ops.dispatch for the next task BEFORE the expired task is
# queued again, so the task waiting for the CPU would win without being compared with it; both
# modes' dispatch keeps the expired task while its vruntime, charged for what it ran, still
# comes first (keep_running in bpf/core.bpf.h; in user mode against the vruntime the policy
# gave the waiting task). Two equal spinners pinned together must still split the CPU evenly:
# keeping, and wakeup preemption, must not let one of them win.
#
# spin_pair PREFIX NICE: a nice-0 spinner and one at NICE, pinned together for 8 s; sets ms_a
# and ms_b (their CPU ms) and share (the first one's, in tenths of a percent).
spin_pair() {
  taskset -c "$last" "$probe" spin 8 >"$1.a" &
  pa=$!
  taskset -c "$last" "$probe" spin 8 "$2" >"$1.b" 2>&1 &
  pb=$!
  wait "$pa" "$pb"
  ms_a=$(sed -n 's/.*cpu_ms=\([0-9]*\).*/\1/p' "$1.a")
  ms_b=$(sed -n 's/.*cpu_ms=\([0-9]*\).*/\1/p' "$1.b")
  share=$(( ${ms_a:-0} * 1000 / (${ms_a:-0} + ${ms_b:-0} + 1) ))
}
weights_want="nice 0 gets >= 85% of a CPU shared with nice 19 (weights: 98.5%)"
for mode in bpf user hybrid; do
  swl_start "prio-$mode" $mode
  spin_pair "$work/prio-$mode.n" 19
  v=0; [ $share -ge 850 ] || v=1
  row "weights: nice 0 and nice 19 alone on one CPU" $mode "$weights_want" \
    "nice 0 $ms_a ms vs nice 19 $ms_b ms ($((share / 10)).$((share % 10))%)" $v "$log"
  spin_pair "$work/prio-$mode.e" 0
  v=0; [ $share -ge 450 ] && [ $share -le 550 ] || v=1
  row "weights: two nice 0 alone on one CPU" $mode "each gets 50% +- 5% of the CPU" \
    "$ms_a ms vs $ms_b ms ($((share / 10)).$((share % 10))%)" $v "$log"
  "$probe" spin "$churn_secs" >/dev/null &
  c1=$!
  "$probe" spin "$churn_secs" >/dev/null &
  c2=$!
  changes=0 i=0
  while kill -0 "$c1" 2>/dev/null; do
    for p in $c1 $c2; do
      i=$((i + 1))
      case $((i % 5)) in
        0) chrt -i -p 0 "$p" ;;
        1) chrt -b -p 0 "$p" ;;
        2) chrt -o -p 0 "$p" ;;
        *) renice -n $((i * 7 % 40 - 20)) -p "$p" ;;
      esac >/dev/null 2>&1 && changes=$((changes + 1))
    done
    sleep 0.05
  done
  wait "$c1" "$c2"
  swl_stop
  v=$common
  [ "$changes" -ge 5 ] && [ $kept -eq 1 ] || v=1
  row "priority churn (nice, SCHED_IDLE/BATCH)" $mode "the nice/policy changes take effect, $expected_common" \
    "$changes changes; $common_text" $v "$log"
done

# The weights again with every slice at its longest (-S 5000): a 5 ms slice outlasts the
# starvation threshold (5 ms) by the time its tick ends it, and a regular task that ran all
# along must count as the regular tasks' turn, not hand the nice-19 task the next one.
for mode in bpf user hybrid; do
  swl_start "prio-long-$mode" $mode -S 5000
  spin_pair "$work/prio-long-$mode" 19
  swl_stop
  v=$common
  [ $share -ge 850 ] && [ $kept -eq 1 ] || v=1
  row "weights: nice 0 and nice 19, every slice 5 ms (-S 5000)" $mode "$weights_want, $expected_common" \
    "nice 0 $ms_a ms vs nice 19 $ms_b ms ($((share / 10)).$((share % 10))%); $common_text" $v "$log"
done

# --- 5b. tasks the queues' order would starve past the watchdog --------------------------------
# Each slice of a nice-19 task (weight 1) is charged like 100 slices of a nice-0 one, so by
# weight alone it would wait far longer than the watchdog beside heavy or many tasks on its
# CPU. The wait guard (guard_waits in bpf/core.bpf.h) serves any task that waited a quarter
# of --timeout-ms. Judged: swiftland stays attached, no watchdog stall, and the light task's
# longest wait (probe spin's max_wait_ms) stays below the watchdog.
light_row() { # MODE LABEL DESCRIPTION HEAVY-SPEC ; HEAVY-SPEC: "N NICE"
  mode=$1 lbl=$2 what=$3 n=${4% *} nice=${4#* }
  swl_start "$lbl-$mode" $mode
  i=0 pids=
  while [ $i -lt "$n" ]; do
    taskset -c "$last" "$probe" spin 12 "$nice" >/dev/null 2>&1 &
    pids="$pids $!"
    i=$((i + 1))
  done
  taskset -c "$last" "$probe" spin 12 19 >"$work/$lbl-$mode.light" 2>&1 &
  pids="$pids $!"
  for p in $pids; do wait "$p"; done
  swl_stop
  wait_ms=$(sed -n 's/.*max_wait_ms=\([0-9]*\).*/\1/p' "$work/$lbl-$mode.light")
  v=$common
  [ $kept -eq 1 ] && [ "${wait_ms:-99999}" -lt "$TIMEOUT_MS" ] || v=1
  row "$what" $mode "the nice-19 task runs within the watchdog ($TIMEOUT_MS ms), stays attached, $expected_common" \
    "nice-19 task: $(cat "$work/$lbl-$mode.light"), longest wait ${wait_ms:-?} ms; $(counter nr_starvation_tasks "$log") tasks served by the wait guard; $common_text" \
    $v "$log" "$work/$lbl-$mode.dmesg"
}
for mode in bpf user hybrid; do
  light_row $mode heavy "nice -20 x2 and nice 19, pinned to one CPU, 12 s" "2 -20"
  light_row $mode many "120 nice 0 and one nice 19, pinned to one CPU, 12 s" "120 0"
done

# --- 6. user and hybrid mode only ---------------------------------------------------------------
# Hybrid mode runs each fault too, judged as user mode, except where its kernel side may take
# over by bypass instead of by user timeouts or ring-full dispatches (the row says so). `h` is
# swiftland-hostile's flag for the mode.
for mode in user hybrid; do
  # SIGKILL: the kernel takes every task back at once.
  swl_start "kill-$mode" $mode
  stress-ng -c "$ncpu" -t 6 >/dev/null 2>&1 &
  hogs=$!
  sleep 2
  kill -KILL "$swl"
  wait "$swl" 2>/dev/null
  wait_state disabled 10; st=$(state)
  wait "$hogs"
  swl=  # gone: nothing to detach
  swl_stop
  v=$common
  [ "$st" = disabled ] || v=1
  row "SIGKILL of the scheduler" $mode "the kernel's default scheduler takes over at once, $expected_common" "state $st afterwards; $common_text" $v "$log"
done

# SIGSTOP for 3 s (60 times the 50 ms fallback bound), then SIGCONT.
for mode in user hybrid; do
  swl_start "stop-$mode" $mode --fallback-ms 50
  stress-ng -c "$ncpu" -t 8 >/dev/null 2>&1 &
  hogs=$!
  sleep 2
  kill -STOP "$swl"
  sleep 3
  st=$(state)
  kill -CONT "$swl"
  wait "$hogs"
  swl_stop
  timeouts=$(counter nr_user_timeouts "$log")
  entries=$(counter nr_bypass_entries "$log")
  v=$common
  [ "$st" = enabled ] && [ $kept -eq 1 ] || v=1
  if [ $mode = user ]; then
    [ "${timeouts:-0}" -gt 0 ] || v=1
    row "SIGSTOP 3 s (fallback 50 ms), SIGCONT" $mode "stays attached, kernel side dispatches (user timeouts > 0), $expected_common" \
      "state while stopped $st; ${timeouts:-?} user timeouts; $common_text" $v "$log"
  else
    [ "${entries:-0}" -gt 0 ] || [ "${timeouts:-0}" -gt 0 ] || v=1
    row "SIGSTOP 3 s (fallback 50 ms), SIGCONT" $mode "stays attached, kernel side dispatches (bypass entries > 0 or user timeouts > 0), $expected_common" \
      "state while stopped $st; ${entries:-?} bypass entries, $(counter nr_bypass_recalls "$log") recalls, ${timeouts:-?} user timeouts; $common_text" $v "$log"
  fi
done

# Tiny rings: 4 KiB each (about 40 records) against hackbench's 160 tasks, with a scheduling
# thread that cannot keep up: one task per loop and 2 ms per loop (well below the fallback
# bound). A ring can only fill when more tasks wait than it holds: stress-ng's few workers
# never filled it once the default batch became 8. Hybrid mode bypasses such a thread
# instead, and then sends nothing to the ring.
for mode in user hybrid; do
  swl_start "tinyring-$mode" $mode --ring-kib 4 --batch 1 --loop-delay-us 2000
  timeout 60 hackbench -g 4 -l 20 >/dev/null 2>&1
  swl_stop
  full=$(counter nr_ring_full "$log")
  entries=$(counter nr_bypass_entries "$log")
  v=$common
  [ $kept -eq 1 ] || v=1
  if [ $mode = user ]; then
    [ "${full:-0}" -gt 0 ] || v=1
    row "tiny rings (--ring-kib 4 --batch 1 --loop-delay-us 2000)" $mode "ring-full congestion counted (nr_ring_full > 0), stays attached, $expected_common" \
      "${full:-?} ring-full dispatches, $(counter ring_retries "$log") ring retries; $common_text" $v "$log"
  else
    [ "${full:-0}" -gt 0 ] || [ "${entries:-0}" -gt 0 ] || v=1
    row "tiny rings (--ring-kib 4 --batch 1 --loop-delay-us 2000)" $mode "congestion met by ring-full dispatches or bypass (nr_ring_full > 0 or nr_bypass_entries > 0), stays attached, $expected_common" \
      "${full:-?} ring-full dispatches, $(counter ring_retries "$log") ring retries; ${entries:-?} bypass entries, $(counter nr_bypass_dispatches "$log") bypass dispatches; $common_text" $v "$log"
  fi
done

# A full ring while the scheduling thread is stopped, with more runnable tasks than CPUs: every
# trip expires and nothing is in flight, but the thread must still be served, drain the ring
# and go on scheduling (it used to be left behind every other task until the watchdog fired).
# Hybrid mode bypasses the stopped thread, which may keep the ring from filling.
for mode in user hybrid; do
  swl_start "ringstop-$mode" $mode --ring-kib 4 --stats 1
  stress-ng -c $((ncpu * 2)) -t 12 >/dev/null 2>&1 &
  hogs=$!
  sleep 2
  kill -STOP "$swl"
  sleep 3
  kill -CONT "$swl"
  sleep 2
  loops_after_cont=$(stats_value loops "$log")
  wait "$hogs"
  swl_stop
  full=$(counter nr_ring_full "$log")
  entries=$(counter nr_bypass_entries "$log")
  loops_end=$(counter loops "$log")
  v=$common
  [ "${loops_end:-0}" -gt "${loops_after_cont:-0}" ] && [ $kept -eq 1 ] || v=1
  what="full ring (--ring-kib 4), SIGSTOP 3 s, SIGCONT, $((ncpu * 2)) CPU hogs"
  seen="${full:-?} ring-full dispatches; loops ${loops_after_cont:-?} 2 s after SIGCONT, ${loops_end:-?} at the end"
  if [ $mode = user ]; then
    [ "${full:-0}" -gt 0 ] || v=1
    row "$what" $mode "the ring fills (nr_ring_full > 0), the thread runs again after SIGCONT (loops grow), stays attached, $expected_common" \
      "$seen; $common_text" $v "$log"
  else
    [ "${full:-0}" -gt 0 ] || [ "${entries:-0}" -gt 0 ] || v=1
    row "$what" $mode "the ring fills or the kernel side bypasses (nr_ring_full > 0 or nr_bypass_entries > 0), the thread runs again after SIGCONT (loops grow), stays attached, $expected_common" \
      "$seen; ${entries:-?} bypass entries; $common_text" $v "$log"
  fi
done

# A policy that sends every decision to one CPU, while a task pinned to that CPU waits in the
# shared queue, which that CPU serves only after its own (swiftland-hostile --flood-cpu).
for mode in user hybrid; do
  h=; [ $mode = hybrid ] && h=--hybrid
  swl_start "flood-$mode" hostile $h --flood-cpu "$last"
  stress-ng -c $((ncpu * 2)) -t 10 >/dev/null 2>&1 &
  hogs=$!
  taskset -c "$last" "$probe" spin 8 >"$work/flood-$mode.pinned" 2>&1
  wait "$hogs"
  swl_stop
  wait_ms=$(sed -n 's/.*max_wait_ms=\([0-9]*\).*/\1/p' "$work/flood-$mode.pinned")
  v=$common
  [ "${wait_ms:-99999}" -lt "$TIMEOUT_MS" ] && [ $kept -eq 1 ] || v=1
  row "policy floods CPU $last while a task pinned to it waits (swiftland-hostile --flood-cpu $last)" $mode "the pinned task runs within the watchdog, stays attached, $expected_common" \
    "pinned task: $(cat "$work/flood-$mode.pinned"), longest wait ${wait_ms:-?} ms; $(counter nr_starvation_tasks "$log") served by the wait guard; $common_text" $v "$log"
done

# Decisions naming a CPU that is offline (taken down before swiftland starts, so no hotplug
# restart intervenes): each must be bounced to a CPU that can run it, none stranded.
for mode in user hybrid; do
  h=; [ $mode = hybrid ] && h=--hybrid
  if [ -w /sys/devices/system/cpu/cpu$last/online ] && echo 0 >/sys/devices/system/cpu/cpu$last/online; then
    swl_start "offline-$mode" hostile $h --flood-cpu "$last"
    stress-ng -c $((ncpu * 2)) -t 8 >/dev/null 2>&1
    swl_stop
    echo 1 >/sys/devices/system/cpu/cpu$last/online
    bounces=$(counter nr_bounce_dispatches "$log")
    v=$common
    [ "${bounces:-0}" -gt 0 ] && [ $kept -eq 1 ] || v=1
    row "every decision names offline CPU $last (swiftland-hostile --flood-cpu $last)" $mode "each bounced to an online CPU (nr_bounce_dispatches > 0), none stranded, stays attached, $expected_common" \
      "${bounces:-?} bounces; $common_text" $v "$log"
  else
    row "every decision names an offline CPU" $mode "each bounced" "CPU $last cannot be taken offline here" 1
  fi
done

# An artificial 100 ms delay per loop of the scheduling thread (twice the fallback bound).
for mode in user hybrid; do
  swl_start "delay-$mode" $mode --loop-delay-us 100000
  stress-ng -c "$ncpu" -t 10 >/dev/null 2>&1
  swl_stop
  timeouts=$(counter nr_user_timeouts "$log")
  entries=$(counter nr_bypass_entries "$log")
  v=$common
  [ $kept -eq 1 ] || v=1
  if [ $mode = user ]; then
    [ "${timeouts:-0}" -gt 0 ] || v=1
    row "100 ms delay per loop (--loop-delay-us)" $mode "user-timeout fallback counted (nr_user_timeouts > 0), stays attached, $expected_common" \
      "${timeouts:-?} user timeouts; $common_text" $v "$log"
  else
    [ "${entries:-0}" -gt 0 ] || [ "${timeouts:-0}" -gt 0 ] || v=1
    row "100 ms delay per loop (--loop-delay-us)" $mode "the kernel side takes over (nr_bypass_entries > 0 or nr_user_timeouts > 0), stays attached, $expected_common" \
      "${entries:-?} bypass entries, $(counter nr_bypass_dispatches "$log") bypass dispatches, ${timeouts:-?} user timeouts; $common_text" $v "$log"
  fi
done

# A scheduling thread that is slow for 2 s and then recovers (swiftland-hostile --slow-ms
# 2000: 2 ms in every call of the policy's next, from 1 s after it starts), under CPU hogs.
# Hybrid mode's kernel side must take over (bypass) and hand back: user dispatches grow again
# after the slow window, and the last --stats line shows no bypass.
for mode in user hybrid; do
  h=; [ $mode = hybrid ] && h=--hybrid
  swl_start "slow-$mode" hostile $h --slow-ms 2000 --slow-delay-us 2000 --stats 1
  stress-ng -c $((ncpu * 2)) -t 9 >/dev/null 2>&1 &
  hogs=$!
  sleep 5
  user_after=$(stats_value nr_user_dispatches "$log")
  wait "$hogs"
  user_end=$(stats_value nr_user_dispatches "$log")
  bypass_end=$(stats_value in_bypass "$log")
  swl_stop
  slowed=$(sed -n 's/^swiftland-hostile: slow_calls=//p' "$log" | tail -n 1)
  entries=$(counter nr_bypass_entries "$log")
  v=$common
  [ "${slowed:-0}" -gt 0 ] && [ $kept -eq 1 ] || v=1
  what="scheduling thread slow for 2 s, then recovered (swiftland-hostile --slow-ms 2000 --slow-delay-us 2000), $((ncpu * 2)) CPU hogs"
  seen="${slowed:-?} slowed calls of next; user dispatches ${user_after:-?} 2 s after the slow window, ${user_end:-?} at the end"
  if [ $mode = user ]; then
    slow_user_gap=${gap_text:-?}
    row "$what" $mode "the slowed calls happen, stays attached, $expected_common" \
      "$seen; $(counter nr_user_timeouts "$log") user timeouts; $common_text" $v "$log"
  else
    [ "${entries:-0}" -gt 0 ] && [ "${bypass_end:-1}" -eq 0 ] && [ "${user_end:-0}" -gt "${user_after:-0}" ] || v=1
    row "$what" $mode "the kernel side takes over (nr_bypass_entries > 0) and hands back (user dispatches grow after the slow window, in_bypass 0 in the last --stats line), stays attached, $expected_common" \
      "$seen; ${entries:-?} bypass entries, $(counter bypass_ns "$log") ns in bypass, $(counter nr_bypass_recalls "$log") recalls, in_bypass ${bypass_end:-?} at the end; max gap ${gap_text:-?} ms (user mode: ${slow_user_gap:-?} ms); $common_text" $v "$log"
  fi
done

# Goal (a benchmark: reported, not judged): with a scheduling thread slowed to 2 ms per loop,
# hybrid mode's bypass keeps the probe's gap at most half of user mode's. The verdict is on
# the common outcome.
goal="goal: thread slowed to 2 ms per loop (--loop-delay-us 2000), $((ncpu * 2)) CPU hogs: the probe gap in hybrid mode at most half of user mode's"
for mode in user hybrid; do
  swl_start "goal-$mode" $mode --loop-delay-us 2000
  stress-ng -c $((ncpu * 2)) -t 8 >/dev/null 2>&1
  swl_stop
  v=$common
  [ $kept -eq 1 ] || v=1
  if [ $mode = user ]; then
    goal_user_gap=${gap_text:-?}
    row "$goal" $mode "stays attached, $expected_common (the gap is hybrid's baseline)" "$common_text" $v "$log"
  else
    ratio=$(awk -v h="${gap_text:-0}" -v u="$goal_user_gap" 'BEGIN { if (u + 0 > 0) printf "%.2f", h / u; else print "?" }')
    met=$(awk -v r="$ratio" 'BEGIN { print (r != "?" && r + 0 <= 0.5) ? "met" : "not met" }')
    row "$goal" $mode "reported, not judged: hybrid's gap at most half of user's; judged: stays attached, $expected_common" \
      "gap ${gap_text:-?} ms vs user mode's $goal_user_gap ms: ratio $ratio (goal $met); $(counter nr_bypass_entries "$log") bypass entries, $(counter nr_bypass_dispatches "$log") bypass dispatches; $common_text" $v "$log"
  fi
done

# --- 7. hostile dispatch records through the real ring ------------------------------------------
for mode in user hybrid; do
  h=; [ $mode = hybrid ] && h=--hybrid
  swl_start "hostile-$mode" hostile $h --records
  stress-ng -c "$ncpu" -t 8 >/dev/null 2>&1
  swl_stop
  sent=$(sed -n 's/^swiftland-hostile: hostile_sent=//p' "$log" | tail -n 1)
  inv=$(counter nr_invalid_dispatches "$log")
  miss=$(counter nr_missing_tasks "$log")
  can=$(counter nr_cancel_dispatches "$log")
  v=$common
  # 8 records: 5 malformed (out-of-range CPU, unknown flag, negative pid, 2 random), 1 gone, 2
  # stale/unmanaged.
  [ "${sent:-0}" -eq 8 ] && [ "${inv:-0}" -eq 5 ] && [ "${miss:-0}" -ge 1 ] && [ "${can:-0}" -ge 2 ] &&
    [ $kept -eq 1 ] || v=1
  row "hostile dispatch records (real ring, swiftland-hostile --records)" $mode "no-such-pid, unmanaged pid, CPU out of range, stale seq, unknown flag, negative pid, random bytes: each rejected and counted (invalid 5, missing >= 1, cancel >= 2), $expected_common" \
    "${sent:-?} sent; invalid ${inv:-?}, missing ${miss:-?}, cancel ${can:-?}; $common_text" $v "$log"
done

# --- 8. two instances started at once -----------------------------------------------------------
for mode in bpf user hybrid; do
  dmesg -c >/dev/null 2>&1
  m=; [ $mode = bpf ] || m="--mode $mode"
  swiftland run $m >"$work/two-$mode.1" 2>&1 &
  p1=$!
  swiftland run $m >"$work/two-$mode.2" 2>&1 &
  p2=$!
  wait_state enabled 30
  sleep 3
  alive=
  kill -0 $p1 2>/dev/null && alive="$alive 1"
  kill -0 $p2 2>/dev/null && alive="$alive 2"
  alive=${alive# }
  case $alive in
    1) winner=$p1 loser=$p2 lout="$work/two-$mode.2" ;;
    2) winner=$p2 loser=$p1 lout="$work/two-$mode.1" ;;
    *) winner= loser= lout= ;;
  esac
  lrc=-1
  if [ -n "$loser" ]; then wait "$loser"; lrc=$?; fi
  msg=$(grep -h 'error' "${lout:-/dev/null}" | head -n 1)
  st=$(state)
  sleep 1
  still=0; [ -n "$winner" ] && kill -0 "$winner" 2>/dev/null && [ "$(state)" = enabled ] && still=1
  kill -INT $p1 $p2 2>/dev/null
  wait $p1 $p2 2>/dev/null
  wait_state disabled 10
  v=0
  [ -n "$winner" ] && [ $lrc -ne 0 ] && [ $still -eq 1 ] &&
    echo "$msg" | grep -q 'already running' || v=1
  row "two instances at once" $mode "the second refuses with a clear message, the first keeps running" \
    "running after 3 s: instance ${alive:-none}; the other exited $lrc: \"$msg\"; first still attached: $still" $v "$work/two-$mode.1" "$work/two-$mode.2"
done

# --- 9. bad input inside the VM ------------------------------------------------------------------
for mode in bpf user hybrid; do
  m=; [ $mode = bpf ] || m="--mode $mode"
  capsh --drop=cap_sys_admin,cap_bpf -- -c "swiftland run $m --duration 1" >"$work/caps-$mode" 2>&1
  crc=$?
  v=0
  [ $crc -ne 0 ] && grep -q 'missing privileges: CAP_SYS_ADMIN and CAP_BPF' "$work/caps-$mode" && [ "$(state)" = disabled ] || v=1
  row "not enough privileges (CAP_SYS_ADMIN, CAP_BPF dropped)" $mode "refused before loading, naming both" \
    "exit $crc: \"$(grep -h error "$work/caps-$mode" | head -n 1)\"" $v "$work/caps-$mode"
done
for args in "--mode quantum" "--mode user --policy lottery" "--slice-us -1" "--slice-us 0" "--timeout-ms 99999" \
            "--batch abc" "--mode user --fallback-ms 4000 --timeout-ms 5000" "--ring-kib 4"; do
  swiftland run $args --duration 1 >"$work/bad.out" 2>&1
  brc=$?
  v=0
  [ $brc -ne 0 ] && grep -q 'rror' "$work/bad.out" && [ "$(state)" = disabled ] || v=1
  row "bad option: $args" vm "refused with a message, nothing loaded" "exit $brc: \"$(grep -h rror "$work/bad.out" | head -n 1)\"" $v "$work/bad.out"
done

# --- the kernel's verdict over the whole run ------------------------------------------------------
echo "# RCU stall warnings per fault are in the rows (EEVDF stress: ${rcu_stress_eevdf:-?}, bpf: ${rcu_stress_bpf:-?}, user: ${rcu_stress_user:-?}, hybrid: ${rcu_stress_hybrid:-?})"
echo "vm-faults: $passed passed, $failed failed"
[ $failed -eq 0 ]
