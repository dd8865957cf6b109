#!/usr/bin/env bash
# Latency of the administrator's paths on the e2e lab: `vigil status` over the Unix socket (a new
# process each time, as an administrator runs it), and GET /v1/cluster over HTTPS from the client
# namespace with user/password (a bcrypt check per call) and with a bearer token. Medians of RUNS.
# usage: bench/api-latency.sh [RUNS]   (root; run `swift build` first). A measurement, not a test.
set -uo pipefail
RUNS=${1:-30}
. "$(dirname "$0")/../e2e/lib.sh"
setup_reference
echo 'bench-password-1' | vigil 1 user add bench --role admin > /dev/null
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ms_of() { local start end; start=$(date +%s%N); "$@" > /dev/null 2>&1; end=$(date +%s%N); echo $(( (end - start) / 1000000 )); }
status=$(for _ in $(seq 1 "$RUNS"); do ms_of vigil 1 status; done | median)
url="https://$(node_ip 1):7410/v1/cluster"
curl_ms() { ip netns exec "$CL" curl -sk -o /dev/null -w '%{time_total}\n' "$@" "$url" | awk '{printf "%d\n", $1 * 1000}'; }
basic=$(for _ in $(seq 1 "$RUNS"); do curl_ms -u bench:bench-password-1; done | median)
token=$(ip netns exec "$CL" curl -sk -X POST -H 'Content-Type: application/json' \
  -d '{"user":"bench","password":"bench-password-1"}' "https://$(node_ip 1):7410/v1/sessions" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
bearer=$(for _ in $(seq 1 "$RUNS"); do curl_ms -H "Authorization: Bearer $token"; done | median)
echo "vigil status (socket, new process): median ${status} ms over $RUNS runs"
echo "GET /v1/cluster over HTTPS, Basic (bcrypt cost 11): median ${basic} ms"
echo "GET /v1/cluster over HTTPS, bearer token: median ${bearer} ms"
