# Pacemaker + Corosync in the e2e lab's node namespaces, for side-by-side benchmarks (sourced after
# e2e/lib.sh and lab_up). Each node runs corosync and pacemakerd in its own network, mount and UTS
# namespace: private /etc/corosync, /var/lib/{corosync,pacemaker}, /var/log/pacemaker, /run and
# /dev/shm under $WORK/nN/pcmk, host name nN. No STONITH (the lab has no fencing device); quorum
# policy `stop` (Pacemaker's default), so a partitioned minority stops its resources.
# Debian's packages: pacemaker, corosync, resource-agents (IPaddr2), pacemaker-cli-utils.

pcmk_install() {
  command -v pacemakerd >/dev/null && [ -x /usr/lib/ocf/resource.d/heartbeat/IPaddr2 ] && return 0
  apt-get update -qq
  # No service starts at install time (the lab starts its own, in namespaces).
  local policy=/usr/sbin/policy-rc.d saved=""
  [ -e $policy ] && saved=$(mktemp) && cp -p $policy "$saved"
  printf '#!/bin/sh\nexit 101\n' > $policy; chmod +x $policy
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pacemaker corosync resource-agents pacemaker-cli-utils >/dev/null
  if [ -n "$saved" ]; then mv "$saved" $policy; else rm -f $policy; fi
}

# pcmk_up TOKEN_MS: corosync (knet, totem token TOKEN_MS) and pacemakerd on every node.
pcmk_up() {
  local token=${1:-3000} n d nodes=""
  for n in $(seq 1 "$NODES"); do
    nodes+="  node {
    name: n$n
    nodeid: $n
    ring0_addr: $(node_ip "$n")
  }
"
  done
  for n in $(seq 1 "$NODES"); do
    d=$WORK/n$n/pcmk
    mkdir -p "$d/etc" "$d/corosync" "$d/log" "$d/run"
    cp -a /var/lib/pacemaker "$d/lib"
    cp -a /var/log/pacemaker "$d/pacemaker-log"
    cat > "$d/etc/corosync.conf" <<CONF
totem {
  version: 2
  cluster_name: bench
  transport: knet
  crypto_cipher: none
  crypto_hash: none
  token: $token
}
nodelist {
$nodes}
quorum {
  provider: corosync_votequorum
}
logging {
  to_logfile: yes
  logfile: $d/log/corosync.log
  to_syslog: no
  to_stderr: no
  timestamp: on
}
CONF
    ip netns exec "$(ns "$n")" unshare -m -u --propagation private bash -c "
      hostname n$n
      mount -t tmpfs tmpfs /dev/shm
      mount -t tmpfs tmpfs /run && mkdir -p /run/resource-agents /run/crm && chown hacluster:haclient /run/crm
      mount --bind $d/etc /etc/corosync
      mount --bind $d/corosync /var/lib/corosync
      mount --bind $d/lib /var/lib/pacemaker
      mount --bind $d/pacemaker-log /var/log/pacemaker
      corosync -f > $d/log/corosync.out 2>&1 &
      for i in \$(seq 1 100); do corosync-cfgtool -s >/dev/null 2>&1 && break; sleep 0.1; done
      PCMK_logfile=$d/log/pacemaker.log pacemakerd -f > $d/log/pacemakerd.out 2>&1 &
      wait" > /dev/null 2>&1 &
    disown
    echo $! > "$d/wrapper.pid"
    echo $! >> "$WORK/pids"
  done
}

# pcmk NODE COMMAND…: runs a Pacemaker tool in NODE's namespaces (its IPC lives there).
pcmk() {
  local n=$1; shift
  local wrapper; wrapper=$(cat "$WORK/n$n/pcmk/wrapper.pid")
  local target; target=$(pgrep -P "$wrapper" | head -1)
  nsenter -t "${target:-$wrapper}" -m -u -n "$@"
}

# pcmk_vip IP: an IPaddr2 resource `vip` preferring n1, then n2, n3; no STONITH.
pcmk_vip() {
  local ip=$1
  wait_for "Pacemaker's DC with every node online" 120 bash -c \
    "$(declare -f pcmk ns); ID=$ID WORK=$WORK; pcmk 1 crm_mon -1 2>/dev/null | grep -q 'Online: \[ n1 n2 n3 \]'"
  pcmk 1 crm_attribute --type crm_config --name stonith-enabled --update false >/dev/null
  pcmk 1 cibadmin --create -o resources --xml-text "<primitive id='vip' class='ocf' provider='heartbeat' type='IPaddr2'>
    <instance_attributes id='vip-ia'><nvpair id='vip-ip' name='ip' value='$ip'/><nvpair id='vip-nm' name='cidr_netmask' value='24'/></instance_attributes>
    <operations><op id='vip-mon' name='monitor' interval='10s'/></operations></primitive>"
  pcmk 1 cibadmin --create -o constraints --xml-text "<rsc_location id='vip-n1' rsc='vip' node='n1' score='300'/>"
  pcmk 1 cibadmin --create -o constraints --xml-text "<rsc_location id='vip-n2' rsc='vip' node='n2' score='200'/>"
  pcmk 1 cibadmin --create -o constraints --xml-text "<rsc_location id='vip-n3' rsc='vip' node='n3' score='100'/>"
}
