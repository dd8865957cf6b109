#!/usr/bin/env bash
# (c) The same 30 s flood against a node that does not hold the VIP: nothing moves (no eviction,
# no fence, the VIP stays where it is, no sample with two holders). Also: a connection that never
# starts its TLS handshake is closed by the agent (handshake deadline 5 s; hang guard 25 s).
. "$(dirname "$0")/lib.sh"
setup_reference
other=$( [ "$HOLDER" = n1 ] && echo 2 || echo 1 )
rc=0
ip netns exec "$CL" timeout 40 bash -c "exec 3<>/dev/tcp/$(node_ip "$other")/7410; read -r -t 25 -u 3 _" || rc=$?
[ "$rc" -eq 1 ] || fail "a connection without a TLS handshake was not closed by the agent (read exit $rc; 1 = closed)"
epoch=$(cluster_epoch 1)
fences=$(fence_events 1)
start_sampler
log "flooding n$other's API for 30 s (the VIP is on $HOLDER)"
start_flood "$(node_ip "$other")" 30
stop_flood
sleep 1
stop_sampler
log "flood: $FLOOD_REQUESTS requests, status codes: $FLOOD_CODES"
expect_undisturbed 1 "$HOLDER" "$epoch" "$fences"
log "PASS: API flood at a non-holder: $FLOOD_REQUESTS requests; nothing moved, $SAMPLES samples none with two holders"
