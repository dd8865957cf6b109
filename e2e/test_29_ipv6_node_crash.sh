#!/usr/bin/env bash
# (a) on IPv6: the node-crash scenario of test_01 with the service address 2001:db8:18::100
# (Generic_IP_Service, documentation prefix inside the lab); the client asks over IPv6, and the
# new holder's unsolicited neighbour advertisement moves the client's neighbour entry.
LAB_VIP=2001:db8:18::100 exec "$(dirname "$0")/test_01_node_crash_moves_vip.sh"
