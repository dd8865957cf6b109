#!/usr/bin/env bash
# Vigil, keepalived and Pacemaker side by side, in the same run on the same namespaces: every node
# runs vigild (Vigil's VIP 198.18.0.100, the NCS reference resource), keepalived (VRRP, VIP
# 198.18.0.101, priorities 199/198/197) and Corosync + Pacemaker (IPaddr2, VIP 198.18.0.102,
# location scores n1 > n2 > n3, no STONITH). All three VIPs start on n1; one client per VIP
# requests it every 10 ms (50 ms timeout) and reports the longest gap between two answers.
#
# usage (root): bench/side-by-side.sh [RUNS] [VIGIL_PROFILE]
#   MODE=crash (default)  n1 crashes (every process killed, link cut): outage of each VIP
#   MODE=move             graceful move to n2: `vigil migrate`, keepalived stopped on n1 (its
#                         priority-0 advert), `crm_resource --move`: outage of each VIP
#   MODE=partition        n1's bridge port detached for 12 s (link stays up): samples with two holders
#   MODE=footprint        resident memory and CPU (with reaped children) over 30 s at rest, per node
#   MODE=flood | cpuhog   30 s of wrong logins at n1's API | four CPU hogs in n1: longest gap, moves
#   PCMK_TOKEN=MS         Corosync's totem token (default 3000, Corosync's own default; 500 tuned)
#   KEEPALIVED_ADVERT=S   keepalived's advert_int (default 1, its default; 0.1 tuned, with VRRP v3:
#                         v2, keepalived's default, counts whole seconds)
#   PROBE_TIMEOUT=S       the clients' request timeout (default 0.05): a request sent to an address
#                         in flight hangs this long, so it is the resolution of a gap (0.02 for moves)
# Prints min / median / max per tool and the ratios Vigil ÷ peer of the medians. A measurement,
# never a test: figures go to docs/benchmarks.md by hand.
set -uo pipefail
cd "$(dirname "$0")/.."
MODE=${MODE:-crash}
if [ "${1:-}" != "--one" ]; then
  runs=${1:-5}; profile=${2:-default}
  . bench/lib/keepalived.sh
  keepalived_install
  ( . bench/lib/pacemaker.sh; pcmk_install )
  declare -a vigil=() keep=() pcmk=() extra=()
  for i in $(seq 1 "$runs"); do
    line=$(PROFILE=$profile "$0" --one 2>&1 | grep '^RESULT' | tail -1)
    echo "run $i: ${line#RESULT }"
    set -- $line
    [ -n "${4:-}" ] || continue
    if [ "$MODE" = footprint ]; then echo "${line#RESULT }"; continue; fi
    vigil+=("$2"); keep+=("$3"); pcmk+=("$4"); extra+=("${*:5}")
  done
  [ "$MODE" = footprint ] && exit 0
  [ ${#vigil[@]} -gt 0 ] || { echo "no successful run"; exit 1; }
  stats() { local s; s=$(printf '%s\n' "$@" | sort -n); echo "$(echo "$s" | head -1) / $(echo "$s" | sed -n "$(( ($# + 1) / 2 ))p") / $(echo "$s" | tail -1)"; }
  median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
  ratio() { python3 -c "print('n/a' if $2 == 0 else round($1 / $2, 2))"; }
  v=$(median "${vigil[@]}"); k=$(median "${keep[@]}"); p=$(median "${pcmk[@]}")
  unit=ms; [ "$MODE" = partition ] && unit="samples with two holders"
  echo "$MODE, ${#vigil[@]} runs, Vigil profile $profile, keepalived advert_int ${KEEPALIVED_ADVERT:-1}, Corosync token ${PCMK_TOKEN:-3000} ms ($unit, min / median / max):"
  echo "  Vigil       $(stats "${vigil[@]}")"
  echo "  keepalived  $(stats "${keep[@]}")   Vigil ÷ keepalived $(ratio "$v" "$k")"
  echo "  Pacemaker   $(stats "${pcmk[@]}")   Vigil ÷ Pacemaker $(ratio "$v" "$p")"
  [ "$MODE" = partition ] || [ "$MODE" = flood ] || [ "$MODE" = cpuhog ] && echo "  per run (samples | moves): ${extra[*]}"
  exit 0
fi

. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/lib/pacemaker.sh"
. "$(dirname "$0")/lib/keepalived.sh"
KVIP=198.18.0.101; PVIP=198.18.0.102
lab_up
cluster_up
ncs_resource iManager "$VIP" --preferred n1,n2,n3
for n in $(seq 1 "$NODES"); do
  keepalived_conf "$n" "$KVIP" "${KEEPALIVED_ADVERT:-1}" > "$WORK/n$n/keepalived.conf"
  keepalived_start "$n" "$WORK/n$n/keepalived.conf"
done
pcmk_up "${PCMK_TOKEN:-3000}"
pcmk_vip "$PVIP"
served_by() { [ "$(ip netns exec "$CL" curl -s -m 0.5 "http://$1:8080/")" = "$2" ]; }
moved_from() { local a; a=$(ip netns exec "$CL" curl -s -m 0.5 "http://$1:8080/") && [ -n "$a" ] && [ "$a" != "$2" ]; }
for ip in "$VIP" "$KVIP" "$PVIP"; do wait_for "$ip on n1" 120 served_by "$ip" n1; done
sleep 2
probes=()
for ip in "$VIP" "$KVIP" "$PVIP"; do
  ip netns exec "$CL" python3 "$E2E_DIR/probe.py" "http://$ip:8080/" --seconds 120 --timeout "${PROBE_TIMEOUT:-0.05}" > "$WORK/$ip.probe" 2>&1 &
  probes+=($!); disown
done
sleep 1
gaps() {
  kill -TERM "${probes[@]}" 2>/dev/null
  local ip i
  for i in $(seq 1 100); do kill -0 "${probes[@]}" 2>/dev/null || break; sleep 0.05; done
  for ip in "$VIP" "$KVIP" "$PVIP"; do sed -n 's/^longest gap: \([0-9]*\) ms.*/\1/p' "$WORK/$ip.probe"; done | tr '\n' ' '
}
holder_count() { local c=0 n; for n in 1 2 3; do ip -n "$(ns "$n")" -o addr show to "$1" | grep -q . && c=$((c + 1)); done; echo $c; }

case $MODE in
footprint)
  # Per node, summed over each tool's processes: vigild + its etcd member; keepalived's parent and
  # VRRP child; corosync + pacemakerd and its six daemons. CPU counts reaped children (scripts,
  # `ip`, resource agents' monitors).
  . "$E2E_DIR/proc.sh"
  pids_of() { local n=$1 pattern=$2 pid; for pid in $(ip netns pids "$(ns "$n")"); do tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qE -- "$pattern" && echo "$pid"; done; return 0; }
  declare -A pids cpu0 pattern=([vigild]='/vigild ' [etcd]='etcd --name' [keepalived]='^keepalived ' [pacemaker]='^corosync -f|pacemaker')
  groups=(vigild etcd keepalived pacemaker)
  for n in 1 2 3; do for g in "${groups[@]}"; do
    pids[$g$n]=$(pids_of "$n" "${pattern[$g]}" | tr '\n' ' '); cpu0[$g$n]=$(cpu_ticks ${pids[$g$n]})
  done; done
  sleep 30
  report=""
  for g in "${groups[@]}"; do
    rss=0; cpu=0
    for n in 1 2 3; do rss=$(( rss + $(rss_kib ${pids[$g$n]}) )); cpu=$(( cpu + $(cpu_ticks ${pids[$g$n]}) - cpu0[$g$n] )); done
    report+="$g $(( rss / 3 / 1024 )) MiB, $(cpu_percent "$cpu" 30 3) %; "
  done
  gaps >/dev/null
  echo "RESULT footprint per node (resident, CPU of one core): ${report%; }"
  ;;
partition)
  # n1 cut off for 12 s: count samples (about every 10 ms) where two nodes hold each VIP.
  ( end=$(( EPOCHSECONDS + 14 )); vd=0; kd=0; pd=0; total=0
    while [ "$EPOCHSECONDS" -lt "$end" ]; do
      [ "$(holder_count "$VIP")" -gt 1 ] && vd=$((vd + 1))
      [ "$(holder_count "$KVIP")" -gt 1 ] && kd=$((kd + 1))
      [ "$(holder_count "$PVIP")" -gt 1 ] && pd=$((pd + 1))
      total=$((total + 1)); sleep 0.01
    done
    echo "$vd $kd $pd $total" > "$WORK/partition.samples" ) &
  sampler=$!
  partition 1; sleep 12; heal 1
  wait $sampler
  read -r vd kd pd total < "$WORK/partition.samples"
  gaps >/dev/null
  echo "RESULT $vd $kd $pd of-$total"
  ;;
flood|cpuhog)
  # 30 s of load on n1, which holds every VIP: the longest gap of each, and how often each moved.
  epoch0=$(cluster_epoch 2)
  ( end=$(( EPOCHSECONDS + 34 )); lk=n1; lp=n1; mk=0; mp=0
    while [ "$EPOCHSECONDS" -lt "$end" ]; do
      hk=""; hp=""
      for n in 1 2 3; do
        ip -n "$(ns "$n")" -o addr show to "$KVIP" | grep -q . && hk+="n$n"
        ip -n "$(ns "$n")" -o addr show to "$PVIP" | grep -q . && hp+="n$n"
      done
      [ -n "$hk" ] && [ "$hk" != "$lk" ] && { mk=$((mk + 1)); lk=$hk; }
      [ -n "$hp" ] && [ "$hp" != "$lp" ] && { mp=$((mp + 1)); lp=$hp; }
      sleep 0.05
    done
    echo "$mk $mp" > "$WORK/moves" ) &
  sampler=$!
  if [ "$MODE" = flood ]; then start_flood "$(node_ip 1)" 30; stop_flood; else start_hogs 1 4 30; stop_hogs; fi
  wait $sampler
  epoch1=$(cluster_epoch 2)
  read -r mk mp < "$WORK/moves"
  echo "RESULT $(gaps) moves:$(( epoch1 - epoch0 ))/$mk/$mp"
  ;;
move)
  vigil 2 migrate iManager n2 >/dev/null &
  kill -TERM "$(cat "$WORK/n1/k.pid")"
  pcmk 2 crm_resource --move -r vip -N n2 >/dev/null 2>&1
  for ip in "$VIP" "$KVIP" "$PVIP"; do wait_for "$ip on n2" 60 served_by "$ip" n2; done
  sleep 0.5
  echo "RESULT $(gaps)"
  ;;
crash)
  crash 1
  for ip in "$VIP" "$KVIP" "$PVIP"; do wait_for "$ip elsewhere" 60 moved_from "$ip" n1; done
  sleep 0.5
  echo "RESULT $(gaps)"
  ;;
esac
