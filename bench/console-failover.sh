#!/usr/bin/env bash
# The console's failover as a logged-in user lives it, RUNS times (a fresh lab each run): a
# headless chromium logged in at the console address; the node serving it crashes; the page must
# stay logged in (no login page) and come back served by another node. Reports how many runs
# needed no new login, and the reconnect time (crash to page live again): median and max.
# usage: bench/console-failover.sh [RUNS]   (root; `swift build` first). A measurement, not a test.
set -uo pipefail
RUNS=${1:-10}
cd "$(dirname "$0")/.." || exit 1
ok=0
times=()
for run in $(seq 1 "$RUNS"); do
  out=$(timeout 300 e2e/test_23_console_failover.sh 2>&1)
  seconds=$(echo "$out" | sed -n 's/.*reconnected \([0-9.]*\) s after the crash.*/\1/p')
  if echo "$out" | grep -q "PASS: console failover" && [ -n "$seconds" ]; then
    ok=$((ok + 1)); times+=("$seconds")
    echo "run $run: no new login, live again ${seconds} s after the crash"
  else
    echo "run $run: FAILED"; echo "$out" | grep -E "FAIL|browser:" | head -5
  fi
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
median=$(echo "$sorted" | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}')
max=$(echo "$sorted" | tail -1)
echo "console failover: $ok of $RUNS runs without a new login; reconnect median ${median:-n/a} s, max ${max:-n/a} s"
