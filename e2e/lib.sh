# Shared helpers of the e2e scenarios: a lab of network namespaces on 198.18.0.0/24 (no default
# route, no link outside), one etcd + vigild + HTTP service per node, a client namespace.
# Every scenario sources this file, calls lab_up, and gets lab_down on exit (trap).
set -euo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$E2E_DIR/.." && pwd)
BIN=${VIGIL_BIN:-$ROOT/.build/debug}
ID=${VIGIL_E2E_ID:-$(( $$ % 100000 ))}
WORK=$(mktemp -d "/tmp/vigil-e2e-$ID.XXXXXX")
NODES=${NODES:-3}
PROFILE=${PROFILE:-default}
# LAB_VIP=2001:db8:18::100 runs a scenario on an IPv6 service address: the lab then also gives every
# namespace an address on 2001:db8:18::/64 (documentation prefix) and the client asks over IPv6.
VIP=${LAB_VIP:-198.18.0.100}
if [[ $VIP == *:* ]]; then VIP_URL="[$VIP]"; VIP_HOSTLEN=128; else VIP_URL=$VIP; VIP_HOSTLEN=32; fi
SW="vg${ID}sw"
CL="vg${ID}cl"
ns() { echo "vg${ID}n$1"; }
node_ip() { echo "198.18.0.$((10 + $1))"; }
node_ip6() { echo "2001:db8:18::$((10 + $1))"; }

log() { printf '%s  %s\n' "$(date '+%H:%M:%S.%3N')" "$*"; }
fail() { log "FAIL: $*"; lab_diagnose; exit 1; }

# lab_diagnose: on a failure, the cluster as the first answering node sees it, and its event log.
lab_diagnose() {
  set +e
  local n
  for n in $(seq 1 "${NODES:-3}"); do
    [ -S "$WORK/n$n/vigil.sock" ] || continue
    if timeout 5 ip netns exec "$(ns "$n")" "$BIN/vigil" status --config "$WORK/n$n/vigil.yaml" > "$WORK/diag" 2>&1; then
      echo "--- vigil status (n$n)"; cat "$WORK/diag"
      echo "--- vigil events (n$n)"; timeout 5 ip netns exec "$(ns "$n")" "$BIN/vigil" events --last 40 --config "$WORK/n$n/vigil.yaml"
      echo "--- holders: $(holders | tr '\n' ' ')"
      return 0
    fi
  done
  echo "--- no agent answered"
}

lab_down() {
  local rc=$?
  set +e
  for n in $(seq 1 "$NODES") cl sw; do
    local name; [ "$n" = cl ] && name=$CL || { [ "$n" = sw ] && name=$SW || name=$(ns "$n"); }
    ip netns pids "$name" 2>/dev/null | xargs -r kill -9 2>/dev/null
  done
  [ -f "$WORK/pids" ] && xargs -r kill -9 < "$WORK/pids" 2>/dev/null
  sleep 0.2
  for n in $(seq 1 "$NODES"); do ip netns del "$(ns "$n")" 2>/dev/null; done
  ip netns del "$CL" 2>/dev/null; ip netns del "$SW" 2>/dev/null
  if [ $rc -ne 0 ] && [ -z "${KEEP_LOGS:-}" ]; then
    for f in "$WORK"/n*/vigild.log; do [ -f "$f" ] && { echo "--- $f (last 25 lines)"; tail -25 "$f"; }; done
    [ -s "$WORK/watchdog.log" ] && { echo "--- watchdog stand-ins' resets"; cat "$WORK/watchdog.log"; }
  fi
  rm -rf "$WORK"
  exit $rc
}

