#!/usr/bin/env bash
# (u) A Generic_FS-style resource — a "mount" shown by a marker file on a directory every node
# shares, and an unload that takes 3 s to release it — under a silent partition of its holder, with
# the watchdog on. The partitioned holder fences at its deadline (address first), starts its slow
# forced unload and stops petting the watchdog (the mount may still be active), so it is reset
# before the others may take the resource over. A sampler reads the shared directory every ~10 ms:
# no sample may show the marker of two nodes.
PROFILE=${PROFILE:-vm}
. "$(dirname "$0")/lib.sh"
DATA_VIP=198.18.0.101
lab_up
with_watchdog
mkdir -p "$WORK/shared"
cluster_up
cat > "$WORK/data.load" <<SCRIPT
#!/bin/bash
. "\$VIGIL_FUNCS"
touch "$WORK/shared/data.mounted-on-\$VIGIL_NODE"
exit_on_error add_secondary_ipaddress \$RESOURCE_IP
exit 0
SCRIPT
cat > "$WORK/data.unload" <<SCRIPT
#!/bin/bash
. "\$VIGIL_FUNCS"
ignore_error del_secondary_ipaddress \$RESOURCE_IP
sleep 3
rm -f "$WORK/shared/data.mounted-on-\$VIGIL_NODE"
exit 0
SCRIPT
vigil 1 resource create data --template Generic_FS --set RESOURCE_IP=$DATA_VIP --set MOUNT_DEV=/dev/shared \
  --set MOUNT_POINT=/srv/data --set MOUNT_FS=ext4 --load-script "$WORK/data.load" --unload-script "$WORK/data.unload"
wait_for "the data resource to be mounted" 60 bash -c "ls $WORK/shared | grep -q mounted-on"
holder=$(ls "$WORK/shared" | sed -n 's/^data.mounted-on-//p')
for n in $(seq 1 "$NODES"); do start_fake_watchdog "$n" 1; done

# The marker sampler: how many samples show two nodes' markers at once.
(
  end=$(( EPOCHSECONDS + 120 ))
  while [ "$EPOCHSECONDS" -lt "$end" ] && [ ! -f "$WORK/markers.stop" ]; do
    markers=("$WORK/shared/"data.mounted-on-*)
    [ -e "${markers[0]}" ] && [ ${#markers[@]} -gt 1 ] && echo "TWO $EPOCHREALTIME ${markers[*]##*/}" >> "$WORK/markers.out"
    echo x >> "$WORK/markers.count"
    sleep 0.01
  done
) &
echo $! >> "$WORK/pids"
log "partitioning $holder (holds data; forced unload takes 3 s; watchdog 1 s)"
partition "${holder#n}"
wait_for "another node to mount data" 60 bash -c "ls $WORK/shared | grep mounted-on | grep -qv 'on-$holder\$'"
sleep 2
touch "$WORK/markers.stop"
heal "${holder#n}"
samples=$(wc -l < "$WORK/markers.count")
double=$(grep -c TWO "$WORK/markers.out" 2>/dev/null || true)
[ "${double:-0}" -eq 0 ] || fail "${double} of $samples samples showed data mounted on two nodes: $(head -3 "$WORK/markers.out")"
grep -q "reset of $holder" "$WORK/watchdog.log" || fail "the watchdog did not reset $holder"
log "PASS: Generic_FS-style resource under a silent partition: $holder reset during its slow unload, data now on $(ls "$WORK/shared" | sed -n 's/^data.mounted-on-//p'); $samples samples, none with two mounts"
