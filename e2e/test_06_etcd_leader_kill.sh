#!/usr/bin/env bash
# (f) The etcd leader is killed: the VIP stays where it is (no node self-fences through the etcd
# leader change), the supervisor restarts the member, and the cluster keeps working.
. "$(dirname "$0")/lib.sh"
setup_reference
leader=$(etcd_leader) || fail "no etcd leader found"
start_probe
start_sampler
sleep 1
etcd_pid=$(pid_in_ns "$leader" "etcd --name") || fail "no etcd on n$leader"
log "killing the etcd leader (n$leader, pid $etcd_pid); the VIP is on $HOLDER"
kill -9 "$etcd_pid"
sleep 4
stop_sampler
stop_probe
[ "$(holders)" = "$HOLDER" ] || fail "the VIP moved or vanished: $(holders)"
[ "$DOUBLE_SAMPLES" -eq 0 ] || fail "two holders in $DOUBLE_SAMPLES samples"
wait_for "the killed etcd member to be restarted" 20 pid_in_ns "$leader" "etcd --name"
vigil 1 migrate iManager --next
# The exit is in the event log, naming the member's own output (kept in the log directory).
vigil 1 events --last 200 | grep -q "n$leader .*etcd member exited.*its output: $WORK/n$leader/log/etcd.log" \
  || fail "the event log does not say where the member's output is: $(vigil 1 events --last 20)"
[ -s "$WORK/n$leader/log/etcd.log" ] || fail "the managed member's output was not kept"
log "PASS: etcd leader kill: VIP stayed on $HOLDER (longest client gap ${OUTAGE_MS} ms), member restarted, migrate works"
