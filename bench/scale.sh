#!/usr/bin/env bash
# 32 nodes × 500 resources on one machine: a 3-member etcd on n1–n3 (managed), n4–n32 use it as an
# external store; agents from VIGIL_BIN (use a release build). Every resource is the NCS reference
# resource (Generic_IP_Service, its own VIP in 198.18.4.0/22): r001–r400 spread 16 per node over
# n1–n25 (each with the next three nodes as fallbacks), r401–r500 on n26 (falling back over
# n27–n32). Measures, once everything runs:
#   - at rest for 30 s: vigild and etcd CPU (of one core) and resident memory, mean and max;
#     the store's write rate (etcd proposals committed per second)
#   - `vigil status` (a new process each time, over the Unix socket on n5): min / median / max of 21
#   - n10 (CRASH) crashes (16 resources): time until all 16 are Running elsewhere
#   - n26 crashes (100 resources): time until all 100 are Running elsewhere
# usage (root): VIGIL_BIN=.build/release bench/scale.sh [NODES] [RESOURCES]
# A measurement, never a test: figures go to docs/benchmarks.md by hand.
set -uo pipefail
export NODES=${1:-32} STORE_NODES=3
TOTAL=${2:-500}
BIG=$(( TOTAL / 5 ))              # resources on the big node
SPREAD=$(( TOTAL - BIG ))
PER=16
SPREAD_NODES=$(( (SPREAD + PER - 1) / PER ))
BIG_NODE=$(( SPREAD_NODES + 1 ))
[ "$BIG_NODE" -lt "$NODES" ] || { echo "need more than $BIG_NODE nodes"; exit 2; }
CRASH=${CRASH:-10}                # a node of the spread, not a store member
[ "$CRASH" -gt "$STORE_NODES" ] && [ "$CRASH" -lt "$BIG_NODE" ] \
  || { echo "CRASH=$CRASH: pick a node from $(( STORE_NODES + 1 )) to $(( SPREAD_NODES ))"; exit 2; }
. "$(dirname "$0")/../e2e/lib.sh"
# shellcheck source=lib/timing.sh
. "$(dirname "$0")/lib/timing.sh"
lab_up
vip_of() { local i=$(( $1 - 1 )); echo "198.18.$(( 4 + i / 250 )).$(( 1 + i % 250 ))"; }
# VIPs live in 198.18.4.0/22: every node and the client get an address there.
for n in $(seq 1 "$NODES"); do ip -n "$(ns "$n")" addr add "198.18.7.$(( 100 + n ))/22" dev eth0; done
ip -n "$CL" addr add 198.18.7.250/22 dev eth0
log "starting $NODES agents ($STORE_NODES store members)"
for n in $(seq 1 "$NODES"); do start_agent "$n"; done
wait_for "all $NODES nodes to be members" 300 bash -c \
  "$(declare -f vigil ns); BIN=$BIN WORK=$WORK ID=$ID; [ \"\$(vigil 1 view --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[\"members\"]))')\" = $NODES ]"
# MASTER_TAKES=1: the master replaces one of the big node's fallbacks (unless it is already one),
# so the node that decides the failover also loads a share of it (docs/design/0025 §7).
fallbacks=()
for n in $(seq $(( BIG_NODE + 1 )) "$NODES"); do fallbacks+=("n$n"); done
if [ "${MASTER_TAKES:-0}" = 1 ]; then
  master=$(vigil 1 view --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["master"])')
  [[ " ${fallbacks[*]} " == *" $master "* ]] || fallbacks[0]=$master
  [ "$master" != "n$BIG_NODE" ] || fail "the master is $master, which the bench crashes"
  # The 16-resource crash is of another node of the spread than the master.
  if [ "$master" = "n$CRASH" ]; then
    if [ $(( CRASH + 1 )) -lt "$BIG_NODE" ]; then CRASH=$(( CRASH + 1 )); else CRASH=$(( CRASH - 1 )); fi
  fi
  log "the master, $master, is one of n$BIG_NODE's fallbacks: ${fallbacks[*]}"
