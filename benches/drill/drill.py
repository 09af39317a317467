#!/usr/bin/env python3
"""The overload drill: the July incident, replayed against firebreak, nginx and HAProxy.

Run it through `benches/drill/run.sh` (which installs nginx/haproxy and builds firebreak);
see benches/drill/README.md. Standard library only. Every process it starts runs in its own
session; all of them are stopped on exit (normal end, error, SIGINT or SIGTERM), and their
process-group ids are listed in RESULTS/pids while they run so run.sh can stop them even if
this script is killed.

The scenario, identical for each proxy, one proxy at a time:
  1. start two origins: primary (64 workers x 2 ms) and standby (2 workers x 20 ms);
  2. start the proxy in front of them (primary preferred, standby as backup tier);
  3. warm up: 5 s at a modest rate through the proxy, primary alive;
  4. SIGKILL the primary;
  5. drive the load at >= 3x the standby's directly measured capacity for 20 s
     (15 % critical /login, 45 % normal /orders, 40 % bulk /reports), open loop;
  6. collect, stop everything.
Before that, once: the standby's capacity is measured directly (closed loop, concurrency
2 x workers, 5 s), and for firebreak a "calm" turn runs the same offered rate for 10 s with
primary and standby both alive (nothing may be refused).
"""

import argparse
import atexit
import http.client
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PY = sys.executable

PRIMARY = {"workers": 64, "service_ms": 2}
STANDBY = {"workers": 2, "service_ms": 20}
MIX = (("critical", 0.15, "/login"), ("normal", 0.45, "/orders"), ("bulk", 0.40, "/reports"))


def log(msg):
    print("[drill %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# child processes


class Children:
    def __init__(self, pids_file):
        self.procs = {}
        self.pids_file = pids_file

    def _write(self):
        with open(self.pids_file, "w") as f:
            for p in self.procs.values():
                f.write("%d\n" % p.pid)

    def start(self, name, argv, logfile, env=None):
        out = open(logfile, "ab")
        p = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, env=env, cwd=os.path.dirname(logfile),
        )
        out.close()
        self.procs[name] = p
        self._write()
        return p

    def kill(self, name, sig=signal.SIGKILL):
        p = self.procs.get(name)
        if p is None:
            return
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass
        if sig == signal.SIGKILL:
            p.wait()
            del self.procs[name]
            self._write()

    def stop(self, name, grace=3.0):
        p = self.procs.get(name)
        if p is None:
            return
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        try:  # whatever is left of its group
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()
        del self.procs[name]
        self._write()

    def stop_all(self):
        for name in list(self.procs):
            self.stop(name, grace=1.0)

    def alive(self, name):
        p = self.procs.get(name)
        return p is not None and p.poll() is None


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


def free_ports(n):
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def http_get(port, path, timeout=1.0):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path, headers={"Accept": "application/json"})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def wait_until(fn, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        try:
            if fn():
                return
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.1)
    raise RuntimeError("timed out waiting for " + what)


# --------------------------------------------------------------------------------------------
# proxy configurations (equivalent to each other; see README.md for the mapping)


def firebreak_conf(listen, admin, primary, standby):
    return """\
# firebreak, generated by benches/drill/drill.py.
# Two pools: the primary (tier 0) and the small standby (tier 1, gradual spill). Health checks
# every 500 ms, 2 passes to rise, 2 failures to fall: the same as HAProxy's `inter 500 rise 2
# fall 2`. Timeouts as nginx's proxy_connect_timeout 1s / proxy_read_timeout 30s.
# Routes give the priorities: /login critical, /orders normal, /reports bulk, the rest normal.
# NO capacity number anywhere: there is no [admission] table, so overload protection runs
# with its defaults and learns the standby's limit from latency alone.
[server]
threads = 0                       # one worker thread per core (2 on the drill machine)
grace = "1s"

[listen]
http = ["127.0.0.1:%(listen)d"]

[admin]
listen = "127.0.0.1:%(admin)d"

[[pool]]
name = "primary"
tier = 0
connect_timeout = "1s"
read_timeout = "30s"
health = { path = "/health", interval = "500ms", timeout = "400ms", rise = 2, fall = 2 }
backends = [{ addr = "127.0.0.1:%(primary)d", weight = 1 }]

[[pool]]
name = "standby"
tier = 1
spill = "gradual"
connect_timeout = "1s"
read_timeout = "30s"
health = { path = "/health", interval = "500ms", timeout = "400ms", rise = 2, fall = 2 }
backends = [{ addr = "127.0.0.1:%(standby)d", weight = 1 }]

[[route]]
name = "login"
path_prefix = "/login"
priority = "critical"

[[route]]
name = "orders"
path_prefix = "/orders"
priority = "normal"

[[route]]
name = "reports"
path_prefix = "/reports"
priority = "bulk"

[[route]]
name = "default"
path_prefix = "/"
priority = "normal"
""" % dict(listen=listen, admin=admin, primary=primary, standby=standby)


