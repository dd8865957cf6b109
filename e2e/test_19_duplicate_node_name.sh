#!/usr/bin/env bash
# (t) A second agent with the same node name (a cloned machine) starts on another host and points
# at the cluster's store. Its join finds n1's member key owned by another running instance: it is
# refused with a clear error and an event, never joins, never loads n1's resources; n1 is undisturbed.
. "$(dirname "$0")/lib.sh"
setup_reference
epoch=$(cluster_epoch 1)
fences=$(fence_events 1)
mkdir -p "$WORK/clone"
cat > "$WORK/clone/vigil.yaml" <<YAML
node: n1
cluster: lab
profile: $PROFILE
stateDirectory: $WORK/clone/state
logDirectory: $WORK/clone/log
api:
  socket: $WORK/clone/vigil.sock
  listen: ""
store:
  managed: false
  endpoints: ["https://$(node_ip 2):2379"]
  # A clone of n1's disk: it has n1's certificate and key.
  caFile: $WORK/n1/pki/ca.pem
  certFile: $WORK/n1/pki/node.pem
  keyFile: $WORK/n1/pki/node.key
YAML
start_sampler
log "starting a second agent named n1 on the client host"
ip netns exec "$CL" "$BIN/vigild" --config "$WORK/clone/vigil.yaml" --functions /usr/lib/vigil/vigilfuncs >> "$WORK/clone/vigild.log" 2>&1 &
clone=$!
echo $clone >> "$WORK/pids"
disown
wait_for "the clone to be refused" 30 grep -q "another running agent uses this node name" "$WORK/clone/vigild.log"
wait_for "the refusal in the event log" 10 bash -c "$(declare -f vigil ns); BIN=$BIN WORK=$WORK ID=$ID; vigil 2 events --last 100 | grep -q 'another running agent uses the node name n1'"
sleep 3
stop_sampler
kill "$clone" 2>/dev/null || true
grep -q "joined the cluster" <(grep "vigil.node=n1" "$WORK/clone/vigild.log") && fail "the clone joined the cluster"
ip netns exec "$CL" ip -o addr show to "$VIP" | grep -q . && fail "the clone holds the VIP"
expect_undisturbed 1 "$HOLDER" "$epoch" "$fences"
log "PASS: a second agent named n1 was refused (event and error), loaded nothing; $HOLDER undisturbed ($SAMPLES samples)"
