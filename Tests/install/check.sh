#!/usr/bin/env bash
# Checks `make install` (scripts/install.sh) into a temporary DESTDIR with the real release
# build: every file in place, the man page and completions generated from the command
# definitions, the systemd unit accepted by systemd-analyze and sandboxed (its exposure
# score below a bound). Run by scripts/test.sh; prints
# "ok - " / "not ok - " lines, which it counts.
#
#   check.sh BIN_DIR WORK_DIR
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin_dir=${1:?usage: check.sh BIN_DIR WORK_DIR}
work=${2:?usage: check.sh BIN_DIR WORK_DIR}
dest=$work/destdir
rm -rf "$dest"

ok() { echo "ok - $1"; }
not_ok() {
  echo "not ok - $1"
  [ -n "${2:-}" ] && [ -f "$2" ] && sed 's/^/    | /' "$2" | tail -n 20
}

if DESTDIR=$dest PREFIX=/usr/local BIN_DIR=$bin_dir bash "$root/scripts/install.sh" >"$work/install.out" 2>&1; then
  ok "install: scripts/install.sh into a DESTDIR"
else
  not_ok "install: scripts/install.sh into a DESTDIR" "$work/install.out"
fi
missing=
for f in usr/local/bin/swiftland usr/local/share/man/man1/swiftland.1 \
         usr/local/share/bash-completion/completions/swiftland usr/local/share/zsh/site-functions/_swiftland \
         usr/local/share/fish/vendor_completions.d/swiftland.fish \
         etc/systemd/system/swiftland.service etc/default/swiftland; do
  [ -s "$dest/$f" ] || missing="$missing $f"
done
if [ -z "$missing" ]; then ok "install: binary, man page, 3 completions, unit, options file"; else not_ok "install: missing:$missing"; fi

# The man page is the command tree: every subcommand and run's options are in it.
man=$dest/usr/local/share/man/man1/swiftland.1
absent=
for word in '^\.Dt SWIFTLAND 1' 'compare' 'vm' 'slice-us' 'mode' 'policy' 'fallback-ms' 'timeout-ms'; do
  grep -q -- "$word" "$man" 2>/dev/null || absent="$absent $word"
done
if [ -z "$absent" ]; then ok "install: man page generated from the command definitions"; else not_ok "install: man page lacks:$absent" "$man"; fi

comp=$dest/usr/local/share/bash-completion/completions/swiftland
if bash -n "$comp" 2>"$work/bash-n.out" && grep -q -- '--slice-us' "$comp" && grep -q 'compare' "$comp"; then
  ok "install: bash completion parses and knows the subcommands and options"
else
  not_ok "install: bash completion parses and knows the subcommands and options" "$work/bash-n.out"
fi

# The options file is kept on a second install.
echo 'SWIFTLAND_FLAGS="--slice-us 3000"' >"$dest/etc/default/swiftland"
DESTDIR=$dest PREFIX=/usr/local BIN_DIR=$bin_dir bash "$root/scripts/install.sh" >"$work/install2.out" 2>&1
if grep -q -- '--slice-us 3000' "$dest/etc/default/swiftland"; then
  ok "install: a second install keeps the user's /etc/default/swiftland"
else
  not_ok "install: a second install keeps the user's /etc/default/swiftland" "$work/install2.out"
fi

unit=$dest/etc/systemd/system/swiftland.service
if grep -q '^ConditionPathIsDirectory=/sys/kernel/sched_ext$' "$unit" && grep -q '^Restart=on-failure$' "$unit" &&
   grep -q '^EnvironmentFile=-/etc/default/swiftland$' "$unit" &&
   grep -q '^ExecStart=/usr/local/bin/swiftland run \$SWIFTLAND_FLAGS$' "$unit" &&
   grep -q '^SWIFTLAND_FLAGS=' "$root/dist/swiftland.default"; then
  ok "install: the unit starts only with sched_ext, restarts on failure, takes SWIFTLAND_FLAGS"
else
  not_ok "install: the unit starts only with sched_ext, restarts on failure, takes SWIFTLAND_FLAGS" "$unit"
fi