def nginx_conf(listen, primary, standby, d):
    user = "user root;\n" if os.geteuid() == 0 else ""
    return """\
# nginx, generated by benches/drill/drill.py: the classic primary + `backup` setup.
# Open-source nginx has no active health checks and no queue limit: the primary is marked
# failed passively (max_fails=1 fail_timeout=10s) and everything then goes to the backup,
# which gets every request at once. proxy_next_upstream retries a refused connect on the
# backup. Timeouts as firebreak's connect_timeout 1s / read_timeout 30s. One worker process.
%(user)sworker_processes 1;
pid %(d)s/nginx.pid;
error_log %(d)s/nginx-error.log warn;
worker_rlimit_nofile 16384;
events { worker_connections 8192; }
http {
    access_log %(d)s/nginx-access.log;
    client_body_temp_path %(d)s/client_body;
    proxy_temp_path %(d)s/proxy;
    fastcgi_temp_path %(d)s/fastcgi;
    uwsgi_temp_path %(d)s/uwsgi;
    scgi_temp_path %(d)s/scgi;
    upstream firetms {
        server 127.0.0.1:%(primary)d max_fails=1 fail_timeout=10s;
        server 127.0.0.1:%(standby)d backup;
        keepalive 32;
    }
    server {
        listen 127.0.0.1:%(listen)d;
        location / {
            proxy_pass http://firetms;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_next_upstream error timeout http_502;
            proxy_connect_timeout 1s;
            proxy_read_timeout 30s;
        }
    }
}
""" % dict(user=user, d=d, listen=listen, primary=primary, standby=standby)


def haproxy_conf(listen, primary, standby, d):
    return """\
# HAProxy, generated by benches/drill/drill.py: hand-tuned with the capacity numbers that
# firebreak does without. The standby is a `backup` server limited to maxconn 2 (= its
# workers); the excess waits in HAProxy's queue for at most `timeout queue 1s`, then gets 503.
# Queued requests are served by priority class: /login (critical) first, /reports (bulk) last
# (lower class = served first). Active health checks GET /health every 500 ms, fall 2, rise 2,
# like firebreak's. Timeouts as firebreak's connect 1s / read 30s. A refused connect to the
# dead primary is retried and redispatched (until the checks mark it down).
global
    maxconn 8192
    pidfile %(d)s/haproxy.pid

defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout queue 1s
    timeout check 400ms
    retries 2
    option redispatch 1

frontend fe
    bind 127.0.0.1:%(listen)d
    http-request set-priority-class int(-10) if { path_beg /login }
    http-request set-priority-class int(10) if { path_beg /reports }
    default_backend firetms

backend firetms
    option httpchk GET /health
    default-server inter 500 fall 2 rise 2
    server primary 127.0.0.1:%(primary)d check
    server standby 127.0.0.1:%(standby)d check backup maxconn 2
""" % dict(d=d, listen=listen, primary=primary, standby=standby)


# --------------------------------------------------------------------------------------------


