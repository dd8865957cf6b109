#!/usr/bin/env bash
# (c) The same 30 s flood against a node that does not hold the VIP: nothing moves (no eviction,
# no fence, the VIP stays where it is, no sample with two holders).
. "$(dirname "$0")/lib.sh"
setup_reference
other=$( [ "$HOLDER" = n1 ] && echo 2 || echo 1 )
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
