#!/usr/bin/env bash
# One-step, idempotent set-up of a Debian 12 machine for building, testing and running
# swiftland. Both `make run` and `make test` run it first; running it again is cheap.
#
#  - bookworm-backports as an extra apt source (priority 100: nothing is upgraded from it
#    unless asked for by name), for libbpf 1.4 and bpftool (bookworm's libbpf 1.1 cannot
#    load sched_ext schedulers);
#  - the build and run dependencies (libelf, QEMU, busybox for the VM's initramfs; gcc,
#    zlib and python3 for the kernel's sched_ext example schedulers, which compare builds
#    from the kernel's source the first time an scx: arm is asked for), the workloads
#    (stress-ng, rt-tests' hackbench and cyclictest, nginx and wrk) and rsvg-convert (the
#    compare report's PNGs);
#  - Debian's sched_ext kernel from trixie-backports, downloaded and verified into the
#    cache (scripts/kernel.sh), and bpf/generated/vmlinux.h generated from its BTF: the
#    host kernel's BTF usually has no sched_ext types, and the BPF build needs them.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
say() { echo "setup: $*"; }
die() { echo "setup: error: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (sudo $0): it installs packages and writes /var/cache/swiftland"
command -v apt-get >/dev/null || die "this set-up is for Debian 12 (bookworm); apt-get is missing"
. /etc/os-release
[ "${VERSION_CODENAME:-}" = bookworm ] ||
  say "warning: written for Debian 12 (bookworm), this is ${PRETTY_NAME:-unknown}; trying anyway"

export DEBIAN_FRONTEND=noninteractive

# --- apt sources: bookworm-backports from the mirror the machine already uses -------------
backports=/etc/apt/sources.list.d/swiftland-backports.sources
if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  mirror=$(bash "$root/scripts/kernel.sh" mirror)
  say "adding bookworm-backports ($mirror) as $backports"
  cat >"$backports" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  sources_changed=1
fi

# --- packages -------------------------------------------------------------------------------
have_version() { # package minimum-version
  local v
  v=$(dpkg-query -W -f='${Status} ${Version}' "$1" 2>/dev/null) || return 1
  case $v in "install ok installed "*) ;; *) return 1 ;; esac
  dpkg --compare-versions "${v##* }" ge "$2"
}
update_once() {
  if [ -z "${did_update:-}" ]; then
    say "apt-get update"
    apt-get -q update >/dev/null
    did_update=1
  fi
}
[ -z "${sources_changed:-}" ] || update_once

if ! have_version libbpf-dev 1:1.4 || ! have_version bpftool 7.4; then
  update_once
  say "installing libbpf-dev and bpftool from bookworm-backports"
  apt-get -q install -y -t bookworm-backports libbpf-dev bpftool >/dev/null
fi

packages=(libelf-dev zlib1g-dev gcc libc6-dev python3 pkg-config qemu-system-x86 busybox-static cpio zstd xz-utils kmod
          rt-tests stress-ng nginx wrk libcap2-bin util-linux make debian-archive-keyring librsvg2-bin)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  update_once
  say "installing ${missing[*]}"
  apt-get -q install -y --no-install-recommends "${missing[@]}" >/dev/null
  # Only the binary is wanted (it goes into the VM): the service Debian starts with a
  # fresh nginx package is stopped and disabled again.
  if [[ " ${missing[*]} " == *" nginx "* ]] && [ -d /run/systemd/system ]; then
    systemctl disable --now nginx >/dev/null 2>&1 || true
  fi
fi

command -v swift >/dev/null || [ -x /opt/swift/usr/bin/swift ] ||
  die "Swift 6.1 or later is needed (https://www.swift.org/install/linux/); put it on PATH"

# --- the sched_ext kernel and vmlinux.h -----------------------------------------------------
kdir=$(bash "$root/scripts/kernel.sh" fetch)
kver=$(cat "$kdir/version")
gen=$root/bpf/generated
if [ "$(cat "$gen/vmlinux.version" 2>/dev/null)" != "$kver" ] || [ ! -s "$gen/vmlinux.h" ]; then
  say "generating bpf/generated/vmlinux.h from the BTF of $kver"
  mkdir -p "$gen"
  bpftool btf dump file "$kdir/vmlinux" format c >"$gen/vmlinux.h.tmp"
  grep -q "struct sched_ext_ops {" "$gen/vmlinux.h.tmp" ||
    die "the BTF of $kver has no struct sched_ext_ops"
  mv "$gen/vmlinux.h.tmp" "$gen/vmlinux.h"
  echo "$kver" >"$gen/vmlinux.version"
fi
say "ready: kernel $kver in $kdir, libbpf $(dpkg-query -W -f='${Version}' libbpf-dev)"
