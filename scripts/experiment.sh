#!/usr/bin/env bash
# The main job (`make run`): the A/B experiment with small settings. EEVDF, bpf mode, user mode
# with the same policy (user:bpfland, eight tasks per loop) and two of the kernel's own sched_ext
# example schedulers as peers (scx_simple, and scx_userland, whose policy runs in user space as
# user mode's does), on hackbench, cyclictest beside CPU hogs and nginx + wrk, 6 counted rounds
# after a warm-up. `swiftland compare` boots the sched_ext VM by itself when this kernel has none,
# and builds the peers from the kernel's source the first time. Results: ./results/.
#
# SWIFTLAND_COMPARE_ARGS replaces the settings, e.g. "--rounds 7 --seconds 10" for a full run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$PATH:/opt/swift/usr/bin"
bin=$(cd "$root" && swift build -c release --static-swift-stdlib --product swiftland --show-bin-path)/swiftland
# shellcheck disable=SC2086
exec "$bin" compare --modes eevdf,bpf,user:bpfland:8,scx:simple,scx:userland --workloads hackbench,cyclictest,wrk \
  ${SWIFTLAND_COMPARE_ARGS:---rounds 6 --warmup 1 --seconds 5 --hackbench-loops 50} --out "$root/results"
