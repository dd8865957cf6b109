#!/usr/bin/env bash
# (b) Graceful stop (SIGTERM) of the agent holding the VIP: it unloads, reports Offline and leaves;
# another node loads at once, without waiting for the tolerance.
. "$(dirname "$0")/lib.sh"
setup_reference
start_probe
sleep 1
log "SIGTERM to the agent on $HOLDER"
kill -TERM "$(cat "$WORK/$HOLDER/vigild.pid")"
wait_for "the VIP to answer from another node" 20 answers_not_from "$HOLDER"
sleep 0.5
stop_probe
[ -z "$(ip -n "$(ns "${HOLDER#n}")" -o addr show to "$VIP")" ] || fail "$HOLDER still holds the VIP"
log "PASS: graceful stop handed over; client outage ${OUTAGE_MS} ms"
