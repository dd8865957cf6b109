#!/usr/bin/env bash
# (e, without the watchdog) The holder's agent is frozen for 5 s (SIGSTOP) with no watchdog: the
# master evicts it and the next node's load finds the VIP still answering (the frozen node's kernel
# answers ARP). That conflict is a wait, not a failure: the load keeps probing (VIGIL_TAKEOVER_WAIT)
# while the frozen agent cannot let go. When it wakes, its fence thread finds the deadline long past
# and removes the VIP at once; the next probe finds the address free and the new holder takes it.
# The resource ends Running with no admin action; the sampler finds no sample with two holders.
. "$(dirname "$0")/lib.sh"
setup_reference
pid=$(cat "$WORK/$HOLDER/vigild.pid")
start_sampler
log "freezing the agent on $HOLDER for 5 s (no watchdog)"
kill -STOP "$pid"
sleep 5
kill -CONT "$pid"
woke=${EPOCHREALTIME/./}
log "the agent on $HOLDER resumes"
survivor=$( [ "$HOLDER" = n1 ] && echo 2 || echo 1 )
# Hang guard only: the VIP normally answers again well within 2 s of the wake-up.
wait_for "the VIP to answer from a live node" 30 answers_not_from "$HOLDER"
back_ms=$(( (${EPOCHREALTIME/./} - woke) / 1000 ))
sleep 1
stop_sampler
vigil "$survivor" status
[ "$DOUBLE_SAMPLES" -eq 0 ] || fail "$DOUBLE_SAMPLES samples with two holders"
wait_for "iManager to be Running" 30 bash -c "$(declare -f vigil ns); BIN=$BIN WORK=$WORK ID=$ID; vigil $survivor status iManager | grep -q '^iManager  *Running'"
grep -hq "already answers on the network; waiting" "$WORK"/n*/log/iManager.load.out \
  || log "note: the new holder's probe never saw the frozen node's address (eviction came after the wake-up)"
log "PASS: frozen agent without watchdog: $SAMPLES samples, none with two holders; VIP answered from a live node ${back_ms} ms after the wake-up; iManager Running without admin action"
