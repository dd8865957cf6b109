#!/usr/bin/env bash
# (v) An existing open cluster (http:// etcd, kept running with `store.insecure`) is moved to TLS
# without losing its resources, as README "Moving an open cluster to TLS" tells the admin:
# certificates first; a rolling restart onto https URLs (new ports) that still serves the old
# http ones; the peer URLs switched with etcdctl; a rolling restart without the old URLs. The
# resource is Running throughout (it moves on each graceful restart), and at the end the store
# refuses etcdctl without a certificate.
. "$(dirname "$0")/lib.sh"
command -v etcdctl >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-client >/dev/null; }
lab_up   # writes https configurations and the PKI: turned back into an open cluster below

# config N MODE: node N's vigil.yaml; MODE open (http only), both (https + the old http), tls.
config() {
  local n=$1 mode=$2 members="" m ip
  for m in $(seq 1 "$NODES"); do
    ip=$(node_ip "$m")
    case $mode in
      open) members+="    - { node: n$m, peerURL: \"http://$ip:2380\", clientURL: \"http://$ip:2379\" }"$'\n' ;;
      both) members+="    - { node: n$m, peerURL: \"https://$ip:2382\", clientURL: \"https://$ip:2381\", openPeerURL: \"http://$ip:2380\", openClientURL: \"http://$ip:2379\" }"$'\n' ;;
      tls) members+="    - { node: n$m, peerURL: \"https://$ip:2382\", clientURL: \"https://$ip:2381\" }"$'\n' ;;
    esac
  done
  node_config "$n" "$members" "$( [ "$mode" = open ] && echo "  insecure: true" )"
}
for n in $(seq 1 "$NODES"); do config "$n" open; done
cluster_up
ncs_resource iManager "$VIP" > /dev/null
wait_for "the VIP to answer" 30 answer
grep -q "store endpoints without TLS" "$WORK/n1/vigild.log" || fail "the open store was not warned about"
ctl() { ip netns exec "$CL" env ETCDCTL_API=3 timeout 10 etcdctl --dial-timeout 2s --command-timeout 3s "$@"; }
wait_for "etcdctl to read the open cluster without a certificate" 30 bash -c \
  "$(declare -f ctl); CL=$CL; ctl --endpoints http://$(node_ip 1):2379 get /vigil/lab/resources/iManager --keys-only | grep -q iManager"
log "open cluster running (etcdctl reads it without a certificate)"

running() { vigil "$1" status iManager --json 2>/dev/null | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["state"] == "Running" else 1)'; }
# restart N MODE: graceful stop (its resources move), new configuration, start, member again.
restart() {
  local n=$1 other=$(( $1 % NODES + 1 ))
  kill -TERM "$(cat "$WORK/n$n/vigild.pid")"
  wait_for "n$n's agent to stop" 30 bash -c "! kill -0 $(cat "$WORK/n$n/vigild.pid") 2>/dev/null"
  config "$n" "$2"
  start_agent "$n"
  wait_for "n$n to be a member again" 60 bash -c "$(declare -f vigil ns); BIN=$BIN WORK=$WORK ID=$ID; vigil $n view --json | python3 -c 'import json,sys; sys.exit(0 if any(m[\"name\"] == \"n$n\" and m[\"member\"] for m in json.load(sys.stdin)[\"nodes\"]) else 1)'"
  wait_for "iManager Running after n$n's restart" 60 running "$other"
}
start_probe
for n in $(seq 1 "$NODES"); do restart "$n" both; done
log "phase 1: every member serves https (2381/2382) beside its old http URLs"

# Phase 2: the peer URLs in etcd's membership become the https ones.
tls="--cacert $WORK/n1/pki/ca.pem --cert $WORK/n1/pki/node.pem --key $WORK/n1/pki/node.key"
# shellcheck disable=SC2086
ctl --endpoints "https://$(node_ip 1):2381" $tls member list -w json > "$WORK/members.json" || fail "member list over TLS"
for n in $(seq 1 "$NODES"); do
  id=$(python3 -c "import json,sys; print('%x' % next(m['ID'] for m in json.load(open('$WORK/members.json'))['members'] if m['name'] == 'n$n'))")
  # shellcheck disable=SC2086
  ctl --endpoints "https://$(node_ip 1):2381" $tls member update "$id" --peer-urls="https://$(node_ip "$n"):2382" > /dev/null \
    || fail "member update n$n"
done
wait_for "iManager Running after the peer URL switch" 30 running 1
log "phase 2: peer URLs switched to https"

for n in $(seq 1 "$NODES"); do restart "$n" tls; done
stop_probe > /dev/null
log "phase 3: old http URLs closed; longest client gap $OUTAGE_MS ms over the whole move"
running 1 || fail "iManager not Running at the end"
for n in $(seq 1 "$NODES"); do
  ip=$(node_ip "$n")
  ctl --endpoints "http://$ip:2379" get /vigil/ --prefix --keys-only > /dev/null 2>&1 && fail "n$n still open on http"
  ctl --endpoints "https://$ip:2381" --insecure-skip-tls-verify get /vigil/ --prefix --keys-only > /dev/null 2>&1 \
    && fail "n$n answered https without a client certificate"
  # A member just restarted may still be catching up: asked again until it answers (hang guard 30 s).
  wait_for "n$n to serve the resource definition over TLS with its certificate" 30 bash -c \
    "$(declare -f ctl); CL=$CL; ctl --endpoints https://$ip:2381 --cacert $WORK/n1/pki/ca.pem --cert $WORK/n$n/pki/node.pem --key $WORK/n$n/pki/node.key get /vigil/lab/resources/iManager --keys-only | grep -q iManager"
done
log "PASS: open cluster moved to TLS in three rolling steps; iManager kept running; the store now refuses etcdctl without a certificate"
