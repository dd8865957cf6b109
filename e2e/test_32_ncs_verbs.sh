#!/usr/bin/env bash
# The rest of NCS's `cluster` verbs, as an administrator types them (NCS's own spellings too):
# monitor RES stop|status|Start, monitor action reboot through the configured rebootCommand (a fake
# here: it writes a file), rename OLD NEW (offline only), migrate RES -next / -most, stats display /
# Clear, restart 60 (every node leaves and comes back by itself).
. "$(dirname "$0")/lib.sh"
lab_up
for n in $(seq 1 "$NODES"); do
  printf '#!/bin/sh\necho "rebooted at $(date +%%s.%%N)" >> %s\n' "$WORK/n$n/rebooted" > "$WORK/n$n/fake-reboot"
  chmod 0755 "$WORK/n$n/fake-reboot"
  printf 'rebootCommand: ["%s"]\n' "$WORK/n$n/fake-reboot" >> "$WORK/n$n/vigil.yaml"
done
cluster_up

# A resource whose monitor (every second) fails while a flag file exists; action reboot.
vigil 1 resource create web --template Generic_IP_Service --set RESOURCE_IP=$VIP --preferred n1,n2,n3 \
  --start-mode MANUAL >/dev/null
vigil 1 resource show web | python3 -c "
import json, sys
spec = json.load(sys.stdin)
spec['monitor']['interval'] = '1s'
spec['monitor']['window'] = '1m'
spec['monitor']['action'] = 'reboot'
spec['monitor']['script']['body'] = '#!/bin/bash\n[ -e $WORK/fail-monitor ] && exit 1\nexit 0\n'
json.dump(spec, open('$WORK/web.json', 'w'))"
vigil 1 resource edit web --file "$WORK/web.json" >/dev/null
vigil 1 online web n1 >/dev/null
wait_for "web to answer from n1" 30 answers_from n1
vigil 1 monitor web status | grep -q "monitoring active, every 1s" || fail "monitor status: $(vigil 1 monitor web status)"

log "monitor stop: a failing monitor is not run"
vigil 1 monitor web stop | grep -q "monitoring suspended by" || fail "monitor stop did not suspend"
touch "$WORK/fail-monitor"
runs() { grep -c '^==== ' "$WORK/n1/log/web.monitor.out" 2>/dev/null || echo 0; }
before=$(runs)
sleep 3   # three monitor intervals: a negative check needs the time to pass
[ "$(runs)" = "$before" ] || fail "the suspended monitor ran ($before -> $(runs) runs)"
[ ! -e "$WORK/n1/rebooted" ] || fail "rebooted while monitoring was suspended"

log "monitor Start (NCS's capitalised keyword): the monitor fails, action reboot runs the reboot command"
vigil 1 monitor web Start | grep -q "monitoring active" || fail "monitor Start did not resume"
wait_for "the reboot command to run on n1" 30 test -e "$WORK/n1/rebooted"
comatose() { vigil 1 status | grep -q '^web .*Comatose'; }
wait_for "web to be Comatose on n1" 30 comatose
grep -q "reboot" <(vigil 1 events --last 50) || fail "no event names the reboot action"
rm -f "$WORK/fail-monitor"

log "rename: refused while not offline, done once offline"
set +e; vigil 1 rename web console > "$WORK/rename.out" 2>&1; rc=$?; set -e
[ "$rc" = 3 ] || fail "rename of a Comatose resource exited $rc, not 3: $(cat "$WORK/rename.out")"
vigil 1 offline web >/dev/null
vigil 1 rename web console | grep -q "renamed web to console" || fail "rename failed"
vigil 1 status | grep -q '^console ' || fail "vigil status does not show console"
vigil 1 status | grep -q '^web ' && fail "web is still listed after the rename"
vigil 1 online console n1 >/dev/null
wait_for "console to answer from n1" 30 answers_from n1

log "a configuration the CLI cannot read: exit 2 (bad input), naming the field and the value"
printf 'api: [x]\n' > "$WORK/bad.yaml"
set +e; "$BIN/vigil" status --config "$WORK/bad.yaml" > "$WORK/bad.out" 2>&1; rc=$?; set -e
[ "$rc" = 2 ] || fail "vigil status with a bad configuration exited $rc, not 2: $(cat "$WORK/bad.out")"
grep -q "api: value '\[x\]': expected a mapping" "$WORK/bad.out" || fail "unexpected message: $(cat "$WORK/bad.out")"

log "migrate with NCS's spellings: -next, then -most"
vigil 1 migrate console -next >/dev/null || fail "migrate console -next"
wait_for "console to answer from n2" 30 answers_from n2
vigil 1 migrate console -most >/dev/null || fail "migrate console -most"
wait_for "console to answer from n1" 30 answers_from n1

log "stats display, then Clear: heartbeats count again from zero"
vigil 1 stats display | tee "$WORK/stats"
grep -qE '^n1 +[0-9]+ +[0-9]{4}-' "$WORK/stats" || fail "stats shows no heartbeat count and time for n1"
total=$(awk '$1 == "n1" { print $2 }' "$WORK/stats")
vigil 1 stats Clear > "$WORK/cleared"
grep -q "counters since" "$WORK/cleared" || fail "stats clear does not say since when"
after=$(awk '$1 == "n1" { print $2 }' "$WORK/cleared")
[ "$after" -lt "$total" ] || fail "heartbeats after clear ($after) not below before ($total)"

log "restart 60: every node leaves, then rejoins by itself"
vigil 1 restart 60 --yes
no_members() { vigil 1 view --json | python3 -c 'import json,sys; sys.exit(0 if not json.load(sys.stdin)["members"] else 1)'; }
wait_for "every node to leave" 60 no_members
silent() { ! answer; }
wait_for "console to stop answering" 30 silent
left_at=$(date +%s)
all_members() { [ "$(vigil 1 view --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["members"]))')" = "$NODES" ]; }
wait_for "every node to rejoin" 180 all_members
back_after=$(( $(date +%s) - left_at ))
[ "$back_after" -ge 50 ] || fail "the nodes came back after ${back_after}s, before the 60 s asked for"
# console was on n1 when every node left; the first node back fails it over (failover AUTO).
wait_for "console to answer again" 60 answer
log "PASS: monitor stop/status/Start, action reboot (fake command), rename, migrate -next/-most, stats display/Clear, restart 60 (back after ${back_after}s)"
