#!/usr/bin/env bash
# The .deb as an admin meets it (root; `make deb` first): lintian finds no error; apt-get installs
# it with its dependencies; the unit passes `systemd-analyze verify`; `man vigil` and
# `man vigild` resolve; the NCS path points at the library; the example configuration passes
# `vigild --check-config` once a PKI exists; and the e2e lab runs from the installed binaries
# (/usr/sbin/vigild, /usr/bin/vigil): the node crash and systemd's readiness protocol.
set -euo pipefail
cd "$(dirname "$0")/.."
deb=$(ls -t dist/vigil_*.deb | head -1)
log() { printf '%s  %s\n' "$(date '+%H:%M:%S')" "$*"; }
fail() { log "FAIL: $*"; exit 1; }
need=()
command -v lintian > /dev/null || need+=(lintian)
command -v man > /dev/null || need+=(man-db)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" > /dev/null
fi
lintian --fail-on error "$deb" 2>&1 | grep -v "running with root privileges" || true
lintian --fail-on error "$deb" > /dev/null 2>&1 || fail "lintian reports errors in $deb"
log "lintian: no errors in $deb"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --reinstall "./$deb" > /tmp/vigil-apt.log 2>&1 \
  || { cat /tmp/vigil-apt.log; fail "apt-get install ./$deb"; }
grep -q "Debian's own etcd.service must not run" /tmp/vigil-apt.log || fail "postinst did not explain etcd.service"
systemd-analyze verify /lib/systemd/system/vigild.service || fail "systemd-analyze verify vigild.service"
man -w vigil > /dev/null && man -w 8 vigild > /dev/null || fail "man pages vigil(1), vigild(8)"
man vigil 2> /dev/null | grep -q "NCS" || fail "man vigil does not render"
[ "$(readlink /opt/novell/ncs/lib/ncsfuncs)" = /usr/lib/vigil/vigilfuncs ] || fail "/opt/novell/ncs/lib/ncsfuncs"
[ "$(/usr/sbin/vigild --version)" = "$(/usr/bin/vigil --version)" ] || fail "vigild and vigil versions differ"
/usr/sbin/vigild --no-such-flag 2> /dev/null && fail "vigild accepted an unknown flag"
log "installed: unit verified, man pages, NCS path, versions"
work=$(mktemp -d /tmp/vigil-pkg.XXXXXX)
bindir=$(mktemp -d /tmp/vigil-pkg-bin.XXXXXX)
trap 'rm -rf "$work" "$bindir"' EXIT
sed "s#^\# pki: /etc/vigil/pki#pki: $work/pki#" /etc/vigil/vigil.yaml.example > "$work/vigil.yaml"
/usr/bin/vigil pki init --dir "$work/pki" --cluster prod --node n1 --address 198.18.0.11 > /dev/null
/usr/sbin/vigild --check-config --config "$work/vigil.yaml" || fail "the example configuration does not pass --check-config"
log "the example configuration passes vigild --check-config"
ln -s /usr/sbin/vigild /usr/bin/vigil "$bindir/"
for scenario in test_01_node_crash_moves_vip.sh test_27_systemd_notify.sh; do
  VIGIL_BIN=$bindir timeout 300 "e2e/$scenario" || fail "$scenario on the installed binaries"
done
log "PASS: the package installs, checks, and runs the e2e node crash from /usr/sbin/vigild and /usr/bin/vigil"
