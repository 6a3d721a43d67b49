#!/usr/bin/env bash
# swiftland's fault suite (`make faults`; scripts/test.sh runs it too): provokes every
# failure we can, checks the outcome, and writes the table docs/faults.md.
#
#   1. on the host: bad options of run/compare/vm through the built binary, a kernel without
#      sched_ext (this host's, when it has none), and a corrupted or truncated cached kernel
#      (a copy of the cache in a temporary directory; the real cache is never touched);
#   2. in ONE `swiftland vm` boot: Tests/vm/faults.sh, every runtime fault against bpf mode,
#      user mode and hybrid mode, with the probe task (Tests/vm/probe.c, built here)
#      measuring the largest scheduling gap.
# Prints "ok - " / "not ok - " / "skip - " lines and ends with
# "faults: N passed, N failed, N skipped".
#
# SWIFTLAND_FAULTS_LONG=1: the long variants (5 min stress, 100k forks, 60 s churn).
# SWIFTLAND_FAULTS_TABLE: where to write the table (default docs/faults.md; "" = nowhere).
# SWIFTLAND_FAULTS_REFETCH=0 skips the online re-fetch of a corrupted kernel (no network).
# SWIFTLAND_FAULTS_HOST_RINGS=0 leaves out the host-kernel validation tests (scripts/test.sh
# sets it: they are unit tests, run and counted in its first part).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$PATH:/opt/swift/usr/bin"
table=${SWIFTLAND_FAULTS_TABLE-$root/docs/faults.md}
long=; [ "${SWIFTLAND_FAULTS_LONG:-0}" = 1 ] && long=long
started=$(date +%s)
work=$(mktemp -d /tmp/swiftland-faults.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
rows=$work/rows
evidence=
: >"$rows"
passed=0 failed=0 skipped=0
# row and skip: the verdicts, as Tests/vm/faults.sh gives them in the guest.
. "$root/Tests/vm/lib.sh"
. "$root/scripts/xunit.sh"
first_error() { grep -h -m1 -i 'error' "$1" | sed 's/|/\//g' | cut -c1-160; }

echo "== building swiftland, swiftland-hostile (Tests/Hostile) and the probe"
for product in swiftland swiftland-hostile; do
  if ! swift build -c release --static-swift-stdlib --product $product >"$work/build.log" 2>&1; then
    cat "$work/build.log"; echo "not ok - build of $product"; echo "faults: 0 passed, 1 failed"; exit 1
  fi
done
bin_dir=$(swift build -c release --static-swift-stdlib --show-bin-path)
bin=$bin_dir/swiftland
cc=$(command -v cc || command -v gcc || echo /opt/swift/usr/bin/clang)
mkdir -p "$work/guest"
cp "$bin_dir/swiftland-hostile" "$work/guest/"
"$cc" -O2 -Wall -static -o "$work/guest/probe" Tests/vm/probe.c ||
  "$cc" -O2 -Wall -o "$work/guest/probe" Tests/vm/probe.c || { echo "not ok - probe build"; exit 1; }

echo "== 1. on the host"
# Bad options: each must be refused (exit 64, ArgumentParser's usage error) with a message;
# nothing is loaded. The Swift unit tests check the exact messages.
while IFS= read -r args; do
  [ -n "$args" ] || continue
  # shellcheck disable=SC2086
  "$bin" $args >"$work/opt.out" 2>&1
  rc=$?
  msg=$(first_error "$work/opt.out")
  v=0; { [ $rc -eq 64 ] && [ -n "$msg" ]; } || v=1
  row "bad option: swiftland $args" host "refused (exit 64) with a message" "exit $rc: \"$msg\"" $v "$work/opt.out"
done <<'EOF'
run --slice-us -5
run --slice-us 0
run --slice-us abc
run --slice-us-min 9000
run --timeout-ms 40000
run --stats 0
run --monitor 1e300
run --monitor 1e-9
run --duration nan
run --mode quantum
run --mode user --policy lottery
run --mode user --batch 0
run --mode user --fallback-ms 3000 --timeout-ms 5000
run --mode user --ring-kib 3
run --mode user --loop-delay-us 2000000
run --mode hybrid --bypass-target-us 0
run --mode hybrid --bypass-interval-us 60000
run --mode user --bypass-target-us 500
run --policy fifo
compare --rounds 0
compare --modes eevdf,quantum
compare --workloads nothing
compare --seconds -1
vm --cpus 0
vm --cpus 65
vm --memory 12Q -- true
vm --memory 100M -- true
vm --accel warp -- true
vm --timeout -3 -- true
vm --results nocolon -- true
vm
EOF

# A kernel without sched_ext: this host's, usually.
if [ ! -d /sys/kernel/sched_ext ]; then
  "$bin" run --duration 1 >"$work/noscx.out" 2>&1
  rc=$?
  v=0; { [ $rc -ne 0 ] && grep -q 'swiftland vm' "$work/noscx.out"; } || v=1
  row "no sched_ext in the kernel" host "refused, naming the swiftland vm command that works" "exit $rc: \"$(first_error "$work/noscx.out")\"" $v "$work/noscx.out"
else
  skip "no sched_ext in the kernel" host "this host's kernel has sched_ext"
fi

# A corrupted or truncated cached kernel, on a copy of the cache (the real one is untouched).
cache=${SWIFTLAND_CACHE:-/var/cache/swiftland}
kdir=$(ls -1d "$cache"/kernel/*/ 2>/dev/null | sort -rV | head -n1)
kdir=${kdir%/}
if [ -n "$kdir" ] && [ -f "$kdir/SHA256SUMS" ] && [ -w "$work" ]; then
  tc=$work/cache
  mkdir -p "$tc/kernel"
  cp -a "$kdir" "$tc/kernel/"
  [ -d "$cache/apt" ] && cp -a "$cache/apt" "$tc/apt"
  [ -d "$cache/vm" ] && cp -a "$cache/vm" "$tc/vm"
  tk=$tc/kernel/$(basename "$kdir")
  # Truncated vmlinux, archive unreachable: the runner must refuse rather than boot it.
  truncate -s 1M "$tk/vmlinux"
  SWIFTLAND_CACHE=$tc SWIFTLAND_DEBIAN_MIRROR=http://127.0.0.1:9/debian timeout 120 "$bin" vm --timeout 30 -- echo booted \
    >"$work/trunc.out" 2>&1
  rc=$?
  v=0; { [ $rc -eq 122 ] && ! grep -q '^booted' "$work/trunc.out" && grep -q 'no verified kernel is cached' "$work/trunc.out"; } || v=1
  row "truncated cached kernel (vmlinux cut to 1 MiB), archive unreachable" host "detected, not booted (exit 122, says why)" \
    "exit $rc: \"$(grep -h -m1 'no verified kernel' "$work/trunc.out")\"" $v "$work/trunc.out"
  # Corrupted vmlinuz (one byte), archive reachable: detected and fetched again.
  if [ "${SWIFTLAND_FAULTS_REFETCH:-1}" = 1 ]; then
    cp -a "$kdir/vmlinux" "$tk/vmlinux"
    printf 'X' | dd of="$tk/vmlinuz" bs=1 seek=4096 conv=notrunc status=none
    (cd "$tk" && ! sha256sum --quiet --strict -c SHA256SUMS >/dev/null 2>&1) && corrupted=1 || corrupted=0
    SWIFTLAND_CACHE=$tc timeout 600 bash scripts/kernel.sh fetch >"$work/refetch.out" 2>&1
    rc=$?
    same=0; cmp -s "$kdir/vmlinuz" "$tk/vmlinuz" && same=1
    v=0; { [ $corrupted -eq 1 ] && [ $rc -eq 0 ] && [ $same -eq 1 ] && grep -q 'failed verification; fetching it again' "$work/refetch.out"; } || v=1
    row "corrupted cached kernel (one byte of vmlinuz), archive reachable" host "detected, fetched again, the new copy verifies" \
      "exit $rc; \"$(grep -h -m1 'failed verification' "$work/refetch.out")\"; re-fetched vmlinuz identical to the original: $same" $v "$work/refetch.out"
  else
    skip "corrupted cached kernel, archive reachable" host "SWIFTLAND_FAULTS_REFETCH=0"
  fi
  rm -rf "$tc"
else
  skip "truncated or corrupted cached kernel" host "no verified kernel cached under $cache"
fi

# Hostile dispatch records on the host kernel: the RingBridge tests feed crafted records to
# the validation function (bpf/dispatch_check.bpf.h) through a SEC("syscall") program.
# (SWIFTLAND_FAULTS_HOST_RINGS=0 skips them, e.g. when `swift test` just ran them.)
if [ "${SWIFTLAND_FAULTS_HOST_RINGS:-1}" = 1 ]; then
  swift test --filter 'validationRejectsHostileRecords|randomRecordsGetTheVerdictsOfTheModel|offlineAndUncappedCPUsNeverDispatch|cpuOutsideAffinityBounces' \
    --xunit-output "$work/rings.xml" >"$work/rings.log" 2>&1
  mapfile -t ring_files < <(xunit_files "$work/rings.xml")
  xunit_results "${ring_files[@]}" >"$work/rings.results"
  for t in "validationRejectsHostileRecords:a pid that does not exist, a pid with no trip, out-of-range and negative CPU, negative pid, 5 s slice, stale and missing sequence number" \
           "randomRecordsGetTheVerdictsOfTheModel:2,000 random records, most naming a live trip, judged against a model of the checks" \
           "offlineAndUncappedCPUsNeverDispatch:an offline CPU, a CPU above the 1024 per-CPU queues" \
           "cpuOutsideAffinityBounces:a CPU outside the task's affinity"; do
    name=${t%%:*} what=${t#*:}
    if grep -qxF "passed $name()" "$work/rings.results"; then
      row "hostile dispatch records: $what" "host kernel" "each rejected (invalid, no task, cancel) or bounced, never dispatched as sent" "each got its verdict (swift test: $name passed)" 0
    elif grep -qF "skipped $name():" "$work/rings.results"; then
      skip "hostile dispatch records: $what" "host kernel" "$(grep -m1 -F "skipped $name():" "$work/rings.results" | sed 's/^skipped /swift test: /' | cut -c1-120)"
    else
      row "hostile dispatch records: $what" "host kernel" "each rejected (invalid, no task, cancel) or bounced, never dispatched as sent" "swift test: $name did not pass" 1 "$work/rings.log"
    fi
  done
fi

echo "== 2. runtime faults in one VM boot"
vmstart=$(date +%s)
mkdir -p "$work/out"
# shellcheck disable=SC2086 # $long: a word, or none
"$bin" vm --timeout 2400 --add "$work/guest" --add "$root/Tests/vm" --results /tmp/swl-faults-out:"$work/out" -- \
  sh "$root/Tests/vm/faults.sh" "$work/guest/probe" /tmp/swl-faults-out $long 2>&1 | tee "$work/vm.log"
vm_rc=${PIPESTATUS[0]}
vmsecs=$(($(date +%s) - vmstart))
vm_passed=$(grep -c '^ok - ' "$work/vm.log")
vm_failed=$(grep -c '^not ok - ' "$work/vm.log")
if [ "$vm_rc" -ne 0 ] && [ "$vm_failed" -eq 0 ]; then
  echo "not ok - fault suite VM: exit status $vm_rc before any check failed (125 = VM boot failure, 124 = guest timeout)"
  vm_failed=1
fi
passed=$((passed + vm_passed)) failed=$((failed + vm_failed))
[ -f "$work/out/rows" ] && cat "$work/out/rows" >>"$rows"

secs=$(($(date +%s) - started))
if [ -n "$table" ]; then
  mkdir -p "$(dirname "$table")"
  {
    echo "# Fault suite: every failure we can provoke, and what happened"
    echo
    echo "Generated by \`scripts/faults.sh\` (\`make faults\`, or \`make test\` with SWIFTLAND_FAULTS_TABLE=docs/faults.md${long:+, SWIFTLAND_FAULTS_LONG=1}) on $(date -u '+%Y-%m-%d %H:%M UTC'):"
    echo "$passed passed, $failed failed, $skipped skipped; ${secs} s in all, ${vmsecs} s for the one VM boot"
    echo "($(grep -m1 '^# kernel' "$work/vm.log" | sed 's/^# //'))."
    echo
    echo "How each row is judged: see the header of \`Tests/vm/faults.sh\`. \"max gap\" is the probe"
    echo "task's longest wait between two runs (it asks to run every 50 ms); \"in flight\" is user"
    echo "and hybrid mode's nr_in_flight at exit; \"kernel clean\" means no sched_ext error, BUG,"
    echo "WARNING or Oops in the kernel log during that fault; \"rcu N\" counts RCU stall warnings"
    echo "in it (the guest runs under TCG, which is slow), with the same stress under EEVDF in"
    echo "brackets."
    echo "Faults run under EEVDF too (stress, hotplug, fork storm) set the gap bound to twice"
    echo "EEVDF's gap when that is above the fixed bound, and accept an ejection of swiftland by the"
    echo "kernel on an RCU CPU stall only when the EEVDF run of the same fault had RCU stalls too."
    echo "Mode \`host\` rows run on the build machine, \`vm\` rows inside the guest without a mode."
    echo "Mode \`hybrid\` rows run every fault of user mode against hybrid mode (\`--mode hybrid\`,"
    echo "\`swiftland-hostile --hybrid\`) with the same checks; where its kernel side may take over"
    echo "by bypass instead of user timeouts or ring-full dispatches, the expected text says what is"
    echo "required. The slow-thread rows check that hybrid mode bypasses a thread slow for 2 s and"
    echo "hands back after; the goal row is a benchmark: its gap ratio is reported, not judged."
    echo "The hostile dispatch records are also fed to the validation function on the host"
    echo "kernel by the RingBridge tests (\`swift test\`, part of \`make test\`, which counts them"
    echo "there and leaves them out of this table)."
    echo
    echo "| fault | mode | expected | observed | verdict |"
    echo "| --- | --- | --- | --- | --- |"
    sed 's/|/ | /g; s/^/| /; s/$/ |/' "$rows"
  } >"$table"
  echo "# table written to $table"
fi
echo "faults: $passed passed, $failed failed, $skipped skipped (${secs} s)"
[ "$failed" -eq 0 ]
