#!/usr/bin/env bash
# (h) A load script that fails leaves the resource Comatose; one that hangs is killed at its
# timeout and leaves it Comatose; offline then online brings a fixed resource back.
. "$(dirname "$0")/lib.sh"
lab_up
cluster_up
printf '#!/bin/bash\necho failing on purpose\nexit 7\n' > "$WORK/fail.load"
printf '#!/bin/bash\nsleep 600\n' > "$WORK/hang.load"
vigil 1 resource create Broken --template Generic_IP_Service --set RESOURCE_IP=198.18.0.101 --load-script "$WORK/fail.load"
vigil 1 resource create Hung --template Generic_IP_Service --set RESOURCE_IP=198.18.0.102 --load-script "$WORK/hang.load" --load-timeout 2s
wait_for "Broken to be Comatose" 20 bash -c "$(declare -f vigil ns); BIN=$BIN WORK=$WORK ID=$ID; vigil 1 status Broken | grep -q Comatose"
wait_for "Hung to be Comatose after its 2 s timeout" 30 bash -c "$(declare -f vigil ns); BIN=$BIN WORK=$WORK ID=$ID; vigil 1 status Hung | grep -q Comatose"
vigil 1 status
hung_node=$(vigil 1 status Hung | awk '/^Hung/ {print $3}')
ip netns exec "$(ns "${hung_node#n}")" pgrep -f "sleep 600" && fail "the hung script still runs after its timeout"
if vigil 1 online Broken; then fail "online accepted while Comatose"; fi
vigil 1 offline Broken
vigil 1 status Broken | grep -q Offline || fail "Broken not Offline after offline"
log "PASS: failing load -> Comatose, hanging load killed at its timeout -> Comatose, online refused until offline"
vigil 1 events --last 100 > "$WORK/events.txt"
grep -q "Broken: load exit 7" "$WORK/events.txt" || fail "the event log lacks the failed load: $(tail -5 "$WORK/events.txt")"
grep -q "| failing on purpose" "$WORK/events.txt" || fail "the event log lacks the script's last lines"
grep -q "Hung: load timed out" "$WORK/events.txt" || fail "the event log lacks the timed-out load"
log "PASS: the event log shows the exit codes and the scripts' last lines"
