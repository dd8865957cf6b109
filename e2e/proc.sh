# Process accounting for benchmarks, from /proc (sourced).
# cpu_ticks PID…: CPU time of the processes and their reaped children, in clock ticks.
cpu_ticks() {
  local total=0 pid f
  for pid in "$@"; do read -r -a f < "/proc/$pid/stat" && total=$(( total + f[13] + f[14] + f[15] + f[16] )); done
  echo "$total"
}
# rss_kib PID…: their resident memory, in KiB.
rss_kib() {
  local total=0 pid
  for pid in "$@"; do total=$(( total + $(awk '/^VmRSS/ {print $2}' "/proc/$pid/status") )); done
  echo "$total"
}
# cpu_percent TICKS SECONDS [PROCESSES]: TICKS over SECONDS as % of one core, per process.
cpu_percent() { python3 -c "print(round($1 / ${3:-1} / $(getconf CLK_TCK) / $2 * 100, 2))"; }
