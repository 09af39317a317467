#!/usr/bin/env python3
"""The firebreak soak: N minutes of mixed traffic while backends die and the config reloads.

Starts five origins (primary p1-p4, standby s1; benches/lib/origin.py), a release firebreak in
front of them, and the paced client traffic of benches/lib/traffic.py (its SOAK mix). Then,
until the time is up:
  * every --kill-every s one backend (in turn p1, p2, p3, p4, s1) is SIGKILLed and started
    again --down s later on the same port;
  * every --reload-every s the config is rewritten (weights, p4 in or out, slow start, a
    route's priority) and reloaded, by SIGHUP, `POST /reload` with the token and the file
    watcher in turn; every 9th reload is a broken file, which `POST /reload` must refuse (400);
  * every --sample s the proxy's RSS, threads and open fds are sampled.
Then traffic stops, the proxy gets SIGTERM, and report.py checks and prints the verdict.
Exit status 0 when every check passed. Python 3 standard library only.

    python3 benches/soak/soak.py --bin target/release/firebreak --minutes 30
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import report

HERE = os.path.dirname(os.path.abspath(__file__))
LIB = os.path.join(os.path.dirname(HERE), "lib")
sys.path.insert(0, LIB)
import fbconf  # noqa: E402  (benches/lib)
from traffic import Traffic  # noqa: E402

TOKEN = "soak-token"
NAMES = ["p1", "p2", "p3", "p4", "s1"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, port, path, body=b"", token=None, timeout=5):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=body or None,
                                 method=method)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return 0, b""


def config(ports, k, http_port, admin_port, broken=False):
    """Config variant k: weights rotate, p4 joins and leaves, slow start and a priority flip."""
    w = [1 + (k + i) % 4 for i in range(4)]
    primary = ["p1", "p2", "p3"] + (["p4"] if k % 4 in (1, 2) else [])
    pool = dict(connect_timeout="300ms", read_timeout="5s", slow_start="2s" if k % 2 else "0s",
                health=fbconf.health("200ms", "150ms", rise=2, fall=2))
    return fbconf.config(
        comment="soak config, reload %d" % k,
        threads=2, grace="5s", listen=http_port, admin=admin_port, token_env="FIREBREAK_SOAK_TOKEN",
        pools=[fbconf.pool("primary", [(ports[n], w[i]) for i, n in enumerate(primary)], tier=0, **pool),
               fbconf.pool("standby", [ports["s1"]], tier=1, **pool)],
        routes=[fbconf.route("login", "/login", "critical"),
                fbconf.route("reports", "/reports", "bulk" if k % 3 else "normal"),
                fbconf.route("api", "/api"),
                fbconf.route("api-host", "/api", host="soak.example"),
                fbconf.route("default", "/")],
        tail="[bogus]" if broken else "",  # an unknown table: the reload must be refused
    )


class Soak:
    def __init__(self, args):
        self.args = args
        self.out = args.out
        self.ports = {n: free_port() for n in NAMES}
        self.http_port, self.admin_port = free_port(), free_port()
        self.cfg = os.path.join(self.out, "firebreak.toml")
        self.applied_log = os.path.join(self.out, "applied.log")
        self.origins = {}
        self.stop = threading.Event()
        self.events = {"kills": 0, "restarts": 0, "reloads": [], "problems": []}
        self.timeline = []  # (monotonic time, what): kills, restarts, reloads
        self.samples = []  # (t, rss_kb, threads, fds, requests)

    def start_origin(self, name):
        self.origins[name] = subprocess.Popen(
            [sys.executable, os.path.join(LIB, "origin.py"), "--port", str(self.ports[name]),
             "--name", name, "--jitter-ms", "4", "--log", self.applied_log],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.out, name + ".err"), "a"))

    def write_config(self, text):
        tmp = self.cfg + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, self.cfg)

    def version(self):
        status, body = http("GET", self.admin_port, "/status")
        return json.loads(body)["version"] if status == 200 else None

    def killer(self):
        turn = 0
        while not self.stop.wait(self.args.kill_every):
            name = NAMES[turn % len(NAMES)]
            turn += 1
            self.origins[name].kill()
            self.origins[name].wait()
            self.timeline.append((time.monotonic(), "kill " + name))
            self.events["kills"] += 1
            if self.stop.wait(self.args.down):
                break
            self.start_origin(name)
            self.timeline.append((time.monotonic(), "restart " + name))
            self.events["restarts"] += 1

    def reloader(self):
        k = 0
        while not self.stop.wait(self.args.reload_every):
            k += 1
            broken = k % 9 == 0
            method = "post" if broken else ["hup", "post", "file"][k % 3]
            before = self.version()
            self.write_config(config(self.ports, k, self.http_port, self.admin_port, broken))
            t = time.monotonic()
            self.timeline.append((t, "reload %d by %s%s" % (k, method, " (broken)" * broken)))
            code = None
            if method == "post":
                code, _ = http("POST", self.admin_port, "/reload", token=TOKEN)
            elif method == "hup":
                self.proxy.send_signal(signal.SIGHUP)
            ok = code == 400 if broken else False
            while not broken and time.monotonic() - t < 8 and not ok:
                v = self.version()
                ok = v is not None and before is not None and v > before
                time.sleep(0.05)
            self.events["reloads"].append((method, broken, ok, time.monotonic() - t, code))
            if not ok:
                self.events["problems"].append("reload %d (%s) not applied/refused" % (k, method))
            if broken:  # put a good file back at once
                self.write_config(config(self.ports, k, self.http_port, self.admin_port))
                http("POST", self.admin_port, "/reload", token=TOKEN)

    def sample(self, t0, traffic):
        pid = self.proxy.pid
        try:
            with open("/proc/%d/status" % pid) as f:
                st = dict(line.split(":", 1) for line in f if ":" in line)
            rss = int(st["VmRSS"].split()[0])
            threads = int(st["Threads"])
            fds = len(os.listdir("/proc/%d/fd" % pid))
        except (OSError, KeyError, ValueError):
            return
        s = (time.monotonic() - t0, rss, threads, fds, traffic.count())
        self.samples.append(s)
        print("  t=%5.0fs  rss=%7.1f MiB  threads=%3d  fds=%4d  requests=%d"
              % (s[0], rss / 1024, threads, fds, s[4]), flush=True)

    def run(self):
        a = self.args
        for n in NAMES:
            self.start_origin(n)
        self.write_config(config(self.ports, 0, self.http_port, self.admin_port))
        env = dict(os.environ, FIREBREAK_SOAK_TOKEN=TOKEN, RUST_BACKTRACE="1")
        self.proxy = subprocess.Popen(
            [a.bin, "run", "--config", self.cfg], env=env, stdin=subprocess.DEVNULL,
            stdout=open(os.path.join(self.out, "firebreak.out"), "w"),
            stderr=open(os.path.join(self.out, "firebreak.err"), "w"))
        deadline = time.monotonic() + 30
        while http("GET", self.admin_port, "/readyz", timeout=1)[0] != 200:
            if self.proxy.poll() is not None or time.monotonic() > deadline:
                sys.exit("soak: firebreak did not become ready; see %s" % self.out)
            time.sleep(0.1)
        traffic = Traffic("127.0.0.1", self.http_port, rps=a.rps, workers=a.workers)
        print("soak: %s min, %.0f req/s, kill every %ss (down %ss), reload every %ss; out %s"
              % (a.minutes, a.rps, a.kill_every, a.down, a.reload_every, self.out), flush=True)
        t0 = time.monotonic()
        traffic.start()
        threads = [threading.Thread(target=f, daemon=True) for f in (self.killer, self.reloader)]
        for t in threads:
            t.start()
        end = t0 + a.minutes * 60
        next_sample = t0
        crashed = None
        while time.monotonic() < end:
            if self.proxy.poll() is not None:
                crashed = self.proxy.returncode
                break
            if time.monotonic() >= next_sample:
                self.sample(t0, traffic)
                next_sample += a.sample
            time.sleep(0.1)
        self.stop.set()
        for t in threads:
            t.join(15)
        traffic.stop()
        for n in NAMES:  # everyone up again before the final tally
            if self.origins[n].poll() is not None:
                self.start_origin(n)
        metrics = http("GET", self.admin_port, "/metrics")[1].decode("utf-8", "replace")
        exit_code = crashed
        if crashed is None:
            self.proxy.send_signal(signal.SIGTERM)
            try:
                exit_code = self.proxy.wait(20)
            except subprocess.TimeoutExpired:
                self.proxy.kill()
                exit_code = "no exit within 20 s of SIGTERM"
        for p in self.origins.values():
            p.terminate()
            p.wait()
        outcomes, posts, errors = traffic.results()
        self.error_log = traffic.error_log()
        return report.verdict(self, crashed, exit_code, outcomes, posts, errors, metrics)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True, help="the firebreak binary")
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--out", required=True, help="directory for logs and results")
    ap.add_argument("--rps", type=float, default=150)
    ap.add_argument("--workers", type=int, default=12)
    ap.add_argument("--kill-every", type=float, default=5)
    ap.add_argument("--down", type=float, default=2)
    ap.add_argument("--reload-every", type=float, default=3)
    ap.add_argument("--sample", type=float, default=5)
    ap.add_argument("--warmup", type=float, default=None,
                    help="seconds left out of the RSS check (default: min(60, 20%% of the run))")
    ap.add_argument("--rss-growth", type=float, default=0.20)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if args.warmup is None:
        args.warmup = min(60.0, args.minutes * 60 * 0.2)
    sys.exit(0 if Soak(args).run() else 1)


if __name__ == "__main__":
    main()
