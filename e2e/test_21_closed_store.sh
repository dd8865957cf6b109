#!/usr/bin/env bash
# (u) The store is closed (docs/design/0015). From the client host — on the cluster's network but
# not a node — Debian's etcdctl can neither read nor write any member's keys: not over http, not
# over https without a certificate, not with a certificate from another CA. With a node's
# certificate it can (the control: the refusals are the certificates', not a dead etcd). The API's
# certificate verifies by IP with the cluster CA. A node refuses to start with a private key others
# can read, or a certificate that does not name its address, naming the file.
. "$(dirname "$0")/lib.sh"
command -v etcdctl >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-client >/dev/null; }
setup_reference

# A CA and certificate of another cluster that happens to use the same name.
"$BIN/vigil" pki init --dir "$WORK/other" --cluster lab --node n1 --address 198.18.0.50 > /dev/null

ctl() { ip netns exec "$CL" env ETCDCTL_API=3 timeout 10 etcdctl --dial-timeout 2s --command-timeout 3s "$@"; }
for n in $(seq 1 "$NODES"); do
  ip=$(node_ip "$n")
  for url in "http://$ip:2379" "https://$ip:2379"; do
    ctl --endpoints "$url" --insecure-transport=false --insecure-skip-tls-verify get --prefix /vigil/ --keys-only \
      > "$WORK/out" 2>&1 && fail "n$n: $url listed keys without a certificate: $(head -3 "$WORK/out")"
    ctl --endpoints "$url" --insecure-transport=false --insecure-skip-tls-verify put /vigil/lab/intruder x \
      > "$WORK/out" 2>&1 && fail "n$n: $url accepted a put without a certificate"
  done
  ctl --endpoints "https://$ip:2379" --cacert "$WORK/n1/pki/ca.pem" get --prefix /vigil/ --keys-only \
    > "$WORK/out" 2>&1 && fail "n$n: read with the CA but no client certificate"
  ctl --endpoints "https://$ip:2379" --insecure-skip-tls-verify --cert "$WORK/other/node.pem" \
    --key "$WORK/other/node.key" put /vigil/lab/intruder x > "$WORK/out" 2>&1 \
    && fail "n$n: accepted a put with another CA's certificate"
  # The control: with a certificate of this cluster the same commands work.
  ctl --endpoints "https://$ip:2379" --cacert "$WORK/n1/pki/ca.pem" --cert "$WORK/n$n/pki/node.pem" \
    --key "$WORK/n$n/pki/node.key" get --prefix /vigil/lab/resources/ --keys-only > "$WORK/out" 2>&1 \
    || fail "n$n: refused its own certificate: $(head -3 "$WORK/out")"
  grep -q "/vigil/lab/resources/iManager" "$WORK/out" || fail "n$n: the control read found no resource"
done
log "etcdctl refused on every member without a cluster certificate (http, https, other CA); accepted with one"
ctl --endpoints "https://$(node_ip 1):2379" --cacert "$WORK/n1/pki/ca.pem" --cert "$WORK/n1/pki/node.pem" \
  --key "$WORK/n1/pki/node.key" get /vigil/lab/intruder > "$WORK/out" 2>&1
[ -s "$WORK/out" ] && fail "an intruder's key was written"

# The API verifies by IP with the cluster CA (no --insecure).
ip netns exec "$CL" curl -sf -o /dev/null -m 5 --cacert "$WORK/n1/pki/ca.pem" "https://$(node_ip 2):7410/healthz" \
  || fail "the API certificate did not verify by IP with the cluster CA"
ip netns exec "$CL" curl -sf -o /dev/null -m 5 --tls-max 1.1 --cacert "$WORK/n1/pki/ca.pem" \
  "https://$(node_ip 2):7410/healthz" 2> /dev/null && fail "the API accepted TLS 1.1"

# The API socket's callers act as root: a process of another user is closed out by SO_PEERCRED
# even when the socket's mode would let it in.
out=$(ip netns exec "$(ns 1)" curl -s -m 5 --unix-socket "$WORK/n1/vigil.sock" http://local/v1/cluster) \
  || fail "root could not use the socket"
chmod 666 "$WORK/n1/vigil.sock"
chmod 755 "$WORK" "$WORK/n1"
set +e
ip netns exec "$(ns 1)" runuser -u nobody -- curl -s -m 5 --unix-socket "$WORK/n1/vigil.sock" \
  -o "$WORK/nobody.out" -w '%{http_code}' http://local/v1/cluster > "$WORK/nobody.code" 2>&1
rc=$?
set -e
chmod 600 "$WORK/n1/vigil.sock"
[ "$rc" -eq 0 ] && fail "a non-root process got an answer on the API socket: $(cat "$WORK/nobody.code")"
grep -q "not run by root was closed" "$WORK/n1/vigild.log" || fail "the refused connection was not logged"
log "API socket: root served, another user's connection closed (curl exit $rc)"

# Bad files at start: refused, the file named (checked on a copy of n3's configuration).
cp -r "$WORK/n3/pki" "$WORK/bad-pki"
sed "s#pki: .*#pki: $WORK/bad-pki#" "$WORK/n3/vigil.yaml" > "$WORK/bad.yaml"
chmod 644 "$WORK/bad-pki/node.key"
"$BIN/vigild" --config "$WORK/bad.yaml" --check-config > "$WORK/out" 2>&1 && fail "a key readable by others was accepted"
grep -q "bad-pki/node.key.*chmod 600" "$WORK/out" || fail "the loose key was not named: $(cat "$WORK/out")"
chmod 600 "$WORK/bad-pki/node.key"
cp "$WORK/n2/pki/node.pem" "$WORK/bad-pki/node.pem"
"$BIN/vigild" --config "$WORK/bad.yaml" --check-config > "$WORK/out" 2>&1 && fail "n2's certificate was accepted for n3"
grep -q "bad-pki/node.pem\|bad-pki/node.key" "$WORK/out" || fail "the wrong certificate was not named: $(cat "$WORK/out")"
log "PASS: store closed to the network ($NODES members × http, https, other CA); API verified by IP; bad PKI files refused at start"
