"""The benches' traffic: the request mixes (which routes, methods and priorities each run sends)
and the keep-alive clients that send them. Standard library (and curl for HTTP/2) only.

  JULY  the July replay (benches/july): (class, share, path prefix) of the offered load, sent
        open loop on a new connection per request by benches/july/load.py.
  SOAK  the soak (benches/soak): GETs and writes over every route kind of the soak's config.
  PGO   the PGO training (deploy/pgo): production-like GET/HEAD/POST with tenants, browsers'
        Accept headers and client request ids.

A keep-alive mix is a list of (weight, kind, method, path, extra headers); `{n}` in a path or
header value is a random number below the client's `n_range`, `{t}` a tenant below `tenants`.

`Client` is one thread with one keep-alive connection (or a new one per request with `close`,
over TLS with `tls`) sending its mix either paced at `rate` requests a second (skipping ahead
rather than bursting when it falls behind) or, with no rate, closed loop (the next request as
soon as the answer is in). A POST or PUT carries a write id unique to the run,
`w<client>-<seq>-<random>`, as `{"id": ..., "n": ...}`. Nothing is retried, so no write id is
ever sent twice; a failed request is recorded with status 0 and its connection replaced.
`Traffic` is a group of paced clients (the soak's).
"""

import http.client
import json
import random
import socket
import subprocess
import threading
import time

import selfsigned

_tls = []  # one client context for every TLS client of the process (made on first use)

JULY = (("critical", 0.15, "/login"), ("normal", 0.45, "/orders"), ("bulk", 0.40, "/reports"))

SOAK = [
    (30, "get-api", "GET", "/api/orders/{n}", {}),
    (5, "get-api-host", "GET", "/api/orders/{n}", {"Host": "soak.example"}),  # host-specific route
    (12, "get-reports", "GET", "/reports/{n}", {}),
    (8, "get-login", "GET", "/login/page", {}),
    (10, "get-default", "GET", "/static/{n}", {}),
    (25, "post-api", "POST", "/api/orders", {"Content-Type": "application/json"}),
    (10, "post-login", "POST", "/login/session", {"Content-Type": "application/json"}),
]

PGO = [
    (8, "get-login", "GET", "/login/page", {"Accept": "text/html"}),
    (6, "post-login", "POST", "/login/session", {"Content-Type": "application/json"}),
    (25, "get-api", "GET", "/api/orders/{n}", {"X-Tenant-Id": "t{t}"}),
    (15, "post-api", "POST", "/api/orders", {"Content-Type": "application/json", "X-Tenant-Id": "t{t}"}),
    (10, "get-reports", "GET", "/reports/{n}?from=2026-07-12&to=2026-07-17", {"Accept": "application/json"}),
    (20, "get-static", "GET", "/static/{n}.js", {"Accept": "*/*", "User-Agent": "Mozilla/5.0 (pgo)"}),
    (4, "head-static", "HEAD", "/static/{n}.css", {}),
    (4, "get-app", "GET", "/app/{n}", {"X-Request-Id": "client-{n}"}),
]


def july_rates(total):
    """The July mix at `total` req/s: [(class, rate, path)], rates rounded, summing to total."""
    crit = round(total * JULY[0][1])
    norm = round(total * JULY[1][1])
    return [(JULY[0][0], crit, JULY[0][2]), (JULY[1][0], norm, JULY[1][2]), (JULY[2][0], total - crit - norm, JULY[2][2])]


