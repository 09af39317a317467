#!/usr/bin/env python3
"""A soak-test origin: a stand-in fireTMS backend that records every write it applies.

A threaded stdlib HTTP/1.1 server (keep-alive). `GET /health` answers 200 at once. Any other GET
answers a small JSON body after 0-4 ms. A POST (or PUT) reads its body, takes the `id` field of
its JSON (the whole body if it is not JSON), appends `<name> <id>` to the applied log with one
O_APPEND write *before* answering, and then answers 200 with the id. The log is written with
os.write, so a line is in the kernel's hands before the answer leaves: a SIGKILL between the two
still leaves the write recorded, as a database commit would be. The soak kills this process
with SIGKILL and starts it again on the same port; every incarnation appends to the same log.

    python3 origin.py --port 9001 --name p1 --log /tmp/soak/applied.log
"""

import argparse
import json
import os
import random
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "soak-origin"
    name = "?"
    log_fd = -1

    def log_message(self, fmt, *args):  # quiet: thousands of requests a minute
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self):
        if self.path.split("?", 1)[0] == "/health":
            return self.answer(200, {"ok": True})
        time.sleep(random.random() * 0.004)
        self.answer(200, {"origin": self.name, "path": self.path})

    do_HEAD = do_GET

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            wid = str(json.loads(raw)["id"])
        except (ValueError, KeyError, TypeError):
            wid = raw.decode("latin-1").strip() or "-"
        time.sleep(random.random() * 0.004)
        os.write(self.log_fd, ("%s %s\n" % (self.name, wid)).encode())
        self.answer(200, {"origin": self.name, "applied": wid})

    do_PUT = do_POST


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--log", required=True, help="append-only log of applied write ids")
    args = ap.parse_args()
    Handler.name = args.name
    Handler.log_fd = os.open(args.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 512
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main()
