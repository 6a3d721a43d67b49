#!/usr/bin/env bash
# swiftland kernel cache: fetch Debian's sched_ext-enabled kernel and keep it verified, and
# build the kernel's own sched_ext example schedulers for it (compare's scx: arms).
#
#   kernel.sh resolve          print the kernel version trixie-backports offers now
#   kernel.sh fetch            make sure a verified copy of it is cached; print its directory
#   kernel.sh verify DIR       check a cached kernel against its manifest (exit 1 if bad)
#   kernel.sh resolve-from-depends   (reads `apt-cache depends` output on stdin; for tests)
#   kernel.sh mirror           print the Debian mirror used (setup.sh adds backports from it)
#   kernel.sh peers KDIR       make sure the sched_ext example schedulers of the cached kernel
#                              in KDIR are built and cached; print their directory
#   kernel.sh verify-peers DIR check a cached peers build against its manifest
#
# Debian 13's own 6.12 kernels lack CONFIG_SCHED_CLASS_EXT; the trixie-backports ones (7.x)
# have it. The archive is read through a private apt configuration under the cache, so the
# host's package sources and pins are never touched and nothing from trixie is installed:
# the packages are only downloaded and unpacked. apt verifies each download against the
# signed archive index; we record the archive's SHA256 and re-check it before every use.
#
# apt downloads as its sandbox user, _apt, as it does for the host's own packages: the
# private apt directories' partial/ subdirectories and the download directory belong to
# _apt while apt writes there; the files are root's again before they are checked.
#
# Environment: SWIFTLAND_CACHE (default /var/cache/swiftland), SWIFTLAND_DEBIAN_MIRROR
# (default: the first Debian mirror in the host's apt sources), SWIFTLAND_APT_USER (apt's
# sandbox user, default _apt).
set -euo pipefail

cache_root=${SWIFTLAND_CACHE:-/var/cache/swiftland}
apt_root=$cache_root/apt
kernel_root=$cache_root/kernel
peers_root=$cache_root/peers

tmp=
die() { echo "swiftland kernel: $*" >&2; exit 1; }
log() { echo "swiftland kernel: $*" >&2; }

mirror() {
  if [ -n "${SWIFTLAND_DEBIAN_MIRROR:-}" ]; then echo "$SWIFTLAND_DEBIAN_MIRROR"; return; fi
  local m
  m=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)[[:space:]]*$/\1/p' \
        /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
  [ -n "$m" ] || m=$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*\/debian\)[[:space:]].*/\2/p' \
        /etc/apt/sources.list 2>/dev/null | head -n1)
  [ -n "$m" ] || die "no Debian mirror found in /etc/apt; set SWIFTLAND_DEBIAN_MIRROR"
  echo "$m"
}

# The user apt downloads as: SWIFTLAND_APT_USER (_apt), or root, with a warning (unless
# $1 is "quiet"), when that user does not exist. Not root: apt runs as the caller and has
# nothing to drop.
apt_user=
sandbox_user() {
  local user=${SWIFTLAND_APT_USER:-_apt}
  if [ "$(id -u)" != 0 ]; then
    apt_user=$(id -un)
  elif id -u "$user" >/dev/null 2>&1; then
    apt_user=$user
  else
    [ "${1:-}" = quiet ] ||
      log "warning: user $user does not exist (the package apt creates _apt): apt downloads as root, outside its sandbox"
    apt_user=root
  fi
}

# Hands DIR to apt's sandbox user for a download (owner only, as apt keeps its partial/).
give_to_apt() {
  if [ "$(id -u)" = 0 ] && [ "$apt_user" != root ]; then
    chown "$apt_user:root" "$1" && chmod 700 "$1"
  fi
}

# apt says "Download is performed unsandboxed as root ..." when its user cannot reach a
# directory (a parent of SWIFTLAND_CACHE that is not searchable by _apt, say); pass that on.
report_unsandboxed() {
  local line
  line=$(grep -h -m1 'unsandboxed' "$@" 2>/dev/null) || return 0
  log "warning: $line"
}

private_apt() {
  sandbox_user "${1:-}"
  mkdir -p "$apt_root"/lists/partial "$apt_root"/cache/archives/partial "$apt_root"/parts
  give_to_apt "$apt_root/lists/partial"
  give_to_apt "$apt_root/cache/archives/partial"
  : >"$apt_root/status"
  local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  [ -r "$keyring" ] || die "$keyring is missing (package debian-archive-keyring)"
  echo "deb [signed-by=$keyring] $(mirror) trixie-backports main" >"$apt_root/sources.list"
  cat >"$apt_root/apt.conf" <<EOF
Dir::State "$apt_root";
Dir::State::Lists "$apt_root/lists";
Dir::State::status "$apt_root/status";
Dir::Cache "$apt_root/cache";
Dir::Etc::SourceList "$apt_root/sources.list";
Dir::Etc::SourceParts "$apt_root/parts";
Dir::Etc::Preferences "$apt_root/preferences";
Dir::Etc::PreferencesParts "$apt_root/parts";
APT::Architectures { "amd64"; };
APT::Sandbox::User "$apt_user";
Acquire::Languages "none";
EOF
  export APT_CONFIG=$apt_root/apt.conf
}

