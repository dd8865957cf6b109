#!/usr/bin/env bash
# (j) Active/Passive: the load script starts the service (a stand-in that takes about 2 s to
# start) and then adds the IP; the unload script reverses it. The measured failover includes the
# start-up: the case for Active/Active, where only the address moves.
. "$(dirname "$0")/lib.sh"
lab_up
cluster_up
cat > "$WORK/slow-service.py" <<'PY'
import http.server, socket, sys, time
time.sleep(2)
node = socket.gethostname()
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = (sys.argv[1] + "\n").encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *args): pass
http.server.HTTPServer(("0.0.0.0", 8081), Handler).serve_forever()
PY
cat > "$WORK/ap.load" <<EOF2
#!/bin/bash
. /opt/novell/ncs/lib/ncsfuncs
nohup python3 $WORK/slow-service.py \$VIGIL_NODE >/dev/null 2>&1 &
for i in \$(seq 1 100); do curl -s -m 0.2 http://127.0.0.1:8081/ >/dev/null && break; sleep 0.05; done
exit_on_error add_secondary_ipaddress 198.18.0.110
exit 0
EOF2
cat > "$WORK/ap.unload" <<EOF2
#!/bin/bash
. /opt/novell/ncs/lib/ncsfuncs
ignore_error del_secondary_ipaddress 198.18.0.110
pkill -f "$WORK/slow-service.py"
exit 0
EOF2
vigil 1 resource create Passive --template Generic_IP_Service --set RESOURCE_IP=198.18.0.110 \
  --load-script "$WORK/ap.load" --unload-script "$WORK/ap.unload"
VIP=198.18.0.110
answer() { ip netns exec "$CL" curl -s -m 0.5 "http://$VIP:8081/"; }
wait_for "the Active/Passive service to answer" 40 answer
HOLDER=$(holders)
ip netns exec "$CL" python3 "$E2E_DIR/probe.py" "http://$VIP:8081/" --seconds 300 > "$WORK/probe.out" 2>&1 &
PROBE=$!; echo $PROBE >> "$WORK/pids"; disown
sleep 1
crash "${HOLDER#n}"
wait_for "the service to answer from another node" 30 answers_not_from "$HOLDER"
sleep 0.5
stop_probe
log "PASS: Active/Passive failover with a 2 s service start: client outage ${OUTAGE_MS} ms (Active/Active: about 2.2 s less the start-up)"
