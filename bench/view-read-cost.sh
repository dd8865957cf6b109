#!/usr/bin/env bash
# What a full event log costs the view reads: GET /v1/cluster (bearer token) and GET /v1/stats (which
# reads the whole cluster prefix, events included, as every view read did before issue 13) with an
# empty log and with 2,000 events written straight to etcd. Medians of 40.
# usage: bench/view-read-cost.sh   (root; `swift build` first). A measurement, not a test.
. "$(dirname "$0")/../e2e/lib.sh"
setup_reference
echo 'bench-password-1' | vigil 1 user add bench --role admin > /dev/null
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
token=$(ip netns exec "$CL" curl -sk -X POST -H 'Content-Type: application/json' \
  -d '{"user":"bench","password":"bench-password-1"}' "https://$(node_ip 1):7410/v1/sessions" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
measure() {
  for _ in $(seq 1 40); do ip netns exec "$CL" curl -sk -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $token" "https://$(node_ip 1):7410$1" | awk '{printf "%.1f\n", $1 * 1000}'; done | median
}
echo "before: /v1/cluster $(measure /v1/cluster) ms, /v1/stats $(measure /v1/stats) ms"
python3 - "$WORK" "$(ns 1)" <<'PY'
import base64, json, subprocess, sys
work, namespace = sys.argv[1], sys.argv[2]
for batch in range(16):
    ops = []
    for i in range(125):
        n = batch * 125 + i
        key = "/vigil/lab/events/%013d-n1-%d" % (1700000000000 + n, 900000 + n)
        value = json.dumps({"schema": 1, "time": 1700000000000 + n, "event": {"kind": "admin", "node": "n1",
            "message": "bench event %d with some words to make it the size of a real one, as an admin change" % n,
            "severity": "info"}})
        ops.append({"request_put": {"key": base64.b64encode(key.encode()).decode(), "value": base64.b64encode(value.encode()).decode()}})
    body = json.dumps({"compare": [], "success": ops})
    subprocess.run(["ip", "netns", "exec", namespace, "curl", "-sf", "-o", "/dev/null", "--cacert", f"{work}/n1/pki/ca.pem", "--cert", f"{work}/n1/pki/node.pem",
        "--key", f"{work}/n1/pki/node.key", "-d", body, "https://198.18.0.11:2379/v3/kv/txn"], check=True)
PY
echo "after 2,000 events: /v1/cluster $(measure /v1/cluster) ms, /v1/stats $(measure /v1/stats) ms"
