#!/usr/bin/env bash
# (s) The holder's agent is killed (SIGKILL; the VIP stays) and restarted while its node is cut off
# from the others (so its etcd member has no quorum and the store cannot be read). The restarted
# agent learns from its local record (stateDirectory/held.json) which addresses it may hold and
# fences them at the previous agent's deadline; the majority moves the VIP. No sample shows two
# holders. (Before the local record the restarted agent knew no definitions and the VIP stayed.)
. "$(dirname "$0")/lib.sh"
setup_reference
n=${HOLDER#n}
[ -s "$WORK/$HOLDER/state/held.json" ] || fail "no local record of held resources on $HOLDER"
start_sampler
kill -9 "$(cat "$WORK/$HOLDER/vigild.pid")"
log "agent on $HOLDER killed; cutting $HOLDER off and restarting its agent"
partition "$n"
start_agent "$n"
wait_for "$HOLDER to drop the VIP" 30 bash -c "$(declare -f holders ns); VIP=$VIP NODES=$NODES ID=$ID; ! holders | grep -qx '$HOLDER'"
wait_for "another node to take the VIP" 30 bash -c "$(declare -f holders ns); VIP=$VIP NODES=$NODES ID=$ID; holders | grep -qvx '$HOLDER'"
sleep 1
stop_sampler
grep -q "vigil.source=local record .*addresses up at start" "$WORK/$HOLDER/vigild.log" \
  || fail "the restarted agent did not use its local record: $(tail -20 "$WORK/$HOLDER/vigild.log")"
grep -q "self-fence deadline passed" "$WORK/$HOLDER/vigild.log" || fail "no deadline fence on $HOLDER"
heal "$n"
[ "$DOUBLE_SAMPLES" -eq 0 ] || fail "$DOUBLE_SAMPLES of $SAMPLES samples showed two holders"
wait_for "iManager Running after the heal" 30 bash -c "$(declare -f vigil ns); BIN=$BIN WORK=$WORK ID=$ID; vigil 1 status | grep -q '^iManager *Running'"
log "PASS: restart of $HOLDER's agent without the store: VIP fenced from the local record, moved to $(holders | tr '\n' ' ')($SAMPLES samples, none with two holders)"
