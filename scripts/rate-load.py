#!/usr/bin/env python3
"""Open-loop load at a fixed request rate over keep-alive connections; prints latency percentiles.

Usage: rate-load.py URL RATE SECONDS [HEADER:VALUE ...]   (loopback targets only)
Each request is scheduled at its start time (no coordinated omission: a late request's latency counts from
when it was due).
"""
import http.client, sys, threading, time, urllib.parse

url, rate, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
headers = dict(h.split(":", 1) for h in sys.argv[4:])
target = urllib.parse.urlsplit(url)
assert target.hostname in ("127.0.0.1", "::1", "localhost"), "loopback only"
total = int(rate * seconds)
workers = 16
latencies, statuses, lock = [], {}, threading.Lock()
start = time.perf_counter() + 0.2

def worker(index):
    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
    for n in range(index, total, workers):
        due = start + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        try:
            conn.request("GET", target.path or "/", headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
        except Exception:
            conn.close()
            conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
            status = "error"
        elapsed = time.perf_counter() - due
        with lock:
            latencies.append(elapsed)
            statuses[status] = statuses.get(status, 0) + 1

threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
for t in threads: t.start()
for t in threads: t.join()
latencies.sort()
def pct(p): return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000
print(f"{len(latencies)} requests at {rate:.0f}/s: p50 {pct(50):.1f} ms, p90 {pct(90):.1f} ms, "
      f"p99 {pct(99):.1f} ms, max {latencies[-1]*1000:.1f} ms; statuses {statuses}")
