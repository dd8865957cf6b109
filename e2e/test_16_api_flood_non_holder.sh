#!/usr/bin/env bash
# (c) The same 30 s flood against a node that does not hold the VIP: nothing moves (no eviction,
# no fence, the VIP stays where it is, no sample with two holders). Also: a connection that never
# starts its TLS handshake is closed by the agent (handshake deadline 5 s; hang guard 25 s), and of
# 300 such connections at once the agent accepts at most 256 (the rest wait in the kernel's accept
# queue, seen as the listening socket's Recv-Q) and serves again once the deadline frees them.
. "$(dirname "$0")/lib.sh"
setup_reference
other=$( [ "$HOLDER" = n1 ] && echo 2 || echo 1 )
rc=0
ip netns exec "$CL" timeout 40 bash -c "exec 3<>/dev/tcp/$(node_ip "$other")/7410; read -r -t 25 -u 3 _" || rc=$?
[ "$rc" -eq 1 ] || fail "a connection without a TLS handshake was not closed by the agent (read exit $rc; 1 = closed)"
agent=$(cat "$WORK/n$other/vigild.pid")
before=$(ls "/proc/$agent/fd" | wc -l)
ip netns exec "$CL" timeout 60 python3 -c '
import socket, sys, time
held = [socket.create_connection((sys.argv[1], 7410), timeout=5) for _ in range(300)]
time.sleep(8)' "$(node_ip "$other")" &
holder_pid=$!
echo $holder_pid >> "$WORK/pids"
most=0
for i in $(seq 1 400); do
  kill -0 "$holder_pid" 2>/dev/null || break
  now=$(ls "/proc/$agent/fd" | wc -l)
  [ "$now" -gt "$most" ] && most=$now
  sleep 0.02
done
wait "$holder_pid" || true
log "connection cap: 300 connections held 8 s; the agent's descriptors went from $before to at most $most"
# At most 256 accepted at once (+20 for the agent's own descriptors coming and going; 300 without a cap).
[ $(( most - before )) -le 276 ] || fail "the agent accepted $(( most - before )) of 300 connections at once: no cap of 256"
wait_for "the API to serve again after the connection burst" 30 bash -c "ip netns exec $CL curl -sk -m 5 https://$(node_ip "$other"):7410/healthz | grep -q ok"
epoch=$(cluster_epoch 1)
fences=$(fence_events 1)
start_sampler
log "flooding n$other's API for 30 s (the VIP is on $HOLDER)"
start_flood "$(node_ip "$other")" 30
stop_flood
sleep 1
stop_sampler
log "flood: $FLOOD_REQUESTS requests, status codes: $FLOOD_CODES"
expect_undisturbed 1 "$HOLDER" "$epoch" "$fences"
log "PASS: API flood at a non-holder: $FLOOD_REQUESTS requests; nothing moved, $SAMPLES samples none with two holders"
