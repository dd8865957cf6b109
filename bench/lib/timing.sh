# Sourced by bench scripts (after e2e/lib.sh, for `log` and `fail`).

# time_runs COUNT LABEL COMMAND…: runs COMMAND COUNT times (odd: the median is one of them); logs
# min / median / max in ms. A failing run fails the bench.
time_runs() {
  local count=$1 label=$2 times=() t0 t1 sorted; shift 2
  for _ in $(seq 1 "$count"); do
    t0=${EPOCHREALTIME/./}; "$@" > /dev/null || fail "$label"; t1=${EPOCHREALTIME/./}
    times+=("$(( (t1 - t0) / 1000 ))")
  done
  sorted=$(printf '%s\n' "${times[@]}" | sort -n)
  log "RESULT $label: min $(echo "$sorted" | head -1) / median $(echo "$sorted" | sed -n "$(( (count + 1) / 2 ))p") / max $(echo "$sorted" | tail -1) ms"
}
