#!/usr/bin/env bash
# (a) A flood of wrong passwords and garbage bearer tokens at the VIP holder's HTTPS API from the
# client namespace for 30 s (64 parallel loops, the whole machine busy with them). The holder keeps
# the VIP: no eviction, no self-fence, no Comatose, no sample with two holders; the flooding address
# is throttled (429); a correct login from another address during the flood succeeds.
. "$(dirname "$0")/lib.sh"
setup_reference
echo 'admin-password-1' | vigil 1 user add admin --role admin > /dev/null
target=$(node_ip "${HOLDER#n}")
ip -n "$CL" addr add 198.18.0.51/24 dev eth0
epoch=$(cluster_epoch 1)
fences=$(fence_events 1)
start_sampler
log "flooding $HOLDER's API ($target:7410) for 30 s"
start_flood "$target" 30
# Let the flood build up, then log in as the admin from the other address (hang guard 60 s).
sleep 10
login=$(ip netns exec "$CL" curl -k -s -m 60 --interface 198.18.0.51 -o /dev/null -w '%{http_code}' \
  -H 'Content-Type: application/json' -d '{"user":"admin","password":"admin-password-1"}' "https://$target:7410/v1/sessions")
log "correct login from 198.18.0.51 during the flood: HTTP $login"
stop_flood
sleep 1
stop_sampler
log "flood: $FLOOD_REQUESTS requests, status codes: $FLOOD_CODES"
[ "$login" = 201 ] || fail "a correct login during the flood got HTTP $login"
echo "$FLOOD_CODES" | grep -q '429×' || fail "the flooding address was never throttled"
expect_undisturbed 1 "$HOLDER" "$epoch" "$fences"
vigil 1 events --last 500 | grep -q 'failed logins:' || fail "no burst of failed logins in the event log"
[ "$(vigil 1 events --last 500 | grep -c 'failed logins:')" -le 4 ] || fail "failed logins logged per request, not per burst"
log "PASS: API flood at the holder: $FLOOD_REQUESTS requests ($FLOOD_CODES); VIP stayed on $HOLDER, no eviction or fence, $SAMPLES samples none with two holders, admin login 201"
