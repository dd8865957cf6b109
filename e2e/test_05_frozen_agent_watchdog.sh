#!/usr/bin/env bash
# (e) The agent holding the VIP is frozen (SIGSTOP) for 5 s, longer than the tolerance.
# With the watchdog (a stand-in watching the fake device the agent pets resets the node) no sample
# shows two holders. Without it, the double-holder window is measured and printed (documented in
# docs/design/0004-frozen-agents.md), not asserted away.
. "$(dirname "$0")/lib.sh"
lab_up
with_watchdog
cluster_up
ncs_resource iManager "$VIP"
wait_for "the VIP to answer" 30 answer
HOLDER=$(holders)
for n in $(seq 1 "$NODES"); do start_fake_watchdog "$n" 1; done
pid=$(cat "$WORK/$HOLDER/vigild.pid")
start_sampler
log "freezing the agent on $HOLDER for 5 s (watchdog on)"
kill -STOP "$pid"
wait_for "another node to answer" 20 answers_not_from "$HOLDER"
sleep 4
kill -CONT "$pid" 2>/dev/null || true
sleep 1
stop_sampler
grep -q "reset of $HOLDER" "$WORK/watchdog.log" || fail "the watchdog did not reset $HOLDER"
[ "$DOUBLE_SAMPLES" -eq 0 ] || fail "$DOUBLE_SAMPLES of $SAMPLES samples showed two holders with the watchdog on"
log "PASS: frozen agent with watchdog: $HOLDER reset, $SAMPLES samples, none with two holders"
