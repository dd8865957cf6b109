#!/usr/bin/env bash
# (c) `vigil migrate`: unload on the holder, load on the target; the CLI waits for Running.
. "$(dirname "$0")/lib.sh"
setup_reference
target=$( [ "$HOLDER" = n3 ] && echo n1 || echo n3 )
start_probe
sleep 1
vigil 1 migrate iManager "$target"
wait_for "the VIP to answer from $target" 10 answers_from "$target"
sleep 0.5
stop_probe
[ "$(holders)" = "$target" ] || fail "holders after migrate: $(holders)"
log "PASS: migrate $HOLDER -> $target; client outage ${OUTAGE_MS} ms"
