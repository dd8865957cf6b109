#!/usr/bin/env bash
# The Vigil demo: three nodes in network namespaces (etcd + vigild + an HTTP service each, the
# service Active/Active), the NCS reference resource `iManager` (Generic_IP_Service, VIP
# 198.18.0.100), a client requesting the VIP every 10 ms; then the node holding the VIP crashes.
#   e2e/demo.sh          keeps the cluster running afterwards until Ctrl-C
#   e2e/demo.sh --once   exits after the failover (CI's smoke test)
. "$(dirname "$0")/lib.sh"
ONCE=${1:-}
lab_up
log "starting 3 nodes (etcd + vigild + HTTP service each) in network namespaces"
cluster_up
ncs_resource iManager "$VIP"
wait_for "the VIP to answer" 30 answer
echo
log "vigil status:"
vigil 1 status
echo
log "the load script, as stored (the NCS reference scenario):"
vigil 1 resource show iManager | python3 -c 'import json,sys; print(json.load(sys.stdin)["load"]["body"])'
holder=$(holders)
start_probe
sleep 1
echo
log "crashing $holder (all its processes killed, its link cut)"
crash "${holder#n}"
wait_for "the VIP to answer from another node" 20 answers_not_from "$holder"
sleep 0.5
stop_probe
survivor=$( [ "$holder" = n1 ] && echo 2 || echo 1 )
echo
log "vigil status after the crash:"
vigil "$survivor" status
echo
log "measured outage seen by the client: ${OUTAGE_MS} ms (profile $PROFILE: tolerance 2 s)"
if [ "$ONCE" != "--once" ]; then
  echo
  log "the cluster keeps running. Reach the VIP from the client namespace:"
  echo "    ip netns exec $CL curl -g http://$VIP_URL:8080/"
  echo "    ip netns exec $(ns "$survivor") $BIN/vigil status --config $WORK/n$survivor/vigil.yaml"
  log "Ctrl-C stops everything and deletes the namespaces"
  while true; do sleep 3600; done
fi