class Client(threading.Thread):
    def __init__(self, port, mix, seed, stop, rate=None, tls=False, close=False, n_range=1000,
                 tenants=0, timeout=10.0, host="127.0.0.1"):
        super().__init__(name="traffic-%d" % seed, daemon=True)
        self.host, self.port, self.mix, self.wid, self.stop = host, port, mix, seed, stop
        self.rate, self.tls, self.close, self.timeout = rate, tls, close, timeout
        self.n_range, self.tenants = n_range, tenants
        self.rng = random.Random(seed)
        self.outcomes = []  # (kind, status, latency_s)
        self.statuses = {}  # status -> count
        self.posts = {}  # write id -> status
        self.errors = {}  # exception class -> count
        self.error_log = []  # (monotonic time, path, exception class)
        self.conn = None
        self.seq = 0

    def pick(self):
        total = sum(m[0] for m in self.mix)
        x = self.rng.uniform(0, total)
        for m in self.mix:
            x -= m[0]
            if x <= 0:
                return m
        return self.mix[-1]

    def connect(self):
        if self.tls:
            if not _tls:
                _tls.append(selfsigned.client_context())
            return http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout, context=_tls[0])
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def one(self, method, path, headers, body):
        try:
            self.conn = self.conn or self.connect()
            self.conn.request(method, path, body=body, headers=headers)
            resp = self.conn.getresponse()
            resp.read()
            if self.close or resp.getheader("Connection", "").lower() == "close":
                self.conn.close()
                self.conn = None
            return resp.status
        except (OSError, http.client.HTTPException) as e:
            name = type(e).__name__
            self.errors[name] = self.errors.get(name, 0) + 1
            self.error_log.append((time.monotonic(), path, name))
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            return 0

    def run(self):
        start = time.monotonic() + (self.rng.random() / self.rate if self.rate else 0.0)
        i = 0
        while not self.stop.is_set():
            if self.rate:
                due = start + i / self.rate
                now = time.monotonic()
                if due > now:
                    time.sleep(due - now)
                elif now - due > 1.0:  # far behind: skip ahead instead of bursting
                    i = int((now - start) * self.rate)
                i += 1
            _, kind, method, path, extra = self.pick()
            n = self.rng.randrange(self.n_range)
            t = self.rng.randrange(self.tenants) if self.tenants else 0
            headers = {k: v.format(n=n, t=t) for k, v in extra.items()}
            body = wid = None
            if method in ("POST", "PUT"):
                self.seq += 1
                wid = "w%d-%d-%08x" % (self.wid, self.seq, self.rng.getrandbits(32))
                body = json.dumps({"id": wid, "n": n}).encode()
                headers["Content-Length"] = str(len(body))
            if self.close:
                headers["Connection"] = "close"
            t0 = time.monotonic()
            status = self.one(method, path.format(n=n), headers, body)
            self.outcomes.append((kind, status, time.monotonic() - t0))
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if wid is not None:
                self.posts[wid] = status
        if self.conn is not None:
            self.conn.close()


class Traffic:
    """`workers` paced clients sending `mix`, `rps` requests a second in all."""

    def __init__(self, host, port, rps, workers, mix=SOAK, timeout=10.0):
        self.stop_event = threading.Event()
        self.clients = [Client(port, mix, w, self.stop_event, rate=rps / workers, timeout=timeout, host=host)
                        for w in range(workers)]

    def start(self):
        for c in self.clients:
            c.start()

    def count(self):
        return sum(len(c.outcomes) for c in self.clients)

    def stop(self):
        self.stop_event.set()
        for c in self.clients:
            c.join(30)

    def error_log(self):
        """Every failed request as (monotonic time, path, exception class), in time order."""
        return sorted(e for c in self.clients for e in c.error_log)

    def results(self):
        """(outcomes, posts, errors) merged over the clients."""
        outcomes, posts, errors = [], {}, {}
        for c in self.clients:
            outcomes.extend(c.outcomes)
            posts.update(c.posts)
            for k, v in c.errors.items():
                errors[k] = errors.get(k, 0) + v
        return outcomes, posts, errors


def h2_loop(port, stop, counts):
    """HTTP/2 over TLS until `stop`: curl multiplexes 64 requests on one connection per run;
    counts[\"<http version> <status>\"] += 1 per answer."""
    urls = []
    for i in range(64):
        urls += ["-o", "/dev/null", "https://127.0.0.1:%d/%s/%d" % (port, ("api/orders", "static", "login")[i % 3], i)]
    while not stop.is_set():
        r = subprocess.run(["curl", "-sk", "--http2", "--parallel", "--parallel-max", "16",
                            "-w", "%{http_version} %{http_code}\\n"] + urls,
                           capture_output=True, text=True, timeout=60)
        for line in r.stdout.split("\n"):
            if line.strip():
                counts[line.strip()] = counts.get(line.strip(), 0) + 1


def raw(port, data):
    """Sends `data` on a new connection and returns the status of the answer (0 if none)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        head = s.recv(4096).split(b"\r\n", 1)[0].split()
        return int(head[1]) if len(head) > 1 and head[1].isdigit() else 0


def bad_input(port):
    """Statuses of a malformed head, an oversized head and a body over the limit."""
    return (
        raw(port, b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"),
        raw(port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n"),
        raw(port, b"POST /api/orders HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n" + b"x" * 65536),
    )