# systemd-analyze verify: exit 0 AND no complaint (it only warns about unknown values).
# A copy points ExecStart at the DESTDIR binary, which verify checks exists. A unit with a
# wrong value first shows the check can fail.
verify() { # UNIT OUT -> 0 when accepted without a word
  systemd-analyze verify --man=no "$1" >"$2" 2>&1 && [ ! -s "$2" ]
}
if ! command -v systemd-analyze >/dev/null; then
  echo "# skip: systemd-analyze is not installed (package systemd): the unit was not verified"
else
  sed "s|^ExecStart=/usr/local/bin/swiftland|ExecStart=$dest/usr/local/bin/swiftland|" "$unit" >"$work/swiftland.service"
  sed 's/^Restart=on-failure/Restart=sometimes/' "$work/swiftland.service" >"$work/broken.service"
  if verify "$work/broken.service" "$work/verify-broken.out"; then
    not_ok "install: systemd-analyze verify catches a wrong value (control)" "$work/verify-broken.out"
  elif verify "$work/swiftland.service" "$work/verify.out"; then
    ok "install: systemd-analyze verify accepts the unit without a warning"
  else
    not_ok "install: systemd-analyze verify accepts the unit without a warning" "$work/verify.out"
  fi
fi

# The sandbox: the directives swiftland runs under (dist/swiftland.service.in says why
# each is safe for it), then systemd's own exposure score where this systemd can compute it
# offline (systemd 250+). A copy without the sandbox first shows the score check can fail.
absent=
for d in 'ProtectSystem=strict' 'RuntimeDirectory=scx' 'RestrictAddressFamilies=AF_UNIX' 'PrivateNetwork=yes' \
         'PrivateDevices=yes' 'ProtectKernelTunables=yes' 'ProtectKernelModules=yes' 'ProtectKernelLogs=yes' \
         'ProtectControlGroups=yes' 'ProtectProc=invisible' 'RestrictNamespaces=yes' 'MemoryDenyWriteExecute=yes' \
         'SystemCallArchitectures=native' 'SystemCallFilter=@system-service bpf' 'SystemCallErrorNumber=EPERM' \
         'NoNewPrivileges=yes' 'CapabilityBoundingSet=CAP_SYS_ADMIN CAP_BPF CAP_PERFMON CAP_SYS_RESOURCE CAP_IPC_LOCK'; do
  grep -qx -- "$d" "$unit" || absent="$absent [$d]"
done
if [ -z "$absent" ]; then ok "install: the unit's sandbox directives are in place"; else not_ok "install: the unit lacks:$absent" "$unit"; fi

max_exposure=2.0
exposure() { # UNIT OUT -> prints the overall exposure, e.g. 1.3; fails when none was computed
  systemd-analyze security --offline=yes --no-pager "$1" >"$2" 2>&1 || return 1
  sed -n 's/^.*Overall exposure level for [^:]*: \([0-9.]*\) .*$/\1/p' "$2" | grep .
}
below() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
if ! command -v systemd-analyze >/dev/null || ! exposure "$unit" "$work/security.out" >/dev/null; then
  echo "# skip: this systemd-analyze cannot score a unit offline (needs systemd 250+): the exposure was not checked"
else
  sed '/^# The sandbox/,/^SystemCallErrorNumber=/d' "$unit" >"$work/unsandboxed.service"
  bare=$(exposure "$work/unsandboxed.service" "$work/security-bare.out")
  score=$(exposure "$unit" "$work/security.out")
  if [ -z "$bare" ] || below "$bare" "$max_exposure"; then
    not_ok "install: the exposure check fails a unit without its sandbox (control; scored ${bare:-nothing})" "$work/security-bare.out"
  elif below "$score" "$max_exposure"; then
    ok "install: systemd-analyze security rates the unit's exposure $score, below $max_exposure (without the sandbox: $bare)"
  else
    not_ok "install: systemd-analyze security rates the unit's exposure $score, not below $max_exposure" "$work/security.out"
  fi
fi

# Uninstall removes what install put, and keeps the options.
DESTDIR=$dest PREFIX=/usr/local BIN_DIR=unused bash "$root/scripts/install.sh" --uninstall >"$work/uninstall.out" 2>&1
left=$(cd "$dest" && find . -type f | sort | tr '\n' ' ')
if [ "$left" = "./etc/default/swiftland " ]; then
  ok "install: uninstall removes everything but the options file"
else
  not_ok "install: uninstall removes everything but the options file (left: $left)" "$work/uninstall.out"
fi
