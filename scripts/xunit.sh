# Reading `swift test --xunit-output FILE`, sourced by scripts/test.sh and scripts/faults.sh.
# SwiftPM writes Swift Testing's results to FILE-swift-testing.xml (FILE without its .xml)
# and XCTest's, when there are any, to FILE itself. Each test function is one <testcase>: a
# parameterized test counts once, however many cases it ran. A test case holding a
# <failure> (one per issue) or an <error> failed; one holding <skipped> was skipped
# (`.enabled(if:)`, `.disabled`); any other passed. The file is read as a stream of tags,
# so its layout (line breaks, indentation) does not matter.

# xunit_files FILE: the result files `swift test --xunit-output FILE` wrote.
xunit_files() {
  local f
  for f in "$1" "${1%.xml}-swift-testing.xml"; do
    [ -f "$f" ] && echo "$f"
  done
}

# xunit_results FILE...: one line per test case, "passed NAME", "failed NAME" or
# "skipped NAME: WHY", NAME as the test function is spelt (e.g. "check(capEff:missing:)").
xunit_results() {
  [ $# -gt 0 ] || return 0
  awk '
    function unescape(s) {
      gsub(/&lt;/, "<", s); gsub(/&gt;/, ">", s); gsub(/&quot;/, "\"", s); gsub(/&apos;/, "'\''", s)
      gsub(/&amp;/, "\\&", s)
      return s
    }
    function close_case() {
      if (!open) return
      print verdict " " name (verdict == "skipped" ? ": " why : "")
      open = 0
    }
    BEGIN { RS = "<" }
    /^testcase[ \t\r\n\/>]/ {
      close_case()
      open = 1; verdict = "passed"; why = ""; name = ""
      if (match($0, /[ \t\r\n]name="[^"]*"/)) name = unescape(substr($0, RSTART + 7, RLENGTH - 8))
      if ($0 ~ /\/>[ \t\r\n]*$/) close_case()
      next
    }
    /^(failure|error)[ \t\r\n\/>]/ { if (open) verdict = "failed"; next }
    /^skipped[ \t\r\n\/>]/ {
      if (open && verdict != "failed") {
        verdict = "skipped"
        why = $0; sub(/^[^>]*>/, "", why); gsub(/[ \t\r\n]+/, " ", why); sub(/ $/, "", why)
        why = unescape(why)
      }
      next
    }
    /^\/testcase/ { close_case(); next }
  ' "$@"
}

# xunit_counts FILE...: "PASSED FAILED SKIPPED", test cases counted as xunit_results says.
xunit_counts() {
  xunit_results "$@" | awk '
    { n[$1]++ }
    END { printf "%d %d %d\n", n["passed"], n["failed"], n["skipped"] }
  '
}
