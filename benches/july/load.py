#!/usr/bin/env python3
"""Load generator of the July replay (asyncio, standard library only).

Two modes.

open  -- open-loop load at fixed arrival rates, one rate per class:

    python3 load.py open --target 127.0.0.1:8080 --duration 20 \\
        --rate critical=45:/login --rate normal=135:/orders --rate bulk=120:/reports \\
        --out results.json

  Arrivals of each class are evenly spaced (1/rate apart, a random phase per class) and do
  not wait for earlier answers: a slow proxy gets more concurrent requests, as it would from
  real users. Every request goes on a NEW connection (`Connection: close`), like independent
  browsers and integrations; no pool means no head-of-line blocking inside the generator and
  no hidden client-side queue. Each request has a 5 s deadline (`--timeout`) covering connect,
  send and the whole answer; past it the request is recorded as a timeout.

  Latency is measured from the moment the generator starts the request (before connect) to
  the last byte of the answer. Arrivals never wait for answers (open loop), so slow answers
  cannot hold back later requests; what can delay a start is only the generator's own CPU.
  That lag (actual start - scheduled start) is recorded per request and summarised (p50, p99,
  max) next to the achieved offered rate, so a run where the generator fell behind is visible
  and can be discarded. Add the lag to a latency to get the latency from the scheduled start.

  Each request's path is the class's prefix plus "/<n>" (e.g. /login/17). With --tenants N the
  requests carry `X-Tenant-Id: t<n mod N>`; without it (the default) no tenant header is sent.
  With --sessions N they carry a session cookie, `Cookie: sid=s<k>`, k drawn for each request
  uniformly from 0..N-1 by a seeded generator (the same k for request n in every run): N
  customers, each with requests of every class spread over the whole run (the affinity run,
  README.md). Not `n mod N`: the classes' arrivals repeat with a short period, and a session
  would then send one class only.

  --target may be given several times (the replicas of a fleet, benches/july --replicas): the
  requests are then spread round-robin over the targets, request n to target n mod T, as a
  Kubernetes Service spreads new connections (IPVS round-robin); the schedule, the sessions and
  everything else stay as with one target, so only the spreading differs.

  Output JSON: {"mode": "open", "target", "targets", "duration", "timeout", "rates": {class:
  [rate, path]}, "started": n, "offered_rps": achieved, "lag_ms": {p50, p99, max},
  "requests": [[class, scheduled_s, lag_s, status, latency_s, error, session, origin, target],
  ...]}
  status is 0 when no answer came; error is "" or timeout / connect / reset / protocol; session
  is the cookie's number (null without --sessions); origin is the answer's X-Origin header (the
  origin that served it: benches/lib/origin.py names itself there), null when there was none;
  target is the index (0-based) in the --target list of the address the request went to.

capacity -- the directly measured capacity of one origin: closed loop, `--concurrency`
  keep-alive connections each sending the next request as soon as the previous one is
  answered, for `--duration` seconds; prints (and with --out writes) {"rps": ..., ...}.
  With --new-connections every request opens a new connection (`Connection: close`) and its
  latency runs from before connect, as in open mode: july.py's unloaded latency of the standby
  (concurrency 1, 2 s), the reference of the admitted-latency goals.

    python3 load.py capacity --target 127.0.0.1:9002 --concurrency 4 --duration 5
"""

import argparse
import asyncio
import json
import random
import sys
import time

from http1 import ProtocolError, pct, read_response  # noqa: F401  (pct: report.py's import too)


