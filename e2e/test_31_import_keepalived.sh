#!/usr/bin/env bash
# Moving from keepalived: the benchmark lab's keepalived (bench/lib/keepalived.sh: VRRP instance
# VI_1, 198.18.0.101/24, priority 200-N) holds its VIP on n1. `vigil import keepalived --dry-run`
# shows the plan and what it leaves out; keepalived is stopped; the import creates VI_1 with the
# nodes in priority order; Vigil brings the same VIP up on n1 and moves it when n1 crashes. A second
# import without --replace is refused and changes nothing.
. "$(dirname "$0")/lib.sh"
. "$ROOT/bench/lib/keepalived.sh"
KVIP=198.18.0.101
keepalived_install
lab_up
cluster_up
files=()
for n in $(seq 1 "$NODES"); do
  keepalived_conf "$n" "$KVIP" > "$WORK/n$n/keepalived.conf"
  keepalived_start "$n" "$WORK/n$n/keepalived.conf"
  files+=("n$n=$WORK/n$n/keepalived.conf")
done
served_by() { [ "$(ip netns exec "$CL" curl -s -m 0.5 "http://$KVIP:8080/")" = "$1" ]; }
wait_for "keepalived's VIP $KVIP on n1" 60 served_by n1

vigil 1 import keepalived --dry-run "${files[@]}" > "$WORK/plan" || fail "the dry run failed"
cat "$WORK/plan"
grep -q "^create  VI_1 " "$WORK/plan" || fail "the dry run does not create VI_1"
grep -q "address     $KVIP/24" "$WORK/plan" || fail "the dry run has not the address $KVIP/24"
grep -q "nodes       n1 n2 n3" "$WORK/plan" || fail "the nodes are not in priority order"
grep -q "virtual_router_id 51 (vrrp_instance VI_1)" "$WORK/plan" || fail "virtual_router_id is not listed as left out"
[ -z "$(vigil 1 resources --json | python3 -c 'import json,sys; print(" ".join(r["name"] for r in json.load(sys.stdin)))')" ] \
  || fail "the dry run created something"

log "stopping keepalived on every node"
for n in $(seq 1 "$NODES"); do kill -TERM "$(cat "$WORK/n$n/keepalived.pid")"; done
gone() { for n in $(seq 1 "$NODES"); do ip -n "$(ns "$n")" -o addr show to "$KVIP" | grep -q . && return 1; done; return 0; }
wait_for "keepalived to release $KVIP" 30 gone

vigil 1 import keepalived "${files[@]}" || fail "the import failed"
wait_for "Vigil to bring $KVIP up on n1" 30 served_by n1
vigil 1 status
vigil 1 resource show VI_1 | python3 -c 'import json, sys; print(json.load(sys.stdin)["load"]["body"])' > "$WORK/load"
grep -qx "exit_on_error add_secondary_ipaddress $KVIP/24" "$WORK/load" || fail "the load script is not the imported one: $(cat "$WORK/load")"

set +e
vigil 1 import keepalived "${files[@]}" > "$WORK/again" 2>&1
rc=$?
set -e
[ "$rc" = 3 ] || { cat "$WORK/again"; fail "a second import without --replace exited $rc, not 3 (refused)"; }
grep -q "exists" "$WORK/again" || fail "the refusal does not say the resource exists: $(cat "$WORK/again")"

log "crashing n1: Vigil moves the imported VIP"
crash 1
wait_for "$KVIP to answer from n2 (next by keepalived priority)" 30 served_by n2
log "PASS: keepalived's configuration imported; $KVIP now moved by Vigil (n1 -> n2)"
