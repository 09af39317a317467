#!/usr/bin/env python3
"""The first second of a failover, tried as a new user would (issue #18): start
`firebreak demo`, wait until its readiness probe has measured the standby (as a proxy that has
run for a while has), type `kill primary`, and at once send N concurrent `GET /reports`
requests (bulk priority; the demo's standby has 2 workers at 60 ms each). Prints how many were
served and refused and the latency of each kind; the goal is that no admitted request takes
more than 5x the standby's service time (300 ms).

    python3 benches/burst/run.py [--bin target/release/firebreak] [--n 200] [--delay 0]
        [--path /reports] [--cold]

`--delay S` waits S seconds after `kill primary` before the burst; `--cold` does not wait for
the standby measurement. Needs ports 8080, 9901, 18081-18082, 18091 free (the demo's).
Standard library only; all traffic stays on 127.0.0.1.
"""

import argparse
import http.client
import json
import os
import subprocess
import threading
import time

SERVICE_MS = 60.0  # the demo standby's service time


def get(port, path, timeout=10.0):
    t0 = time.monotonic()
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        c.request("GET", path, headers={"Accept": "application/json", "Connection": "close"})
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, (time.monotonic() - t0) * 1e3, body
    except OSError as e:
        return 0, (time.monotonic() - t0) * 1e3, str(e).encode()


def pct(xs, q):
    if not xs:
        return None
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(len(xs) * q))], 1)


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(root, "target", "release", "firebreak"))
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--path", default="/reports")
    ap.add_argument("--cold", action="store_true")
    a = ap.parse_args()
    demo = subprocess.Popen([a.bin, "demo"], cwd=root, stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 40
        est = None
        while time.monotonic() < deadline:
            st, _, body = get(9901, "/status", 1.0)
            if st == 200:
                est = (json.loads(body).get("standby") or {}).get("estimate")
                if est or a.cold:
                    break
            time.sleep(0.5)
        print("standby estimate before the kill: %s" % (
            "%.0f req/s, levels %s" % (est["capacity_rps"], est["levels"]) if est else "none"))
        demo.stdin.write(b"kill primary\n")
        demo.stdin.flush()
        time.sleep(a.delay)
        results = [None] * a.n
        go = threading.Event()

        def one(i):
            go.wait()
            results[i] = get(8080, a.path)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(a.n)]
        for t in threads:
            t.start()
        go.set()
        for t in threads:
            t.join()
        served = [r[1] for r in results if 200 <= r[0] < 300]
        refused = [r[1] for r in results if r[0] in (429, 503)]
        other = [r for r in results if not (200 <= r[0] < 300 or r[0] in (429, 503))]
        print("burst of %d concurrent GET %s, %.1f s after kill primary:" % (a.n, a.path, a.delay))
        print("  served %d: latency min %s p50 %s p99 %s max %s ms (%s the standby's %d ms)"
              % (len(served), pct(served, 0), pct(served, 0.5), pct(served, 0.99),
                 pct(served, 1.0),
                 "max %.1fx" % (max(served) / SERVICE_MS) if served else "-", SERVICE_MS))
        print("  refused %d: latency p50 %s p99 %s max %s ms" % (
            len(refused), pct(refused, 0.5), pct(refused, 0.99), pct(refused, 1.0)))
        reasons = {}
        for r in results:
            if r[0] in (429, 503):
                try:
                    why = json.loads(r[2]).get("reason", "?")
                except ValueError:
                    why = "?"
                reasons[why] = reasons.get(why, 0) + 1
        print("  refusal reasons: %s" % (", ".join("%s %d" % kv for kv in sorted(reasons.items())) or "-"))
        print("  other %d%s" % (len(other), (": " + repr(other[:3])) if other else ""))
        ok = bool(served) and max(served) <= 5 * SERVICE_MS
        print("goal (no admitted request over 5x %d ms): %s" % (SERVICE_MS, "ok" if ok else "MISSED"))
    finally:
        try:
            demo.stdin.write(b"quit\n")
            demo.stdin.flush()
            demo.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            demo.kill()


if __name__ == "__main__":
    main()