# lab_up: the switch, the node and client namespaces, addresses; installs vigilfuncs (+ ncsfuncs).
lab_up() {
  trap lab_down EXIT INT TERM
  command -v arping >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iputils-arping >/dev/null; }
  command -v etcd >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server >/dev/null; }
  if [ "$VIP_HOSTLEN" = 128 ]; then
    command -v ndisc6 >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ndisc6 >/dev/null; }
  fi
  "$ROOT/scripts/install" "$BIN" >/dev/null
  ip netns add "$SW"
  # No multicast snooping: neighbour solicitations go to solicited-node groups, flooded as on a
  # plain switch.
  ip -n "$SW" link add br0 type bridge mcast_snooping 0
  ip -n "$SW" link set br0 up
  ip -n "$SW" link set lo up
  # The store's members: every node, or the first STORE_NODES (the others use them as an
  # external store: large labs, bench/scale.sh).
  local members="" endpoints=""
  for n in $(seq 1 "${STORE_NODES:-$NODES}"); do
    endpoints+="${endpoints:+, }\"https://$(node_ip "$n"):2379\""
    members+="    - { node: n$n, peerURL: \"https://$(node_ip "$n"):2380\", clientURL: \"https://$(node_ip "$n"):2379\" }"$'\n'
  done
  for n in $(seq 1 "$NODES") cl; do
    local name ip
    if [ "$n" = cl ]; then name=$CL; ip=198.18.0.50; else name=$(ns "$n"); ip=$(node_ip "$n"); fi
    ip netns add "$name"
    ip link add "vg${ID}e$n" netns "$name" type veth peer name "vg${ID}p$n" netns "$SW"
    ip -n "$name" link set "vg${ID}e$n" name eth0
    ip -n "$name" addr add "$ip/24" dev eth0
    if [ "$VIP_HOSTLEN" = 128 ]; then
      local ip6; if [ "$n" = cl ]; then ip6=2001:db8:18::50; else ip6=$(node_ip6 "$n"); fi
      ip -n "$name" addr add "$ip6/64" dev eth0 nodad
    fi
    ip -n "$name" link set eth0 up
    ip -n "$name" link set lo up
    ip -n "$SW" link set "vg${ID}p$n" master br0 up
    [ "$n" = cl ] && continue
    mkdir -p "$WORK/n$n/www"
    echo "n$n" > "$WORK/n$n/www/index.html"
    if [ "$n" -le "${STORE_NODES:-$NODES}" ]; then
      node_config "$n" "$members"
    else
      node_config "$n" "" "" "$endpoints"
    fi
  done
  pki_up
}

# node_config N MEMBERS [STORE_LINE] [ENDPOINTS]: node N's vigil.yaml with the members list (YAML
# lines) and an optional extra line under `store:`; with ENDPOINTS (quoted URLs, comma-separated)
# instead, an external store reached with node N's certificate.
node_config() {
  local store
  if [ -n "${4:-}" ]; then
    store="  managed: false
  endpoints: [$4]
  caFile: $WORK/n$1/pki/ca.pem
  certFile: $WORK/n$1/pki/node.pem
  keyFile: $WORK/n$1/pki/node.key"
  else
    store="  managed: true
${3:-}
  members:
$2"
  fi
  cat > "$WORK/n$1/vigil.yaml" <<YAML
node: n$1
cluster: lab
profile: $PROFILE
stateDirectory: $WORK/n$1/state
logDirectory: $WORK/n$1/log
pki: $WORK/n$1/pki
api:
  socket: $WORK/n$1/vigil.sock
  listen: "$(node_ip "$1"):7410"
store:
$store
YAML
}

# pki_up: the cluster PKI as the README tells an admin: `vigil pki init` on n1, a bundle from
# `vigil pki add-node` for every other node, `vigil pki install` on it (docs/design/0015).
pki_up() {
  "$BIN/vigil" pki init --dir "$WORK/n1/pki" --cluster lab --node n1 --address "$(node_ip 1)" > /dev/null
  for n in $(seq 2 "$NODES"); do
    "$BIN/vigil" pki add-node "n$n" --dir "$WORK/n1/pki" --address "$(node_ip "$n")" --out "$WORK/n$n.bundle" > /dev/null
    "$BIN/vigil" pki install "$WORK/n$n.bundle" --dir "$WORK/n$n/pki" --config "$WORK/n$n/vigil.yaml" > /dev/null
    rm -f "$WORK/n$n.bundle"
  done
}

