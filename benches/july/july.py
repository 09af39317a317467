#!/usr/bin/env python3
"""The July replay: the July incident, replayed against firebreak, nginx and HAProxy.

Run it through `benches/july/run.sh` (which installs nginx/haproxy and builds firebreak);
see benches/july/README.md. Standard library only. Every process it starts runs in its own
session; all of them are stopped on exit (normal end, error, SIGINT or SIGTERM), and their
process-group ids are listed in RESULTS/pids while they run so run.sh can stop them even if
this script is killed.

The scenario, identical for each proxy, one proxy at a time:
  1. start two origins (benches/lib/origin.py): primary (64 workers x 2 ms) and standby
     (2 workers x 20 ms);
  2. start the proxy in front of them (primary preferred, standby as backup tier);
  3. warm up: 5 s at a modest rate through the proxy, primary alive;
  4. SIGKILL the primary;
  5. drive the load at >= 3x the standby's directly measured capacity for 20 s
     (15 % critical /login, 45 % normal /orders, 40 % bulk /reports), open loop;
  6. collect, stop everything.
Before that, once: the standby's capacity is measured directly (closed loop, concurrency
2 x workers, 5 s), and for firebreak a "calm" turn runs the same offered rate for 10 s with
primary and standby both alive (nothing may be refused).

--affinity: every request carries one of --sessions (300) session cookies (`Cookie: sid=s<k>`,
k drawn per request by a seeded generator), firebreak gets `[affinity] key = "cookie:sid"`, and
the report counts the sessions whose answers came from both sites (X-Origin of the answers). --sessions N alone sends the cookies and counts,
without firebreak's [affinity] (the baseline). --lose half: the primary is two backends and only
one is killed, so that firebreak splits the traffic (70 % primary, 30 % standby) instead of
failing over entirely: where affinity matters.
"""

import argparse
import atexit
import http.client
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time

LIB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib")
sys.path.insert(0, LIB)
from procs import Children, free_ports, logger, require, wait_until  # noqa: E402
from procs import git_state as git_state_of  # noqa: E402
from traffic import july_rates  # noqa: E402
from configs import firebreak_conf, haproxy_conf, nginx_conf  # noqa: E402  (benches/july)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PY = sys.executable
ORIGIN = os.path.join(LIB, "origin.py")

PRIMARY = {"workers": 64, "service_ms": 2}
STANDBY = {"workers": 2, "service_ms": 20}


log = logger("july")


def cpu_busy(seconds=1.0):
    """Share of the machine's CPU time that was busy over `seconds` (from /proc/stat), in %."""

    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + (v[4] if len(v) > 4 else 0)
        return sum(v), idle

    try:
        t1, i1 = sample()
        time.sleep(seconds)
        t2, i2 = sample()
        return round(100.0 * (1 - (i2 - i1) / max(1, t2 - t1)), 1)
    except OSError:
        return None


def http_get(port, path, timeout=1.0):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path, headers={"Accept": "application/json"})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


