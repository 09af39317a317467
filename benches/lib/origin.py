#!/usr/bin/env python3
"""The benchmarks' origin: a stand-in fireTMS backend, the one every bench starts (benches/july,
benches/soak, deploy/pgo's training). Standard library only.

An asyncio HTTP/1.1 server (keep-alive, Content-Length bodies; no chunked uploads).
`GET /health` answers `ok` at once. Every other request is served in `--service-ms` plus a
random 0..`--jitter-ms` milliseconds, then answered `{"origin": NAME, "path": PATH}` with an
`X-Origin: NAME` header (the answer of the tests' harness origin).

  --workers N   N > 0: a request holds one of N slots while it is served. The slots are a
                FIFO semaphore, so excess requests queue as in an app server with a fixed
                worker pool (a request whose client has gone is still served, as a real
                server would): capacity = N / service time, e.g. 2 x 20 ms = 100 req/s.
                0 (the default): no limit, every request is served at once.
  --sync        model a pre-fork synchronous app server (gunicorn sync workers, PHP-FPM)
                instead of an async one. Without it a request takes a slot only once its
                body has been read whole; with it a request takes its slot as soon as its
                head has arrived and holds it while its body is read, while it is served and
                until it is answered, so a client trickling its body holds a worker for as
                long as it trickles, as it would in such a server (the FIFO queue before the
                slots is then the listen backlog of a pre-fork server). Needs --workers > 0.
  --log FILE    a POST or PUT appends `<name> <id>` to FILE (the `id` field of its JSON body,
                else the whole body) with one O_APPEND write *before* it is answered, and is
                answered `{"origin": NAME, "applied": ID}`. A SIGKILL between the write and
                the answer still leaves the write recorded, as a database commit would be;
                every incarnation started on the same port appends to the same FILE.

`GET /__stats` answers `{"busy": N, "max_busy": M, "served": S, "queued": Q}` at once, without
taking a slot: N requests hold a slot (or, with --workers 0, are being served) now, M at most
so far, S requests served, Q waiting for a slot (benches/slow samples it).

Nothing is printed per request; on SIGTERM/SIGINT one summary line goes to stderr.

    python3 origin.py --port 9001 --workers 2 --service-ms 20 --name standby     # benches/july
    python3 origin.py --port 9001 --jitter-ms 4 --name p1 --log applied.log       # the soak
    python3 origin.py --port 9001 --workers 2 --service-ms 20 --sync              # benches/slow

A Python origin answers some thousands of requests a second: the whole-proxy benchmark
(benches/proxy), which must never be limited by its origin, uses `nginx_conf()` below instead.
"""

import argparse
import asyncio
import json
import os
import random
import signal
import sys

MAX_HEAD = 64 * 1024


class Origin:
    def __init__(self, name, workers, service_s, jitter_s, log_fd, sync=False):
        self.name = name
        self.sem = asyncio.Semaphore(workers) if workers > 0 else None
        self.service_s, self.jitter_s, self.log_fd = service_s, jitter_s, log_fd
        self.sync = sync
        self.rng = random.Random()
        self.served = 0
        self.queued = 0
        self.max_queued = 0
        self.busy = 0
        self.max_busy = 0

    async def acquire(self):
        """Takes a slot (waiting FIFO for one); counts it busy."""
        if self.sem is not None:
            self.queued += 1
            self.max_queued = max(self.max_queued, self.queued)
            try:
                await self.sem.acquire()
            finally:
                self.queued -= 1
        self.busy += 1
        self.max_busy = max(self.max_busy, self.busy)

    def release(self):
        self.busy -= 1
        if self.sem is not None:
            self.sem.release()

    async def serve(self):
        """The service time. Without --sync the slot is taken and given back around it; with
        --sync the caller holds the slot already."""
        delay = self.service_s + (self.rng.random() * self.jitter_s if self.jitter_s else 0.0)
        if self.sync:
            await asyncio.sleep(delay)
            return
        if self.sem is None:
            self.busy += 1
            self.max_busy = max(self.max_busy, self.busy)
            try:
                if delay > 0:
                    await asyncio.sleep(delay)
            finally:
                self.busy -= 1
            return
        await self.acquire()
        try:
            await asyncio.sleep(delay)
        finally:
            self.release()

    def stats(self):
        return {"busy": self.busy, "max_busy": self.max_busy, "served": self.served, "queued": self.queued}

    def apply(self, body):
        """The write of a POST/PUT: its id, appended to the log before the answer."""
        try:
            wid = str(json.loads(body)["id"])
        except (ValueError, KeyError, TypeError):
            wid = body.decode("latin-1").strip() or "-"
        os.write(self.log_fd, ("%s %s\n" % (self.name, wid)).encode())
        return wid

    async def handle(self, reader, writer):
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                parts = lines[0].split(" ")
                if len(parts) != 3:
                    writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    await writer.drain()
                    return
                method, target, version = parts
                headers = {}
                for ln in lines[1:]:
                    if ln:
                        k, _, v = ln.partition(":")
                        headers[k.strip().lower()] = v.strip()
                length = int(headers.get("content-length", "0") or 0)
                path = target.split("?", 1)[0]
                # --sync: a worker takes the request when its head is in, before its body.
                held = self.sync and path not in ("/health", "/__stats")
                if held:
                    await self.acquire()
                try:
                    body = await reader.readexactly(length) if length else b""
                    conn = headers.get("connection", "").lower()
                    keep = (version == "HTTP/1.1" and "close" not in conn) or (
                        version == "HTTP/1.0" and "keep-alive" in conn)
                    if path == "/health":
                        ctype, data = "text/plain", b"ok\n"
                    elif path == "/__stats":
                        ctype, data = "application/json", json.dumps(self.stats()).encode()
                    else:
                        await self.serve()
                        self.served += 1
                        answer = {"origin": self.name, "path": target}
                        if self.log_fd >= 0 and method in ("POST", "PUT"):
                            answer = {"origin": self.name, "applied": self.apply(body)}
                        ctype, data = "application/json", json.dumps(answer).encode()
                    writer.write((
                        "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\nX-Origin: %s\r\n%s\r\n"
                        % (ctype, len(data), self.name, "" if keep else "Connection: close\r\n")
                    ).encode() + (b"" if method == "HEAD" else data))
                    await writer.drain()
                finally:
                    if held:
                        self.release()
                if not keep:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            try:
                writer.close()
            except Exception:
                pass


