#!/usr/bin/env python3
"""Small HTTP/1.1 clients for the whole-proxy benchmark (standard library only).

  client.py count --port P --requests N [--conns C] [--path /]
      Sends exactly N keep-alive GET requests over C connections (one request in flight per
      connection) and prints one JSON line: {"requests", "ok", "errors", "status", "seconds",
      "reconnects"}. wrk has no request count; the callgrind and strace measurements need a
      fixed one, so they use this. A connection the server closes is reopened.

  client.py idle --port P --conns K [--path /] [--hold 600] [--tls]
      Opens K connections (--tls: TLS, the certificate not verified), sends one keep-alive
      request on each and reads the whole answer, then keeps them all open and idle. Prints
      "READY <open> <failed>" on stdout once every connection has its answer, then waits until
      stdin is closed (or --hold seconds), checks how many connections the server closed
      meanwhile, prints "DONE <still_open>" and exits.

Answers are parsed properly (status line, Content-Length or chunked body), so a short read
or a proxy that changes the framing cannot be miscounted.
"""

import argparse
import json
import os
import resource
import selectors
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
from selfsigned import client_context  # noqa: E402  (benches/lib)


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(max(soft, n), hard) if hard != resource.RLIM_INFINITY else max(soft, n)
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def request_bytes(path, host):
    return ("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: firebreak-bench\r\n\r\n" % (path, host)).encode()


class Parser:
    """Incremental HTTP/1.1 response parser. feed() returns a list of (status, close) per
    complete answer."""

    def __init__(self):
        self.buf = b""
        self.state = "head"
        self.status = 0
        self.close = False
        self.need = 0

    def feed(self, data):
        self.buf += data
        done = []
        while True:
            if self.state == "head":
                i = self.buf.find(b"\r\n\r\n")
                if i < 0:
                    return done
                head = self.buf[:i].decode("latin-1").split("\r\n")
                self.buf = self.buf[i + 4:]
                parts = head[0].split(" ", 2)
                self.status = int(parts[1])
                version = parts[0]
                h = {}
                for line in head[1:]:
                    k, _, v = line.partition(":")
                    h[k.strip().lower()] = v.strip()
                conn = h.get("connection", "").lower()
                self.close = "close" in conn or (version == "HTTP/1.0" and "keep-alive" not in conn)
                if "chunked" in h.get("transfer-encoding", "").lower():
                    self.state = "chunk-size"
                elif "content-length" in h:
                    self.need = int(h["content-length"])
                    self.state = "body"
                elif self.status in (204, 304) or 100 <= self.status < 200:
                    self.need = 0
                    self.state = "body"
                else:
                    self.state = "eof"  # body until the server closes
                    return done
            elif self.state == "body":
                if len(self.buf) < self.need:
                    return done
                self.buf = self.buf[self.need:]
                done.append((self.status, self.close))
                self.state = "head"
            elif self.state == "chunk-size":
                i = self.buf.find(b"\r\n")
                if i < 0:
                    return done
                size = int(self.buf[:i].split(b";")[0], 16)
                self.buf = self.buf[i + 2:]
                if size == 0:
                    self.state = "trailer"
                else:
                    self.need = size + 2
                    self.state = "chunk-data"
            elif self.state == "chunk-data":
                if len(self.buf) < self.need:
                    return done
                self.buf = self.buf[self.need:]
                self.state = "chunk-size"
            elif self.state == "trailer":
                i = self.buf.find(b"\r\n")
                if i < 0:
                    return done
                line = self.buf[:i]
                self.buf = self.buf[i + 2:]
                if line == b"":
                    done.append((self.status, self.close))
                    self.state = "head"
            else:  # eof
                return done

    def eof(self):
        """The server closed: returns the answer that ran until EOF, if any."""
        if self.state == "eof":
            self.state = "head"
            return [(self.status, True)]
        return []


def connect(port, tls=None):
    """A connection to the proxy; `tls` (an SSLContext) makes it a TLS connection."""
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if tls is not None:
        s = tls.wrap_socket(s, server_hostname="bench.local")
    return s


