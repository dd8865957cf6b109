#!/usr/bin/env bash
# (d) Silent partition of the node holding the VIP (its bridge port detached, its link up): it
# removes the VIP before the majority adds it. A sampler reads `ip addr` in every node every ~10 ms;
# no sample may show two holders. The sampler is first shown to catch a deliberately broken case.
. "$(dirname "$0")/lib.sh"
setup_reference
other=$( [ "$HOLDER" = n1 ] && echo 2 || echo 1 )

log "sampler self-test: adding the VIP by hand on n$other (a broken cluster)"
start_sampler
ip -n "$(ns "$other")" addr add "$VIP/$VIP_HOSTLEN" dev lo
sleep 0.3
ip -n "$(ns "$other")" addr del "$VIP/$VIP_HOSTLEN" dev lo
stop_sampler
[ "$DOUBLE_SAMPLES" -gt 0 ] || fail "the sampler missed a deliberate double holder ($SAMPLES samples)"
log "sampler caught it: $DOUBLE_SAMPLES of $SAMPLES samples with two holders"

start_sampler
log "partitioning $HOLDER (bridge port detached, link up)"
partition "${HOLDER#n}"
wait_for "another node to take the VIP" 20 bash -c "$(declare -f holders ns); VIP=$VIP NODES=$NODES ID=$ID; holders | grep -qv '^$HOLDER\$'"
sleep 2
stop_sampler
# The cut-off node tells a load balancer (asking from its own side) that it is out of standing.
code=$(ip netns exec "$(ns "${HOLDER#n}")" curl -s -o /dev/null -w '%{http_code}' -m 3 --cacert "$WORK/n1/pki/ca.pem" \
  "https://$(node_ip "${HOLDER#n}"):7410/healthz")
[ "$code" = 503 ] || fail "the partitioned $HOLDER answers /healthz with $code, not 503"
heal "${HOLDER#n}"
[ "$DOUBLE_SAMPLES" -eq 0 ] || fail "$DOUBLE_SAMPLES of $SAMPLES samples showed two holders"
log "PASS: partition of $HOLDER: $SAMPLES samples, none with two holders; VIP now on $(holders | tr '\n' ' ')"
