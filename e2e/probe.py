#!/usr/bin/env python3
"""Requests http://VIP:PORT/ every 10 ms until killed or --seconds pass; prints each change of
answering node and, at the end, the longest gap between two successful answers (the outage)."""
import argparse, signal, sys, time, urllib.request

parser = argparse.ArgumentParser()
parser.add_argument("url")
parser.add_argument("--seconds", type=float, default=120)
parser.add_argument("--interval", type=float, default=0.01)
# A request to an address in flight hangs until this timeout: it bounds the resolution of the gap.
parser.add_argument("--timeout", type=float, default=0.05)
args = parser.parse_args()

stop = False
def finish(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, finish)
signal.signal(signal.SIGINT, finish)

start = time.monotonic()
last_ok = None
last_node = None
longest = 0.0
longest_at = None
count = 0
while not stop and time.monotonic() - start < args.seconds and count < 100000:
    count += 1
    began = time.monotonic()
    try:
        with urllib.request.urlopen(args.url, timeout=args.timeout) as response:
            node = response.read().decode().strip()
        now = time.monotonic()
        if last_ok is not None and now - last_ok > longest:
            longest, longest_at = now - last_ok, last_node
        if node != last_node:
            print(f"{now - start:8.3f}s answered by {node}", flush=True)
            last_node = node
        last_ok = now
    except Exception:
        pass
    time.sleep(max(0.0, args.interval - (time.monotonic() - began)))
# An outage still going on when the probe stops counts too (from the last answer to the end).
end = time.monotonic()
if last_ok is not None and end - last_ok > longest + 0.1:
    longest, longest_at = end - last_ok, f"{last_node}, still no answer at the end"
print(f"longest gap: {longest * 1000:.0f} ms (before: {longest_at})", flush=True)
