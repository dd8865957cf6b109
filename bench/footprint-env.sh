#!/usr/bin/env bash
# What runtime settings do to the footprint at rest: the e2e lab's 3 nodes (default profile, each a
# managed etcd member and vigild, one NCS reference resource), every agent and etcd member started
# with the NAME=VALUE words of FOOTPRINT_ENV in its environment (e.g. GOGC=50 for etcd's Go runtime,
# MALLOC_ARENA_MAX=2 for vigild's glibc). Prints CPU of one core and resident memory per node, for
# vigild and etcd, over 30 s after 20 s of settling.
# usage (root): VIGIL_BIN=.build/release FOOTPRINT_ENV="GOGC=50" bench/footprint-env.sh
# A measurement, never a test: docs/design/0025 §6.
set -uo pipefail
export NODES=3
. "$(dirname "$0")/../e2e/lib.sh"
# shellcheck source=../e2e/proc.sh
. "$(dirname "$0")/../e2e/proc.sh"
lab_up
for setting in ${FOOTPRINT_ENV:-}; do export "${setting?}"; done
for n in 1 2 3; do start_agent "$n"; done
wait_for "a master" 60 bash -c "$(declare -f vigil ns); BIN=$BIN WORK=$WORK ID=$ID; vigil 1 status | grep -q 'master n'"
vigil 1 resource create iManager --template Generic_IP_Service --set RESOURCE_IP="$VIP" --preferred n1,n2,n3 > /dev/null \
  || fail "creating the resource"
sleep 20
declare -a agents members
for n in 1 2 3; do agents[$n]=$(cat "$WORK/n$n/vigild.pid"); members[$n]=$(pid_in_ns "$n" "etcd --name"); done
a0=$(cpu_ticks "${agents[@]}"); m0=$(cpu_ticks "${members[@]}")
sleep 30
a1=$(cpu_ticks "${agents[@]}"); m1=$(cpu_ticks "${members[@]}")
log "RESULT ${FOOTPRINT_ENV:-(no settings)}: per node vigild $(cpu_percent $(( a1 - a0 )) 30 3) % $(( $(rss_kib "${agents[@]}") / 3 / 1024 )) MiB, etcd $(cpu_percent $(( m1 - m0 )) 30 3) % $(( $(rss_kib "${members[@]}") / 3 / 1024 )) MiB"
