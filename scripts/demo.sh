#!/usr/bin/env bash
# The main job, for now: swiftland in bpf mode for 20 s, printing its counters every 5 s,
# beside a short stress-ng workload; inside a sched_ext VM when this kernel has none.
# (`make run` builds first, then runs this.)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$PATH:/opt/swift/usr/bin"
bin=$(cd "$root" && swift build -c release --static-swift-stdlib --product swiftland --show-bin-path)/swiftland
job='swiftland run --duration 20 --stats 5 & sleep 3; stress-ng --cpu "$(nproc)" --switch 1 -t 12 --metrics-brief; wait $!'
if [ -d /sys/kernel/sched_ext ]; then
  PATH="$(dirname "$bin"):$PATH" sh -c "$job"
else
  echo "This kernel ($(uname -r)) has no sched_ext: running the job in a sched_ext VM (swiftland vm)."
  "$bin" vm -- "$job"
fi