fi
log "creating $TOTAL resources"
printf '#!/bin/bash\n. /opt/novell/ncs/lib/ncsfuncs\nexit_on_error add_secondary_ipaddress "$RESOURCE_IP"\nexit 0\n' > "$WORK/load"
printf '#!/bin/bash\n. /opt/novell/ncs/lib/ncsfuncs\nignore_error del_secondary_ipaddress "$RESOURCE_IP"\nexit 0\n' > "$WORK/unload"
started=$EPOCHREALTIME
for r in $(seq 1 "$TOTAL"); do
  if [ "$r" -le "$SPREAD" ]; then
    first=$(( (r - 1) / PER + 1 ))
    preferred="n$first,n$(( first % NODES + 1 )),n$(( (first + 1) % NODES + 1 )),n$(( (first + 2) % NODES + 1 ))"
  else
    preferred="n$BIG_NODE,${fallbacks[$(( r % ${#fallbacks[@]} ))]}"
  fi
  vigil 1 resource create "$(printf 'r%03d' "$r")" --template Generic_IP_Service --set RESOURCE_IP="$(vip_of "$r")" \
    --load-script "$WORK/load" --unload-script "$WORK/unload" --preferred "$preferred" > /dev/null \
    || fail "creating resource r$r"
done
created=$EPOCHREALTIME
# count_running FROM AWAY [NAMES…]: how many resources (of NAMES) FROM's status shows Running on a
# node other than AWAY.
count_running() {
  vigil "$1" status --json 2>/dev/null | python3 2>/dev/null -c '
import json, sys
status = json.load(sys.stdin)
away, names = sys.argv[1], set(sys.argv[2:])
print(sum(1 for r in status["resources"] if (not names or r["name"] in names) and r["state"] == "Running" and r["nodes"] and away not in r["nodes"]))' "${@:2}"
}
wait_for "all $TOTAL resources Running" 900 bash -c "$(declare -f vigil ns count_running); BIN=$BIN WORK=$WORK ID=$ID; [ \"\$(count_running 2 none)\" = $TOTAL ]"
running=$EPOCHREALTIME
log "created in $(( (${created/./} - ${started/./}) / 1000000 )) s, all Running $(( (${running/./} - ${created/./}) / 1000000 )) s later"
sleep 10

# At rest.
# shellcheck source=../e2e/proc.sh
. "$E2E_DIR/proc.sh"
declare -A vpid epid
for n in $(seq 1 "$NODES"); do vpid[$n]=$(cat "$WORK/n$n/vigild.pid"); done
for n in $(seq 1 "$STORE_NODES"); do epid[$n]=$(pid_in_ns "$n" "etcd --name"); done
rss() { echo $(( $(rss_kib "$1") / 1024 )); }
proposals() { # shellcheck disable=SC2046
  ip netns exec "$(ns 1)" curl -s $(tls_args 1) "https://$(node_ip 1):2379/metrics" | awk '/^etcd_server_proposals_committed_total/ {print $2}'; }
declare -A c0
for n in "${!vpid[@]}"; do c0[v$n]=$(cpu_ticks "${vpid[$n]}"); done
for n in "${!epid[@]}"; do c0[e$n]=$(cpu_ticks "${epid[$n]}"); done
p0=$(proposals)
sleep 30
p1=$(proposals)
vc=(); vr=(); ec=(); er=()
for n in "${!vpid[@]}"; do vc+=("$(( $(cpu_ticks "${vpid[$n]}") - c0[v$n] ))"); vr+=("$(rss "${vpid[$n]}")"); done
for n in "${!epid[@]}"; do ec+=("$(( $(cpu_ticks "${epid[$n]}") - c0[e$n] ))"); er+=("$(rss "${epid[$n]}")"); done
summary() { python3 -c "import sys; v=[float(x) for x in sys.argv[2:]]; s=float(sys.argv[1]); print(f'mean {sum(v)/len(v)*s:.2f}, max {max(v)*s:.2f}')" "$@"; }
scale=$(cpu_percent 1 30)
log "RESULT at rest: vigild CPU % $(summary "$scale" "${vc[@]}"), RSS MiB $(summary 1 "${vr[@]}"); etcd CPU % $(summary "$scale" "${ec[@]}"), RSS MiB $(summary 1 "${er[@]}"); store writes $(python3 -c "print(round(($p1 - $p0) / 30, 1))")/s"

