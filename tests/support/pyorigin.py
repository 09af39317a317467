"""A minimal HTTP/1.1 origin in a separate process, for tests that need a real process to
freeze (SIGSTOP) or to run inside a network namespace.

Usage: pyorigin.py HOST PORT NAME [CERT KEY]. Prints the bound port on its first stdout line,
then serves every path with 200: `/health` answers `ok`, anything else
`{"origin": NAME, "path": PATH}` with an `X-Origin: NAME` header, like the harness origin in
origin.rs. With CERT and KEY (PEM files) it speaks HTTPS (each handshake in its connection's
thread).
"""

import json
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 65536  # head and body leave in one write (flushed after each request)
    name = "py"

    def answer(self, with_body):
        if self.path.split("?")[0] == "/health":
            body, ctype = b"ok", "text/plain"
        else:
            body = json.dumps({"origin": self.name, "path": self.path}).encode()
            ctype = "application/json"
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("X-Origin", self.name)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def do_GET(self):
        self.answer(True)

    def do_POST(self):
        self.answer(True)

    def do_HEAD(self):
        self.answer(False)

    def log_message(self, *args):
        pass


def main():
    host, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    Handler.name = name
    ThreadingHTTPServer.daemon_threads = True
    # A client (the proxy's health checker, a timed-out request) may hang up mid-answer.
    ThreadingHTTPServer.handle_error = lambda self, request, address: None
    ThreadingHTTPServer.request_queue_size = 256
    server = ThreadingHTTPServer((host, port), Handler)
    if len(sys.argv) >= 6:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[4], sys.argv[5])
        server.socket = ctx.wrap_socket(server.socket, server_side=True,
                                        do_handshake_on_connect=False)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
