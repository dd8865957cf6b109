#!/usr/bin/env bash
# (l) The administrator's tools on a live cluster: every `vigil` verb (table and --json, exit
# codes), leave/join/down, and the HTTPS API: 401 without credentials, 403 for an observer, a
# login token that keeps working on another node after the node that granted it is gone.
. "$(dirname "$0")/lib.sh"
setup_reference
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
expect_exit() { # CODE COMMAND…: the command fails with exactly this exit code
  local want=$1; shift
  set +e; "$@" > "$WORK/out" 2> "$WORK/err"; local got=$?; set -e
  [ "$got" -eq "$want" ] || fail "expected exit $want, got $got from: $* ($(cat "$WORK/err"))"
}

# Reading verbs: tables for people, JSON for scripts.
vigil 1 status | grep -E "^iManager +Running +$HOLDER " >/dev/null || fail "status table: $(vigil 1 status)"
[ "$(vigil 1 status iManager --json | json 'd["state"]')" = Running ] || fail "status --json"
vigil 1 view | grep -q "^Master  n" || fail "view: $(vigil 1 view)"
# view --json is the whole view (it printed only the nodes); info SECTION --json only that section.
[ "$(vigil 1 view --json | json 'len(d["nodes"])')" = 3 ] || fail "view --json nodes"
[ "$(vigil 1 view --json | json 'd["master"] is not None and d["epoch"] >= 0 and d["cluster"] == "lab"')" = True ] || fail "view --json: $(vigil 1 view --json)"
[ "$(vigil 1 info quorum --json | json 'sorted(d)')" = "['quorum']" ] || fail "info quorum --json: $(vigil 1 info quorum --json)"
[ "$(vigil 1 info priority --json | json 'd["priorities"][0]["resource"]')" = iManager ] || fail "info priority --json"
vigil 1 resources | grep -q "Generic_IP_Service" || fail "resources"
vigil 1 info protocol | grep -q "Tolerance" || fail "info protocol"
vigil 1 info priority | grep -q "iManager" || fail "info priority"
vigil 1 stats | grep -q "^MEMBER" || fail "stats"
vigil 1 template list | grep -q Generic_FS || fail "template list"
vigil 1 template show Generic_IP_Service | grep -q add_secondary_ipaddress || fail "template show"
vigil 1 resource show iManager | grep -q '"RESOURCE_IP" : "198.18.0.100"' || fail "resource show"
vigil "${HOLDER#n}" resource scripts iManager | grep -q "last output on $HOLDER" || fail "resource scripts"
vigil 1 migrate iManager --list | grep -q "running here" || fail "migrate --list"
# This lab has no watchdog: status says so (ARCHITECTURE.md §4.8).
vigil 1 status | grep -q "Frozen-agent protection: off" || fail "status does not say the watchdog is off"
for verb in "status" "view" "resources" "info" "stats" "template list" "resource scripts iManager" "user list" "events --last 5"; do
  # shellcheck disable=SC2086
  vigil 1 $verb --json > "$WORK/verb.json" || fail "vigil $verb --json failed"
  if [ "$verb" = "events --last 5" ]; then
    while read -r line; do echo "$line" | python3 -c 'import json,sys; json.load(sys.stdin)' || fail "events --json line: $line"; done < "$WORK/verb.json"
  else
    python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$WORK/verb.json" || fail "vigil $verb --json is not JSON: $(head -c 300 "$WORK/verb.json")"
  fi
done
log "reading verbs: tables and JSON as expected"

