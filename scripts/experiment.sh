#!/usr/bin/env bash
# The main job (`make run`): the A/B experiment with small settings. EEVDF, bpf mode and
# user mode with the same policy (user:bpfland), one task per loop as rustland does and eight,
# on two workloads, 6 counted rounds after a warm-up; about 13 minutes inside the VM on a
# 2-core machine. `swiftland compare` boots the
# sched_ext VM by itself when this kernel has no sched_ext. Results: ./results/.
#
# SWIFTLAND_COMPARE_ARGS replaces the settings, e.g. "--rounds 7 --seconds 10" for a full run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$PATH:/opt/swift/usr/bin"
bin=$(cd "$root" && swift build -c release --static-swift-stdlib --product swiftland --show-bin-path)/swiftland
# shellcheck disable=SC2086
exec "$bin" compare --modes eevdf,bpf,user:bpfland:1,user:bpfland:8 --workloads hackbench,cyclictest \
  ${SWIFTLAND_COMPARE_ARGS:---rounds 6 --warmup 1 --seconds 5 --hackbench-loops 50} --out "$root/results"