# tls_args N: curl's options to reach node N's etcd as node N (the cluster CA, its certificate).
tls_args() { echo "--cacert $WORK/n$1/pki/ca.pem --cert $WORK/n$1/pki/node.pem --key $WORK/n$1/pki/node.key"; }

# start_service N: the Active/Active HTTP service on node N (answers with its node name).
start_service() {
  local bind=0.0.0.0; [ "$VIP_HOSTLEN" = 128 ] && bind=::
  ip netns exec "$(ns "$1")" python3 -m http.server 8080 --bind "$bind" --directory "$WORK/n$1/www" >/dev/null 2>&1 &
  echo $! >> "$WORK/pids"
  disown
}

# start_agent N: vigild (with its managed etcd member) on node N.
# With NOTIFY_DIR set, the agent gets NOTIFY_SOCKET=$NOTIFY_DIR/nN.sock (systemd's readiness protocol).
start_agent() {
  local notify=()
  [ -n "${NOTIFY_DIR:-}" ] && notify=(env "NOTIFY_SOCKET=$NOTIFY_DIR/n$1.sock")
  ip netns exec "$(ns "$1")" "${notify[@]}" "$BIN/vigild" --config "$WORK/n$1/vigil.yaml" --functions /usr/lib/vigil/vigilfuncs --log-level "${VIGILD_LOG_LEVEL:-info}" \
    >> "$WORK/n$1/vigild.log" 2>&1 &
  echo $! >> "$WORK/pids"
  echo $! > "$WORK/n$1/vigild.pid"
  disown
}

# vigil N ARGS…: the CLI on node N.
vigil() { local n=$1; shift; ip netns exec "$(ns "$n")" "$BIN/vigil" "$@" --config "$WORK/n$n/vigil.yaml"; }

