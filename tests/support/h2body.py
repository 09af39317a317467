"""HTTP/2 request bodies that contradict their content-length, driven by tests/bodies.rs
(needs PyPI's `h2`).

Usage: h2body.py HOST PORT
Sends, each on its own connection over TLS (ALPN h2), a POST declaring content-length 10 with
20 bytes of DATA, and one declaring 10 with 5 bytes, then a well-formed one. Prints one JSON
line: the :status of each ("reset" when the stream was reset, "closed" when the connection
ended without an answer).
"""

import json
import socket
import ssl
import sys

import h2.config
import h2.connection
import h2.events


def exchange(host, port, declared, body):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])
    sock = ctx.wrap_socket(socket.create_connection((host, port), timeout=5),
                           server_hostname="localhost")
    # The client side does not police what it sends: the mismatch reaches the server.
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(
        client_side=True, validate_outbound_headers=False, normalize_outbound_headers=False))
    conn.initiate_connection()
    conn.send_headers(1, [(":method", "POST"), (":path", "/h2body"), (":scheme", "https"),
                          (":authority", "t"), ("content-length", str(declared))])
    conn.send_data(1, body, end_stream=True)
    sock.sendall(conn.data_to_send())
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return "closed"
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived):
                    return dict(event.headers)[b":status"].decode()
                if isinstance(event, h2.events.StreamReset):
                    return "reset"
                if isinstance(event, h2.events.ConnectionTerminated):
                    return "closed"
            sock.sendall(conn.data_to_send())
    except (OSError, socket.timeout):
        return "closed"
    finally:
        sock.close()


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    print(json.dumps({
        "longer": exchange(host, port, 10, b"x" * 20),
        "shorter": exchange(host, port, 10, b"x" * 5),
        "exact": exchange(host, port, 10, b"x" * 10),
    }))


if __name__ == "__main__":
    main()
