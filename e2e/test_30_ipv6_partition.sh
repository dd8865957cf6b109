#!/usr/bin/env bash
# (d) on IPv6: the silent-partition scenario of test_04 with the service address 2001:db8:18::100
# and NCS's own scripts; the sampler (shown catching a deliberate double holder first) reads every
# node's addresses about every 10 ms: no sample may show two holders.
LAB_VIP=2001:db8:18::100 exec "$(dirname "$0")/test_04_partition_never_two_holders.sh"
