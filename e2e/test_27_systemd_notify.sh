#!/usr/bin/env bash
# (aa) systemd's readiness protocol (Type=notify) as the unit uses it: each agent, started with
# NOTIFY_SOCKET, sends READY=1 once it has joined the cluster (not before: the node is a member
# when it says so), and STOPPING=1 when told to stop, before it hands its resources over, with
# EXTEND_TIMEOUT_USEC covering the longest unload it holds.
. "$(dirname "$0")/lib.sh"
lab_up
NOTIFY_DIR=$WORK/notify; mkdir -p "$NOTIFY_DIR"
for n in $(seq 1 "$NODES"); do
  python3 - "$NOTIFY_DIR/n$n.sock" "$NOTIFY_DIR/n$n.log" <<'PY' &
import socket, sys, time
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(sys.argv[1])
sock.settimeout(1)
deadline = time.monotonic() + 280
with open(sys.argv[2], "a") as log:
    while time.monotonic() < deadline:
        try:
            message = sock.recv(4096).decode()
        except socket.timeout:
            continue
        log.write(f"{time.monotonic():.3f} " + message.replace("\n", " ") + "\n")
        log.flush()
PY
  echo $! >> "$WORK/pids"
done
wait_for "the notification sockets" 10 bash -c "ls $NOTIFY_DIR/n1.sock $NOTIFY_DIR/n$NODES.sock"
export NOTIFY_DIR
cluster_up
for n in $(seq 1 "$NODES"); do
  wait_for "READY=1 from n$n" 30 grep -q "READY=1" "$NOTIFY_DIR/n$n.log"
  grep -q "STATUS=member of cluster lab" "$NOTIFY_DIR/n$n.log" || fail "n$n: READY=1 without its member status: $(cat "$NOTIFY_DIR/n$n.log")"
  vigil "$n" status | grep -q "members.*n$n" || fail "n$n said READY=1 but is not a member"
done
log "every agent sent READY=1 as a member"
vigil 1 resource create iManager --template Generic_IP_Service --set RESOURCE_IP=$VIP
wait_for "the VIP to answer" 30 answer
holder=$(holders)
kill -TERM "$(cat "$WORK/${holder}/vigild.pid")"
wait_for "STOPPING=1 from $holder" 30 grep -q "STOPPING=1" "$NOTIFY_DIR/$holder.log"
# The stop timeout is extended to the hand-over: iManager's 60 s unload + the 2 s tolerance + 30 s.
grep -q "EXTEND_TIMEOUT_USEC=92000000" "$NOTIFY_DIR/$holder.log" || fail "no EXTEND_TIMEOUT_USEC for the hand-over: $(cat "$NOTIFY_DIR/$holder.log")"
wait_for "the VIP to answer from another node" 30 answers_not_from "$holder"
log "PASS: READY=1 after joining on every node; STOPPING=1 from $holder on SIGTERM, its VIP handed over"
