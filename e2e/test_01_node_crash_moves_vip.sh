#!/usr/bin/env bash
# (a) Node crash: every process of the node holding the VIP is killed and its link cut; the VIP
# answers from another node. Prints the client-observed outage.
. "$(dirname "$0")/lib.sh"
lab_up
cluster_up
vigil 1 resource create iManager --template Generic_IP_Service --set RESOURCE_IP=$VIP
wait_for "the VIP to answer" 30 answer
holder=$(holders)
[ "$(echo "$holder" | wc -l)" -eq 1 ] || fail "expected one holder, got: $holder"
# Health for load balancers (no credentials): /here is 200 on the holder only, /healthz 200 on members.
here() { ip netns exec "$CL" curl -s -o /dev/null -w '%{http_code}' -m 3 --cacert "$WORK/n1/pki/ca.pem" "https://$(node_ip "$1"):7410/$2"; }
for n in $(seq 1 "$NODES"); do
  want=503; [ "n$n" = "$holder" ] && want=200
  [ "$(here "$n" v1/resources/iManager/here)" = "$want" ] || fail "n$n: /v1/resources/iManager/here is not $want"
  [ "$(here "$n" healthz)" = 200 ] || fail "n$n: /healthz is not 200 on a member"
done
log "VIP $VIP on $holder; crashing it"
vigil 1 status
start_probe
sleep 1
crash "${holder#n}"
wait_for "the VIP to answer from another node" 20 answers_not_from "$holder"
sleep 0.5
stop_probe
survivor=$( [ "$holder" = n1 ] && echo 2 || echo 1 )
vigil "$survivor" status
# The crashed node keeps its (unreachable) addresses: the new holder is the node that answers.
new_holder=$(answer)
here_is() { [ "$(here "$1" v1/resources/iManager/here)" = "$2" ]; }
wait_for "/here to follow the resource to $new_holder" 20 here_is "${new_holder#n}" 200
# The master counts the failover in its metrics (read through the root-only socket).
failovers=0
for n in $(seq 1 "$NODES"); do
  [ "n$n" = "$holder" ] && continue
  count=$(ip netns exec "$(ns "$n")" curl -s --unix-socket "$WORK/n$n/vigil.sock" http://local/metrics | sed -n 's/^vigil_failovers_total \([0-9]*\).*/\1/p')
  failovers=$(( failovers + ${count:-0} ))
done
[ "$failovers" -ge 1 ] || fail "no failover counted in /metrics"
log "PASS: node crash moved the VIP; client outage ${OUTAGE_MS} ms (profile $PROFILE)"
