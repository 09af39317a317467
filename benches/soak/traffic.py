"""Mixed client traffic for the soak: paced keep-alive workers that record every outcome.

Each worker thread holds one keep-alive connection to the proxy and sends, on a fixed pace
(`rps / workers` requests a second, skipping ahead rather than bursting when it falls behind),
a weighted mix over several routes and priorities:

    GET  /api/orders/N          normal   (route "api")
    GET  /api/orders/N + Host   normal   (route "api-host", host-specific)
    GET  /reports/N             bulk     (route "reports")
    GET  /login/page            critical (route "login")
    GET  /static/N              normal   (route "default")
    POST /api/orders {"id"}     normal   a write with a unique id
    POST /login/session {"id"}  critical a write with a unique id

A failed connection is replaced and the request recorded with status 0 and its time (nothing
is retried, so no write id is ever sent twice). Results stay per worker and are merged by `results()`.
"""

import http.client
import json
import random
import threading
import time

MIX = [
    # (weight, kind, method, path format, extra headers)
    (30, "get-api", "GET", "/api/orders/{n}", {}),
    (5, "get-api-host", "GET", "/api/orders/{n}", {"Host": "soak.example"}),
    (12, "get-reports", "GET", "/reports/{n}", {}),
    (8, "get-login", "GET", "/login/page", {}),
    (10, "get-default", "GET", "/static/{n}", {}),
    (25, "post-api", "POST", "/api/orders", {"Content-Type": "application/json"}),
    (10, "post-login", "POST", "/login/session", {"Content-Type": "application/json"}),
]


class Worker(threading.Thread):
    def __init__(self, wid, host, port, rate, stop, timeout):
        super().__init__(name="traffic-%d" % wid, daemon=True)
        self.wid, self.host, self.port = wid, host, port
        self.rate, self.stop, self.timeout = rate, stop, timeout
        self.rng = random.Random(wid)
        self.outcomes = []  # (kind, status, latency_s)
        self.posts = {}  # write id -> status
        self.errors = {}  # exception class -> count
        self.error_log = []  # (monotonic time, kind, exception class)
        self.conn = None
        self.seq = 0

    def pick(self):
        total = sum(m[0] for m in MIX)
        x = self.rng.uniform(0, total)
        for m in MIX:
            x -= m[0]
            if x <= 0:
                return m
        return MIX[-1]

    def one(self, method, path, headers, body):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            self.conn.request(method, path, body=body, headers=headers)
            resp = self.conn.getresponse()
            resp.read()
            if resp.getheader("Connection", "").lower() == "close":
                self.conn.close()
                self.conn = None
            return resp.status
        except (OSError, http.client.HTTPException) as e:
            name = type(e).__name__
            self.errors[name] = self.errors.get(name, 0) + 1
            self.error_log.append((time.monotonic(), path, name))
            self.conn.close()
            self.conn = None
            return 0

    def run(self):
        start = time.monotonic() + self.rng.random() / self.rate
        i = 0
        while not self.stop.is_set():
            due = start + i / self.rate
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            elif now - due > 1.0:  # far behind: skip ahead instead of bursting
                i = int((now - start) * self.rate)
            i += 1
            _, kind, method, fmt, extra = self.pick()
            path = fmt.format(n=self.rng.randrange(1000))
            headers = dict(extra)
            body = None
            if method == "POST":
                self.seq += 1
                wid = "w%d-%d-%08x" % (self.wid, self.seq, self.rng.getrandbits(32))
                body = json.dumps({"id": wid, "note": "soak"}).encode()
                headers["Content-Length"] = str(len(body))
            t = time.monotonic()
            status = self.one(method, path, headers, body)
            self.outcomes.append((kind, status, time.monotonic() - t))
            if body is not None:
                self.posts[wid] = status
        if self.conn is not None:
            self.conn.close()


class Traffic:
    def __init__(self, host, port, rps=150.0, workers=12, timeout=10.0):
        self.stop_event = threading.Event()
        rate = rps / workers
        self.workers = [
            Worker(w, host, port, rate, self.stop_event, timeout) for w in range(workers)
        ]

    def start(self):
        for w in self.workers:
            w.start()

    def count(self):
        return sum(len(w.outcomes) for w in self.workers)

    def stop(self):
        self.stop_event.set()
        for w in self.workers:
            w.join(30)

    def error_log(self):
        """Every failed request as (monotonic time, path, exception class), in time order."""
        return sorted(e for w in self.workers for e in w.error_log)

    def results(self):
        """(outcomes, posts, errors) merged over the workers."""
        outcomes, posts, errors = [], {}, {}
        for w in self.workers:
            outcomes.extend(w.outcomes)
            posts.update(w.posts)
            for k, v in w.errors.items():
                errors[k] = errors.get(k, 0) + v
        return outcomes, posts, errors