async def one_request(host, port, path, tenant, session=None):
    """(status, X-Origin header or None) of one GET on a new connection."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        req = "GET %s HTTP/1.1\r\nHost: firetms.test\r\nUser-Agent: firebreak-july\r\nAccept: application/json\r\n" % path
        if tenant is not None:
            req += "X-Tenant-Id: %s\r\n" % tenant
        if session is not None:
            req += "Cookie: sid=s%d\r\n" % session
        req += "Connection: close\r\n\r\n"
        writer.write(req.encode())
        await writer.drain()
        status, headers, _ = await read_response(reader)
        return status, headers.get("x-origin")
    finally:
        writer.close()


async def run_open(a):
    targets = [(t.rpartition(":")[0], int(t.rpartition(":")[2])) for t in a.target]
    classes = []
    for spec in a.rate:
        name, _, rest = spec.partition("=")
        rate, _, path = rest.partition(":")
        classes.append((name, float(rate), path or "/"))
    rng = random.Random(a.seed)
    schedule = []
    for name, rate, path in classes:
        if rate <= 0:
            continue
        phase = rng.random() / rate
        n = int(a.duration * rate)
        for k in range(n):
            t = phase + k / rate
            if t < a.duration:
                schedule.append((t, name, path))
    schedule.sort()

    records = [None] * len(schedule)
    # --sessions: each request's session, drawn in advance so that every run gives request n
    # the same one (and every session a mix of the classes).
    srng = random.Random(a.seed * 1000003 + 7)
    session_of = [srng.randrange(a.sessions) for _ in schedule] if a.sessions else None
    loop = asyncio.get_running_loop()
    sem_started = 0

    async def fire(i, t_sched, name, path, t0):
        k = i % len(targets)  # round-robin over the replicas
        host, port = targets[k]
        t_start = loop.time()
        lag = t_start - t0 - t_sched
        tenant = ("t%d" % (i % a.tenants)) if a.tenants else None
        session = session_of[i] if session_of else None
        status, err, origin = 0, "", None
        try:
            status, origin = await asyncio.wait_for(
                one_request(host, port, "%s/%d" % (path.rstrip("/"), i), tenant, session), a.timeout
            )
        except asyncio.TimeoutError:
            err = "timeout"
        except (ConnectionRefusedError, OSError) as e:
            err = "connect" if isinstance(e, ConnectionRefusedError) else "reset"
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ProtocolError, ValueError):
            err = "protocol"
        latency = loop.time() - t_start
        records[i] = [name, round(t_sched, 6), round(lag, 6), status, round(latency, 6), err, session, origin, k]

    tasks = []
    t0 = loop.time()
    wall0 = time.time()
    for i, (t, name, path) in enumerate(schedule):
        delay = t0 + t - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(fire(i, t, name, path, t0)))
        sem_started += 1
    t_sent = loop.time() - t0
    await asyncio.gather(*tasks)
    lags = [r[2] for r in records]
    out = {
        "mode": "open",
        "label": a.label,
        "target": a.target[0],
        "targets": a.target,
        "duration": a.duration,
        "timeout": a.timeout,
        "tenants": a.tenants,
        "sessions": a.sessions,
        "wall_start": wall0,
        "rates": {n: [r, p] for n, r, p in classes},
        "planned_rps": sum(r for _, r, _ in classes),
        "started": sem_started,
        "send_span_s": round(t_sent, 3),
        # requests actually started over the configured window
        "offered_rps": round(sem_started / a.duration, 2),
        "lag_ms": {
            "p50": round(1000 * pct(lags, 0.5), 2) if lags else None,
            "p99": round(1000 * pct(lags, 0.99), 2) if lags else None,
            "max": round(1000 * max(lags), 2) if lags else None,
        },
        "requests": records,
    }
    if a.out:
        with open(a.out, "w") as f:
            json.dump(out, f, separators=(",", ":"))
    ok = sum(1 for r in records if 200 <= r[3] < 300)
    print(
        "load %s: %d requests in %.1fs (offered %.1f/s, lag p99 %.1f ms), %d 2xx"
        % (a.label or ",".join(a.target), len(records), a.duration, out["offered_rps"], out["lag_ms"]["p99"] or 0, ok),
        file=sys.stderr,
    )


async def run_capacity(a):
    host, _, port = a.target.rpartition(":")
    port = int(port)
    loop = asyncio.get_running_loop()
    done = 0
    errors = 0
    lat = []
    stop_at = loop.time() + a.duration

    async def worker(w):
        nonlocal done, errors
        reader = writer = None
        i = 0
        while loop.time() < stop_at:
            try:
                t = loop.time()  # with --new-connections: before connect, as in open mode
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port)
                if not a.new_connections:
                    t = loop.time()
                writer.write(
                    ("GET %s/%d-%d HTTP/1.1\r\nHost: firetms.test\r\n%s\r\n"
                     % (a.path.rstrip("/"), w, i, "Connection: close\r\n" if a.new_connections else "")).encode()
                )
                await writer.drain()
                status, headers, _ = await asyncio.wait_for(read_response(reader), a.timeout)
                i += 1
                # count only answers completed inside the window
                if loop.time() <= stop_at:
                    if 200 <= status < 300:
                        done += 1
                        lat.append(loop.time() - t)
                    else:
                        errors += 1
                if a.new_connections or "close" in headers.get("connection", "").lower():
                    writer.close()
                    writer = None
            except Exception:
                errors += 1
                if writer is not None:
                    writer.close()
                writer = None
                await asyncio.sleep(0.01)
        if writer is not None:
            writer.close()

    t0 = loop.time()
    await asyncio.gather(*(worker(w) for w in range(a.concurrency)))
    span = min(loop.time(), stop_at) - t0
    out = {
        "mode": "capacity",
        "target": a.target,
        "concurrency": a.concurrency,
        "new_connections": a.new_connections,
        "duration": round(span, 3),
        "ok": done,
        "errors": errors,
        "rps": round(done / span, 2) if span > 0 else 0.0,
        "latency_ms_p50": round(1000 * pct(lat, 0.5), 2) if lat else None,
        "latency_ms_p99": round(1000 * pct(lat, 0.99), 2) if lat else None,
    }
    if a.out:
        with open(a.out, "w") as f:
            json.dump(out, f, indent=1)
    print(json.dumps(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    o = sub.add_parser("open", help="open-loop load at fixed rates per class")
    o.add_argument("--target", required=True, action="append",
                   help="HOST:PORT (loopback); repeatable: requests go round-robin over the targets")
    o.add_argument("--rate", action="append", required=True, help="CLASS=RATE:/PATH, repeatable")
    o.add_argument("--duration", type=float, default=20.0)
    o.add_argument("--timeout", type=float, default=5.0)
    o.add_argument("--tenants", type=int, default=0, help="send X-Tenant-Id from N tenants (0 = none)")
    o.add_argument("--sessions", type=int, default=0,
                   help="send Cookie: sid=s<k>, k one of N sessions drawn per request (0 = no cookie)")
    o.add_argument("--seed", type=int, default=1)
    o.add_argument("--label", default="")
    o.add_argument("--out")
    c = sub.add_parser("capacity", help="closed-loop direct capacity of one origin")
    c.add_argument("--target", required=True)
    c.add_argument("--concurrency", type=int, default=4)
    c.add_argument("--duration", type=float, default=5.0)
    c.add_argument("--timeout", type=float, default=5.0)
    c.add_argument("--path", default="/orders")
    c.add_argument("--new-connections", action="store_true",
                   help="a new connection per request (Connection: close), the latency timed from before"
                        " connect as in open mode (the standby's unloaded latency, july.py)")
    c.add_argument("--out")
    a = ap.parse_args()
    for t in a.target if isinstance(a.target, list) else [a.target]:
        host = t.rpartition(":")[0]
        if host not in ("127.0.0.1", "localhost", "::1", "[::1]"):
            sys.exit("load.py: the July replay only sends traffic to loopback, not %s" % host)
    asyncio.run(run_open(a) if a.mode == "open" else run_capacity(a))


if __name__ == "__main__":
    main()
