#!/usr/bin/env bash
# (b) Both cores kept busy for 30 s by four CPU hogs (nice 0) started in the holder's namespace,
# at the default profile: no eviction, no fence, the VIP stays, no sample with two holders.
. "$(dirname "$0")/lib.sh"
setup_reference
epoch=$(cluster_epoch 1)
fences=$(fence_events 1)
start_sampler
log "four CPU hogs in $HOLDER's namespace for 30 s"
start_hogs "${HOLDER#n}" 4 30
stop_hogs
sleep 1
stop_sampler
expect_undisturbed 1 "$HOLDER" "$epoch" "$fences"
log "PASS: CPU hogs on the holder: nothing moved, $SAMPLES samples none with two holders"
