#!/usr/bin/env python3
"""A simulated fireTMS origin of known capacity, for the overload drill.

An asyncio HTTP/1.1 server (keep-alive, Content-Length bodies; no chunked uploads). Every
request except `GET /health` must hold one of `--workers` slots for `--service-ms`
milliseconds before it is answered: the slots are a FIFO semaphore, so excess requests queue
like they do in a real app server with a fixed worker pool (a request whose client has gone
is still served, as a real server would). Capacity is therefore workers / service time, e.g.
2 workers x 20 ms = 100 req/s. `GET /health` answers 200 at once, without a slot.

Nothing is printed per request. On SIGTERM/SIGINT it prints one summary line to stderr.

    python3 origin.py --port 9001 --workers 2 --service-ms 20 --name standby
"""

import argparse
import asyncio
import os
import signal
import sys

MAX_HEAD = 64 * 1024


class Origin:
    def __init__(self, name: str, workers: int, service_s: float):
        self.name = name
        self.sem = asyncio.Semaphore(workers)
        self.service_s = service_s
        self.served = 0
        self.queued = 0
        self.max_queued = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
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
                    if not ln:
                        continue
                    k, _, v = ln.partition(":")
                    headers[k.strip().lower()] = v.strip()
                length = int(headers.get("content-length", "0") or 0)
                if length:
                    await reader.readexactly(length)
                conn = headers.get("connection", "").lower()
                keep = (version == "HTTP/1.1" and "close" not in conn) or (
                    version == "HTTP/1.0" and "keep-alive" in conn
                )
                path = target.split("?", 1)[0]
                if path == "/health":
                    body = b"ok\n"
                else:
                    self.queued += 1
                    self.max_queued = max(self.max_queued, self.queued)
                    async with self.sem:
                        self.queued -= 1
                        await asyncio.sleep(self.service_s)
                    self.served += 1
                    body = ("%s %s %s\n" % (self.name, method, path)).encode()
                resp = (
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                    "X-Origin: %s\r\n%s\r\n" % (len(body), self.name, "" if keep else "Connection: close\r\n")
                ).encode() + (b"" if method == "HEAD" else body)
                writer.write(resp)
                await writer.drain()
                if not keep:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            try:
                writer.close()
            except Exception:
                pass


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--service-ms", type=float, default=20.0)
    ap.add_argument("--name", default="origin")
    a = ap.parse_args()
    origin = Origin(a.name, a.workers, a.service_ms / 1000.0)
    server = await asyncio.start_server(
        origin.handle, a.host, a.port, backlog=4096, limit=MAX_HEAD, reuse_address=True
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    print(
        "origin %s: served %d, max queued %d" % (a.name, origin.served, origin.max_queued),
        file=sys.stderr,
        flush=True,
    )
    # Exit at once: queued requests are abandoned, as when a real server is stopped.
    os._exit(0)


if __name__ == "__main__":
    asyncio.run(main())
