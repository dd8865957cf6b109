#!/usr/bin/env bash
# What an idle etcd costs by itself: three members on loopback (plain HTTP, no client), each
# heartbeat/election pair given, CPU of one core per member over 20 s and resident memory.
# usage: bench/etcd-idle-cost.sh [HEARTBEAT/ELECTION …]   (default: 50/250 100/500 200/1000)
#   ETCD_ENV="GOMAXPROCS=1 GOGC=50": environment given to every member (the Go runtime's settings).
# A measurement, never a test: docs/design/0019.
set -uo pipefail
command -v etcd >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server >/dev/null; }
. "$(dirname "$0")/../e2e/proc.sh"
measure() {
  local hb=$1 el=$2 dir pids=() i=0 n cluster="a=http://127.0.0.1:23801,b=http://127.0.0.1:23802,c=http://127.0.0.1:23803"
  dir=$(mktemp -d)
  for n in a b c; do
    i=$((i + 1))
    # shellcheck disable=SC2086 # ETCD_ENV is a list of NAME=VALUE words
    env ${ETCD_ENV:-} etcd --name $n --data-dir "$dir/$n" --listen-client-urls "http://127.0.0.1:2391$i" \
      --advertise-client-urls "http://127.0.0.1:2391$i" --listen-peer-urls "http://127.0.0.1:2380$i" \
      --initial-advertise-peer-urls "http://127.0.0.1:2380$i" --initial-cluster "$cluster" \
      --initial-cluster-state new --heartbeat-interval "$hb" --election-timeout "$el" --log-level error \
      > "$dir/$n.log" 2>&1 &
    pids+=($!)
  done
  sleep 5
  local c0; c0=$(cpu_ticks "${pids[@]}")
  sleep 20
  echo "etcd ${ETCD_ENV:+($ETCD_ENV) }heartbeat $hb ms, election $el ms: $(cpu_percent $(( $(cpu_ticks "${pids[@]}") - c0 )) 20 3) % of a core and $(( $(rss_kib "${pids[@]}") / 3 / 1024 )) MiB per member"
  kill "${pids[@]}"; wait 2>/dev/null
  rm -rf "$dir"
}
for pair in "${@:-50/250 100/500 200/1000}"; do
  for p in $pair; do measure "${p%/*}" "${p#*/}"; done
done
