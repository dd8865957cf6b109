#!/usr/bin/env bash
# The brain reconciles (addresses observed every 2 s): a resource's VIP that appears on a node which does not hold the
# resource (added by hand, left over by a crashed script) is removed within a few seconds.
. "$(dirname "$0")/lib.sh"
setup_reference
other=$( [ "$HOLDER" = n1 ] && echo 2 || echo 1 )
ip -n "$(ns "$other")" addr add "$VIP/32" dev lo
log "added $VIP by hand on n$other (the resource runs on $HOLDER)"
wait_for "n$other to remove the stray address" 10 bash -c "! ip -n $(ns "$other") -o addr show to $VIP | grep -q ."
[ "$(holders)" = "$HOLDER" ] || fail "holders now: $(holders)"
log "PASS: stray VIP on n$other removed; $HOLDER still holds it"
