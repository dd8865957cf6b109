#!/usr/bin/env bash
# (n) With the (stand-in) watchdog on, a node told to leave keeps petting it while it is out of
# the cluster and after it joins again: leaving is not a reason to reset the machine.
. "$(dirname "$0")/lib.sh"
lab_up
with_watchdog
cluster_up
ncs_resource iManager "$VIP"
wait_for "the VIP to answer" 30 answer
HOLDER=$(holders)
for n in $(seq 1 "$NODES"); do start_fake_watchdog "$n" 1; done
vigil "${HOLDER#n}" leave > /dev/null
wait_for "the VIP to move off $HOLDER" 20 answers_not_from "$HOLDER"
out_since=$(date +%s%N)
# Three watchdog timeouts out of the cluster, watched the whole time.
until [ $(( $(date +%s%N) - out_since )) -gt 3000000000 ]; do
  [ -f "$WORK/watchdog.log" ] && fail "a watchdog reset while $HOLDER was out: $(cat "$WORK/watchdog.log")"
  sleep 0.1
done
vigil "${HOLDER#n}" join > /dev/null
sleep 2
[ -f "$WORK/watchdog.log" ] && fail "a watchdog reset after $HOLDER joined: $(cat "$WORK/watchdog.log")"
answer > /dev/null || fail "the VIP does not answer"
vigil 1 status | grep -q "Frozen-agent protection: off" && fail "status says the watchdog is off while it is on"
log "PASS: $HOLDER left and joined with the watchdog on: no reset, the VIP kept answering"
