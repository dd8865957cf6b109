#!/usr/bin/env bash
# Node-crash outage, Vigil and keepalived side by side in the same run on the same namespaces:
# each node runs vigild (Vigil's VIP 198.18.0.100, NCS reference resource) and keepalived with its
# defaults (VRRP, advert_int 1 s; VIP 198.18.0.101); both VIPs start on n1; n1 crashes (processes
# killed, link cut); two clients measure the outage of each VIP. Prints both and their ratio.
# usage: bench/failover-vs-keepalived.sh [RUNS] [PROFILE]   (root)
#        MODE=partition bench/failover-vs-keepalived.sh [RUNS]   (samples with two holders instead)
#        MODE=footprint bench/failover-vs-keepalived.sh 1        (memory and CPU at rest, 30 s)
#        MODE=flood bench/failover-vs-keepalived.sh [RUNS]       (30 s of wrong logins at n1's API)
#        MODE=cpuhog bench/failover-vs-keepalived.sh [RUNS]      (four CPU hogs in n1's namespace, 30 s)
#          both: longest client gap of each VIP and how often it moved (Vigil: evictions, as epoch changes)
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" != "--one" ]; then
  runs=${1:-5}; profile=${2:-default}
  command -v keepalived >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq keepalived >/dev/null; }
  vigil=(); keep=(); vmoves=(); kmoves=()
  for i in $(seq 1 "$runs"); do
    line=$(PROFILE=$profile MODE=${MODE:-crash} "$0" --one 2>&1 | grep '^RESULT' | tail -1)
    echo "run $i: ${line#RESULT }"
    set -- $line
    [ -n "${2:-}" ] && [ -n "${3:-}" ] && { vigil+=("$2"); keep+=("$3"); vmoves+=("${4:-}"); kmoves+=("${5:-}"); }
  done
  median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
  [ ${#vigil[@]} -gt 0 ] || { echo "no successful run"; exit 1; }
  if [ "${MODE:-crash}" = flood ] || [ "${MODE:-crash}" = cpuhog ]; then
    echo "$MODE for 30 s on n1 (the holder of both VIPs), ${#vigil[@]} runs, profile $profile: longest client gap median — Vigil $(median "${vigil[@]}") ms, keepalived $(median "${keep[@]}") ms; moves per run — Vigil evictions ${vmoves[*]}, keepalived VIP moves ${kmoves[*]}"
    exit 0
  fi
  if [ "${MODE:-crash}" = footprint ]; then
    echo "at rest, last run, per node (mean of the 3 nodes): ${line#RESULT }"
    exit 0
  fi
  if [ "${MODE:-crash}" = partition ]; then
    echo "silent partition of the holder for 6 s, ${#vigil[@]} runs: samples with two holders per run — Vigil: ${vigil[*]}; keepalived: ${keep[*]}"
    exit 0
  fi
  v=$(median "${vigil[@]}"); k=$(median "${keep[@]}")
  echo "node crash, ${#vigil[@]} runs, profile $profile: Vigil median $v ms (min $(printf '%s\n' "${vigil[@]}" | sort -n | head -1), max $(printf '%s\n' "${vigil[@]}" | sort -n | tail -1)); keepalived defaults median $k ms (min $(printf '%s\n' "${keep[@]}" | sort -n | head -1), max $(printf '%s\n' "${keep[@]}" | sort -n | tail -1)); keepalived/Vigil = $(python3 -c "print(round($k/$v, 2))")"
  exit 0
fi

. "$(dirname "$0")/../e2e/lib.sh"
lab_up
cluster_up
ncs_resource iManager "$VIP" --preferred n1,n2,n3
for n in $(seq 1 "$NODES"); do
  cat > "$WORK/n$n/keepalived.conf" <<CONF
global_defs {
  router_id n$n
  enable_script_security
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority $((200 - n))
  advert_int 1
  virtual_ipaddress {
    198.18.0.101/24
  }
}
CONF
  ip netns exec "$(ns "$n")" keepalived -n -l -f "$WORK/n$n/keepalived.conf" -p "$WORK/n$n/k.pid" \
    -r "$WORK/n$n/k-vrrp.pid" -c "$WORK/n$n/k-check.pid" >/dev/null 2>&1 &
  echo $! >> "$WORK/pids"; disown
done
wait_for "Vigil's VIP on n1" 30 answers_from n1
kanswer() { ip netns exec "$CL" curl -s -m 0.5 "http://198.18.0.101:8080/"; }
wait_for "keepalived's VIP on n1" 30 bash -c "[ \"\$(ip netns exec $CL curl -s -m 0.5 http://198.18.0.101:8080/)\" = n1 ]"
sleep 2
ip netns exec "$CL" python3 "$E2E_DIR/probe.py" "http://$VIP:8080/" --seconds 60 > "$WORK/vigil.probe" 2>&1 &
p1=$!; disown
ip netns exec "$CL" python3 "$E2E_DIR/probe.py" "http://198.18.0.101:8080/" --seconds 60 > "$WORK/keep.probe" 2>&1 &
p2=$!; disown
sleep 1
if [ "${MODE:-crash}" = footprint ]; then
  # Resident memory and CPU time over 30 s at rest, summed per node over each tool's processes:
  # vigild + its etcd member for Vigil, keepalived's parent + VRRP child for keepalived.
  ticks=$(getconf CLK_TCK)
  cpu_of() { local total=0 pid; for pid in "$@"; do read -r -a f < "/proc/$pid/stat" && total=$(( total + f[13] + f[14] )); done; echo "$total"; }
  rss_of() { local total=0 pid kb; for pid in "$@"; do kb=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status"); total=$(( total + kb )); done; echo "$total"; }
  pids_of() { local n=$1 pattern=$2 pid; for pid in $(ip netns pids "$(ns "$n")"); do tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qE -- "$pattern" && echo "$pid"; done; return 0; }
  declare -A pids cpu0
  groups=(vigild etcd keepalived)
  declare -A pattern=([vigild]='/vigild ' [etcd]='etcd --name' [keepalived]='^keepalived ')
  for n in 1 2 3; do
    for g in "${groups[@]}"; do
      pids[$g$n]=$(pids_of "$n" "${pattern[$g]}" | tr '\n' ' ')
      cpu0[$g$n]=$(cpu_of ${pids[$g$n]})
    done
  done
  sleep 30
  report=""
  for g in "${groups[@]}"; do
    rss=0; cpu=0
    for n in 1 2 3; do
      rss=$(( rss + $(rss_of ${pids[$g$n]}) )); cpu=$(( cpu + $(cpu_of ${pids[$g$n]}) - cpu0[$g$n] ))
    done
    report+="$g $(( rss / 3 / 1024 )) MiB resident, CPU $(python3 -c "print(round($cpu / 3 / $ticks / 30 * 100, 2))") % of a core; "
  done
  kill -TERM $p1 $p2 2>/dev/null
  echo "RESULT ${report%; }"
  exit 0
fi
if [ "${MODE:-crash}" = partition ]; then
  # Silent partition of n1 for 6 s: count samples (about every 10 ms) where two nodes hold each VIP.
  ( end=$(( $(date +%s) + 8 )); vd=0; kd=0; total=0
    while [ "$(date +%s)" -lt "$end" ]; do
      v=0; k=0
      for n in 1 2 3; do
        ip -n "$(ns "$n")" -o addr show to "$VIP" | grep -q . && v=$((v + 1))
        ip -n "$(ns "$n")" -o addr show to 198.18.0.101 | grep -q . && k=$((k + 1))
      done
      total=$((total + 1)); [ $v -gt 1 ] && vd=$((vd + 1)); [ $k -gt 1 ] && kd=$((kd + 1))
      sleep 0.01
    done
    echo "$total $vd $kd" > "$WORK/partition.samples" ) &
  sampler=$!
  partition 1
  sleep 6
  heal 1
  wait $sampler
  read -r total vd kd < "$WORK/partition.samples"
  kill -TERM $p1 $p2 2>/dev/null
  echo "RESULT $vd $kd $total"
  exit 0
fi
if [ "${MODE:-crash}" = flood ] || [ "${MODE:-crash}" = cpuhog ]; then
  # 30 s of load on n1, which holds both VIPs: the longest client gap of each, and how often each
  # VIP left n1 (Vigil: membership epoch changes, i.e. evictions; keepalived: holder changes).
  epoch0=$(cluster_epoch 2)
  ( end=$(( EPOCHSECONDS + 34 )); last=n1; moves=0
    while [ "$EPOCHSECONDS" -lt "$end" ]; do
      h=""; for n in 1 2 3; do ip -n "$(ns "$n")" -o addr show to 198.18.0.101 | grep -q . && h+="n$n"; done
      [ -n "$h" ] && [ "$h" != "$last" ] && { moves=$((moves + 1)); last=$h; }
      sleep 0.05
    done
    echo "$moves" > "$WORK/keep.moves" ) &
  sampler=$!
  if [ "$MODE" = flood ]; then start_flood "$(node_ip 1)" 30; stop_flood; else start_hogs 1 4 30; stop_hogs; fi
  wait $sampler
  epoch1=$(cluster_epoch 2)
  kill -TERM $p1 $p2
  for i in $(seq 1 100); do kill -0 $p1 2>/dev/null || kill -0 $p2 2>/dev/null || break; sleep 0.05; done
  v=$(sed -n 's/^longest gap: \([0-9]*\) ms.*/\1/p' "$WORK/vigil.probe")
  k=$(sed -n 's/^longest gap: \([0-9]*\) ms.*/\1/p' "$WORK/keep.probe")
  echo "RESULT $v $k $(( epoch1 - epoch0 )) $(cat "$WORK/keep.moves")"
  exit 0
fi
crash 1
wait_for "Vigil's VIP elsewhere" 20 answers_not_from n1
wait_for "keepalived's VIP elsewhere" 20 bash -c "a=\$(ip netns exec $CL curl -s -m 0.5 http://198.18.0.101:8080/); [ -n \"\$a\" ] && [ \"\$a\" != n1 ]"
sleep 0.5
kill -TERM $p1 $p2
for i in $(seq 1 100); do kill -0 $p1 2>/dev/null || kill -0 $p2 2>/dev/null || break; sleep 0.05; done
v=$(sed -n 's/^longest gap: \([0-9]*\) ms.*/\1/p' "$WORK/vigil.probe")
k=$(sed -n 's/^longest gap: \([0-9]*\) ms.*/\1/p' "$WORK/keep.probe")
echo "RESULT $v $k"
