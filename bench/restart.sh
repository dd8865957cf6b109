#!/usr/bin/env bash
# Many resources on few nodes: 3 nodes (all store members, the `default` profile unless PROFILE is
# set), 500 NCS reference resources (each its own VIP in 198.18.4.0/22, spread over the three nodes,
# each preferring one node, as NCS places a resource on its preferred list only). Measures:
#   - `vigil status` on n2 (a new process each time, over the Unix socket): min / median / max of 21,
#     the same for `GET /v1/cluster` with curl on the socket (the server alone) and for
#     `vigil --version` (the process alone)
#   - ROUNDS times: n2's agent stopped gracefully (it hands ~167 resources over: unload scripts, then
#     it leaves) and started again (they come back: load scripts): how long the stop took, how long
#     until all 500 are Running again, and how many self-fences the nodes logged meanwhile.
# usage (root): VIGIL_BIN=.build/release bench/restart.sh [RESOURCES] [ROUNDS]
# A measurement, never a test: figures go to docs/benchmarks.md by hand.
set -uo pipefail
export NODES=3
TOTAL=${1:-500}
ROUNDS=${2:-3}
. "$(dirname "$0")/../e2e/lib.sh"
# shellcheck source=lib/timing.sh
. "$(dirname "$0")/lib/timing.sh"
lab_up
vip_of() { local i=$(( $1 - 1 )); echo "198.18.$(( 4 + i / 250 )).$(( 1 + i % 250 ))"; }
for n in $(seq 1 "$NODES"); do ip -n "$(ns "$n")" addr add "198.18.7.$(( 100 + n ))/22" dev eth0; done
for n in $(seq 1 "$NODES"); do start_agent "$n"; done
wait_for "a master" 60 bash -c "$(declare -f vigil ns); BIN=$BIN WORK=$WORK ID=$ID; vigil 1 status | grep -q 'master n'"
printf '#!/bin/bash\n. /opt/novell/ncs/lib/ncsfuncs\nexit_on_error add_secondary_ipaddress "$RESOURCE_IP"\nexit 0\n' > "$WORK/load"
printf '#!/bin/bash\n. /opt/novell/ncs/lib/ncsfuncs\nignore_error del_secondary_ipaddress "$RESOURCE_IP"\nexit 0\n' > "$WORK/unload"
log "creating $TOTAL resources (four CLI processes at a time)"
export -f vigil ns; export BIN WORK ID
for r in $(seq 1 "$TOTAL"); do echo "$(printf 'r%03d' "$r") $(vip_of "$r") n$(( r % NODES + 1 ))"; done \
  | xargs -P 4 -L 1 bash -c 'vigil 1 resource create "$0" --template Generic_IP_Service --set RESOURCE_IP="$1" \
      --load-script "$WORK/load" --unload-script "$WORK/unload" --preferred "$2" > /dev/null' \
  || fail "creating the resources"
running() { vigil 1 status 2>/dev/null | grep -c " Running "; }
# until_all_running SECONDS: polls every 0.5 s (each poll is a status of every resource: polling
# faster would load the machine it measures).
until_all_running() {
  local deadline=$(( EPOCHSECONDS + $1 ))
  until [ "$(running)" = "$TOTAL" ]; do
    [ "$EPOCHSECONDS" -lt "$deadline" ] || fail "not all $TOTAL resources Running within $1 s: $(running)"
    sleep 0.5
  done
}
until_all_running 600
sleep 5

time_runs 21 "vigil status ($TOTAL resources)" vigil 2 status
time_runs 21 "GET /v1/cluster on the socket (curl)" curl -sf --unix-socket "$WORK/n2/vigil.sock" http://localhost/v1/cluster
time_runs 21 "vigil --version (the process alone)" ip netns exec "$(ns 2)" "$BIN/vigil" --version

fences() { cat "$WORK"/n*/vigild.log | grep -c "self-fence: no heartbeat" || true; }
for round in $(seq 1 "$ROUNDS"); do
  before=$(fences)
  pid=$(cat "$WORK/n2/vigild.pid")
  t0=${EPOCHREALTIME/./}
  kill -TERM "$pid"
  for _ in $(seq 1 1200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  kill -0 "$pid" 2>/dev/null && fail "n2's agent did not stop within 60 s"
  t1=${EPOCHREALTIME/./}
  start_agent 2
  until_all_running 300
  t2=${EPOCHREALTIME/./}
  log "RESULT round $round: n2 stopped (handing its resources over) in $(( (t1 - t0) / 1000 )) ms; all $TOTAL Running $(( (t2 - t1) / 1000 )) ms after its start; $(( $(fences) - before )) self-fences meanwhile"
  sleep 5
done
log "RESULT at the end: $(fences) self-fences in all"
# RESTART_KEEP=DIR keeps the agents' and etcd's logs for a closer look.
if [ -n "${RESTART_KEEP:-}" ]; then
  mkdir -p "$RESTART_KEEP" && { cp -r "$WORK"/n* "$RESTART_KEEP"/ 2>/dev/null; } || true
fi
