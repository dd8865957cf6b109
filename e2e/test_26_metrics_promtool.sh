#!/usr/bin/env bash
# (z) Prometheus for real: every node's /metrics, scraped over HTTPS (certificate verified) with the
# scrape token of api.metricsTokenFile, passes Debian's `promtool check metrics` (a # HELP and a
# # TYPE on every metric); per-resource series, build info and store contact are there; the token
# reads /metrics and nothing else. The example rules and scrape config pass `promtool check` and the
# rules' unit tests (`promtool test rules`).
. "$(dirname "$0")/lib.sh"
command -v promtool > /dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus > /dev/null; }
lab_up
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$WORK/metrics.token"
chmod 600 "$WORK/metrics.token"
for n in $(seq 1 "$NODES"); do
  sed -i "s#^  listen: .*#&\n  metricsTokenFile: $WORK/metrics.token#" "$WORK/n$n/vigil.yaml"
done
# A token file others may read is refused at start, naming the field.
chmod 644 "$WORK/metrics.token"
out=$(ip netns exec "$(ns 1)" "$BIN/vigild" --check-config --config "$WORK/n1/vigil.yaml" 2>&1) && fail "a world-readable token file was accepted"
grep -q "api.metricsTokenFile" <<< "$out" || fail "the refusal does not name api.metricsTokenFile: $out"
chmod 600 "$WORK/metrics.token"
cluster_up
vigil 1 resource create iManager --template Generic_IP_Service --set RESOURCE_IP=$VIP
wait_for "the VIP to answer" 30 answer
scrape() {  # scrape N [PATH]: HTTP status; the body in $WORK/scrape
  ip netns exec "$CL" curl -s -o "$WORK/scrape" -w '%{http_code}' -m 5 --cacert "$WORK/n1/pki/ca.pem" \
    -H "Authorization: Bearer $(cat "$WORK/metrics.token")" "https://$(node_ip "$1"):7410/${2:-metrics}"
}
wait_for "n1 to report iManager Running" 30 bash -c "$(declare -f scrape ns node_ip); CL=$CL WORK=$WORK ID=$ID; scrape 1 > /dev/null; grep -q 'vigil_resource_state{resource=\"iManager\",state=\"Running\"} 1' $WORK/scrape"
for n in $(seq 1 "$NODES"); do
  [ "$(scrape "$n")" = 200 ] || fail "n$n: /metrics with the scrape token is not 200"
  promtool check metrics < "$WORK/scrape" > "$WORK/promtool.out" 2>&1 || { cat "$WORK/promtool.out"; fail "n$n: promtool check metrics failed"; }
  for series in 'vigil_build_info{version=' 'vigil_resource_up{resource="iManager"} 1' 'vigil_in_good_standing 1' \
    'vigil_store_last_contact_seconds ' '# HELP vigil_heartbeat_round_trip_seconds' 'vigil_heartbeat_round_trip_seconds_bucket{le="0.005"}'; do
    grep -qF "$series" "$WORK/scrape" || fail "n$n: /metrics lacks $series"
  done
  [ "$(scrape "$n" v1/cluster)" = 401 ] || fail "n$n: the scrape token read more than /metrics"
done
log "every node's /metrics passes promtool check metrics; the scrape token reads /metrics only"
rules=$WORK/prometheus; mkdir -p "$rules"
cp "$ROOT/docs/prometheus/"* "$rules/"
cp "$WORK/n1/pki/ca.pem" "$rules/vigil-ca.pem"; cp "$WORK/metrics.token" "$rules/vigil-metrics.token"
sed -i "s#/etc/prometheus/#$rules/#" "$rules/prometheus-scrape.yml"
promtool check rules "$rules/vigil-rules.yml" || fail "promtool check rules"
promtool test rules "$rules/vigil-rules.test.yml" || fail "promtool test rules"
promtool check config "$rules/prometheus-scrape.yml" || fail "promtool check config"
log "PASS: metrics accepted by promtool on every node; rules checked and unit-tested; scrape config valid"
