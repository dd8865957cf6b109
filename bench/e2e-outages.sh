#!/usr/bin/env bash
# Repeats e2e scenarios and reports min / median / max of the client-observed outage.
# usage: bench/e2e-outages.sh [RUNS]   (root; builds nothing: run `make e2e` or `swift build` first)
# Figures go to docs/ by hand; this is a measurement, not a test.
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
measure() {
  local label=$1 script=$2 profile=$3 values=()
  for _ in $(seq 1 "$runs"); do
    local out; out=$(PROFILE=$profile timeout 300 "e2e/$script" 2>&1 | grep -E "PASS|FAIL" | tail -1)
    local ms; ms=$(echo "$out" | sed -n 's/.*outage \([0-9]*\) ms.*/\1/p')
    [ -n "$ms" ] && values+=("$ms") || echo "  ($label: $out)"
  done
  [ ${#values[@]} -eq 0 ] && { echo "$label: no successful run"; return; }
  local sorted; sorted=$(printf '%s\n' "${values[@]}" | sort -n)
  echo "$label ($profile, ${#values[@]} runs): min $(echo "$sorted" | head -1) ms, median $(echo "$sorted" | sed -n "$(( (${#values[@]} + 1) / 2 ))p") ms, max $(echo "$sorted" | tail -1) ms"
}
measure "node crash" test_01_node_crash_moves_vip.sh default
measure "node crash" test_01_node_crash_moves_vip.sh fast
measure "graceful stop" test_02_graceful_stop_hands_over.sh default
measure "vigil migrate" test_03_migrate.sh default
partitions=0; doubles=0
for _ in $(seq 1 $(( runs * 2 ))); do
  out=$(timeout 300 e2e/test_04_partition_never_two_holders.sh 2>&1 | grep -E "PASS|FAIL" | tail -1)
  partitions=$((partitions + 1))
  echo "$out" | grep -q PASS || doubles=$((doubles + 1))
done
echo "silent partition: $partitions runs, $doubles with a sample showing two holders (or another failure)"
