#!/usr/bin/env bash
# (y) Every page of the browser console in a real browser (headless chromium, Selenium, axe-core):
# light and dark, 1024 and 360 px, no serious or critical accessibility violation; login and a
# migrate by keyboard alone; a resource created from a template; an edit of a definition someone
# changed meanwhile is refused with the current version shown and the user's text kept; an
# observer sees no action, and deleting that user logs their open page out.
. "$(dirname "$0")/lib.sh"
. "$E2E_DIR/console_lib.sh"
console_lab_up
python3 -c 'import axe_selenium_python' 2>/dev/null || python3 -m pip install -q axe-selenium-python >/dev/null 2>&1 \
  || python3 -m pip install -q --break-system-packages axe-selenium-python >/dev/null
set +e
ip netns exec "$CL" python3 "$E2E_DIR/console_browser.py" --scenario pages --url "https://$CONSOLE:7410" \
  --user operator --password console-password-1 --shots "$SHOTS" --ca "$WORK/n1/pki/ca.pem" > "$WORK/browser.out" 2>&1
rc=$?
set -e
cat "$WORK/browser.out"
[ "$rc" -eq 0 ] || fail "the browser's page scenario failed"
# What the browser did is in the cluster's own record: one resource made, moved once, edited
# twice (once by the API, once by the browser), one user added and deleted.
events=$(vigil 1 events --last 500)
for what in "created resource web" "deleted user temp" "set user temp"; do
  grep -q "$what" <<< "$events" || fail "the event log lacks: $what"
done
[ "$(grep -c 'changed the definition of web' <<< "$events")" -eq 2 ] || fail "web's definition was not changed exactly twice"
log "PASS: console pages: axe clean in light and dark at 1024 and 360 px, keyboard login and migrate, create, stale edit refused, observer logged out on deletion; screenshots in $SHOTS/pages"
