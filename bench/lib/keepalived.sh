# keepalived in the lab (sourced after e2e/lib.sh): the benchmark lab's configuration, shared by
# bench/side-by-side.sh and e2e/test_31 (which imports it into Vigil).

keepalived_install() {
  command -v keepalived >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq keepalived >/dev/null; }
}

# keepalived_conf N VIP [ADVERT]: node N's keepalived.conf — one VRRP instance VI_1 carrying VIP/24,
# priority 200-N (n1 first), advert_int ADVERT (default 1; other values use VRRP v3).
keepalived_conf() {
  local n=$1 vip=$2 advert=${3:-1}
  cat <<CONF
global_defs {
  router_id n$n
  enable_script_security
  $( [ "$advert" = 1 ] || echo "vrrp_version 3" )
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority $((200 - n))
  advert_int $advert
  virtual_ipaddress {
    $vip/24
  }
}
CONF
}

# keepalived_start N FILE: keepalived in node N's namespace with FILE (its PID recorded for lab_down).
keepalived_start() {
  ip netns exec "$(ns "$1")" keepalived -n -l -f "$2" -p "$WORK/n$1/k.pid" \
    -r "$WORK/n$1/k-vrrp.pid" -c "$WORK/n$1/k-check.pid" >/dev/null 2>&1 &
  echo $! >> "$WORK/pids"
  echo $! > "$WORK/n$1/keepalived.pid"
  disown
}
