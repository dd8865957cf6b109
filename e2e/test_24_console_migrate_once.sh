#!/usr/bin/env bash
# (x) A migrate clicked in the console just as the node serving the page crashed: the console
# sends the command with an idempotency key and retries it (to whichever node holds the console
# address next) until one answers; the resource moves exactly once (one "migrate by" event).
. "$(dirname "$0")/lib.sh"
. "$E2E_DIR/console_lib.sh"
console_lab_up
ncs_resource iManager "$VIP" --preferred n3,n2,n1 > /dev/null
wait_for "the VIP to answer" 30 answer
before=$(vigil 3 events --last 500 | grep -c "migrate by operator" || true)
browser_against_console migrate --resource iManager
after=$(vigil 3 events --last 500 | grep -c "migrate by operator" || true)
[ $(( after - before )) -eq 1 ] || fail "expected one migration by operator, the event log has $(( after - before ))"
wait_for "iManager Running after the move" 60 bash -c "$(declare -f vigil ns); BIN=$BIN WORK=$WORK ID=$ID; vigil 3 status iManager | grep -q Running"
vigil 3 status | grep -q "^problem" && fail "the store has keys the layout does not know: $(vigil 3 status | grep '^problem')"
log "PASS: migrate clicked as the page's node crashed: one migration"
