#!/usr/bin/env python3
"""Training traffic for firebreak's profile-guided (PGO) build: `deploy/pgo/build.sh` runs an
instrumented firebreak under this, and the compiler then lays out the real build by what ran.

PGO optimises what the training runs and treats the rest as cold, so the training has to look
like production, not like a benchmark. Against three origins (a two-backend primary, a
one-backend standby; `benches/lib/origin.py`, 0-4 ms per request), one firebreak with two
worker threads, a plain and a TLS listener, health checks and the shipped routes' priorities
gets, at the same time (the clients and the PGO mix are in `benches/lib/traffic.py`; the
config is written by `benches/lib/fbconf.py`):

- HTTP/1.1 keep-alive clients over plain HTTP and over TLS: GET, HEAD and POST (JSON bodies)
  on login, order, API, report and default routes, with and without `Accept: text/html`, a
  tenant header and a client request id; some with `Connection: close`;
- HTTP/2 clients over TLS (`curl --http2 --parallel`, many streams on one connection);
- bad input on raw sockets: a malformed head (400), an oversized head (431), a body over the
  limit (413);
- operations: `/metrics` and `/status` scrapes, two `POST /reload`, maintenance on and off,
  one primary backend killed and restarted (connect failures, retries, health checks);
- a burst of bulk report clients past the admission limit, a tenth of the time (shedding).

Then SIGTERM: firebreak drains and exits 0, which writes the profile. Exit status 0 when the
proxy exited cleanly and every kind of traffic above got the answers it should; else 1.

    python3 deploy/pgo/train.py --bin target/pgo/gen/release/firebreak --seconds 60
"""

import argparse
import http.client
import json
import os
import shutil
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "benches", "lib"))
import fbconf  # noqa: E402
from procs import Children, free_ports, logger, wait_until  # noqa: E402
from selfsigned import make_cert  # noqa: E402
from traffic import PGO, Client, bad_input, h2_loop  # noqa: E402

log = logger("pgo-train")
TOKEN = "pgo-training"


def firebreak_conf(ports, d, s1_weight):
    """The training's firebreak config; the standby's weight changes between reloads."""
    health = fbconf.health("200ms", "150ms", rise=2, fall=2)
    return fbconf.config(
        threads=2, grace="5s", listen=ports["http"], admin=ports["admin"], token_env="PGO_TRAIN_TOKEN",
        https=[(ports["https"], os.path.join(d, "cert.pem"), os.path.join(d, "key.pem"))],
        pools=[fbconf.pool("primary", [(ports["p1"], 3), ports["p2"]], tier=0, health=health),
               fbconf.pool("standby", [(ports["s1"], s1_weight)], tier=1, health=health)],
        routes=[fbconf.route("login", "/login", "critical"),
                fbconf.route("orders", "/api/orders", "critical"),
                fbconf.route("reports", "/reports", "bulk"),
                fbconf.route("default", "/", "normal", shadow=0.05)],
        tables={"limits": {"max_body_bytes": "1MiB"},
                # max_limit 16: the 48 burst clients plus the 12 steady ones always pass the
                # gate's 2L burst allowance (32), so the shedding path is in every profile; the
                # fast origins alone never show the queueing that would shed earlier.
                "admission": {"initial_limit": 12, "max_limit": 16, "client_key": "header:X-Tenant-Id"}},
    )


def shed_counts(port):
    """`firebreak_shed_total` summed by reason, from /metrics."""
    _, text = admin(port, "GET", "/metrics")
    out = {}
    for line in text.split("\n"):
        if line.startswith("firebreak_shed_total{") and 'reason="' in line:
            reason = line.split('reason="', 1)[1].split('"', 1)[0]
            out[reason] = out.get(reason, 0) + int(float(line.rsplit(" ", 1)[1]))
    return out


def shed_past_limit(sheds):
    """Whether `shed_counts` shows a request shed for load (not for maintenance)."""
    return any(n > 0 for reason, n in sheds.items() if reason != "maintenance")


