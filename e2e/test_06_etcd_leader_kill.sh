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
log "PASS: etcd leader kill: VIP stayed on $HOLDER (longest client gap ${OUTAGE_MS} ms), member restarted, migrate works"
