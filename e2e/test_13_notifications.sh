#!/usr/bin/env bash
# (m) Notifications as NCS sends them: critical events by e-mail through an SMTP relay and as
# webhooks, received by a local SMTP sink and HTTP receiver on the client namespace. A node crash
# (failover) is critical; verbose also sends the routine events.
. "$(dirname "$0")/lib.sh"
setup_reference
mkdir -p "$WORK/sinks"
ip netns exec "$CL" python3 "$E2E_DIR/sinks.py" "$WORK/sinks" --seconds 240 &
echo $! >> "$WORK/pids"; disown
wait_for "the sinks to listen" 10 ip netns exec "$CL" bash -c "exec 3<>/dev/tcp/198.18.0.50/2525"
vigil 1 set emailaddresses "ops@example.test oncall@example.test" > /dev/null
vigil 1 set smtprelay 198.18.0.50:2525 > /dev/null
vigil 1 set webhooks http://198.18.0.50:8025/vigil > /dev/null
vigil 1 set enableemail critical > /dev/null
vigil 1 info notification | grep -q "critical" || fail "info notification"
log "notifications: critical, e-mail to 2 addresses, one webhook; crashing $HOLDER"
crash "${HOLDER#n}"
wait_for "the VIP to answer from another node" 20 answers_not_from "$HOLDER"
wait_for "a notification e-mail" 20 bash -c "grep -l 'failover' $WORK/sinks/mail-*.txt"
wait_for "a webhook call" 20 bash -c "grep -l 'failover' $WORK/sinks/hook-*.json"
mail=$(grep -l failover "$WORK"/sinks/mail-*.txt | head -1)
grep -q "RCPT TO:<ops@example.test>" "$mail" && grep -q "RCPT TO:<oncall@example.test>" "$mail" || fail "recipients: $(cat "$mail")"
grep -q "^Subject: \[vigil lab\] assignment iManager: " "$mail" || fail "subject: $(cat "$mail")"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['cluster']=='lab' and d['event']['resource']=='iManager', d" \
  "$(grep -l failover "$WORK"/sinks/hook-*.json | head -1)" || fail "webhook payload"
# Critical only: the routine "joined"/"became master" events were not sent.
! grep -l "became master" "$WORK"/sinks/mail-*.txt > /dev/null 2>&1 || fail "a routine event was mailed at level critical"
mails=$(ls "$WORK"/sinks/mail-*.txt | wc -l)
survivor=$( [ "$HOLDER" = n1 ] && echo 2 || echo 1 )
vigil "$survivor" set enableemail verbose > /dev/null
vigil "$survivor" migrate iManager --next > /dev/null
wait_for "verbose mail of the migration" 20 bash -c "grep -l 'migrated from' $WORK/sinks/mail-*.txt"
log "PASS: $mails critical e-mail(s) and webhook(s) for the failover, none for routine events; verbose mails the migration"
