# The fault suite's verdicts, sourced by scripts/faults.sh (bash, on the host) and by
# Tests/vm/faults.sh (busybox sh, in the guest). POSIX sh.
#
# The sourcing script sets `rows` (the file of table rows), `passed`, `failed` and
# `skipped` (0 to start), and `evidence` (a directory, or empty) for the files of failures.

# row FAULT MODE EXPECTED OBSERVED VERDICT(0 = ok) [EVIDENCE-FILE...]: prints "ok - ..." or
# "not ok - ..." (counted by scripts/test.sh) and appends the row
# "fault|mode|expected|observed|verdict" to $rows. A failure shows its evidence files, and
# keeps a copy of each in $evidence when that is set.
row() {
  _f=$1 _m=$2 _e=$3 _o=$4 _v=$5
  shift 5
  if [ "$_v" -eq 0 ]; then
    echo "ok - $_f [$_m]: $_o"
    passed=$((passed + 1))
    echo "$_f|$_m|$_e|$_o|ok" >>"$rows"
  else
    echo "not ok - $_f [$_m]: expected $_e; observed $_o"
    for _ev in "$@"; do
      [ -f "$_ev" ] || continue
      # The scheduler's own words first (exit reason, the stalled task), then the tail.
      grep -E 'exit: |error|stall|runnable|restarting' "$_ev" | head -n 12 | sed 's/^/    | /'
      sed 's/^/    | /' "$_ev" | tail -n 15
      if [ -n "${evidence:-}" ]; then
        mkdir -p "$evidence"
        head -c 200000 "$_ev" >"$evidence/$(basename "$_ev")"
      fi
    done
    failed=$((failed + 1))
    echo "$_f|$_m|$_e|$_o|FAIL" >>"$rows"
  fi
}

# skip FAULT MODE WHY: prints "skip - ..." and appends its row, verdict "skipped".
skip() {
  echo "skip - $1 [$2]: $3"
  skipped=$((skipped + 1))
  echo "$1|$2|-|skipped: $3|skipped" >>"$rows"
}
