"""What the July replay reads besides the load's answers: firebreak's admin API (`/status`,
`/metrics`) during and after a turn, for one replica or a fleet of them, and how busy the
machine's CPU is. Used by july.py; standard library only.

The status series of a turn (PREFIX.jsonl) has one line per replica per sample, about every
second of the phase: {"t": seconds into the phase, "replica": 1.., "status": /status}. The last
sample taken 0.5 s before the phase ends is kept as PREFIX-end.json (one replica) or
PREFIX-end-r<i>.json (replica i of a fleet).
"""

import http.client
import json
import math
import threading
import time


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


def suffixed(prefix, i, n, ext):
    """PREFIX.ext for a single replica, PREFIX-r<i>.ext for replica i of n > 1."""
    return "%s%s.%s" % (prefix, "-r%d" % i if n > 1 else "", ext)


def save(admins, path, prefix, ext, log):
    """GET `path` from every admin port, into suffixed(prefix, i, n, ext)."""
    for i, admin in enumerate(admins, 1):
        dest = suffixed(prefix, i, len(admins), ext)
        try:
            _, body = http_get(admin, path, timeout=2)
            with open(dest, "wb") as f:
                f.write(body)
        except (OSError, http.client.HTTPException) as e:
            log("could not read admin :%d%s: %s" % (admin, path, e))


def wait_for_estimate(admins, limit, log):
    """Waits (up to `limit` seconds) until every replica's /status holds a standby capacity
    estimate, as a proxy that has run for a while in production has. Returns the seconds
    waited, or None when some replica had none at the end (logged)."""
    t0 = time.time()
    while True:
        missing = []
        for admin in admins:
            try:
                _, body = http_get(admin, "/status")
                if not (json.loads(body).get("standby") or {}).get("estimate"):
                    missing.append(admin)
            except (OSError, ValueError, http.client.HTTPException):
                missing.append(admin)
        if not missing:
            return round(time.time() - t0, 1)
        if time.time() - t0 > limit:
            log("no standby estimate after %ss on admin %s: the limits start cold"
                % (limit, " ".join(":%d" % a for a in missing)))
            return None
        time.sleep(0.5)


class StatusSampler(threading.Thread):
    """Polls /status of every replica (its admin port) every second of the phase, one replica
    after the other; all samples in PREFIX.jsonl, the last ones taken before the phase ends in
    PREFIX-end.json (PREFIX-end-r<i>.json with several replicas)."""

    def __init__(self, admins, duration, prefix):
        super().__init__(daemon=True)
        self.admins, self.duration, self.prefix = list(admins), duration, prefix

    def run(self):
        t0 = time.time()
        end_taken = False
        n = len(self.admins)
        with open(self.prefix + ".jsonl", "w") as series:
            while True:
                t = time.time() - t0
                if t > self.duration + 0.5:
                    break
                take_end = not end_taken and t >= self.duration - 0.7
                for i, admin in enumerate(self.admins, 1):
                    try:
                        _, body = http_get(admin, "/status", timeout=1)
                        st = json.loads(body)
                    except (OSError, ValueError, http.client.HTTPException):
                        continue
                    series.write(json.dumps({"t": round(t, 2), "replica": i, "status": st}) + "\n")
                    if take_end:
                        with open(suffixed(self.prefix + "-end", i, n, "json"), "w") as f:
                            json.dump(st, f, indent=1)
                end_taken = end_taken or take_end
                nxt = math.floor(t) + 1.0
                if not end_taken and t < self.duration - 0.5 <= nxt:
                    nxt = self.duration - 0.5
                time.sleep(max(0.0, nxt - (time.time() - t0)))