class Replay:
    def __init__(self, a):
        self.a = a
        self.out = a.out
        os.makedirs(self.out, exist_ok=True)
        self.kids = Children(os.path.join(self.out, "pids"))
        self.turns = {}

    def origin(self, name, port, spec, d, shown=None):
        """Starts origin child `name`; it answers with X-Origin `shown` (default: `name`; the
        second primary backend of --lose half is "primary" too)."""
        shown = shown or name
        self.kids.start(
            name,
            [PY, ORIGIN, "--port", str(port), "--workers", str(spec["workers"]),
             "--service-ms", str(spec["service_ms"]), "--name", shown],
            os.path.join(d, "origin-%s.log" % name),
        )
        wait_until(lambda: http_get(port, "/health")[0] == 200, 10, "origin %s" % name)

    def load(self, port, rates, duration, out, label):
        argv = [PY, os.path.join(HERE, "load.py"), "open", "--target", "127.0.0.1:%d" % port,
                "--duration", str(duration), "--timeout", str(self.a.timeout), "--label", label,
                "--tenants", str(self.a.tenants), "--sessions", str(self.a.sessions), "--out", out]
        for cls, rate, path in rates:
            argv += ["--rate", "%s=%s:%s" % (cls, rate, path)]
        subprocess.run(argv, check=True, timeout=duration + self.a.timeout + 60)

    def measure_capacity(self):
        d = os.path.join(self.out, "capacity")
        os.makedirs(d, exist_ok=True)
        pp, sp = free_ports(2)
        self.origin("standby", sp, STANDBY, d)
        self.origin("primary", pp, PRIMARY, d)
        res = {}
        for name, port, conc, dur in (("standby", sp, 2 * STANDBY["workers"], self.a.capacity_seconds),
                                      ("primary", pp, 2 * PRIMARY["workers"], 3)):
            o = os.path.join(d, "%s.json" % name)
            subprocess.run([PY, os.path.join(HERE, "load.py"), "capacity", "--target", "127.0.0.1:%d" % port,
                            "--concurrency", str(conc), "--duration", str(dur), "--out", o],
                           check=True, stdout=subprocess.DEVNULL, timeout=dur + 30)
            with open(o) as f:
                res[name] = json.load(f)
        self.kids.stop("standby")
        self.kids.stop("primary")
        with open(os.path.join(self.out, "capacity.json"), "w") as f:
            json.dump(res, f, indent=1)
        log("standby capacity %.1f req/s (p50 %s ms at concurrency %d); primary >= %.0f req/s (generator-bound)"
            % (res["standby"]["rps"], res["standby"]["latency_ms_p50"], res["standby"]["concurrency"], res["primary"]["rps"]))
        return res

    def start_proxy(self, proxy, d, listen, admin, pp, sp):
        """`pp`: the primary's port, or its ports (--lose half)."""
        if proxy == "firebreak":
            conf = os.path.join(d, "firebreak.toml")
            with open(conf, "w") as f:
                f.write(firebreak_conf(listen, admin, pp, sp, affinity=self.a.affinity))
            subprocess.run([self.a.firebreak_bin, "check", "--config", conf], check=True)
            self.kids.start("proxy", [self.a.firebreak_bin, "run", "--config", conf], os.path.join(d, "firebreak.log"))
        elif proxy == "nginx":
            conf = os.path.join(d, "nginx.conf")
            with open(conf, "w") as f:
                f.write(nginx_conf(listen, pp, sp, d))
            base = ["nginx", "-p", d, "-e", os.path.join(d, "nginx-error.log"), "-c", conf]
            subprocess.run(base + ["-t", "-q"], check=True)
            self.kids.start("proxy", base + ["-g", "daemon off;"], os.path.join(d, "nginx.out"))
        elif proxy == "haproxy":
            conf = os.path.join(d, "haproxy.cfg")
            with open(conf, "w") as f:
                f.write(haproxy_conf(listen, pp, sp, d))
            subprocess.run(["haproxy", "-c", "-q", "-f", conf], check=True)
            self.kids.start("proxy", ["haproxy", "-f", conf, "-db"], os.path.join(d, "haproxy.log"))
        else:
            raise ValueError(proxy)

        def ready():
            if not self.kids.alive("proxy"):
                raise RuntimeError("%s exited; see %s" % (proxy, d))
            return http_get(listen, "/orders/ready")[0] == 200

        wait_until(ready, 20, "%s to serve" % proxy)

    def turn(self, proxy, total, calm=False):
        tag = proxy + ("-calm" if calm else "")
        d = os.path.join(self.out, tag)
        os.makedirs(d, exist_ok=True)
        pp, sp, listen, admin, pp2 = free_ports(5)
        # --lose half: a second primary backend (the same origin, named "primary" too) that
        # survives the kill.
        half = self.a.lose == "half"
        # How busy the machine is before this turn starts (other people's builds and tests).
        self.turns[tag] = {"loadavg_start": os.getloadavg(), "cpu_busy_before_pct": cpu_busy()}
        log("%s: origins primary :%d%s standby :%d, proxy :%d%s" % (
            tag, pp, (" + :%d (survives)" % pp2) if half else "", sp, listen,
            " admin :%d" % admin if proxy == "firebreak" else ""))
        self.origin("primary", pp, PRIMARY, d)
        if half:
            self.origin("primary-b", pp2, PRIMARY, d, shown="primary")
        self.origin("standby", sp, STANDBY, d)
        self.start_proxy(proxy, d, listen, admin, [pp, pp2] if half else pp, sp)
        log("%s: warm-up %ss at %s req/s, primary alive" % (tag, self.a.warmup_seconds, self.a.warmup_rate))
        self.load(listen, july_rates(self.a.warmup_rate), self.a.warmup_seconds,
                  os.path.join(self.out, "%s-warmup.json" % tag), tag + "-warmup")
        sampler = None
        if proxy == "firebreak":
            self.save_admin(admin, "/status", os.path.join(self.out, "%s-status-start.json" % tag))
        if calm:
            duration = self.a.calm_seconds
            out = os.path.join(self.out, "firebreak-calm.json")
            log("%s: %ss at %s req/s with primary and standby alive" % (tag, duration, total))
        else:
            duration = self.a.load_seconds
            out = os.path.join(self.out, "%s-load.json" % proxy)
            self.kids.kill("primary", signal.SIGKILL)
            log("%s: primary%s SIGKILLed; load %ss at %s req/s"
                % (tag, " :%d (half of it)" % pp if half else "", duration, total))
        if proxy == "firebreak":
            sampler = StatusSampler(admin, duration, os.path.join(self.out, "%s-status" % tag))
            sampler.start()
        self.load(listen, july_rates(total), duration, out, tag)
        self.turns[tag]["loadavg_end"] = os.getloadavg()
        if sampler:
            sampler.join()
            self.save_admin(admin, "/metrics", os.path.join(self.out, "%s-metrics.txt" % tag))
        self.kids.stop("proxy")
        self.kids.stop("standby")
        self.kids.stop("primary")
        self.kids.stop("primary-b")

    def save_admin(self, admin, path, dest):
        try:
            status, body = http_get(admin, path, timeout=2)
            with open(dest, "wb") as f:
                f.write(body)
        except (OSError, http.client.HTTPException) as e:
            log("could not read admin %s: %s" % (path, e))