async def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--name", default="origin")
    ap.add_argument("--workers", type=int, default=0, help="slots; 0 = no limit")
    ap.add_argument("--service-ms", type=float, default=0.0, help="fixed service time")
    ap.add_argument("--jitter-ms", type=float, default=0.0, help="plus a uniform random 0..this")
    ap.add_argument("--log", help="append-only log of applied write ids (POST/PUT)")
    ap.add_argument("--sync", action="store_true",
                    help="a pre-fork sync server: the slot is taken when the head is in, held while the body is read")
    a = ap.parse_args()
    if a.sync and a.workers <= 0:
        sys.exit("origin.py: --sync needs --workers > 0")
    if a.host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("origin.py: the benches listen on loopback only, not %s" % a.host)
    log_fd = os.open(a.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644) if a.log else -1
    origin = Origin(a.name, a.workers, a.service_ms / 1000.0, a.jitter_ms / 1000.0, log_fd, a.sync)
    await asyncio.start_server(origin.handle, a.host, a.port, backlog=4096, limit=MAX_HEAD,
                               reuse_address=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    print("origin %s: served %d, max queued %d, max busy %d"
          % (a.name, origin.served, origin.max_queued, origin.max_busy),
          file=sys.stderr, flush=True)
    # Exit at once: queued requests are abandoned, as when a real server is stopped.
    os._exit(0)


def nginx_conf(port, d):
    """The throughput benchmark's origin (benches/proxy): nginx, 1 worker, a fixed 2-byte
    answer, so that the origin is never what limits a proxy (it answers ~180k req/s on one
    core, where origin.py answers some thousands)."""
    user = "user root;\n" if os.geteuid() == 0 else ""
    return """\
# The origin, generated by benches/lib/origin.py: nginx, 1 worker, a fixed 2-byte body
# (`return 200 "ok"`), HTTP/1.1 keep-alive with no per-connection request limit, no access log.
# Pinned to the load core (with the load generator), so it never competes with the proxy.
%(user)sworker_processes 1;
pid %(d)s/origin.pid;
error_log %(d)s/origin-error.log warn;
worker_rlimit_nofile 16384;
events { worker_connections 8192; }
http {
    access_log off;
    keepalive_timeout 75s;
    keepalive_requests 1000000;
    client_body_temp_path %(d)s/o-client_body;
    proxy_temp_path %(d)s/o-proxy;
    fastcgi_temp_path %(d)s/o-fastcgi;
    uwsgi_temp_path %(d)s/o-uwsgi;
    scgi_temp_path %(d)s/o-scgi;
    server {
        listen 127.0.0.1:%(port)d backlog=4096;
        location / {
            default_type text/plain;
            return 200 "ok";
        }
    }
}
""" % dict(user=user, d=d, port=port)


if __name__ == "__main__":
    asyncio.run(main())
