# Helpers of the console scenarios (sourced after lib.sh): the console at its own moving address,
# and a headless chromium driven by console_browser.py from the client namespace.
CONSOLE=198.18.0.101
SHOTS=${VIGIL_ARTIFACTS:-$E2E_DIR/artifacts}/console

# console_lab_up: chromium, chromedriver and Selenium (installed if missing), the lab with every
# node's API on all addresses and certificates naming the console address, the cluster, the
# `console` resource and an admin user `operator`.
console_lab_up() {
  command -v chromium >/dev/null && command -v chromedriver >/dev/null || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
  }
  python3 -c 'import selenium' 2>/dev/null || python3 -m pip install -q selenium >/dev/null 2>&1 \
    || python3 -m pip install -q --break-system-packages selenium >/dev/null
  lab_up
  local n
  for n in $(seq 1 "$NODES"); do sed -i "s#listen: .*#listen: \"0.0.0.0:7410\"#" "$WORK/n$n/vigil.yaml"; done
  "$BIN/vigil" pki renew --dir "$WORK/n1/pki" --node n1 --address "$(node_ip 1)" --address "$CONSOLE" > /dev/null
  for n in $(seq 2 "$NODES"); do
    "$BIN/vigil" pki add-node "n$n" --dir "$WORK/n1/pki" --address "$(node_ip "$n")" --address "$CONSOLE" \
      --out "$WORK/n$n.bundle" > /dev/null
    "$BIN/vigil" pki install "$WORK/n$n.bundle" --dir "$WORK/n$n/pki" --config "$WORK/n$n/vigil.yaml" > /dev/null
  done
  cluster_up
  ncs_resource console "$CONSOLE" --preferred n1,n2,n3 > /dev/null
  echo 'console-password-1' | vigil 1 user add operator --role admin > /dev/null
  wait_for "the console address to answer" 30 ip netns exec "$CL" curl -sf -o /dev/null -m 2 \
    --cacert "$WORK/n1/pki/ca.pem" "https://$CONSOLE:7410/login"
  log "console at https://$CONSOLE:7410/ (certificate verified by that IP)"
}

# browser_against_console SCENARIO [ARGS…]: the browser logs in, then tells us which node serves its
# page; that node (holding the console address) is crashed; the browser finishes the scenario.
browser_against_console() {
  local scenario=$1; shift
  rm -f "$WORK/crash" "$WORK/done"
  mkfifo "$WORK/crash" "$WORK/done"
  ip netns exec "$CL" python3 "$E2E_DIR/console_browser.py" --url "https://$CONSOLE:7410" --user operator \
    --password console-password-1 --shots "$SHOTS" --crash-fifo "$WORK/crash" --done-fifo "$WORK/done" \
    --scenario "$scenario" "$@" > "$WORK/browser.out" 2>&1 &
  local browser=$! served holder rc
  echo $browser >> "$WORK/pids"
  # Opening the FIFO waits for the browser; a browser that failed first must not hang us.
  exec 3<> "$WORK/crash"
  read -r -t 120 served <&3 || { exec 3<&-; cat "$WORK/browser.out"; fail "the browser did not log in"; }
  exec 3<&-
  holder=$(for n in $(seq 1 "$NODES"); do ip -n "$(ns "$n")" -o addr show to "$CONSOLE" | grep -q . && echo "n$n"; done; true)
  [ "$holder" = "$served" ] || fail "the page was served by $served, the console address is on $holder"
  log "browser logged in through $holder; crashing it"
  crash "${holder#n}"
  echo done > "$WORK/done"
  set +e; wait "$browser"; rc=$?; set -e
  cat "$WORK/browser.out"
  [ "$rc" -eq 0 ] || fail "the browser scenario $scenario failed"
}