# wait_for DESCRIPTION SECONDS COMMAND…: poll every 50 ms until COMMAND succeeds, or fail.
wait_for() {
  local what=$1 seconds=$2; shift 2
  local deadline=$(( $(date +%s%N) + seconds * 1000000000 ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s%N)" -lt "$deadline" ] || fail "timed out after ${seconds}s waiting for: $what"
    sleep 0.05
  done
}

# holders: the nodes whose interfaces carry the VIP now.
holders() {
  for n in $(seq 1 "$NODES"); do
    ip -n "$(ns "$n")" -o addr show to "$VIP" 2>/dev/null | grep -q . && echo "n$n"
  done
  return 0
}

# answer: which node answers on the VIP, from the client.
answer() { ip netns exec "$CL" curl -g -s -m 0.5 "http://$VIP_URL:8080/"; }
answers_from() { [ "$(answer)" = "$1" ]; }
answers_not_from() { local a; a=$(answer) && [ -n "$a" ] && [ "$a" != "$1" ]; }

# crash N: node N loses power: its link goes first (so no dying process can still say goodbye on
# the network: keepalived's VRRP child sends a priority-0 advert on the SIGTERM it gets when its
# parent dies), then every process in its namespace is killed.
crash() {
  ip -n "$(ns "$1")" link set eth0 down
  # Until none is left: a process may end between the listing and the kill (a script, a monitor),
  # and one may start meanwhile (bounded: 5 s).
  local i pids
  for i in $(seq 1 50); do
    pids=$(ip netns pids "$(ns "$1")")
    [ -z "$pids" ] && return 0
    # shellcheck disable=SC2086
    kill -9 $pids 2>/dev/null || true
    sleep 0.1
  done
  fail "n$1: processes still running after SIGKILL: $(ip netns pids "$(ns "$1")" | tr '\n' ' ')"
}

# start_probe / stop_probe: the client requests the VIP every 10 ms; stop_probe prints the longest gap.
start_probe() {
  ip netns exec "$CL" python3 "$E2E_DIR/probe.py" "http://$VIP_URL:8080/" --seconds 300 > "$WORK/probe.out" 2>&1 &
  PROBE=$!
  echo $PROBE >> "$WORK/pids"
  disown
}
stop_probe() {
  kill -TERM "$PROBE" 2>/dev/null
  local i; for i in $(seq 1 100); do kill -0 "$PROBE" 2>/dev/null || break; sleep 0.05; done
  cat "$WORK/probe.out"
  OUTAGE_MS=$(sed -n 's/^longest gap: \([0-9]*\) ms.*/\1/p' "$WORK/probe.out")
}

# ncs_resource NAME IP: a Generic_IP_Service resource whose scripts are written exactly as an NCS
# administrator writes them, sourcing /opt/novell/ncs/lib/ncsfuncs.
ncs_resource() {
  local name=$1 ip=$2
  printf '#!/bin/bash\n. /opt/novell/ncs/lib/ncsfuncs\nexit_on_error add_secondary_ipaddress %s\nexit 0\n' "$ip" > "$WORK/$name.load"
  printf '#!/bin/bash\n. /opt/novell/ncs/lib/ncsfuncs\nignore_error del_secondary_ipaddress %s\nexit 0\n' "$ip" > "$WORK/$name.unload"
  vigil 1 resource create "$name" --template Generic_IP_Service --set RESOURCE_IP="$ip" \
    --load-script "$WORK/$name.load" --unload-script "$WORK/$name.unload" "${@:3}"
}

# cluster_up: services and agents on every node, the reference resource created, the VIP answering.
cluster_up() {
  for n in $(seq 1 "$NODES"); do start_service "$n"; start_agent "$n"; done
  wait_for "the cluster to elect a master" 30 bash -c "$(declare -f vigil ns); BIN=$BIN WORK=$WORK ID=$ID; vigil 1 status | grep -q 'master n'"
}

# start_sampler / stop_sampler: read `ip addr` in every node namespace about every 10 ms and count
# the samples in which two nodes hold the VIP. stop_sampler sets DOUBLE_SAMPLES and SAMPLES.
start_sampler() {
  # Few forks per sample (bash builtins for time and names): the sampler must not starve the
  # agents and watchdog stand-ins it watches on a 2-core machine.
  (
    local end=$(( EPOCHSECONDS + 300 )) count=0 n held out
    while [ "$EPOCHSECONDS" -lt "$end" ] && [ ! -f "$WORK/sampler.stop" ]; do
      held=()
      for (( n = 1; n <= NODES; n++ )); do
        out=$(ip -n "vg${ID}n$n" -o addr show to "$VIP" 2>/dev/null)
        [ -n "$out" ] && held+=("n$n")
      done
      count=$((count + 1))
      [ ${#held[@]} -gt 1 ] && echo "TWO $EPOCHREALTIME ${held[*]}" >> "$WORK/sampler.out"
      echo "$count" > "$WORK/sampler.count"
      sleep 0.01
    done
  ) &
  SAMPLER=$!
  echo $SAMPLER >> "$WORK/pids"
  disown
}
stop_sampler() {
  touch "$WORK/sampler.stop"
  local i; for i in $(seq 1 100); do kill -0 "$SAMPLER" 2>/dev/null || break; sleep 0.05; done
  rm -f "$WORK/sampler.stop"
  DOUBLE_SAMPLES=$(grep -c TWO "$WORK/sampler.out" 2>/dev/null || true)
  DOUBLE_SAMPLES=${DOUBLE_SAMPLES:-0}
  SAMPLES=$(cat "$WORK/sampler.count" 2>/dev/null || echo 0)
  if [ "$DOUBLE_SAMPLES" -gt 0 ]; then
    log "samples with two holders (first 5):"; head -5 "$WORK/sampler.out"
    [ -f "$WORK/watchdog.log" ] && { log "watchdog log:"; cat "$WORK/watchdog.log"; }
  fi
  rm -f "$WORK/sampler.out"
}

# partition N: detach node N's port from the bridge; its own link stays up (no carrier loss).
partition() { ip -n "$SW" link set "vg${ID}p$1" nomaster; }
heal() { ip -n "$SW" link set "vg${ID}p$1" master br0; }

# setup_reference: cluster, the NCS reference resource, the VIP answering; sets HOLDER.
setup_reference() {
  lab_up
  cluster_up
  ncs_resource iManager "$VIP" "$@"
  wait_for "the VIP to answer" 30 answer
  HOLDER=$(holders)
  [ "$(echo "$HOLDER" | wc -l)" -eq 1 ] || fail "expected one holder, got: $HOLDER"
}

# etcd_leader: the node whose etcd member leads (asks each running member).
etcd_leader() {
  for n in $(seq 1 "$NODES"); do
    local status
    # shellcheck disable=SC2046
    status=$(ip netns exec "$(ns "$n")" curl -s -m 0.5 $(tls_args "$n") -X POST "https://$(node_ip "$n"):2379/v3/maintenance/status" -d '{}') || continue
    local member leader
    member=$(echo "$status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["member_id"])' 2>/dev/null)
    leader=$(echo "$status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["leader"])' 2>/dev/null)
    [ -n "$member" ] && [ "$member" = "$leader" ] && { echo "$n"; return 0; }
  done
  return 1
}

# pid_in_ns N PATTERN: the PID of the process of node N whose command line matches PATTERN.
pid_in_ns() {
  local pid
  for pid in $(ip netns pids "$(ns "$1")"); do
    tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2" && { echo "$pid"; return 0; }
  done
  return 1
}

# start_fake_watchdog N TIMEOUT_S: a stand-in for the hardware watchdog of node N: it watches the
# device file the agent pets and, when petting stops for TIMEOUT_S, "resets" the node: kills every
# process in its namespace and removes its addresses.
start_fake_watchdog() {
  local n=$1 timeout=$2 device="$WORK/n$1/watchdog"
  (
    # Times in microseconds from bash's clock (no fork); one `stat` and one `sleep` per round.
    local last="" size since now end=$(( EPOCHSECONDS + 600 ))
    since=${EPOCHREALTIME/./}
    while [ "$EPOCHSECONDS" -lt "$end" ]; do
      size=$(stat -c %s "$device" 2>/dev/null || echo none)
      now=${EPOCHREALTIME/./}
      if [ "$size" != "$last" ]; then last=$size; since=$now; fi
      if [ "$size" != none ] && [ $(( now - since )) -gt $(( timeout * 1000000 )) ]; then
        echo "$EPOCHREALTIME watchdog reset of n$n" >> "$WORK/watchdog.log"
        # (A process may end between the listing and the kill: that is no failure here.)
        ip netns pids "vg${ID}n$n" | xargs -r kill -9 2>/dev/null || true
        # A reset machine has nothing mounted: its markers on the shared directory go too.
        rm -f "$WORK/shared/"*".mounted-on-n$n"
        ip -n "vg${ID}n$n" addr flush dev eth0 secondary 2>/dev/null
        ip -n "vg${ID}n$n" -o addr show to "$VIP" | awk '{print $2" "$4}' | while read -r dev cidr; do ip -n "vg${ID}n$n" addr del "$cidr" dev "$dev"; done
        exit 0
      fi
      sleep 0.02
    done
  ) &
  echo $! >> "$WORK/pids"
  disown
}

# with_watchdog: every node's agent pets a fake watchdog device (timeout 1 s): a plain file
# (`watchdogKind: file`, which the agent never creates) that start_fake_watchdog watches.
with_watchdog() {
  for n in $(seq 1 "$NODES"); do
    : > "$WORK/n$n/watchdog"
    printf 'watchdogDevice: %s\nwatchdogTimeout: 1s\nwatchdogKind: file\n' "$WORK/n$n/watchdog" >> "$WORK/n$n/vigil.yaml"
  done
}

# start_flood TARGET_IP SECONDS [LOOPS]: from the client namespace (198.18.0.50), LOOPS parallel
# loops (64 by default) of HTTPS requests with wrong passwords (three in four) and random bearer
# tokens (one in four) at TARGET_IP:7410, until SECONDS have passed (each loop at most 100,000
# requests). stop_flood waits for them and sets FLOOD_REQUESTS and FLOOD_CODES (status counts).
start_flood() {
  local target=$1 seconds=$2 loops=${3:-64} i
  FLOOD_PIDS=()
  mkdir -p "$WORK/flood"
  for (( i = 0; i < loops; i++ )); do
    ip netns exec "$CL" bash -c '
      end=$(( EPOCHSECONDS + '"$seconds"' )); n=0
      while [ "$EPOCHSECONDS" -lt "$end" ] && [ $n -lt 100000 ]; do
        if [ $(( '"$i"' % 4 )) -eq 3 ]; then
          token=$(printf "%08x" $RANDOM$RANDOM $RANDOM$RANDOM $RANDOM$RANDOM $RANDOM$RANDOM $RANDOM$RANDOM $RANDOM$RANDOM $RANDOM$RANDOM $RANDOM$RANDOM)
          curl -k -s -o /dev/null -m 5 -w "%{http_code}\n" -H "Authorization: Bearer ${token:0:64}" "https://'"$target"':7410/v1/cluster"
        else
          curl -k -s -o /dev/null -m 5 -w "%{http_code}\n" -u "someone:wrong-$n" "https://'"$target"':7410/v1/cluster"
        fi
        n=$((n + 1))
      done' > "$WORK/flood/$i" 2>/dev/null &
    FLOOD_PIDS+=($!)
    echo $! >> "$WORK/pids"
  done
}
stop_flood() {
  local pid
  for pid in "${FLOOD_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  FLOOD_REQUESTS=$(cat "$WORK"/flood/* | wc -l)
  FLOOD_CODES=$(cat "$WORK"/flood/* | sort | uniq -c | awk '{printf "%s×%s ", $2, $1}')
}

# start_hogs N COUNT SECONDS: COUNT busy loops (nice 0) in node N's namespace for SECONDS.
start_hogs() {
  local n=$1 count=$2 seconds=$3 i
  HOG_PIDS=()
  for (( i = 0; i < count; i++ )); do
    ip netns exec "$(ns "$n")" timeout "$seconds" bash -c 'while :; do :; done' &
    HOG_PIDS+=($!)
    echo $! >> "$WORK/pids"
  done
}
stop_hogs() { local pid; for pid in "${HOG_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done; }

# cluster_epoch N: the membership epoch node N reports (bumped by every eviction, join or leave).
cluster_epoch() { vigil "$1" status | sed -n 's/.* epoch \([0-9]*\) .*/\1/p' | head -1; }

# fence_events N: how many eviction and self-fence events the cluster log holds.
fence_events() { vigil "$1" events --last 500 | grep -cE 'evict|self-fence' || true; }

# expect_undisturbed N HOLDER EPOCH FENCES: the holder still has the VIP and iManager Running there,
# no membership change, no eviction or self-fence event, no sample with two holders.
expect_undisturbed() {
  local n=$1 holder=$2 epoch=$3 fences=$4
  [ "$DOUBLE_SAMPLES" -eq 0 ] || fail "$DOUBLE_SAMPLES samples with two holders"
  [ "$(holders)" = "$holder" ] || fail "the VIP moved: holders now $(holders | tr '\n' ' ')"
  vigil "$n" status iManager | grep -qE "^iManager +Running +$holder " || fail "iManager is not Running on $holder"
  [ "$(cluster_epoch "$n")" = "$epoch" ] || fail "membership changed: epoch $epoch -> $(cluster_epoch "$n")"
  [ "$(fence_events "$n")" = "$fences" ] || fail "an eviction or self-fence happened: $(vigil "$n" events --last 500 | grep -E 'evict|self-fence')"
}