def cmd_count(a):
    raise_nofile(a.conns + 64)
    req = request_bytes(a.path, a.host)
    total = a.requests
    sent = 0
    ok = errors = reconnects = 0
    statuses = {}
    t0 = time.perf_counter()

    if a.conns == 1:  # the common case for callgrind/strace: plain blocking loop, least overhead
        s = connect(a.port)
        p = Parser()
        while sent < total:
            s.sendall(req)
            sent += 1
            got = []
            while not got:
                data = s.recv(65536)
                if not data:
                    got = p.eof()
                    if not got:
                        errors += 1
                    s.close()
                    s = connect(a.port)
                    reconnects += 1
                    p = Parser()
                    break
                got = p.feed(data)
            for st, close in got:
                statuses[st] = statuses.get(st, 0) + 1
                ok += 1 if 200 <= st < 300 else 0
                if close:
                    s.close()
                    s = connect(a.port)
                    reconnects += 1
                    p = Parser()
        s.close()
    else:
        sel = selectors.DefaultSelector()
        conns = {}

        def open_one():
            s = connect(a.port)
            s.setblocking(False)
            conns[s] = Parser()
            sel.register(s, selectors.EVENT_READ)
            return s

        def send(s):
            nonlocal sent
            s.setblocking(True)
            s.sendall(req)
            s.setblocking(False)
            sent += 1

        for _ in range(min(a.conns, total)):
            send(open_one())
        done = 0
        while done < sent:
            for key, _ in sel.select(timeout=10):
                s = key.fileobj
                p = conns[s]
                try:
                    data = s.recv(65536)
                except BlockingIOError:
                    continue
                got = p.feed(data) if data else p.eof()
                if not data and not got:
                    errors += 1
                    done += 1
                for st, close in got:
                    done += 1
                    statuses[st] = statuses.get(st, 0) + 1
                    ok += 1 if 200 <= st < 300 else 0
                reopen = not data or any(c for _, c in got)
                if reopen:
                    sel.unregister(s)
                    del conns[s]
                    s.close()
                    if sent < total:
                        reconnects += 1
                        send(open_one())
                elif got and sent < total:
                    send(s)
        for s in list(conns):
            s.close()
    secs = time.perf_counter() - t0
    print(json.dumps({"requests": sent, "ok": ok, "errors": errors, "status": statuses,
                      "seconds": round(secs, 3), "reconnects": reconnects}), flush=True)
    return 0 if ok == total else 1


def cmd_idle(a):
    raise_nofile(a.conns + 64)
    req = request_bytes(a.path, a.host)
    socks = []
    failed = 0
    tls = client_context() if a.tls else None
    for _ in range(a.conns):
        try:
            s = connect(a.port, tls)
            s.settimeout(10)
            s.sendall(req)
            p = Parser()
            got = []
            while not got:
                data = s.recv(65536)
                if not data:
                    raise OSError("closed before the answer")
                got = p.feed(data)
            if not (200 <= got[0][0] < 300) or got[0][1]:
                raise OSError("status %d close=%s" % got[0])
            socks.append(s)
        except OSError as e:
            failed += 1
            if failed <= 3:
                print("idle: connection failed: %s" % e, file=sys.stderr, flush=True)
    print("READY %d %d" % (len(socks), failed), flush=True)
    end = time.time() + a.hold
    sel = selectors.DefaultSelector()
    try:
        sel.register(sys.stdin, selectors.EVENT_READ)
        watch = True
    except (OSError, ValueError):  # stdin is a file or /dev/null: hold for --hold seconds
        watch = False
    while time.time() < end:
        wait = min(1.0, max(0.0, end - time.time()))
        if not watch:
            time.sleep(wait)
        elif sel.select(timeout=wait):
            if not os.read(sys.stdin.fileno(), 4096):  # stdin closed: measurement done
                break
    still = 0
    for s in socks:
        s.setblocking(False)
        try:
            data = s.recv(1)
            if data:
                still += 1  # unexpected data, but open
        except (BlockingIOError, ssl.SSLWantReadError):
            still += 1  # nothing to read and not closed: still open
        except OSError:
            pass
        s.close()
    print("DONE %d" % still, flush=True)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("count")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--requests", type=int, required=True)
    c.add_argument("--conns", type=int, default=1)
    c.add_argument("--path", default="/")
    c.add_argument("--host", default="bench.local")
    i = sub.add_parser("idle")
    i.add_argument("--port", type=int, required=True)
    i.add_argument("--conns", type=int, default=2000)
    i.add_argument("--path", default="/")
    i.add_argument("--host", default="bench.local")
    i.add_argument("--hold", type=float, default=600)
    i.add_argument("--tls", action="store_true", help="TLS connections (the --tls benchmark mode)")
    a = ap.parse_args()
    return cmd_count(a) if a.cmd == "count" else cmd_idle(a)


if __name__ == "__main__":
    sys.exit(main())
