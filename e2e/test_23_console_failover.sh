#!/usr/bin/env bash
# (w) The browser console at a moving address: a Generic_IP_Service resource `console` carries
# 198.18.0.101, every node serves the console on 0.0.0.0:7410. A headless chromium (Selenium)
# in the client namespace logs in there, then the node holding the address crashes: the page
# stays logged in, shows "reconnecting" and clears it, is served by another node, and lists the
# failover's events once. Screenshots in $VIGIL_ARTIFACTS/console (default e2e/artifacts).
. "$(dirname "$0")/lib.sh"
. "$E2E_DIR/console_lib.sh"
console_lab_up
browser_against_console failover
ls "$SHOTS"/0[1-4]-*.png > /dev/null || fail "no screenshots"
log "PASS: console failover: no new login, banner shown and cleared, events once; screenshots in $SHOTS"