class Drill:
    def __init__(self, a):
        self.a = a
        self.out = a.out
        os.makedirs(self.out, exist_ok=True)
        self.kids = Children(os.path.join(self.out, "pids"))
        self.turns = {}

    def origin(self, name, port, spec, d):
        self.kids.start(
            name,
            [PY, os.path.join(HERE, "origin.py"), "--port", str(port), "--workers", str(spec["workers"]),
             "--service-ms", str(spec["service_ms"]), "--name", name],
            os.path.join(d, "origin-%s.log" % name),
        )
        wait_until(lambda: http_get(port, "/health")[0] == 200, 10, "origin %s" % name)

    def load(self, port, rates, duration, out, label):
        argv = [PY, os.path.join(HERE, "load.py"), "open", "--target", "127.0.0.1:%d" % port,
                "--duration", str(duration), "--timeout", str(self.a.timeout), "--label", label,
                "--tenants", str(self.a.tenants), "--out", out]
        for cls, rate, path in rates:
            argv += ["--rate", "%s=%s:%s" % (cls, rate, path)]
        subprocess.run(argv, check=True, timeout=duration + self.a.timeout + 60)

    def rates(self, total):
        crit = round(total * MIX[0][1])
        norm = round(total * MIX[1][1])
        return [(MIX[0][0], crit, MIX[0][2]), (MIX[1][0], norm, MIX[1][2]), (MIX[2][0], total - crit - norm, MIX[2][2])]

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
        if proxy == "firebreak":
            conf = os.path.join(d, "firebreak.toml")
            with open(conf, "w") as f:
                f.write(firebreak_conf(listen, admin, pp, sp))
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
        pp, sp, listen, admin = free_ports(4)
        # How busy the machine is before this turn starts (other people's builds and tests).
        self.turns[tag] = {"loadavg_start": os.getloadavg(), "cpu_busy_before_pct": cpu_busy()}
        log("%s: origins primary :%d standby :%d, proxy :%d%s" % (tag, pp, sp, listen, " admin :%d" % admin if proxy == "firebreak" else ""))
        self.origin("primary", pp, PRIMARY, d)
        self.origin("standby", sp, STANDBY, d)
        self.start_proxy(proxy, d, listen, admin, pp, sp)
        log("%s: warm-up %ss at %s req/s, primary alive" % (tag, self.a.warmup_seconds, self.a.warmup_rate))
        self.load(listen, self.rates(self.a.warmup_rate), self.a.warmup_seconds,
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
            log("%s: primary SIGKILLed; load %ss at %s req/s" % (tag, duration, total))
        if proxy == "firebreak":
            sampler = StatusSampler(admin, duration, os.path.join(self.out, "%s-status" % tag))
            sampler.start()
        self.load(listen, self.rates(total), duration, out, tag)
        self.turns[tag]["loadavg_end"] = os.getloadavg()
        if sampler:
            sampler.join()
            self.save_admin(admin, "/metrics", os.path.join(self.out, "%s-metrics.txt" % tag))
        self.kids.stop("proxy")
        self.kids.stop("standby")
        self.kids.stop("primary")

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
    """The commit the drill ran on, and which tracked files differed from it."""
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.split("\n")
        return {"head": head, "modified": [ln[3:] for ln in dirty if ln.strip()]}
    except OSError:
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--firebreak-bin", default=os.path.join(ROOT, "target", "release", "firebreak"))
    ap.add_argument("--out", help="results directory (default target/drill/<time>)")
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
    a = ap.parse_args()
    if a.quick:
        a.load_seconds, a.calm_seconds = 8.0, 5.0
    if not a.out:
        a.out = os.path.join(ROOT, "target", "drill", time.strftime("%Y%m%d-%H%M%S"))
    a.out = os.path.abspath(a.out)
    proxies = [p for p in a.proxies.split(",") if p]
    for p in proxies:
        if p not in ("firebreak", "nginx", "haproxy"):
            sys.exit("unknown proxy " + p)
        if p != "firebreak" and not shutil.which(p):
            sys.exit("%s is not installed (run.sh installs it)" % p)
    if "firebreak" in proxies and not os.access(a.firebreak_bin, os.X_OK):
        sys.exit("no firebreak binary at %s (run.sh builds it)" % a.firebreak_bin)

    drill = Drill(a)
    atexit.register(drill.kids.stop_all)

    def on_signal(sig, _frame):
        raise SystemExit(128 + sig)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    log("results in %s" % a.out)
    cap = drill.measure_capacity()
    capacity = cap["standby"]["rps"]
    total = max(a.min_rate, int(math.ceil(a.factor * capacity)))
    rates = drill.rates(total)
    meta = {
        "proxies": proxies,
        "load_seconds": a.load_seconds,
        "calm_seconds": a.calm_seconds,
        "warmup_seconds": a.warmup_seconds,
        "warmup_rate": a.warmup_rate,
        "timeout": a.timeout,
        "tenants": a.tenants,
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
        drill.turn("firebreak", total, calm=True)
    for p in proxies:
        drill.turn(p, total)
        time.sleep(1.0)

    meta["loadavg_end"] = os.getloadavg()
    meta["turns"] = drill.turns
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
