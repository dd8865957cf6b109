#!/usr/bin/env bash
# (g) The holder's agent is killed (SIGKILL; etcd and the VIP stay) and restarted: it adopts the
# running resource; the VIP never leaves and the generation does not change.
. "$(dirname "$0")/lib.sh"
setup_reference
before=$(vigil 1 status | awk '/^iManager/ {print $4}')
start_sampler
kill -9 "$(cat "$WORK/$HOLDER/vigild.pid")"
sleep 0.3
start_agent "${HOLDER#n}"
sleep 4
stop_sampler
after=$(vigil 1 status | awk '/^iManager/ {print $4" "$2" "$3}')
[ "$(holders)" = "$HOLDER" ] || fail "the VIP moved: $(holders)"
[ "$after" = "$before Running $HOLDER" ] || fail "expected generation $before Running on $HOLDER, got: $after"
log "PASS: agent restart on $HOLDER adopted iManager at generation $before ($SAMPLES samples, $DOUBLE_SAMPLES double)"
