#!/usr/bin/env bash
# Build swiftland's BPF object with clang's BPF target.
#
#   build.sh object OUT.o [CFLAG...]      the scheduler
#   build.sh test-reject-object OUT.o     the scheduler plus a program the verifier refuses
#   build.sh tracer-object OUT.o          the run-queue latency tracer (rqlat.bpf.c)
#   build.sh test-object OUT.o            the ring-buffer test programs (test_rings.bpf.c)
#
# scripts/embed.sh calls this during `swift build` to put the object inside the binary.
#
# vmlinux.h comes from bpf/generated/ (scripts/setup.sh writes it from the BTF of the
# sched_ext kernel) or from $SWIFTLAND_VMLINUX_H.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
vmlinux_h=${SWIFTLAND_VMLINUX_H:-$here/generated/vmlinux.h}
clang=${CLANG:-}
if [ -z "$clang" ]; then
  clang=$(command -v clang || true)
  [ -n "$clang" ] || clang=/opt/swift/usr/bin/clang
fi
bpftool=$(PATH=$PATH:/usr/sbin:/sbin command -v bpftool || true)

die() { echo "bpf/build.sh: error: $*" >&2; exit 1; }

[ -f "$vmlinux_h" ] || die "$vmlinux_h is missing: run scripts/setup.sh first (it generates it from the sched_ext kernel's BTF)"
[ -f /usr/include/bpf/bpf_helpers.h ] || die "libbpf headers are missing: run scripts/setup.sh (libbpf-dev from bookworm-backports)"

object() {
  local src=$1 out=$2; shift 2
  local work
  work=$(mktemp -d)
  # shellcheck disable=SC2064
  trap "rm -rf '$work'" RETURN
  cp "$vmlinux_h" "$work/vmlinux.h"
  # -fno-split-cold-code: clang may outline cold code into a function whose BTF is empty,
  # which libbpf refuses ("referenced type [0] is not FUNC_PROTO").
  "$clang" -target bpf -mcpu=v3 -O2 -g -D__TARGET_ARCH_x86 -Xclang -fno-split-cold-code \
    -I"$work" -I"$here" -I/usr/include -I/usr/include/x86_64-linux-gnu \
    -Wall -Werror -Wno-missing-declarations -Wno-unused-function \
    "$@" -c "$here/$src" -o "$work/main.o"
  if [ -n "$bpftool" ]; then
    # Drops the DWARF (about 20x smaller), keeps the BTF libbpf needs.
    "$bpftool" gen object "$out" "$work/main.o"
  else
    cp "$work/main.o" "$out"
  fi
}

case ${1:-} in
  object)
    [ $# -ge 2 ] || die "usage: build.sh object OUT.o [CFLAG...]"
    out=$2; shift 2
    object main.bpf.c "$out" "$@"
    ;;
  test-reject-object)
    [ $# -eq 2 ] || die "usage: build.sh test-reject-object OUT.o"
    object test_reject.bpf.c "$2"
    ;;
  tracer-object)
    [ $# -eq 2 ] || die "usage: build.sh tracer-object OUT.o"
    object rqlat.bpf.c "$2"
    ;;
  test-object)
    [ $# -eq 2 ] || die "usage: build.sh test-object OUT.o"
    object test_rings.bpf.c "$2"
    ;;
  *)
    sed -n '2,11p' "$0" >&2
    exit 2
    ;;
esac
