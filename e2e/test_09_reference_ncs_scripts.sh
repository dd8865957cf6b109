#!/usr/bin/env bash
# (i) The reference scenario exactly as an NCS admin writes it: scripts sourcing
# /opt/novell/ncs/lib/ncsfuncs, `exit_on_error add_secondary_ipaddress VIP` and `exit 0`.
. "$(dirname "$0")/lib.sh"
setup_reference
out="$WORK/$HOLDER/log/iManager.load.out"
grep -q "add_secondary_ipaddress $VIP" "$out" || fail "the load output does not show the NCS function: $(cat "$out")"
head -2 "$WORK/$HOLDER/state/scripts/iManager.load" | grep -q "/opt/novell/ncs/lib/ncsfuncs" || fail "script file not as written"
vigil 1 offline iManager
[ -z "$(holders)" ] || fail "VIP still up after offline: $(holders)"
grep -q "del_secondary_ipaddress $VIP" "$WORK/$HOLDER/log/iManager.unload.out" || fail "unload did not run the NCS function"
log "PASS: NCS scripts ran unchanged on $HOLDER (load and unload)"