class StatusSampler(threading.Thread):
    """Polls firebreak's /status every second of the load phase; keeps the last one taken
    before the load ends as PREFIX-end.json and all of them in PREFIX.jsonl."""

    def __init__(self, admin, duration, prefix):
        super().__init__(daemon=True)
        self.admin, self.duration, self.prefix = admin, duration, prefix

    def run(self):
        t0 = time.time()
        end_taken = False
        with open(self.prefix + ".jsonl", "w") as series:
            while True:
                t = time.time() - t0
                if t > self.duration + 0.5:
                    break
                try:
                    _, body = http_get(self.admin, "/status", timeout=1)
                    st = json.loads(body)
                    series.write(json.dumps({"t": round(t, 2), "status": st}) + "\n")
                    if not end_taken and t >= self.duration - 0.7:
                        with open(self.prefix + "-end.json", "w") as f:
                            json.dump(st, f, indent=1)
                        end_taken = True
                except (OSError, ValueError, http.client.HTTPException):
                    pass
                nxt = math.floor(t) + 1.0
                if not end_taken and t < self.duration - 0.5 <= nxt:
                    nxt = self.duration - 0.5
                time.sleep(max(0.0, nxt - (time.time() - t0)))


def git_state():
    """The commit the replay ran on, and which tracked files differed from it."""
    return git_state_of(ROOT)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--firebreak-bin", default=os.path.join(ROOT, "target", "release", "firebreak"))
    ap.add_argument("--out", help="results directory (default target/july/<time>)")
    ap.add_argument("--proxies", default="firebreak,nginx,haproxy")
    ap.add_argument("--quick", action="store_true", help="8 s of load, 5 s of calm")
    ap.add_argument("--load-seconds", type=float, default=20.0)
    ap.add_argument("--calm-seconds", type=float, default=10.0)
    ap.add_argument("--warmup-seconds", type=float, default=5.0)
    ap.add_argument("--warmup-rate", type=int, default=60, help="req/s during warm-up (same mix)")
    ap.add_argument("--capacity-seconds", type=float, default=5.0)
    ap.add_argument("--factor", type=float, default=3.0, help="offered load / standby capacity (>= 3)")
    ap.add_argument("--min-rate", type=int, default=300, help="offered load is at least this (req/s)")
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--tenants", type=int, default=0, help="X-Tenant-Id spread over N tenants (0 = none)")
    ap.add_argument("--affinity", action="store_true",
                    help="session cookies (--sessions, default 300) on every request, firebreak with"
                         " [affinity] key = \"cookie:sid\"; the report counts sessions served by both sites")
    ap.add_argument("--sessions", type=int, default=None,
                    help="Cookie: sid=s<k> from N sessions and the both-sites count (default 0, or 300"
                         " with --affinity); without --affinity firebreak has no [affinity] (the baseline)")
    ap.add_argument("--lose", choices=("all", "half"), default="all",
                    help="all: the primary (one backend) is killed, the July incident; half: the primary"
                         " is two backends and one is killed, so firebreak splits the traffic 70/30")
    a = ap.parse_args()
    if a.sessions is None:
        a.sessions = 300 if a.affinity else 0
    if a.affinity and a.sessions <= 0:
        sys.exit("--affinity needs --sessions > 0")
    if a.quick:
        a.load_seconds, a.calm_seconds = 8.0, 5.0
    if not a.out:
        a.out = os.path.join(ROOT, "target", "july", time.strftime("%Y%m%d-%H%M%S"))
    a.out = os.path.abspath(a.out)
    # children run in their turn's folder: a relative FIREBREAK_BIN must not depend on that
    a.firebreak_bin = os.path.abspath(a.firebreak_bin)
    proxies = [p for p in a.proxies.split(",") if p]
    for p in proxies:
        if p not in ("firebreak", "nginx", "haproxy"):
            sys.exit("unknown proxy " + p)
    if set(proxies) - {"firebreak"}:
        require([p for p in proxies if p != "firebreak"], "or pass --proxies firebreak")
    if "firebreak" in proxies and not os.access(a.firebreak_bin, os.X_OK):
        sys.exit("no firebreak binary at %s (run.sh builds it)" % a.firebreak_bin)

    replay = Replay(a)
    atexit.register(replay.kids.stop_all)

    def on_signal(sig, _frame):
        raise SystemExit(128 + sig)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    log("results in %s" % a.out)
    cap = replay.measure_capacity()
    capacity = cap["standby"]["rps"]
    total = max(a.min_rate, int(math.ceil(a.factor * capacity)))
    rates = july_rates(total)
    meta = {
        "proxies": proxies,
        "load_seconds": a.load_seconds,
        "calm_seconds": a.calm_seconds,
        "warmup_seconds": a.warmup_seconds,
        "warmup_rate": a.warmup_rate,
        "timeout": a.timeout,
        "tenants": a.tenants,
        "affinity": a.affinity,
        "sessions": a.sessions,
        "lose": a.lose,
        "planned_rps": total,
        "rates": rates,
        "mix": ", ".join("%s %d/s %s" % (c, r, p) for c, r, p in rates),
        "standby": STANDBY,
        "primary": PRIMARY,
        "loadavg_start": os.getloadavg(),
        "firebreak_bin": a.firebreak_bin if "firebreak" in proxies else None,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "git": git_state(),
    }
    with open(os.path.join(a.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    log("offered load %d req/s = %.2f x standby capacity (%s)" % (total, total / capacity, meta["mix"]))

    if "firebreak" in proxies:
        replay.turn("firebreak", total, calm=True)
    for p in proxies:
        replay.turn(p, total)
        time.sleep(1.0)

    meta["loadavg_end"] = os.getloadavg()
    meta["turns"] = replay.turns
    with open(os.path.join(a.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    sys.path.insert(0, HERE)
    import report

    table = report.render(a.out)
    with open(os.path.join(a.out, "table.txt"), "w") as f:
        f.write(table + "\n")
    print(table)
    log("results and logs: %s" % a.out)


if __name__ == "__main__":
    main()