# `apt-cache depends linux-image-amd64` names the versioned image package, for example
# "Depends: linux-image-7.3.4+deb13-amd64"; the version is what follows "linux-image-".
resolve_from_depends() {
  local v
  v=$(sed -n 's/^[[:space:]]*|\{0,1\}Depends:[[:space:]]*linux-image-\([0-9][^[:space:]]*-amd64\)[[:space:]]*$/\1/p' | head -n1)
  [ -n "$v" ] || return 1
  echo "$v"
}

resolve() {
  private_apt
  apt-get -q update >/dev/null 2>"$apt_root/update.log" || {
    cat "$apt_root/update.log" >&2; die "could not read trixie-backports (network?)"; }
  report_unsandboxed "$apt_root/update.log"
  apt-cache depends linux-image-amd64 2>/dev/null | resolve_from_depends ||
    die "trixie-backports has no linux-image-amd64 dependency on a versioned kernel"
}

verify() {
  local dir=$1
  [ -f "$dir/SHA256SUMS" ] && [ -f "$dir/vmlinuz" ] && [ -f "$dir/vmlinux" ] || return 1
  (cd "$dir" && sha256sum --quiet --strict -c SHA256SUMS) >/dev/null 2>&1
}

# The uncompressed ELF image: it boots faster under TCG (PVH entry) and carries the BTF
# that vmlinux.h is generated from. Debian compresses with zstd; xz and gzip are handled too.
extract_elf() {
  local bz=$1 out=$2 off magic tool
  for magic in '\x28\xb5\x2f\xfd:zstd -dcq' '\xfd\x37\x7a\x58\x5a\x00:xz -dcq' '\x1f\x8b\x08\x00:gzip -dcq'; do
    tool=${magic#*:}; magic=${magic%%:*}
    # Try each occurrence: the first may be a stray byte pattern, not the payload.
    for off in $(LC_ALL=C grep -obUaP "$magic" "$bz" | cut -d: -f1 | head -n 8); do
      tail -c +$((off + 1)) "$bz" | $tool >"$out" 2>/dev/null || true
      if [ "$(head -c4 "$out" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then return 0; fi
    done
  done
  rm -f "$out"
  return 1
}

fetch() {
  local kver dir pkg deb sha version
  if kver=$(resolve 2>"$cache_root/resolve.err"); then
    :
  else
    # Offline: fall back to the newest verified kernel already cached.
    for dir in $(ls -1d "$kernel_root"/*/ 2>/dev/null | sort -rV); do
      if verify "${dir%/}"; then
        log "archive unreachable; using cached $(basename "$dir")"
        echo "${dir%/}"; return 0
      fi
    done
    cat "$cache_root/resolve.err" >&2
    die "cannot resolve the kernel version and no verified kernel is cached"
  fi
  # resolve ran in a subshell: its APT_CONFIG export did not reach us, and its warnings
  # went to resolve.err.
  grep -h '^swiftland kernel: warning:' "$cache_root/resolve.err" >&2 || true
  private_apt quiet
  dir=$kernel_root/$kver
  if verify "$dir"; then echo "$dir"; return 0; fi
  [ -d "$dir" ] && log "cached kernel $kver failed verification; fetching it again"
  rm -rf "$dir"
  mkdir -p "$kernel_root"
  tmp=$(mktemp -d "$kernel_root/.fetch.XXXXXX")
  chmod 755 "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  # Since 6.x Debian ships the image in linux-binary-*; older ones in linux-image-*.
  pkg=linux-binary-$kver
  apt-cache show "$pkg" >/dev/null 2>&1 || pkg=linux-image-$kver
  version=$(apt-cache show "$pkg" | sed -n 's/^Version: //p' | head -n1)
  sha=$(archive_sha "$pkg" "$version")
  deb=$(download_verified "$pkg" "$version" "$tmp")
  dpkg-deb -x "$tmp/$deb" "$tmp/root"
  local vz
  for vz in "$tmp/root/usr/lib/modules/$kver/vmlinuz" "$tmp/root/boot/vmlinuz-$kver"; do
    [ -f "$vz" ] && break
  done
  [ -f "$vz" ] || die "$deb holds no vmlinuz"
  mv "$vz" "$tmp/vmlinuz"
  rm -rf "$tmp/root" "$tmp/download.log"
  extract_elf "$tmp/vmlinuz" "$tmp/vmlinux" || die "could not decompress $kver's vmlinuz"
  echo "$kver" >"$tmp/version"
  (cd "$tmp" && sha256sum "$deb" vmlinuz vmlinux version >SHA256SUMS)
  # The .deb line must keep the archive's hash: re-verification compares with the archive.
  grep -q "^$sha  $deb\$" "$tmp/SHA256SUMS" || die "internal: hash mismatch after unpack"
  mv "$tmp" "$dir"
  trap - EXIT
  verify "$dir" || die "fresh copy of $kver does not verify"
  log "cached $kver in $dir"
  echo "$dir"
}


# --- The kernel's own sched_ext example schedulers ("peers") ---------------------------------
# Built from Debian's linux-source package of exactly the cached kernel's version, with the
# tree's tools/sched_ext/Makefile, and cached in PEERS/<kver>/ with the kernel's config
# (scx_central reads CONFIG_* through __kconfig, from /boot/config-<kver> in the guest).
# scx_qmap is left out: the 7.3 verifier rejects it.
peer_names="scx_simple scx_central scx_userland scx_flatcg"

verify_peers() {
  local dir=$1 name
  [ -f "$dir/SHA256SUMS" ] && [ -f "$dir/version" ] && [ -f "$dir/config" ] || return 1
  for name in $peer_names; do [ -x "$dir/bin/$name" ] || return 1; done
  (cd "$dir" && sha256sum --quiet --strict -c SHA256SUMS) >/dev/null 2>&1
}

# The archive's SHA256 of PKG at VERSION (empty when the archive does not hold it).
archive_sha() {
  apt-cache show "$1=$2" 2>/dev/null | sed -n 's/^SHA256: //p' | head -n1
}

# Downloads PKG=VERSION into DIR (kept between attempts: the source package is large) and
# checks it against the archive's SHA256; prints the .deb's name.
download_verified() {
  local pkg=$1 version=$2 dir=$3 sha deb
  sha=$(archive_sha "$pkg" "$version")
  [ -n "$sha" ] || die "the archive gives no SHA256 for $pkg $version"
  for deb in "$dir/${pkg}_"*.deb; do
    [ -f "$deb" ] || continue
    if echo "$sha  $deb" | sha256sum --quiet --strict -c >/dev/null 2>&1; then
      basename "$deb"; return 0
    fi
    rm -f "$deb"
  done
  log "fetching $pkg $version from trixie-backports"
  give_to_apt "$dir"
  (cd "$dir" && apt-get -q download "$pkg=$version" >/dev/null 2>"$dir/download.log") || {
    cat "$dir/download.log" >&2; die "download of $pkg $version failed"; }
  report_unsandboxed "$dir/download.log"
  if [ "$(id -u)" = 0 ]; then chown -R root:root "$dir"; fi
  chmod 755 "$dir"
  deb=$(cd "$dir" && ls -1 "${pkg}_"*.deb | head -n1)
  echo "$sha  $dir/$deb" | sha256sum --quiet --strict -c >/dev/null 2>&1 ||
    die "$deb does not match the archive's SHA256"
  echo "$deb"
}

peers() {
  local kdir=$1 kver dir kdeb kpkgver upstream series src srcdeb basedeb work tree name
  verify "$kdir" || die "$kdir is not a verified kernel cache (run kernel.sh fetch)"
  kver=$(cat "$kdir/version")
  dir=$peers_root/$kver
  if verify_peers "$dir"; then echo "$dir"; return 0; fi
  [ -d "$dir" ] && log "cached peers of $kver failed verification; building them again"
  rm -rf "$dir"
  command -v make >/dev/null && command -v gcc >/dev/null ||
    die "building the sched_ext example schedulers needs make and a C compiler (scripts/setup.sh installs them)"
  private_apt
  apt-get -q update >/dev/null 2>"$apt_root/update.log" || {
    cat "$apt_root/update.log" >&2; die "could not read trixie-backports (network?)"; }
  report_unsandboxed "$apt_root/update.log"
  # The cached kernel's Debian version (7.3.4-1~bpo13+1) and upstream version (7.3.4).
  kdeb=$(ls -1 "$kdir"/*.deb | head -n1)
  kpkgver=$(dpkg-deb -f "$kdeb" Version)
  upstream=${kver%%[-+]*}
  series=$(echo "$upstream" | cut -d. -f1-2)
  src=linux-source-$series
  if [ -z "$(archive_sha "$src" "$kpkgver")" ]; then
    local offered
    offered=$(apt-cache show "$src" 2>/dev/null | sed -n 's/^Version: //p' | paste -sd, -)
    die "trixie-backports offers $src ${offered:-in no version}, but the cached kernel is $kpkgver ($kver): run kernel.sh fetch for the current kernel"
  fi
  mkdir -p "$peers_root/.download"
  chmod 755 "$peers_root/.download"
  srcdeb=$(download_verified "$src" "$kpkgver" "$peers_root/.download")
  basedeb=$(download_verified "linux-base-$kver" "$kpkgver" "$peers_root/.download")
  work=$(mktemp -d "$peers_root/.build.XXXXXX")
  chmod 755 "$work"
  tmp=$work
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$work/src" "$work/out"
  # Only what the build reads (about 20 MB of the tree): the top Makefile (the version),
  # the uapi headers, bpf_doc.py, libbpf and bpftool (disasm.[ch] for the full bpftool).
  log "unpacking what tools/sched_ext needs from $srcdeb"
  dpkg-deb --fsys-tarfile "$peers_root/.download/$srcdeb" |
    tar -xO --wildcards './usr/src/linux-source-*.tar.xz' |
    xz -dcq -T0 |
    tar -x -C "$work/src" --strip-components=1 --wildcards --no-wildcards-match-slash \
      '*/Makefile' '*/scripts' '*/include/uapi' '*/arch/x86/include/uapi' \
      '*/kernel/bpf/disasm.[ch]' '*/tools/sched_ext' '*/tools/lib' '*/tools/bpf' \
      '*/tools/build' '*/tools/scripts' '*/tools/include' '*/tools/arch/x86' 2>"$work/tar.log" ||
    { cat "$work/tar.log" >&2; die "could not unpack $srcdeb"; }
  tree=$work/src
  # The tree must be the kernel's own version, whatever the package says.
  local tv
  tv=$(sed -n 's/^VERSION = //p;s/^PATCHLEVEL = //p;s/^SUBLEVEL = //p' "$tree/Makefile" | paste -sd. -)
  [ "$tv" = "$upstream" ] || die "the kernel source in $srcdeb is $tv, the cached kernel is $upstream ($kver)"
  log "building ${peer_names// /, } for $kver (several minutes)"
  local clang
  clang=$(command -v clang || echo /opt/swift/usr/bin/clang)
  [ -x "$clang" ] || die "building the sched_ext example schedulers needs clang (the Swift toolchain's will do)"
  # clang may outline cold code into functions whose BTF is empty, which libbpf refuses:
  # scx_central's dispatch is split that way without -fno-split-cold-code.
  if ! make -C "$tree/tools/sched_ext" O="$work/out" VMLINUX_BTF="$kdir/vmlinux" \
      CLANG="$clang -Xclang -fno-split-cold-code" $peer_names >"$work/build.log" 2>&1; then
    tail -n 40 "$work/build.log" >&2
    die "the build of the sched_ext example schedulers failed (log above)"
  fi
  mkdir -p "$work/bin"
  for name in $peer_names; do
    [ -x "$work/out/build/bin/$name" ] || die "the build made no $name"
    cp "$work/out/build/bin/$name" "$work/bin/$name"
  done
  # Debian 7.x ships the config as usr/lib/modules/<kver>/config; older ones in boot/.
  dpkg-deb -x "$peers_root/.download/$basedeb" "$work/base"
  local config
  for config in "$work/base/usr/lib/modules/$kver/config" "$work/base/boot/config-$kver" ""; do
    [ -z "$config" ] || [ -f "$config" ] && break
  done
  [ -n "$config" ] || die "$basedeb holds no kernel config"
  mv "$config" "$work/config"
  echo "$kver" >"$work/version"
  echo "$src $kpkgver $(archive_sha "$src" "$kpkgver")" >"$work/source"
  rm -rf "$work/src" "$work/out" "$work/base" "$work/tar.log" "$work/build.log"
  (cd "$work" && sha256sum bin/* config version source >SHA256SUMS)
  mv "$work" "$dir"
  trap - EXIT
  rm -rf "$peers_root/.download"
  verify_peers "$dir" || die "fresh build of the peers of $kver does not verify"
  log "cached the sched_ext example schedulers of $kver in $dir"
  echo "$dir"
}

case ${1:-} in
  resolve) resolve ;;
  resolve-from-depends) resolve_from_depends ;;
  mirror) mirror ;;
  fetch) mkdir -p "$cache_root"; fetch ;;
  verify) [ $# -eq 2 ] || die "usage: kernel.sh verify DIR"; verify "$2" ;;
  peers) [ $# -eq 2 ] || die "usage: kernel.sh peers KDIR"; mkdir -p "$cache_root"; peers "$2" ;;
  verify-peers) [ $# -eq 2 ] || die "usage: kernel.sh verify-peers DIR"; verify_peers "$2" ;;
  *) sed -n '2,13p' "$0" >&2; exit 2 ;;
esac
