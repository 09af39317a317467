"""The self-signed TLS of the benchmark and training drivers (benches/proxy, deploy/pgo): one
ECDSA P-256 certificate made with `openssl` for a run, and the client context that encrypts
to it without verifying it. Standard library and the openssl CLI only.
"""

import os
import ssl
import subprocess


def make_cert(d, name="bench.local"):
    """Writes `cert.pem` and `key.pem` into `d` (CN and subjectAltName `name`, and 127.0.0.1)
    and returns their paths."""
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=" + name,
                    "-addext", "subjectAltName=DNS:%s,IP:127.0.0.1" % name],
                   check=True, capture_output=True)
    return cert, key


def client_context():
    """An HTTP/1.1 client context for that certificate: encryption, no verification."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx
