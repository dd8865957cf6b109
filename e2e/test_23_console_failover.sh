#!/usr/bin/env bash
# (w) The browser console at a moving address: a Generic_IP_Service resource `console` carries
# 198.18.0.101, every node serves the console on 0.0.0.0:7410. A headless chromium (Selenium)
# in the client namespace logs in there, then the node holding the address crashes: the page
# stays logged in, shows "reconnecting" and clears it, is served by another node, and lists the
# failover's events once. Screenshots in $VIGIL_ARTIFACTS/console (default e2e/artifacts).
. "$(dirname "$0")/lib.sh"
command -v chromium >/dev/null && command -v chromedriver >/dev/null || {
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
}
python3 -c 'import selenium' 2>/dev/null || python3 -m pip install -q selenium >/dev/null 2>&1 \
  || python3 -m pip install -q --break-system-packages selenium >/dev/null
CONSOLE=198.18.0.101
SHOTS=${VIGIL_ARTIFACTS:-$E2E_DIR/artifacts}/console

lab_up
# Every node's API on all its addresses, and certificates that name the console address too.
for n in $(seq 1 "$NODES"); do sed -i "s#listen: .*#listen: \"0.0.0.0:7410\"#" "$WORK/n$n/vigil.yaml"; done
"$BIN/vigil" pki renew --dir "$WORK/n1/pki" --node n1 --address "$(node_ip 1)" --address "$CONSOLE" > /dev/null
for n in $(seq 2 "$NODES"); do
  "$BIN/vigil" pki add-node "n$n" --dir "$WORK/n1/pki" --address "$(node_ip "$n")" --address "$CONSOLE" --out "$WORK/n$n.bundle" > /dev/null
  "$BIN/vigil" pki install "$WORK/n$n.bundle" --dir "$WORK/n$n/pki" --config "$WORK/n$n/vigil.yaml" > /dev/null
done
cluster_up
ncs_resource console "$CONSOLE" > /dev/null
echo 'console-password-1' | vigil 1 user add operator --role admin > /dev/null
wait_for "the console address to answer" 30 ip netns exec "$CL" curl -sf -o /dev/null -m 2 --cacert "$WORK/n1/pki/ca.pem" "https://$CONSOLE:7410/login"
log "console at https://$CONSOLE:7410/ (certificate verified by that IP)"

mkfifo "$WORK/crash" "$WORK/done"
ip netns exec "$CL" python3 "$E2E_DIR/console_browser.py" --url "https://$CONSOLE:7410" --user operator \
  --password console-password-1 --shots "$SHOTS" --crash-fifo "$WORK/crash" --done-fifo "$WORK/done" > "$WORK/browser.out" 2>&1 &
browser=$!
echo $browser >> "$WORK/pids"
# The browser names the node serving its page; that node holds the console address: crash it.
read -r -t 120 served < "$WORK/crash" || { cat "$WORK/browser.out"; fail "the browser did not log in"; }
holder=$(for n in $(seq 1 "$NODES"); do ip -n "$(ns "$n")" -o addr show to "$CONSOLE" | grep -q . && echo "n$n"; done; true)
[ "$holder" = "$served" ] || fail "the page was served by $served, the console address is on $holder"
log "logged in through $holder; crashing it"
crash "${holder#n}"
echo done > "$WORK/done"
wait "$browser"; rc=$?
cat "$WORK/browser.out"
[ "$rc" -eq 0 ] || fail "the browser scenario failed"
ls "$SHOTS"/0[1-4]-*.png > /dev/null || fail "no screenshots"
log "PASS: console failover: no new login, banner shown and cleared, events once; screenshots in $SHOTS"