# Exit codes.
expect_exit 6 vigil 1 online NoSuchResource
expect_exit 6 vigil 1 online iManager n9
expect_exit 2 vigil 1 set tolerance 1s
expect_exit 2 vigil 1 resource create Bad --set RESOURCE_IP=198.18.0.999
expect_exit 3 vigil 1 resource delete iManager
grep -q "take it offline first" "$WORK/err" || fail "delete of a running resource: $(cat "$WORK/err")"
# A refused argument is bad input: 2, as the help and README say (it was ArgumentParser's 64).
expect_exit 2 vigil 1 migrate iManager
vigil 1 set --help | grep -q "tolerance 3s (changes live" || fail "set --help still says the tolerance cannot change live"
vigil 1 set quorum 2 > /dev/null
vigil 1 set tolerance 3s > /dev/null
vigil 2 info protocol | grep -q "Tolerance         3s (self-fence after 2400ms)" || fail "set tolerance: $(vigil 2 info protocol)"
[ "$(vigil 1 info --json | json 'd["quorum"]["nodeCount"]')" = 2 ] || fail "set quorum"
vigil 1 maintenance on --until 10m | grep -q "maintenance on until" || fail "maintenance on"
vigil 1 status | grep -q "MAINTENANCE is on" || fail "status shows maintenance"
vigil 1 maintenance off > /dev/null
vigil 1 online iManager --no-wait | grep -q "sent (command" || fail "--no-wait"
expect_exit 3 vigil 1 alert iManager yes
grep -q "refused by the master" "$WORK/err" || fail "alert without an alert: $(cat "$WORK/err")"
[ "$(vigil 1 template show Generic_FS --json | json 'd["name"]')" = Generic_FS ] || fail "template show --json"
# events -f: a follower started now prints the next event (it resumes from its page's revision, so
# an event written while it connects is not lost: no pause needed between the two).
ip netns exec "$(ns 2)" timeout 8 "$BIN/vigil" events -f --last 1 --config "$WORK/n2/vigil.yaml" > "$WORK/follow" 2>&1 &
follower=$!
vigil 1 set quorumwait 30s > /dev/null
wait_for "events -f to print the new event" 6 grep -q "set quorumwait to 30s" "$WORK/follow"
kill "$follower" 2>/dev/null || true
log "exit codes, settings and the event stream as expected"

# Definitions: edit from a file, offline, delete, create again.
vigil 1 resource show iManager | sed 's/"priority" : 0/"priority" : 5/' > "$WORK/def.json"
vigil 1 resource edit iManager --file "$WORK/def.json" | grep -q "changed iManager" || fail "resource edit"
[ "$(vigil 1 resource show iManager | json 'd["priority"]')" = 5 ] || fail "edit not applied"
# The editor an admin expects: $VISUAL before $EDITOR (the editor run here raises the priority).
cat > "$WORK/visual" <<'SH'
#!/bin/sh
sed -i 's/"priority" : 5/"priority" : 6/' "$1"
SH
chmod +x "$WORK/visual"
VISUAL=$WORK/visual EDITOR=false ip netns exec "$(ns 1)" "$BIN/vigil" resource edit iManager --config "$WORK/n1/vigil.yaml" > /dev/null \
  || fail "resource edit did not use \$VISUAL"
