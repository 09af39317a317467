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
Before that, once: the standby's unloaded latency (a fresh standby origin, concurrency 1, 2 s, a
new connection per request, no proxy; its p50 is the reference of the admitted-latency goals)
and its capacity are measured directly (closed loop, concurrency 2 x workers, 5 s), and for firebreak a "calm" turn runs the same offered rate for 10 s with
primary and standby both alive (nothing may be refused).

--affinity: every request carries one of --sessions (300) session cookies (`Cookie: sid=s<k>`,
k drawn per request by a seeded generator), firebreak gets `[affinity] key = "cookie:sid"`, and
the report counts the sessions whose answers came from both sites (X-Origin of the answers). --sessions N alone sends the cookies and counts,
without firebreak's [affinity] (the baseline). --lose half: the primary is two backends and only
one is killed, so that firebreak splits the traffic (70 % primary, 30 % standby) instead of
failing over entirely: where affinity matters.

--replicas N (default 1): firebreak's turns run N firebreak processes (the fleet; each its own
ports, config and log in the turn's folder, a [fleet] table listing the others' admin
addresses), all in front of the same primary and standby; the generator spreads the requests
round-robin over them (a Kubernetes Service), in the warm-up, the calm phase and the load phase.
--replicas 1,3 runs both in one invocation (rows `firebreak` and `firebreak x3`), everything
else identical; the report adds per-replica rows and a "1 replica vs 3 replicas" table.
nginx and HAProxy stay single processes.
"""

import atexit
import json
import math
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LIB = os.path.join(ROOT, "benches", "lib")
sys.path.insert(0, LIB)
sys.path.insert(0, HERE)

from procs import Children, free_ports, logger, require, wait_until  # noqa: E402
from procs import git_state as git_state_of  # noqa: E402
from traffic import july_rates  # noqa: E402
import admin  # noqa: E402  (benches/july)
import proxies as proxy_kit  # noqa: E402
from options import options  # noqa: E402

PY = sys.executable
ORIGIN = os.path.join(LIB, "origin.py")

PRIMARY = {"workers": 64, "service_ms": 2}
STANDBY = {"workers": 2, "service_ms": 20}


log = logger("july")


def row_name(proxy, replicas=1):
    """A row's (and its files') name: the proxy, or firebreak-x<N> for a fleet of N > 1."""
    return proxy if replicas == 1 else "%s-x%d" % (proxy, replicas)


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
        wait_until(lambda: admin.http_get(port, "/health")[0] == 200, 10, "origin %s" % name)

    def load(self, ports, rates, duration, out, label):
        """Open-loop load; with several ports (a fleet) spread round-robin over them."""
        argv = [PY, os.path.join(HERE, "load.py"), "open", "--duration", str(duration),
                "--timeout", str(self.a.timeout), "--label", label,
                "--tenants", str(self.a.tenants), "--sessions", str(self.a.sessions), "--out", out]
        for port in ports:
            argv += ["--target", "127.0.0.1:%d" % port]
        for cls, rate, path in rates:
            argv += ["--rate", "%s=%s:%s" % (cls, rate, path)]
        subprocess.run(argv, check=True, timeout=duration + self.a.timeout + 60)

    def measure(self, port, conc, dur, out, *extra):
        """One `load.py capacity` run against an origin (closed loop), its result."""
        subprocess.run([PY, os.path.join(HERE, "load.py"), "capacity", "--target", "127.0.0.1:%d" % port,
                        "--concurrency", str(conc), "--duration", str(dur), "--out", out] + list(extra),
                       check=True, stdout=subprocess.DEVNULL, timeout=dur + 30)
        with open(out) as f:
            return json.load(f)

    def measure_capacity(self):
        d = os.path.join(self.out, "capacity")
        os.makedirs(d, exist_ok=True)
        pp, sp, up = free_ports(3)
        res = {}
        # The standby's unloaded latency: a fresh standby origin, one request at a time, each on a
        # new connection timed from before connect (as the load phase times them), no proxy.
        self.origin("standby-unloaded", up, STANDBY, d)
        res["standby_unloaded"] = self.measure(up, 1, self.a.unloaded_seconds, os.path.join(d, "standby-unloaded.json"),
                                               "--new-connections")
        self.kids.stop("standby-unloaded")
        u = res["standby_unloaded"]
        log("standby unloaded latency p50 %s ms, p99 %s ms (concurrency 1, %.0f s, %d requests)"
            % (u["latency_ms_p50"], u["latency_ms_p99"], u["duration"], u["ok"]))
        self.origin("standby", sp, STANDBY, d)
        self.origin("primary", pp, PRIMARY, d)
        for name, port, conc, dur in (("standby", sp, 2 * STANDBY["workers"], self.a.capacity_seconds),
                                      ("primary", pp, 2 * PRIMARY["workers"], 3)):
            res[name] = self.measure(port, conc, dur, os.path.join(d, "%s.json" % name))
        self.kids.stop("standby")
        self.kids.stop("primary")
        with open(os.path.join(self.out, "capacity.json"), "w") as f:
            json.dump(res, f, indent=1)
        log("standby capacity %.1f req/s (p50 %s ms at concurrency %d); primary >= %.0f req/s (generator-bound)"
            % (res["standby"]["rps"], res["standby"]["latency_ms_p50"], res["standby"]["concurrency"], res["primary"]["rps"]))
        return res

    def turn(self, proxy, total, calm=False, replicas=1):
        name = row_name(proxy, replicas)
        tag = name + ("-calm" if calm else "")
        d = os.path.join(self.out, tag)
        os.makedirs(d, exist_ok=True)
        pp, sp, pp2 = free_ports(3)
        # --lose half: a second primary backend (the same origin, named "primary" too) that
        # survives the kill.
        half = self.a.lose == "half"
        # How busy the machine is before this turn starts (other people's builds and tests).
        self.turns[tag] = {"loadavg_start": os.getloadavg(), "cpu_busy_before_pct": admin.cpu_busy(),
                           "replicas": replicas}
        self.origin("primary", pp, PRIMARY, d)
        if half:
            self.origin("primary-b", pp2, PRIMARY, d, shown="primary")
        self.origin("standby", sp, STANDBY, d)
        px = proxy_kit.start(self.kids, self.a, proxy, d, [pp, pp2] if half else pp, sp, replicas)
        log("%s: origins primary :%d%s standby :%d, proxy %s%s" % (
            tag, pp, (" + :%d (survives)" % pp2) if half else "", sp,
            " ".join(":%d" % p for p in px.listens),
            (" admin " + " ".join(":%d" % p for p in px.admins)) if px.admins else ""))
        log("%s: warm-up %ss at %s req/s, primary alive" % (tag, self.a.warmup_seconds, self.a.warmup_rate))
        self.load(px.listens, july_rates(self.a.warmup_rate), self.a.warmup_seconds,
                  os.path.join(self.out, "%s-warmup.json" % tag), tag + "-warmup")
        sampler = None
        if px.admins and not self.a.cold:
            waited = admin.wait_for_estimate(px.admins, 30, log)
            self.turns[tag]["estimate_wait_s"] = waited
            if waited:
                log("%s: standby estimate on every replica after %ss more" % (tag, waited))
        if px.admins:
            admin.save(px.admins, "/status", os.path.join(self.out, "%s-status-start" % tag), "json", log)
        if calm:
            duration = self.a.calm_seconds
            out = os.path.join(self.out, "%s.json" % tag)
            log("%s: %ss at %s req/s with primary and standby alive" % (tag, duration, total))
        else:
            duration = self.a.load_seconds
            out = os.path.join(self.out, "%s-load.json" % name)
            self.kids.kill("primary", signal.SIGKILL)
            self.turns[tag]["killed_wall"] = time.time()  # the load's wall_start minus this: its delay
            log("%s: primary%s SIGKILLed; load %ss at %s req/s"
                % (tag, " :%d (half of it)" % pp if half else "", duration, total))
        if px.admins:
            sampler = admin.StatusSampler(px.admins, duration, os.path.join(self.out, "%s-status" % tag))
            sampler.start()
        self.load(px.listens, july_rates(total), duration, out, tag)
        self.turns[tag]["loadavg_end"] = os.getloadavg()
        if sampler:
            sampler.join()
            admin.save(px.admins, "/metrics", os.path.join(self.out, "%s-metrics" % tag), "txt", log)
        px.stop(self.kids)
        self.kids.stop("standby")
        self.kids.stop("primary")
        self.kids.stop("primary-b")


def git_state():
    """The commit the replay ran on, and which tracked files differed from it."""
    return git_state_of(ROOT)


def main():
    a = options(__doc__, ROOT)
    proxies = [p for p in a.proxies.split(",") if p]
    for p in proxies:
        if p not in ("firebreak", "nginx", "haproxy"):
            sys.exit("unknown proxy " + p)
    if set(proxies) - {"firebreak"}:
        require([p for p in proxies if p != "firebreak"], "or pass --proxies firebreak")
    if "firebreak" in proxies and not os.access(a.firebreak_bin, os.X_OK):
        sys.exit("no firebreak binary at %s (run.sh builds it)" % a.firebreak_bin)
    os.makedirs(a.out, exist_ok=True)
    a.fleet_note = None
    a.fleet = False
    if "firebreak" in proxies and max(a.replicas) > 1 and a.fleet != "off":
        ok, said = proxy_kit.fleet_supported(a.firebreak_bin, a.out)
        a.fleet = ok
        if not ok:
            if a.fleet == "on":
                sys.exit("--fleet on: %s rejects [fleet]: %s" % (a.firebreak_bin, said))
            a.fleet_note = "omitted, the binary rejects it (%s)" % said
            log("WARNING: [fleet] %s; the replicas run without it (it carries operator state only)" % a.fleet_note)
    # (turn name, proxy, replicas), in the order they run
    rows = [(row_name(p, n), p, n) for p in proxies for n in (a.replicas if p == "firebreak" else [1])]

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
        "rows": [r[0] for r in rows],
        "replicas": {r[0]: r[2] for r in rows},
        "fleet": ("table (peers, sync_every 1s)" if a.fleet else (a.fleet_note or "off"))
        if max(a.replicas) > 1 and "firebreak" in proxies else None,
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

    for _, p, n in rows:
        if p == "firebreak":
            replay.turn(p, total, calm=True, replicas=n)
    for _, p, n in rows:
        replay.turn(p, total, replicas=n)
        time.sleep(1.0)

    meta["loadavg_end"] = os.getloadavg()
    meta["turns"] = replay.turns
    with open(os.path.join(a.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    import report

    table = report.render(a.out)
    with open(os.path.join(a.out, "table.txt"), "w") as f:
        f.write(table + "\n")
    print(table)
    log("results and logs: %s" % a.out)


if __name__ == "__main__":
    main()