def admin(port, method, path, body=None):
    """(status, body text) of one admin API call, with the training token."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"}
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        c.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True, help="the (instrumented) firebreak binary")
    ap.add_argument("--seconds", type=float, default=60, help="length of the training traffic")
    ap.add_argument("--clients", type=int, default=12, help="HTTP/1.1 clients (plain and TLS)")
    a = ap.parse_args()
    a.bin = os.path.abspath(a.bin)  # the children run in the temp dir
    d = tempfile.mkdtemp(prefix="firebreak-pgo-")
    kids = Children(os.path.join(d, "pids"))
    try:
        return train(a, d, kids)
    finally:
        kids.stop_all()
        shutil.rmtree(d, ignore_errors=True)


def train(a, d, kids):
    make_cert(d)  # d/cert.pem and d/key.pem, which the config names
    names = ("http", "https", "admin", "p1", "p2", "s1")
    ports = dict(zip(names, free_ports(len(names))))
    origin = os.path.join(ROOT, "benches", "lib", "origin.py")

    def start_origin(name):
        kids.start(name, [sys.executable, origin, "--port", str(ports[name]), "--name", name, "--jitter-ms", "4",
                          "--log", os.path.join(d, "applied.log")], os.path.join(d, name + ".log"))

    for name in ("p1", "p2", "s1"):
        start_origin(name)
    conf = os.path.join(d, "firebreak.toml")

    def write_conf(s1_weight):
        with open(conf + ".new", "w") as f:
            f.write(firebreak_conf(ports, d, s1_weight))
        os.replace(conf + ".new", conf)

    write_conf(1)
    env = dict(os.environ, PGO_TRAIN_TOKEN=TOKEN, RUST_LOG="info,access=off")
    kids.start("firebreak", [a.bin, "run", "--config", conf], os.path.join(d, "firebreak.log"), env=env)
    wait_until(lambda: admin(ports["admin"], "GET", "/readyz")[0] == 200, 30, "firebreak to be ready",
               alive=lambda: kids.alive("firebreak"))

    stop = threading.Event()
    clients = [Client(ports["https" if i % 3 == 2 else "http"], PGO, i, stop, tls=i % 3 == 2,
                      close=i % 6 == 5, n_range=10000, tenants=20) for i in range(a.clients)]
    h2 = {}
    h2_thread = threading.Thread(target=h2_loop, args=(ports["https"], stop, h2), daemon=True)
    for t in clients + [h2_thread]:
        t.start()
    log("training for %.0f s: %d HTTP/1.1 clients, HTTP/2 via curl, operations on a timeline"
        % (a.seconds, a.clients))

    start = time.monotonic()
    checks = {}

    def at(fraction):
        time.sleep(max(0.0, start + a.seconds * fraction - time.monotonic()))

    at(0.15)
    checks["bad input 400/431/413"] = bad_input(ports["http"]) == (400, 431, 413)
    at(0.25)
    kids.kill("p2")  # a primary backend dies: connect failures, retries, health checks
    at(0.40)
    start_origin("p2")
    at(0.50)
    write_conf(2)
    checks["reload"] = admin(ports["admin"], "POST", "/reload")[0] == 200
    at(0.60)
    on = json.dumps({"enabled": True, "message": "Back at 14:00"})
    checks["maintenance on/off"] = admin(ports["admin"], "POST", "/maintenance", on)[0] == 200
    time.sleep(0.5)  # closed-loop clients get maintenance answers fast: keep it short
    checks["maintenance on/off"] &= admin(ports["admin"], "POST", "/maintenance",
                                          json.dumps({"enabled": False}))[0] == 200
    at(0.70)
    burst_stop = threading.Event()
    reports = [m for m in PGO if m[1] == "get-reports"]
    burst = [Client(ports["http"], reports, 1000 + i, burst_stop, n_range=10000, tenants=20) for i in range(48)]
    for c in burst:  # bulk reports past the admission limit for a while: they are shed
        c.start()
    at(0.80)
    # How soon the gate is full depends on the machine; on a slow one give the burst up to 5 s
    # to be shed at least once, so that the shedding path is in every profile.
    burst_end = time.monotonic() + 5.0
    while not shed_past_limit(shed_counts(ports["admin"])) and time.monotonic() < burst_end:
        time.sleep(0.2)
    burst_stop.set()
    write_conf(1)
    checks["reload"] &= admin(ports["admin"], "POST", "/reload")[0] == 200
    while time.monotonic() < start + a.seconds:
        for path in ("/metrics", "/status", "/healthz"):
            admin(ports["admin"], "GET", path)
        time.sleep(0.5)
    stop.set()
    for t in clients + burst + [h2_thread]:
        t.join(60)
    sheds = shed_counts(ports["admin"])
    log("shed by reason: %s" % sheds)

    code = kids.stop("firebreak", grace=30.0)
    statuses = {}
    for c in clients + burst:
        for s, n in c.statuses.items():
            statuses[s] = statuses.get(s, 0) + n
    log("answers by status: %s; HTTP/2 (version status: count): %s" % (dict(sorted(statuses.items())), h2))
    checks["firebreak exited 0"] = code == 0
    checks["2xx answers"] = statuses.get(200, 0) > 0
    checks["HTTP/2 answers"] = h2.get("2 200", 0) > 0
    checks["maintenance or shed answers (503)"] = statuses.get(503, 0) > 0
    checks["shed past the admission limit"] = shed_past_limit(sheds)
    for name, ok in checks.items():
        log("%s: %s" % (name, "ok" if ok else "FAILED"))
    if not all(checks.values()):
        sys.stdout.flush()
        with open(os.path.join(d, "firebreak.log"), errors="replace") as f:
            sys.stderr.write(f.read()[-4000:])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
