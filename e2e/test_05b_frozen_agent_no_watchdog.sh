#!/usr/bin/env bash
# (e, without the watchdog) The same 5 s freeze with no watchdog. The frozen agent cannot remove
# its VIP, but its kernel still answers ARP for it: the new holder's duplicate-address probe refuses
# the address and its load fails (Comatose) instead of creating a second holder. When the frozen
# agent wakes it finds itself evicted and removes the VIP; an admin then takes the resource offline
# and online again (as in NCS after a failed load). The sampler counts samples with two holders.
. "$(dirname "$0")/lib.sh"
setup_reference
pid=$(cat "$WORK/$HOLDER/vigild.pid")
start_sampler
log "freezing the agent on $HOLDER for 5 s (no watchdog)"
kill -STOP "$pid"
sleep 5
kill -CONT "$pid"
wait_for "$HOLDER to give the VIP up after waking" 10 bash -c "$(declare -f holders ns); VIP=$VIP NODES=$NODES ID=$ID; ! holders | grep -q '^$HOLDER\$'"
sleep 1
stop_sampler
survivor=$( [ "$HOLDER" = n1 ] && echo 2 || echo 1 )
vigil "$survivor" status
state=$(vigil "$survivor" status iManager | awk '/^iManager/ {print $2}')
if [ "$state" = Comatose ]; then
  grep -rq "already answers on the network" "$WORK"/n*/log/iManager.load.out || fail "Comatose, but not from the duplicate-address probe"
  vigil "$survivor" offline iManager
  vigil "$survivor" online iManager
fi
wait_for "the VIP to answer again" 20 answer
log "PASS: frozen agent without watchdog: $DOUBLE_SAMPLES of $SAMPLES samples with two holders; the new holder's load was $state (duplicate-address probe), VIP back after offline/online"