# vigil status on n5, and the floor: the same process started the same way, asking nothing.
time_runs 21 "vigil status" vigil 5 status
time_runs 21 "vigil --version (the process alone)" ip netns exec "$(ns 5)" "$BIN/vigil" --version
# The server's part: the same call from curl (a far smaller process), and the health check, which
# reads nothing from the store.
time_runs 21 "GET /v1/cluster by curl" ip netns exec "$(ns 5)" curl -sf -o /dev/null --unix-socket "$WORK/n5/vigil.sock" http://vigil/v1/cluster
time_runs 21 "GET /healthz by curl" ip netns exec "$(ns 5)" curl -sf -o /dev/null --unix-socket "$WORK/n5/vigil.sock" http://vigil/healthz

# event_log: the newest 2,000 cluster events as JSON lines, read on n2 (bounded: 30 s).
event_log() {
  timeout 30 ip netns exec "$(ns 2)" "$BIN/vigil" events --last 2000 --json --config "$WORK/n2/vigil.yaml" 2>/dev/null
}

# crash NODE: the time until every resource it held is Running elsewhere.
crash_and_time() {
  local node=$1 names="" try read=""
  for try in $(seq 1 20); do
    names=$(vigil 2 status --json 2>/dev/null | python3 -c '
import json, sys
print(" ".join(r["name"] for r in json.load(sys.stdin)["resources"] if sys.argv[1] in r["nodes"]))' "n$node" 2>/dev/null) \
      && { read=1; break; }
    sleep 1
  done
  [ -n "$read" ] || fail "cannot read which resources n$node holds"
  [ -n "$names" ] || fail "n$node holds no resource: pick another with CRASH"

  local count; count=$(echo "$names" | wc -w)
  local others=() n
  for n in "${!vpid[@]}"; do [ -e "/proc/${vpid[$n]}" ] && [ "$n" != "$node" ] && others+=("${vpid[$n]}"); done
  local a0 e0; a0=$(cpu_ticks "${others[@]}"); e0=$(cpu_ticks "${epid[@]}")
  local t0=${EPOCHREALTIME/./}
  crash "$node"
  local deadline=$(( EPOCHSECONDS + 120 )) done=0
  while [ "$EPOCHSECONDS" -lt "$deadline" ]; do
    # shellcheck disable=SC2086
    done=$(count_running 2 "n$node" $names) || done=0
    [ "$done" = "$count" ] && break
    sleep 0.5
  done
  local t1=${EPOCHREALTIME/./}
  log "RESULT n$node crash: $done of $count resources Running elsewhere after $(( (t1 - t0) / 1000 )) ms"
  local seconds; seconds=$(python3 -c "print(($t1 - $t0) / 1e6)")
  log "CPU during it (% of one core): agents with their scripts $(cpu_percent $(( $(cpu_ticks "${others[@]}") - a0 )) "$seconds"), etcd $(cpu_percent $(( $(cpu_ticks "${epid[@]}") - e0 )) "$seconds") (the machine has 200)"
  timeline "$node" "$(( t0 / 1000 ))" "$names"
  # When each resource became Running, by its new holder's own clock (its status's upSince): the
  # poll above adds its own lag (a status call and up to 0.5 s of sleep) to the figure.
  vigil 2 status --json 2>/dev/null | python3 -c '
import json, sys
t0, names = int(sys.argv[1]), set(sys.argv[2].split())
up = sorted(r["upSince"] - t0 for r in json.load(sys.stdin)["resources"] if r["name"] in names and r.get("upSince"))
print(f"{len(up)} of {len(names)} Running since {up[0]}–{up[-1]} ms after the crash (median {up[len(up) // 2]})" if up else "no upSince")
' "$(( t0 / 1000 ))" "$names" | while read -r line; do log "RESULT n$node crash, by the holders' clocks: $line"; done
  [ "$done" = "$count" ] || diagnose
}

# timeline NODE CRASH_MS NAMES: where a failover's time went, from the event log (ms after the
# crash): the eviction, the master's assignments, the load scripts' ends.
timeline() {
  event_log | python3 -c '
import json, sys
node, t0, names = sys.argv[1], int(sys.argv[2]), set(sys.argv[3].split())
events = [json.loads(line) for line in sys.stdin if line.strip()]
evicted = [e["time"] - t0 for e in events if e["kind"] == "membership" and e["message"].startswith("evicting " + node + ":")]
assigned = sorted(e["time"] - t0 for e in events if e["kind"] == "assignment" and e.get("resource") in names and e["time"] >= t0)
loaded = sorted(e["time"] - t0 for e in events
    if e["kind"] == "script" and e.get("action") == "load" and e.get("resource") in names and e["time"] >= t0)
span = lambda v: f"{v[0]}–{v[-1]} ms ({len(v)})" if v else "none"
print(f"evicted at {evicted[0] if evicted else None} ms; assignments {span(assigned)}; loads ended {span(loaded)}")
import collections, re
kinds = collections.Counter(re.sub(r"[0-9]+", "N", e["message"]) for e in events
    if e["kind"] == "assignment" and e.get("resource") in names and e["time"] >= t0)
for text, count in kinds.most_common(4): print(f"  {count} × {text}")
' "n$1" "$2" "$3" | while read -r line; do log "TIMELINE n$1: $line"; done
}

# fences: how many self-fence lines the agents logged, on how many nodes.
fences() {
  local n total=0 nodes=0 c
  for n in $(seq 1 "$NODES"); do
    c=$(grep -c "self-fence" "$WORK/n$n/vigild.log" 2>/dev/null) || c=0
    total=$(( total + c )); [ "$c" -gt 0 ] && nodes=$(( nodes + 1 ))
  done
  echo "$total self-fence log lines on $nodes nodes"
}

# diagnose: why a failover did not finish — self-fences per node, the store members' overload
# warnings, and the newest cluster events.
diagnose() {
  log "DIAGNOSIS: $(fences)"
  for n in $(seq 1 "$STORE_NODES"); do
    log "DIAGNOSIS: etcd n$n: $(grep -c 'apply request took too long' "$WORK/n$n/log/etcd.log") slow applies, $(grep -c 'failed to send out heartbeat on time' "$WORK/n$n/log/etcd.log") late Raft heartbeats, $(grep -c 'elected leader' "$WORK/n$n/log/etcd.log") elections"
  done
  timeout 20 ip netns exec "$(ns 2)" "$BIN/vigil" events --last 25 --config "$WORK/n2/vigil.yaml" 2>&1 | sed 's/^/  /'
}
crash_and_time "$CRASH"
crash_and_time "$BIG_NODE"
log "RESULT at the end: $(fences)"
# SCALE_KEEP=DIR keeps the logs and the event log for a closer look.
if [ -n "${SCALE_KEEP:-}" ]; then
  # (cp skips the sockets: the run's result is the measurements above, not the copy.)
  mkdir -p "$SCALE_KEEP" && { cp -r "$WORK"/n* "$SCALE_KEEP"/ 2>/dev/null; event_log > "$SCALE_KEEP/events.jsonl"; } || true
fi