[ "$(vigil 1 resource show iManager | json 'd["priority"]')" = 6 ] || fail "the edit made in \$VISUAL was not applied"
# On a terminal, user add asks twice without echo: the password never appears on the screen.
python3 - "$BIN/vigil" "$(ns 1)" "$WORK/n1/vigil.yaml" <<'PY' || fail "user add echoed the password on a terminal"
import os, pty, sys, time
vigil, namespace, config = sys.argv[1:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp("ip", ["ip", "netns", "exec", namespace, vigil, "user", "add", "ttyuser", "--role", "observer", "--config", config])
seen = b""
deadline = time.monotonic() + 20
def read_until(marker):
    global seen
    while marker not in seen and time.monotonic() < deadline:
        try:
            seen += os.read(fd, 1024)
        except OSError:
            break
read_until(b"new password")
os.write(fd, b"tty-secret-password-1\n")
read_until(b"again")
os.write(fd, b"tty-secret-password-1\n")
read_until(b"user ttyuser set")
_, status = os.waitpid(pid, 0)
print(seen.decode(errors="replace"))
sys.exit(0 if b"user ttyuser set" in seen and b"tty-secret" not in seen and status == 0 else 1)
PY
vigil 1 user delete ttyuser > /dev/null
echo '{"name":"iManager","colour":"red"}' > "$WORK/bad.json"
expect_exit 2 vigil 1 resource edit iManager --file "$WORK/bad.json"
grep -q "colour" "$WORK/err" || fail "bad edit does not name the field: $(cat "$WORK/err")"
vigil 1 offline iManager | grep -q "iManager: Offline" || fail "offline"
[ -z "$(holders)" ] || fail "VIP held after offline"
vigil 1 resource delete iManager | grep -q "deleted iManager" || fail "delete"
expect_exit 6 vigil 1 status iManager
ncs_resource iManager "$VIP" > /dev/null
wait_for "the VIP to answer again" 30 answer
HOLDER=$(holders)
log "edit, offline, delete, create again: as expected"

# leave / join: the holder hands its VIP over and stays out until join.
other=$(( ${HOLDER#n} % NODES + 1 ))
vigil "${HOLDER#n}" leave | grep -q "$HOLDER left the cluster" || fail "leave"
wait_for "the VIP to move off $HOLDER" 20 answers_not_from "$HOLDER"
vigil "$other" view | grep -q "no (left)" || fail "view does not show the node out"
vigil "$other" join "$HOLDER" | grep -q "$HOLDER joined" || fail "join"
log "leave handed iManager over; join brought $HOLDER back"

# down: every node leaves, every resource unloads; join on each brings the cluster back.
vigil 1 down --yes > /dev/null
wait_for "every member to leave" 30 bash -c "set -o pipefail; ip netns exec $(ns 1) $BIN/vigil view --json --config $WORK/n1/vigil.yaml | python3 -c 'import json,sys; sys.exit(0 if not any(n[\"member\"] for n in json.load(sys.stdin)[\"nodes\"]) else 1)'"
[ -z "$(holders)" ] || fail "VIP still held after down: $(holders)"
for n in $(seq 1 "$NODES"); do vigil "$n" join > /dev/null; done
wait_for "the VIP to answer after down and join" 60 answer
log "down unloaded everything; join on each node brought iManager back"

# HTTPS API: self-signed certificate, 401, 403, tokens in the store.
api() { ip netns exec "$CL" curl -sk -o "$WORK/body" -w '%{http_code}' "$@"; }
[ "$(api "https://$(node_ip 1):7410/healthz")" = 200 ] || fail "healthz"
[ "$(api "https://$(node_ip 1):7410/v1/cluster")" = 401 ] || fail "no credentials must be 401"
echo 'admin-password-1' | vigil 1 user add admin --role admin > /dev/null
echo 'observer-pass-1' | vigil 1 user add watcher --role observer > /dev/null
[ "$(vigil 1 user list --json | json 'sorted(u["name"] for u in d)')" = "['admin', 'watcher']" ] || fail "user list"
expect_exit 2 env VIGIL_NEW_PASSWORD=short ip netns exec "$(ns 1)" "$BIN/vigil" user add eve --config "$WORK/n1/vigil.yaml"
grep -q "field 'password'" "$WORK/err" || fail "short password: $(cat "$WORK/err")"
[ "$(api -u watcher:observer-pass-1 "https://$(node_ip 2):7410/v1/cluster")" = 200 ] || fail "observer read"
[ "$(api -u watcher:observer-pass-1 -X POST "https://$(node_ip 2):7410/v1/resources/iManager/offline")" = 403 ] || fail "observer change must be 403"
[ "$(api -u admin:wrong-password "https://$(node_ip 2):7410/v1/cluster")" = 401 ] || fail "wrong password must be 401"
[ "$(api -u watcher:observer-pass-1 "https://$(node_ip 1):7410/metrics")" = 200 ] || fail "metrics"
# The resource gauges are sampled every 2 s: after the moves above, wait for the Running one.
metrics_running() { api -u watcher:observer-pass-1 "https://$(node_ip 1):7410/metrics" > /dev/null; grep -q 'vigil_resources{state="Running"} 1' "$WORK/body"; }
wait_for "the Running gauge in /metrics" 15 metrics_running
for metric in vigil_heartbeat_round_trip_seconds 'vigil_script_duration_seconds.*action="load"' 'vigil_resources{state="Running"} 1' vigil_epoch vigil_is_master; do
  grep -q "$metric" "$WORK/body" || fail "/metrics lacks $metric: $(head -c 600 "$WORK/body")"
done
api -X POST -H 'Content-Type: application/json' -d '{"user":"admin","password":"admin-password-1"}' "https://$(node_ip 1):7410/v1/sessions" > /dev/null
token=$(json 'd["token"]' < "$WORK/body")
# The CLI logs in once per command: a waiting migrate (many polls) costs n3 one password check.
checks() { api -H "Authorization: Bearer $token" "https://$(node_ip 3):7410/metrics" > /dev/null; awk '/^vigil_password_checks_total / {print $2}' "$WORK/body"; }
before=$(checks)
ip netns exec "$CL" env VIGIL_PASSWORD=admin-password-1 "$BIN/vigil" migrate iManager --next --host "https://$(node_ip 3):7410" --user admin --ca-file "$WORK/n1/pki/ca.pem" > /dev/null \
  2> "$WORK/err" || fail "remote migrate: $(cat "$WORK/err")"
after=$(checks)
[ $(( ${after:-0} - ${before:-0} )) -eq 1 ] || fail "a remote migrate cost $(( ${after:-0} - ${before:-0} )) password checks, not 1"
kill -9 "$(pid_in_ns 1 vigild)"
[ "$(api -H "Authorization: Bearer $token" "https://$(node_ip 2):7410/v1/cluster")" = 200 ] || fail "token from n1 refused on n2"
out=$(ip netns exec "$CL" env VIGIL_PASSWORD=admin-password-1 "$BIN/vigil" status --host "https://$(node_ip 3):7410" --user admin --ca-file "$WORK/n1/pki/ca.pem")
echo "$out" | grep -q iManager || fail "remote CLI: $out"
grep -q "root@local set user admin" <(vigil 2 events -l 200) || fail "user change not in the event log"
token2=$(ip netns exec "$CL" env VIGIL_PASSWORD=observer-pass-1 "$BIN/vigil" login --host "https://$(node_ip 3):7410" --user watcher --ca-file "$WORK/n1/pki/ca.pem")
ip netns exec "$CL" env VIGIL_TOKEN="$token2" "$BIN/vigil" view --host "https://$(node_ip 2):7410" --ca-file "$WORK/n1/pki/ca.pem" | grep -q "^Members" || fail "token login"
set +e; ip netns exec "$CL" env VIGIL_TOKEN="$token2" "$BIN/vigil" offline iManager --host "https://$(node_ip 2):7410" --ca-file "$WORK/n1/pki/ca.pem" 2> "$WORK/err"; rc=$?; set -e
[ "$rc" -eq 7 ] || fail "observer offline: exit $rc ($(cat "$WORK/err"))"
# Revocation at once: an admin demoted to observer, and a deleted user, lose their tokens.
ip netns exec "$CL" env VIGIL_PASSWORD=admin-password-1 "$BIN/vigil" login --host "https://$(node_ip 3):7410" --user admin --ca-file "$WORK/n1/pki/ca.pem" > "$WORK/admin.token"
[ "$(api -H "Authorization: Bearer $(cat "$WORK/admin.token")" "https://$(node_ip 2):7410/v1/cluster")" = 200 ] || fail "admin token"
echo 'admin-password-1' | vigil 2 user add admin --role observer > /dev/null
[ "$(api -H "Authorization: Bearer $(cat "$WORK/admin.token")" "https://$(node_ip 2):7410/v1/cluster")" = 401 ] || fail "a demoted admin's token still works"
[ "$(api -H "Authorization: Bearer $token2" "https://$(node_ip 2):7410/v1/cluster")" = 200 ] || fail "watcher token before deletion"
vigil 2 user delete watcher > /dev/null
[ "$(api -H "Authorization: Bearer $token2" "https://$(node_ip 2):7410/v1/cluster")" = 401 ] || fail "a deleted user's token still works"
log "PASS: CLI verbs, exit codes, leave/join/down, HTTPS API with 401/403, tokens that survive their node and are revoked at once (demoted, deleted)"
