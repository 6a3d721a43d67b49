#!/usr/bin/env bash
# swiftland's test suite, run by `make test` after the set-up:
#   1. unit and host-kernel tests (swift test): no sched_ext needed;
#   2. the integration suite (Tests/vm/integration.sh, with the policy written outside the
#      package, Examples/RoundRobin, built here against the library, and the kernel's own
#      sched_ext example schedulers, built once for the cached kernel by scripts/kernel.sh)
#      inside a sched_ext kernel: on this machine directly when its kernel has sched_ext,
#      otherwise in one `swiftland vm` boot;
#   3. the fault suite (scripts/faults.sh: host checks, then Tests/vm/faults.sh in one more
#      VM boot); its table goes to the log only (`make faults` rewrites docs/faults.md;
#      so does SWIFTLAND_FAULTS_TABLE=docs/faults.md here).
#      SWIFTLAND_FAULTS=0 skips it; SWIFTLAND_FAULTS_LONG=1 runs its long variants;
#   4. `make install` into a temporary DESTDIR (Tests/install/check.sh).
# The last line counts every check of every part: "tests: N passed, N failed[, N skipped]".
#
# SWIFTLAND_STRESS_SECS and SWIFTLAND_USER_STRESS_SECS set the length of the stress runs: bpf
# mode (default 30 s, as sched-ext's CI) and each user-mode policy (default 20 s).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$PATH:/opt/swift/usr/bin"
stress_secs=${SWIFTLAND_STRESS_SECS:-30}
user_stress_secs=${SWIFTLAND_USER_STRESS_SECS:-20}
work=$(mktemp -d /tmp/swiftland-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
. "$root/scripts/xunit.sh"

echo "== 1. unit and host-kernel tests (swift test)"
# Counted from swift test's xunit results (scripts/xunit.sh): one per test function.
swift test --xunit-output "$work/unit.xml" 2>&1 | tee "$work/unit.log"
unit_rc=${PIPESTATUS[0]}
mapfile -t unit_results < <(xunit_files "$work/unit.xml")
read -r unit_passed unit_failed unit_skipped < <(xunit_counts "${unit_results[@]}")
if [ "${#unit_results[@]}" -eq 0 ]; then
  echo "swift test: exit status $unit_rc and no xunit results (the build failed, or the tests did not run to the end)"
  unit_failed=$((unit_failed + 1))
elif [ "$unit_rc" -ne 0 ] && [ "$unit_failed" -eq 0 ]; then
  echo "swift test: exit status $unit_rc, though no test case failed"
  unit_failed=1
fi

echo "== 2. integration suite in a sched_ext kernel"
vm_passed=0 vm_failed=0
if ! swift build -c release --static-swift-stdlib --product swiftland >"$work/build.log" 2>&1; then
  cat "$work/build.log"
  vm_failed=1
elif ! bash bpf/build.sh test-reject-object "$work/broken.bpf.o"; then
  vm_failed=1
elif ! swift build -c release --static-swift-stdlib --package-path Examples/RoundRobin >"$work/build-example.log" 2>&1; then
  # The policy written outside the package, built against the library as a user would.
  cat "$work/build-example.log"
  vm_failed=1
else
  # The example schedulers for the suite's scx: round (built the first time, a few minutes).
  if kdir=$(bash scripts/kernel.sh fetch) && peers=$(bash scripts/kernel.sh peers "$kdir"); then
    peer_add=(--add "$peers")
  else
    echo "the kernel's sched_ext example schedulers could not be built: the scx: round is skipped"
    vm_build_failed=1 peers= peer_add=()
  fi
  bin=$(swift build -c release --static-swift-stdlib --product swiftland --show-bin-path)/swiftland
  example=$(swift build -c release --static-swift-stdlib --package-path Examples/RoundRobin --show-bin-path)/swiftland-roundrobin
  suite=(sh "$root/Tests/vm/integration.sh" "$work/broken.bpf.o" "$stress_secs" "$user_stress_secs" "$example" "$peers")
  if [ -d /sys/kernel/sched_ext ]; then
    echo "(this kernel has sched_ext: running on the host)"
    mkdir -p "$work/bin" && cp "$bin" "$work/bin/swiftland"
    PATH="$work/bin:$PATH" "${suite[@]}" 2>&1 | tee "$work/vm.log"
    vm_rc=${PIPESTATUS[0]}
  else
    "$bin" vm --add "$work/broken.bpf.o" --add "$root/Tests/vm" --add "$example" "${peer_add[@]}" -- "${suite[@]}" 2>&1 |
      tee "$work/vm.log"
    vm_rc=${PIPESTATUS[0]}
  fi
  vm_passed=$(grep -c '^ok - ' "$work/vm.log")
  vm_failed=$(($(grep -c '^not ok - ' "$work/vm.log") + ${vm_build_failed:-0}))
  if [ "$vm_rc" -ne 0 ] && [ "$vm_failed" -eq 0 ]; then
    echo "integration suite: exit status $vm_rc before any check failed (125 = VM boot failure, 124 = guest timeout)"
    vm_failed=1
  fi
fi

faults_passed=0 faults_failed=0 faults_skipped=0
if [ "${SWIFTLAND_FAULTS:-1}" != 0 ]; then
  echo "== 3. fault suite"
  # The host-kernel validation tests ran in part 1: not again, not counted twice.
  SWIFTLAND_FAULTS_HOST_RINGS=0 SWIFTLAND_FAULTS_TABLE="${SWIFTLAND_FAULTS_TABLE-$work/faults.md}" bash scripts/faults.sh 2>&1 |
    tee "$work/faults.log"
  faults_rc=${PIPESTATUS[0]}
  faults_passed=$(grep -c '^ok - ' "$work/faults.log")
  faults_failed=$(grep -c '^not ok - ' "$work/faults.log")
  faults_skipped=$(grep -c '^skip - ' "$work/faults.log")
  if [ "$faults_rc" -ne 0 ] && [ "$faults_failed" -eq 0 ]; then faults_failed=1; fi
fi

echo "== 4. install (man page, completions, systemd unit) into a temporary DESTDIR"
install_passed=0 install_failed=0
if swift build -c release --static-swift-stdlib --product generate-manual >"$work/build-man.log" 2>&1 &&
   swift build -c release --static-swift-stdlib --product swiftland >>"$work/build-man.log" 2>&1; then
  bash "$root/Tests/install/check.sh" "$(swift build -c release --static-swift-stdlib --show-bin-path)" "$work" 2>&1 |
    tee "$work/install.log"
  install_passed=$(grep -c '^ok - ' "$work/install.log")
  install_failed=$(grep -c '^not ok - ' "$work/install.log")
else
  cat "$work/build-man.log"
  install_failed=1
fi

passed=$((unit_passed + vm_passed + faults_passed + install_passed))
failed=$((unit_failed + vm_failed + faults_failed + install_failed))
skipped=$((unit_skipped + faults_skipped))
echo "== unit: $unit_passed passed, $unit_failed failed, $unit_skipped skipped; integration: $vm_passed passed, $vm_failed failed; faults: $faults_passed passed, $faults_failed failed, $faults_skipped skipped; install: $install_passed passed, $install_failed failed"
if [ "$skipped" -gt 0 ]; then
  echo "tests: $passed passed, $failed failed, $skipped skipped"
else
  echo "tests: $passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
