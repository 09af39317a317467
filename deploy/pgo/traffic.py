"""The client side of the PGO training run (`train.py`): HTTP/1.1 clients over plain HTTP and
TLS on a mix of routes, HTTP/2 clients (curl), and bad input on raw sockets. Standard library
and curl only.
"""

import http.client
import json
import random
import socket
import subprocess
import threading

from selfsigned import client_context  # benches/lib, on the path train.py sets

# One context for every TLS client: the training's certificate is self-signed.
TLS = client_context()


MIX = [  # (weight, method, path, extra headers)
    (8, "GET", "/login/page", {"Accept": "text/html"}),
    (6, "POST", "/login/session", {"Content-Type": "application/json"}),
    (25, "GET", "/api/orders/{n}", {"X-Tenant-Id": "t{t}"}),
    (15, "POST", "/api/orders", {"Content-Type": "application/json", "X-Tenant-Id": "t{t}"}),
    (10, "GET", "/reports/{n}?from=2026-07-12&to=2026-07-17", {"Accept": "application/json"}),
    (20, "GET", "/static/{n}.js", {"Accept": "*/*", "User-Agent": "Mozilla/5.0 (pgo)"}),
    (4, "HEAD", "/static/{n}.css", {}),
    (4, "GET", "/app/{n}", {"X-Request-Id": "client-{n}"}),
]


class Client(threading.Thread):
    """One HTTP/1.1 client: a keep-alive connection (or a new one per request with `close`),
    the mix above as fast as the origins answer. Counts answers by status."""

    def __init__(self, port, tls, close, seed, stop, mix=MIX):
        super().__init__(daemon=True)
        self.port, self.tls, self.close, self.stop, self.mix = port, tls, close, stop, mix
        self.rng = random.Random(seed)
        self.statuses = {}
        self.conn = None

    def connect(self):
        if self.tls:
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=10, context=TLS)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def run(self):
        total = sum(m[0] for m in self.mix)
        while not self.stop.is_set():
            x = self.rng.uniform(0, total)
            for weight, method, path, extra in self.mix:
                x -= weight
                if x <= 0:
                    break
            n, t = self.rng.randrange(10000), self.rng.randrange(20)
            headers = {k: v.format(n=n, t=t) for k, v in extra.items()}
            body = None
            if method == "POST":
                body = json.dumps({"id": "%x" % self.rng.getrandbits(64), "n": n}).encode()
            if self.close:
                headers["Connection"] = "close"
            status = 0
            try:
                self.conn = self.conn or self.connect()
                self.conn.request(method, path.format(n=n), body=body, headers=headers)
                resp = self.conn.getresponse()
                resp.read()
                status = resp.status
                if self.close or resp.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
            except (OSError, http.client.HTTPException):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
            self.statuses[status] = self.statuses.get(status, 0) + 1


def h2_loop(port, stop, counts):
    """HTTP/2 over TLS: curl multiplexes 64 requests on one connection per run."""
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
