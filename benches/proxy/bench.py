#!/usr/bin/env python3
"""Whole-proxy benchmark (issue #5, item 2): firebreak vs bare Pingora vs nginx vs HAProxy, one core each.

Run it through `benches/proxy/run.sh` (installs wrk/nginx/haproxy/valgrind/strace, builds
firebreak); see benches/proxy/README.md. Standard library only.

Layout, identical for every proxy:
  core 0 (--proxy-core): the proxy under test, one worker/thread, nothing else of ours;
  core 1 (--load-core):  the origin (nginx, 1 worker, `return 200 "ok"`, keep-alive) and the
                         load generator (wrk -t1, or client.py for fixed request counts).
All traffic is on 127.0.0.1. Every process runs in its own session as a foreground child,
with its config, pid and log files in a private temp dir; their process-group ids are listed
in RESULTS/pids while they run, so run.sh can stop them even if this script dies.

Default mode: turns A B C D A B C D ... (`--rounds N`), one fresh proxy per turn:
  1. the machine's load average and busy share (1 s, before the proxy starts);
  2. warm-up: wrk keep-alive, --warmup seconds;
  3. keep-alive: wrk -t1 -cC -dD --latency (+ a Lua done() hook for p99.9); the proxy's CPU
     time (utime+stime of its process tree from /proc/PID/stat) over the run ÷ requests;
  4. new connections: the same with `-H "Connection: close"` (each request a new TCP
     connection to the proxy; the proxy keeps its upstream connections);
  5. idle memory: client.py opens --idle-conns keep-alive connections, one request each, and
     holds them; (RSS with them − RSS before) ÷ connections.
Before the rounds, one wrk run straight at the origin (no proxy) shows the ceiling.

--callgrind mode, per proxy:
  a. under `valgrind --tool=callgrind` (pinned to the proxy core): warm up with
     --cg-warmup requests, `callgrind_control -z`, drive exactly --cg-requests requests
     (client.py, keep-alive, --cg-conns connections), `callgrind_control -d`; the dump's
     total Ir ÷ requests = user-space instructions per proxied request;
  b. natively: warm up, attach `strace -c -f` to every process/thread of the proxy, drive
     --strace-requests requests, detach; syscalls ÷ requests.

--tls on (default and --perf modes): the proxies listen with TLS, one self-signed ECDSA P-256
certificate for all of them, each with its own default TLS settings; wrk and client.py speak
HTTPS; the origin stays plain HTTP. --body-bytes N: every wrk request is a POST with N bytes.

--upstream-tls mode, turns A-plain A-tls B-plain B-tls ... (`--rounds N`), proxies firebreak,
nginx, haproxy: the origin (nginx) listens plain and with TLS (a certificate of a test CA made
for the run, SAN origin.bench.test + 127.0.0.1); each proxy runs once against each, verifying the
certificate and reusing upstream connections; keep-alive req/s, CPU per request, and new
connections at the origin (= upstream TLS handshakes) per 1000 requests (upstream_tls.py).

--perf mode, turns as in the default mode: warm up, then one keep-alive wrk run during which
`perf record -e cpu-clock` samples the proxy's core; real microseconds per request split into
kernel, the proxy's binary, libc, vDSO, idle, and by symbol (perfprof.py).
"""

import argparse
import atexit
import glob
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import perfprof
import upstream_tls

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
import fbconf  # noqa: E402  (benches/lib)
from origin import nginx_conf as origin_conf  # noqa: E402
import selfsigned  # noqa: E402
from procs import Children, free_ports, logger, require, wait_until  # noqa: E402
from procs import git_state as git_state_of  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PY = sys.executable
CLIENT = os.path.join(HERE, "client.py")
HZ = os.sysconf("SC_CLK_TCK")
# "pingora" is examples/pingora_bare.rs: Pingora alone, with firebreak's build profile and allocator.
PROXIES = ("firebreak", "pingora", "nginx", "haproxy")
# Accepted in --proxies besides PROXIES: the same firebreak job run by a second binary
# (--firebreak-plain-bin), e.g. the plain release build next to the PGO build (`--pgo on`).
OPTIONAL_PROXIES = ("firebreak-plain",)

# Issue #5, "Where things stand", measured on this 2-core machine with the same method.
BASELINE = {
    "keepalive_rps": {"nginx": 96000, "haproxy": 92000, "pingora-bare": 40000,
                      "pingora-bare+mimalloc+lto": 46000, "direct": 183000},
    "keepalive_p99_ms": {"nginx": 1.0},
    "instr_per_req": {"nginx": 21300, "haproxy": 29700, "pingora-bare": 90100},
    "syscalls_per_req": {"nginx": 5.1, "haproxy": 4.4},
    "idle_bytes_per_conn": {"nginx": 223},
}


log = logger("bench")


def read_stat(pid):
    """(ppid, utime+stime ticks) of one process; None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    # rest[0] is field 3 (state): ppid = field 4, utime = field 14, stime = field 15.
    return int(rest[1]), int(rest[11]) + int(rest[12])


def proc_tree(root):
    """`root` and all its descendants (nginx: master + worker)."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = read_stat(int(d))
            if st:
                kids.setdefault(st[0], []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def tree_cpu_ticks(root):
    return sum((read_stat(p) or (0, 0))[1] for p in proc_tree(root))


def tree_rss_kb(root):
    total = 0
    for p in proc_tree(root):
        try:
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def tree_threads(root):
    n = 0
    for p in proc_tree(root):
        try:
            n += len(os.listdir("/proc/%d/task" % p))
        except OSError:
            pass
    return n


def cpu_times():
    """{"cpu": [...], "cpu0": [...], ...} jiffies from /proc/stat."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu"):
                k, *v = line.split()
                out[k] = [int(x) for x in v]
    return out


def busy_of(a, b, key):
    """(busy, total, steal) jiffies of `key` between two cpu_times() samples."""
    d = [y - x for x, y in zip(a[key], b[key])]
    total = sum(d[:8])  # user nice system idle iowait irq softirq steal (guest is inside user)
    idle = d[3] + d[4]
    return total - idle, total, d[7] if len(d) > 7 else 0


def machine_busy(seconds=1.0):
    a = cpu_times()
    time.sleep(seconds)
    b = cpu_times()
    busy, total, _ = busy_of(a, b, "cpu")
    return round(100.0 * busy / max(1, total), 1)


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def http_ok(port, timeout=2.0, tls=False):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
            s = selfsigned.client_context().wrap_socket(raw, server_hostname="bench.local") if tls else raw
            s.sendall(b"GET / HTTP/1.1\r\nHost: bench.local\r\nConnection: close\r\n\r\n")
            data = b""
            while b"\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            return data.startswith(b"HTTP/1.1 200") or data.startswith(b"HTTP/1.0 200")
    except OSError:
        return False


def make_cert(d):
    """--tls on: one self-signed ECDSA P-256 certificate for every proxy (cert, key and the
    combined file HAProxy reads)."""
    cert, key = selfsigned.make_cert(d)
    pem = os.path.join(d, "haproxy.pem")
    with open(pem, "w") as f:
        for part in (cert, key):
            with open(part) as g:
                f.write(g.read())
    return {"cert": cert, "key": key, "pem": pem}


def tool_version(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (r.stdout + r.stderr).strip().split("\n")[0]
    except (OSError, subprocess.TimeoutExpired):
        return None


def git_state():
    return git_state_of(ROOT)


# --------------------------------------------------------------------------------------------
# configurations. Equivalent for firebreak, nginx and HAProxy; each config says how it maps to the others.


def firebreak_conf(listen, admin, origin_port, access_log, admission_floor=0, tls=None, upstream=None):
    comment = """\
firebreak, generated by benches/proxy/bench.py. The same proxy job as nginx.conf and
haproxy.cfg next to it:
  - one worker thread ([server] threads = 1)      ~ nginx worker_processes 1 / HAProxy nbthread 1
  - one pool, the origin its only backend; no health table, so health is passive only and
    the backend starts healthy                   ~ nginx/HAProxy without active checks
  - connect timeout 1s, read timeout 30s          ~ proxy_connect_timeout 1s / proxy_read_timeout
                                                    30s; timeout connect 1s / timeout server 30s
  - upstream connections are pooled and reused (Pingora's connection pool)
                                                  ~ upstream keepalive 64 / http-reuse always
  - one default route ("/", priority normal); admission control, retries and metrics at their
    defaults: the hot path the issue asks to measure includes them
  - access log: %(access)s (firebreak's `access` tracing target to stderr, redirected to a file;
    "off" runs with RUST_LOG=info,access=off)
  - %(tls_note)s""" % dict(access="on" if access_log else "off", tls_note=TLS_NOTE[bool(tls)].replace("\n# ", "\n"))
    tables = None
    if admission_floor:
        comment += """
[admission], --callgrind mode only: under valgrind (and strace) every request takes ~50x
longer, and the adaptive limit would read that slowdown as congestion and shed with 503s,
which are cheaper than proxied requests and would bias the count. With the limit's floor above
the client's connection count the admission gate still runs its whole acquire/release path on
every request, but never refuses. nginx and HAProxy have no limit at all."""
        tables = {"admission": {"initial_limit": admission_floor, "min_limit": admission_floor}}
    pool = fbconf.pool("origin", [origin_port], connect_timeout="1s", read_timeout="30s")
    if upstream:
        # --upstream-tls: idle upstream connections kept 60 s (default 1 s), in the plain turns
        # too, so that the two turns differ by TLS only; TLS verified against the run's test CA.
        comment += "\n" + UPSTREAM_NOTE["firebreak"][upstream["tls"]]
        pool["idle_timeout"] = "60s"
        if upstream["tls"]:
            pool["tls"] = {"ca": upstream["ca"], "sni": upstream["sni"]}
    return fbconf.config(
        comment=comment, threads=1, grace="1s", admin=admin,
        listen=None if tls else listen, https=[(listen, tls["cert"], tls["key"])] if tls else None,
        pools=[pool], routes=[fbconf.route("default", "/", "normal")], tables=tables)


# --upstream-tls: how each proxy reaches the origin, plain or over TLS (the same job otherwise).
UPSTREAM_NOTE = {
    "firebreak": {
        False: """\
--upstream-tls, plain turn: the pool's idle_timeout = "60s" (default 1s) as in the TLS turn,
so that the two turns differ by TLS only.""",
        True: """\
--upstream-tls, TLS turn: the pool reaches the origin over TLS, tls = { ca, sni }: verification
on against the run's test CA, the name origin.bench.test sent as SNI and checked (rustls, its
default versions: TLS 1.3 here); upstream connections pooled, idle_timeout = "60s" (default 1s).
Sessions are not resumed: Pingora 0.9 builds a new rustls config (and session store) for each
connection to a peer with its own CA, so every new connection is a full handshake.
   ~ nginx proxy_ssl_verify on, proxy_ssl_trusted_certificate, proxy_ssl_name,
     proxy_ssl_server_name on, proxy_ssl_session_reuse on, upstream keepalive 64
   ~ HAProxy server ... ssl verify required ca-file CA sni str(origin.bench.test), http-reuse always""",
    },
    "nginx": {
        False: "upstream: plain HTTP (--upstream-tls, plain turn)",
        True: "upstream: TLS (--upstream-tls, TLS turn): proxy_ssl_verify on with the run's test CA,\n"
              "#     proxy_ssl_name origin.bench.test sent as SNI (proxy_ssl_server_name on), sessions\n"
              "#     reused (proxy_ssl_session_reuse on), TLS 1.2 and 1.3 (1.22's default lacks 1.3)",
    },
    "haproxy": {
        False: "upstream: plain HTTP (--upstream-tls, plain turn)",
        True: "upstream: TLS (--upstream-tls, TLS turn): ssl verify required ca-file (the run's test CA),\n"
              "#     sni str(origin.bench.test), which HAProxy also checks the certificate against;\n"
              "#     HAProxy's default TLS versions (1.2 to 1.3) and server-side session reuse",
    },
}


TLS_NOTE = {
    False: "plain HTTP (--tls off)",
    True: "TLS (--tls on): one self-signed ECDSA P-256 certificate, each proxy's default TLS\n"
          "#     versions (TLS 1.3 for all; nginx 1.22 needs it listed), ciphers and session\n"
          "#     resumption (wrk resumes on reconnect); HTTP/1.1 inside",
}

PINGORA_NOTE = """\
pingora_bare 127.0.0.1:%(listen)d 127.0.0.1:%(origin)d
(examples/pingora_bare.rs: Pingora's load-balancer example with one round-robin upstream,
1 worker thread, Pingora's connection pool and defaults; no routing, admission, metrics,
added headers or access log. Same release profile and allocator (mimalloc) as firebreak.)
request id and forwarding headers: %(headers)s
(--same-job on also gives it firebreak's timeouts: connect 1 s, read/write 30 s, idle upstream
connections 60 s, client keep-alive 60 s on every request.)
listener: %(tls)s (PINGORA_BARE_TLS="CERT KEY": Pingora's TLS settings at their defaults;
with --h2 on, PINGORA_BARE_H2=1 also offers HTTP/2 by ALPN)
"""


def nginx_conf(listen, origin, d, access_log, single_process=False, headers=False, tls=None, upstream=None):
    user = "user root;\n" if os.geteuid() == 0 else ""
    return """\
# nginx as the proxy under test, generated by benches/proxy/bench.py. Equivalent to
# firebreak.toml / haproxy.cfg next to it:
#   - one worker process (worker_processes 1)%(single_note)s
#   - upstream keepalive 64 (idle connections kept per worker) and no request limit on either
#     side (keepalive_requests; nginx's default of 1000 would make wrk reconnect)
#   - proxy_connect_timeout 1s, proxy_read_timeout 30s; retry on connect error/timeout
#   - client keep-alive timeout 75 s (HAProxy: timeout http-keep-alive 75s)
#   - no active health checks (open-source nginx has none)
#   - access log: %(access)s (the default "combined" format, unbuffered, one write per request)
#   - request id and forwarding headers: %(headers_note)s
#   - %(tls_note)s%(upstream_note)s
%(user)sworker_processes 1;
%(single)spid %(d)s/nginx.pid;
error_log %(d)s/nginx-error.log warn;
worker_rlimit_nofile 16384;
events { worker_connections 8192; }
http {
    %(access_line)s
    keepalive_timeout 75s;
    keepalive_requests 1000000;
    client_body_temp_path %(d)s/client_body;
    proxy_temp_path %(d)s/proxy;
    fastcgi_temp_path %(d)s/fastcgi;
    uwsgi_temp_path %(d)s/uwsgi;
    scgi_temp_path %(d)s/scgi;
    upstream origin {
        server 127.0.0.1:%(origin)d;
        keepalive 64;
        keepalive_requests 1000000;
        keepalive_timeout 60s;
    }
    server {
        listen 127.0.0.1:%(listen)d backlog=4096%(ssl)s;%(ssl_files)s
        location / {
            proxy_pass %(scheme)s://origin;%(upstream_ssl)s
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_connect_timeout 1s;
            proxy_read_timeout 30s;
            proxy_next_upstream error timeout;%(headers)s
        }
    }
}
""" % dict(user=user, d=d, listen=listen, origin=origin, access="on" if access_log else "off",
           access_line=("access_log %s/access.log;" % d) if access_log else "access_log off;",
           single="master_process off;\n" if single_process else "",
           headers=NGINX_HEADERS if headers else "",
           headers_note=HEADERS_NOTE[headers],
           tls_note=TLS_NOTE[bool(tls)],
           upstream_note=("\n#   - " + UPSTREAM_NOTE["nginx"][upstream["tls"]]) if upstream else "",
           scheme="https" if upstream and upstream["tls"] else "http",
           upstream_ssl=NGINX_UPSTREAM_TLS % upstream if upstream and upstream["tls"] else "",
           ssl=(" ssl http2" if tls.get("h2") else " ssl") if tls else "",
           ssl_files=("\n        ssl_certificate %s;\n        ssl_certificate_key %s;"
                      "\n        ssl_protocols TLSv1.2 TLSv1.3;  # nginx >= 1.23.4's default; 1.22's lacks 1.3"
                      % (tls["cert"], tls["key"]))
           if tls else "",
           single_note=(";\n#     here without a master process (master_process off), so valgrind"
                        " and callgrind_control\n#     see one process; the per-request code path"
                        " is the same") if single_process else "")


NGINX_UPSTREAM_TLS = """
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate %(ca)s;
            proxy_ssl_name %(sni)s;
            proxy_ssl_server_name on;
            proxy_ssl_session_reuse on;
            proxy_ssl_protocols TLSv1.2 TLSv1.3;"""

HEADERS_NOTE = {
    False: "none (--same-job off; firebreak always adds its four)",
    True: "the four firebreak adds (--same-job on): X-Request-Id, X-Forwarded-For,\n"
          "#     X-Forwarded-Proto to the origin, X-Request-Id to the client",
}

NGINX_HEADERS = """
            proxy_set_header X-Request-Id $request_id;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            add_header X-Request-Id $request_id always;"""

HAPROXY_HEADERS = """\
    unique-id-format %[uuid()]
    http-request set-header X-Request-Id %[unique-id]
    option forwardfor
    http-request set-header X-Forwarded-Proto %(proto)s
    http-response set-header X-Request-Id %[unique-id]
"""


def haproxy_conf(listen, origin, d, access_log, headers=False, tls=None, upstream=None):
    log_global = "    log stdout format raw local0\n" if access_log else ""
    log_defaults = "    log global\n    option httplog\n" if access_log else ""
    return """\
# HAProxy as the proxy under test, generated by benches/proxy/bench.py. Equivalent to
# firebreak.toml / nginx.conf next to it:
#   - one thread (nbthread 1)
#   - server-side connections reused for any request (http-reuse always) ~ upstream keepalive
#   - timeout connect 1s, timeout server 30s; client keep-alive 75 s like nginx's
#   - no active health checks (no `check` on the server): passive only
#   - access log: %(access)s (option httplog to stdout, redirected to a file: one write per request)
#   - request id and forwarding headers: %(headers_note)s
#   - %(tls_note)s%(upstream_note)s
global
    nbthread 1
    maxconn 8192
    pidfile %(d)s/haproxy.pid
%(log_global)s
defaults
    mode http
    maxconn 8192
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout http-request 10s
    timeout http-keep-alive 75s
    option http-keep-alive
    http-reuse always
%(log_defaults)s
frontend fe
    bind 127.0.0.1:%(listen)d%(ssl)s
%(headers)s    default_backend origin

backend origin
    server origin 127.0.0.1:%(origin)d%(server_ssl)s
""" % dict(d=d, listen=listen, origin=origin, access="on" if access_log else "off",
           upstream_note=("\n#   - " + UPSTREAM_NOTE["haproxy"][upstream["tls"]]) if upstream else "",
           server_ssl=(" ssl verify required ca-file %(ca)s sni str(%(sni)s)" % upstream)
           if upstream and upstream["tls"] else "",
           log_global=log_global, log_defaults=log_defaults,
           headers=HAPROXY_HEADERS.replace("%(proto)s", "https" if tls else "http") if headers else "",
           headers_note=HEADERS_NOTE[headers], tls_note=TLS_NOTE[bool(tls)],
           ssl=(" ssl crt %s%s" % (tls["pem"], " alpn h2,http/1.1" if tls.get("h2") else "")) if tls else "")


WRK_LUA = """\
-- generated by benches/proxy/bench.py: wrk prints 50/75/90/99 only; this adds 99.9 and the
-- raw counts as one JSON line.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('FBJSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,' ..
    '"p50_us":%.1f,"p75_us":%.1f,"p90_us":%.1f,"p99_us":%.1f,"p999_us":%.1f,' ..
    '"max_us":%.1f,"mean_us":%.1f}\\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean))
end
"""


# --------------------------------------------------------------------------------------------


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt(v, spec="%.0f", none="-"):
    return none if v is None else spec % v


def render(headers, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h))
              for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(str(c).rjust(w) if i else str(c).ljust(w)
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    return "\n".join(out)


def short_fn(name):
    """Shortens a callgrind_annotate `file:function [object]` entry for the summary."""
    name = re.sub(r" \[[^\]]*\]$", "", name)
    name = re.sub(r"/root/\.cargo/registry/src/[^/]+/", "", name)
    name = re.sub(r"/rustc/[0-9a-f]+/library/", "std:", name)
    return name


def top_functions(annotate, total, n):
    """The first `n` function lines of callgrind_annotate's output, as `share  Ir  function`."""
    out, seen = [], False
    for line in annotate.splitlines():
        m = re.match(r"^\s*([\d,]+) \(\s*([\d.]+)%\)\s+(.*)$", line)
        if not m:
            continue
        if "PROGRAM TOTALS" in m.group(3):
            seen = True
            continue
        if seen:
            out.append("%6s%%  %14s  %s" % (m.group(2), m.group(1), short_fn(m.group(3))))
        if len(out) >= n:
            break
    return "\n".join(out) + "\n"


def self_costs(path):
    """Exclusive (self) Ir per function from a callgrind dump. callgrind_annotate 3.19 shows
    only `clone` in its exclusive view of these Rust dumps, so this reads the format directly:
    a cost line belongs to the current fn= unless it follows a calls= line (then it is the
    inclusive cost of that call)."""
    names = {}

    def name(v):
        m = re.match(r"^\((\d+)\)(?: (.*))?$", v)
        if not m:
            return v
        if m.group(2) is not None:
            names[m.group(1)] = m.group(2)
        return names.get(m.group(1), v)

    costs, fn, after_call = {}, None, False
    with open(path, errors="replace") as f:
        for line in f:
            c = line[:1]
            if c.isdigit() or c in "+-*":
                if after_call:
                    after_call = False
                    continue
                parts = line.split()
                if len(parts) > 1 and fn is not None:
                    costs[fn] = costs.get(fn, 0) + int(parts[1])
            elif line.startswith("fn="):
                fn = name(line[3:].rstrip("\n"))
            elif line.startswith("cfn=") or line.startswith("cfi=") or line.startswith("cfl="):
                name(line[4:].rstrip("\n"))
            elif line.startswith("calls="):
                after_call = True
    return costs


def top_self(path, total, n):
    costs = self_costs(path)
    total = total or sum(costs.values()) or 1
    out = []
    for fn, ir in sorted(costs.items(), key=lambda kv: -kv[1])[:n]:
        out.append("%6.2f%%  %14s  %s" % (100.0 * ir / total, "{:,}".format(ir), short_fn(fn)))
    return "\n".join(out) + "\n"


class Bench:
    def __init__(self, a):
        self.a = a
        self.out = a.out
        os.makedirs(self.out, exist_ok=True)
        self.tmp = tempfile.mkdtemp(prefix="firebreak-bench-")
        self.kids = Children(os.path.join(self.out, "pids"))
        self.lua = os.path.join(self.tmp, "done.lua")
        with open(self.lua, "w") as f:
            if a.body_bytes:
                # --body-bytes N: every request is a POST with an N-byte body (uploads).
                f.write('wrk.method = "POST"\nwrk.body = string.rep("a", %d)\n'
                        'wrk.headers["Content-Type"] = "application/octet-stream"\n' % a.body_bytes)
            f.write(WRK_LUA)
        self.pc = str(a.proxy_core)
        self.lc = str(a.load_core)
        self.origin_port = None
        # --upstream-tls: the current turn's upstream, {"tls": bool, "port", "ca", "sni"}
        # (None in the other modes: plain, to self.origin_port).
        self.upstream = None
        self.up = None  # --upstream-tls: the origin's ports, CA and connection counter
        # --tls on: the proxies listen with TLS (the origin stays plain HTTP, as behind any
        # TLS-terminating proxy); None otherwise.
        self.tls = make_cert(self.tmp) if a.tls == "on" else None
        if self.tls:
            # --h2 on: every proxy offers HTTP/2 by ALPN (firebreak always does).
            self.tls["h2"] = a.h2 == "on"

    # ---- origin and proxies --------------------------------------------------------------

    def start_origin(self):
        d = os.path.join(self.tmp, "origin")
        os.makedirs(d, exist_ok=True)
        (port,) = free_ports(1)
        conf = os.path.join(d, "origin.conf")
        with open(conf, "w") as f:
            f.write(origin_conf(port, d))
        base = ["nginx", "-p", d, "-e", os.path.join(d, "origin-error.log"), "-c", conf]
        subprocess.run(base + ["-t", "-q"], check=True)
        self.kids.start("origin", ["taskset", "-c", self.lc] + base + ["-g", "daemon off;"],
                        os.path.join(d, "origin.out"))
        wait_until(lambda: http_ok(port), 20, "the origin", alive=lambda: self.kids.alive("origin"))
        self.origin_port = port
        shutil.copy(conf, os.path.join(self.out, "configs", "origin.conf"))
        log("origin (nginx, core %s) on 127.0.0.1:%d" % (self.lc, port))

    def proxy_argv(self, proxy, d, listen, single_process=False, measure=False):
        """(argv, env, config path) for one proxy."""
        access = self.a.access_log == "on"
        env = dict(os.environ)
        up = self.upstream
        origin_port = up["port"] if up else self.origin_port
        if proxy in ("firebreak", "firebreak-plain"):
            binary = self.a.firebreak_bin if proxy == "firebreak" else self.a.firebreak_plain_bin
            admin = free_ports(1)[0]
            conf = os.path.join(d, "firebreak.toml")
            with open(conf, "w") as f:
                f.write(firebreak_conf(listen, admin, origin_port, access,
                                       max(64, 2 * self.a.cg_conns) if measure else 0, self.tls, up))
            env["RUST_LOG"] = "info" if access else "info,access=off"
            env.pop("FIREBREAK_LOG_FORMAT", None)
            subprocess.run([binary, "check", "--config", conf], check=True,
                           stdout=subprocess.DEVNULL, env=env)
            return [binary, "run", "--config", conf], env, conf
        if proxy == "nginx":
            conf = os.path.join(d, "nginx.conf")
            with open(conf, "w") as f:
                f.write(nginx_conf(listen, origin_port, d, access, single_process,
                                   self.a.same_job == "on", self.tls, up))
            base = ["nginx", "-p", d, "-e", os.path.join(d, "nginx-error.log"), "-c", conf]
            subprocess.run(base + ["-t", "-q"], check=True)
            return base + ["-g", "daemon off;"], env, conf
        if proxy == "haproxy":
            conf = os.path.join(d, "haproxy.cfg")
            with open(conf, "w") as f:
                f.write(haproxy_conf(listen, origin_port, d, access, self.a.same_job == "on",
                                     self.tls, up))
            subprocess.run(["haproxy", "-c", "-q", "-f", conf], check=True)
            return ["haproxy", "-f", conf, "-db"], env, conf
        if proxy == "pingora":
            # No config file: listen and origin are its two arguments. Keep a note of the job.
            conf = os.path.join(d, "pingora-bare.txt")
            with open(conf, "w") as f:
                f.write(PINGORA_NOTE % {"listen": listen, "origin": self.origin_port,
                                        "headers": HEADERS_NOTE[self.a.same_job == "on"],
                                        "tls": " ".join(TLS_NOTE[bool(self.tls)].replace("#", "").split())})
            if self.a.same_job == "on":
                env["PINGORA_BARE_SAME_JOB"] = "1"
            if self.tls:
                env["PINGORA_BARE_TLS"] = "%s %s" % (self.tls["cert"], self.tls["key"])
                if self.tls["h2"]:
                    env["PINGORA_BARE_H2"] = "1"
            return [self.a.pingora_bin, "127.0.0.1:%d" % listen, "127.0.0.1:%d" % self.origin_port], env, conf
        raise ValueError(proxy)

    def start_proxy(self, proxy, tag, wrapper=(), single_process=False, ready_timeout=30, measure=False):
        d = os.path.join(self.tmp, tag)
        os.makedirs(d, exist_ok=True)
        (listen,) = free_ports(1)
        argv, env, conf = self.proxy_argv(proxy, d, listen, single_process, measure)
        keep = os.path.join(self.out, "configs", os.path.basename(conf))
        if self.upstream:  # --upstream-tls: the plain and the TLS turn's config side by side
            base, ext = os.path.splitext(keep)
            keep = "%s-upstream-%s%s" % (base, "tls" if self.upstream["tls"] else "plain", ext)
        if not os.path.exists(keep):
            shutil.copy(conf, keep)
        p = self.kids.start("proxy", ["taskset", "-c", self.pc] + list(wrapper) + argv,
                            os.path.join(d, "%s.log" % proxy), env=env)
        wait_until(lambda: http_ok(listen, tls=bool(self.tls)), ready_timeout, "%s to serve" % proxy,
                   alive=lambda: self.kids.alive("proxy"))
        return p, listen, d

    def stop_proxy(self, d, proxy):
        self.kids.stop("proxy", grace=5.0)
        # Access logs grow by ~100 B per request; keep a few lines and the line count, drop the rest.
        for name in os.listdir(d):
            path = os.path.join(d, name)
            if os.path.isfile(path) and (name.endswith(".log") or name.endswith(".out")):
                size = os.path.getsize(path)
                if size > 256 * 1024:
                    lines = 0
                    with open(path, "rb") as f:
                        head = b"".join(f.readline() for _ in range(20))
                        f.seek(0)
                        for chunk in iter(lambda: f.read(1 << 20), b""):
                            lines += chunk.count(b"\n")
                    with open(path, "wb") as f:
                        f.write(head + b"... (truncated by bench.py: %d bytes, %d lines)\n" % (size, lines))

    # ---- load ----------------------------------------------------------------------------

    def wrk(self, port, seconds, close=False, direct=False):
        """One wrk run; with --h2 on, a keep-alive run at the proxy goes to oha() instead."""
        if self.a.h2 == "on" and not close and not direct:
            return self.oha(port, seconds)
        argv = ["taskset", "-c", self.lc, "wrk", "-t1", "-c%d" % self.a.conns, "-d%ds" % seconds,
                "--latency", "-s", self.lua]
        if close:
            argv += ["-H", "Connection: close"]
        # The origin is plain HTTP even with --tls on.
        argv.append("%s://127.0.0.1:%d/" % ("https" if self.tls and not direct else "http", port))
        r = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
        res = None
        for line in r.stdout.splitlines():
            if line.startswith("FBJSON "):
                res = json.loads(line[7:])
        if r.returncode != 0 or res is None:
            raise RuntimeError("wrk failed (%d): %s %s" % (r.returncode, r.stdout[-2000:], r.stderr[-2000:]))
        res["rps"] = res["requests"] / (res["duration_us"] / 1e6)
        m = re.search(r"Non-2xx or 3xx responses: (\d+)", r.stdout)
        res["non2xx"] = int(m.group(1)) if m else 0
        res["argv"] = " ".join(argv)
        res["stdout"] = r.stdout
        return res

    def oha(self, port, seconds):
        """--h2 on: the keep-alive load over HTTP/2 (wrk speaks only HTTP/1.1). oha keeps
        --conns requests in flight: --conns / --h2-streams connections with --h2-streams
        streams each. Returns the fields wrk() returns."""
        streams = max(1, self.a.h2_streams)
        argv = ["taskset", "-c", self.lc, "oha", "--no-tui", "--output-format", "json", "--http2",
                "--insecure", "-z", "%ds" % seconds, "--wait-ongoing-requests-after-deadline",
                "-c", str(max(1, self.a.conns // streams)), "-p", str(streams)]
        if self.a.body_bytes:
            body = os.path.join(self.tmp, "body.bin")
            if not os.path.exists(body):
                with open(body, "wb") as f:
                    f.write(b"a" * self.a.body_bytes)
            argv += ["-m", "POST", "-D", body, "-T", "application/octet-stream"]
        argv.append("https://127.0.0.1:%d/" % port)
        r = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
        try:
            j = json.loads(r.stdout)
        except ValueError:
            raise RuntimeError("oha failed (%d): %s %s" % (r.returncode, r.stdout[-2000:], r.stderr[-2000:]))
        codes = {int(k): v for k, v in (j.get("statusCodeDistribution") or {}).items()}
        errors = sum((j.get("errorDistribution") or {}).values())
        pct = j.get("latencyPercentiles") or {}
        ok = sum(v for k, v in codes.items() if 200 <= k < 400)
        total_s = j["summary"]["total"]
        us = lambda key: 1e6 * (pct.get(key) or 0.0)
        return {"requests": sum(codes.values()), "duration_us": 1e6 * total_s,
                "rps": sum(codes.values()) / total_s if total_s else 0.0,
                "p50_us": us("p50"), "p99_us": us("p99"), "p999_us": us("p99.9"),
                "non2xx": sum(codes.values()) - ok, "err_connect": 0, "err_read": errors,
                "err_write": 0, "err_timeout": 0, "err_status": 0,
                "argv": " ".join(argv),
                "stdout": json.dumps(j.get("summary"))}

    def measured_wrk(self, root_pid, port, seconds, close=False):
        c0, t0 = tree_cpu_ticks(root_pid), cpu_times()
        w = self.wrk(port, seconds, close)
        c1, t1 = tree_cpu_ticks(root_pid), cpu_times()
        ticks = c1 - c0
        core = "cpu%s" % self.pc
        busy, total, steal = busy_of(t0, t1, core) if core in t0 else (None, None, None)
        w["proxy_cpu_s"] = ticks / HZ
        w["proxy_cpu_pct"] = 100.0 * ticks / HZ / (w["duration_us"] / 1e6)
        w["cpu_us_per_req"] = 1e6 * ticks / HZ / max(1, w["requests"])
        if total:
            w["proxy_core_other_pct"] = round(100.0 * max(0, busy - ticks) / total, 1)
            w["proxy_core_steal_pct"] = round(100.0 * steal / total, 1)
        return w

    def count(self, port, n, conns):
        argv = ["taskset", "-c", self.lc, PY, CLIENT, "count", "--port", str(port),
                "--requests", str(n), "--conns", str(conns)]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=3600)
        try:
            res = json.loads(r.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise RuntimeError("client.py failed: %s %s" % (r.stdout[-1000:], r.stderr[-1000:]))
        if res["ok"] != n:
            log("warning: %d of %d requests were not 2xx: %s" % (n - res["ok"], n, res))
        res["argv"] = " ".join(argv)
        return res

    def idle_memory(self, root_pid, port):
        time.sleep(1.0)
        before = tree_rss_kb(root_pid)
        argv = ["taskset", "-c", self.lc, PY, CLIENT, "idle", "--port", str(port),
                "--conns", str(self.a.idle_conns)] + (["--tls"] if self.tls else [])
        p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True)
        try:
            line = p.stdout.readline().split()
            if not line or line[0] != "READY":
                raise RuntimeError("idle client: %r %s" % (line, p.stderr.read()[-1000:]))
            opened, failed = int(line[1]), int(line[2])
            time.sleep(1.0)
            after = tree_rss_kb(root_pid)
            time.sleep(1.0)
            after = max(after, tree_rss_kb(root_pid))
            p.stdin.close()
            done = p.stdout.readline().split()
            still = int(done[1]) if len(done) == 2 and done[0] == "DONE" else None
            p.wait(30)
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        return {"rss_before_kb": before, "rss_after_kb": after, "opened": opened, "failed": failed,
                "still_open_at_end": still,
                "bytes_per_conn": 1024.0 * (after - before) / max(1, opened)}

    # ---- default mode --------------------------------------------------------------------

    def settle(self):
        """Wait (at most --settle seconds) for the machine to be quiet: other work shares it.
        Returns (busy % in the last 1 s sample, seconds waited)."""
        t0 = time.time()
        busy = machine_busy(1.0)
        while busy > self.a.settle_busy and time.time() - t0 < self.a.settle:
            busy = machine_busy(1.0)
        return busy, round(time.time() - t0, 1)

    def turn(self, proxy, rnd):
        tag = "%s-r%d" % (proxy, rnd)
        busy, waited = self.settle()
        la = loadavg()
        log("turn %s: load average %s, machine busy %.0f %% before start (waited %.0f s)"
            % (tag, la, busy, waited))
        p, port, d = self.start_proxy(proxy, tag)
        row = {"proxy": proxy, "round": rnd, "loadavg": la, "busy_before_pct": busy, "settle_wait_s": waited,
               "threads": tree_threads(p.pid)}
        self.wrk(port, self.a.warmup)
        row["keepalive"] = self.measured_wrk(p.pid, port, self.a.duration)
        row["close"] = self.measured_wrk(p.pid, port, self.a.close_duration, close=True)
        if self.a.idle_conns > 0:
            row["idle"] = self.idle_memory(p.pid, port)
        row["loadavg_after"] = loadavg()
        self.stop_proxy(d, proxy)
        k, c = row["keepalive"], row["close"]
        log("  keep-alive %.0f req/s p99 %.2f ms, %.2f us CPU/req; close %.0f conn/s; idle %s B/conn"
            % (k["rps"], k["p99_us"] / 1000, k["cpu_us_per_req"], c["rps"],
               fmt(row.get("idle", {}).get("bytes_per_conn"))))
        return row

    def direct(self):
        self.settle()
        la = loadavg()
        c0 = tree_cpu_ticks(self.kids.procs["origin"].pid)
        self.wrk(self.origin_port, self.a.warmup, direct=True)
        w = self.wrk(self.origin_port, self.a.duration, direct=True)
        w["loadavg"] = la
        w["origin_cpu_s"] = (tree_cpu_ticks(self.kids.procs["origin"].pid) - c0) / HZ
        log("direct to the origin: %.0f req/s" % w["rps"])
        return w

    def run_rounds(self, proxies):
        res = {"mode": "rounds", "turns": [], "direct": None}
        if not self.a.no_direct:
            res["direct"] = self.direct()
        for rnd in range(1, self.a.rounds + 1):
            for proxy in proxies:
                res["turns"].append(self.turn(proxy, rnd))
                time.sleep(1.0)
        return res

    # ---- --upstream-tls mode --------------------------------------------------------------

    def start_origin_upstream(self):
        """--upstream-tls: the nginx origin on a plain and a TLS port (the run's test CA), with a
        status port and a log line per new connection (upstream_tls.origin_conf)."""
        d = os.path.join(self.tmp, "origin")
        os.makedirs(d, exist_ok=True)
        ca = upstream_tls.make_ca(os.path.join(self.tmp, "upstream-ca"))
        plain, tls, status = free_ports(3)
        conf = os.path.join(d, "origin.conf")
        with open(conf, "w") as f:
            f.write(upstream_tls.origin_conf(plain, tls, status, d, ca))
        base = ["nginx", "-p", d, "-e", os.path.join(d, "origin-error.log"), "-c", conf]
        subprocess.run(base + ["-t", "-q"], check=True)
        self.kids.start("origin", ["taskset", "-c", self.lc] + base + ["-g", "daemon off;"],
                        os.path.join(d, "origin.out"))
        wait_until(lambda: http_ok(plain), 20, "the origin", alive=lambda: self.kids.alive("origin"))
        self.origin_port = plain
        self.up = {"plain": plain, "tls": tls, "status": status, "ca": ca,
                   "counter": upstream_tls.OriginCounter(status, os.path.join(d, "conns.log"))}
        wait_until(lambda: self.up["counter"].accepts() > 0, 20, "the origin's status port")
        shutil.copy(conf, os.path.join(self.out, "configs", "origin-upstream-tls.conf"))
        shutil.copy(ca["ca"], os.path.join(self.out, "configs", "upstream-ca.pem"))
        log("origin (nginx, core %s) on 127.0.0.1:%d (plain) and :%d (TLS, %s, test CA %s)"
            % (self.lc, plain, tls, upstream_tls.SNI, ca["ca"]))

    def upstream_turn(self, proxy, rnd, tls):
        up = "tls" if tls else "plain"
        tag = "%s-r%d-upstream-%s" % (proxy, rnd, up)
        busy, waited = self.settle()
        la = loadavg()
        log("turn %s: load average %s, machine busy %.0f %% before start (waited %.0f s)"
            % (tag, la, busy, waited))
        port = self.up[up]
        self.upstream = {"tls": tls, "port": port, "ca": self.up["ca"]["ca"], "sni": upstream_tls.SNI}
        counter = self.up["counter"]
        s0 = counter.snapshot()
        try:
            p, listen, d = self.start_proxy(proxy, tag)
        finally:
            self.upstream = None
        row = {"proxy": proxy, "round": rnd, "upstream": up, "loadavg": la, "busy_before_pct": busy,
               "settle_wait_s": waited}
        self.wrk(listen, self.a.warmup)
        s1 = counter.snapshot()
        row["keepalive"] = self.measured_wrk(p.pid, listen, self.a.duration)
        s2 = counter.snapshot()
        row["loadavg_after"] = loadavg()
        self.stop_proxy(d, proxy)
        row["origin_measured"] = counter.between(s1, s2, port)
        row["origin_turn"] = counter.between(s0, s2, port)
        k, m = row["keepalive"], row["origin_measured"]
        log("  %s upstream: %.0f req/s p99 %.2f ms, %.2f us CPU/req; origin: %d new connections in the run"
            " (%.3f per 1000 requests; open %d -> %d), %d in the turn (%d resumed) %s"
            % (up, k["rps"], k["p99_us"] / 1000, k["cpu_us_per_req"], m["accepted"],
               1000.0 * m["accepted"] / max(1, k["requests"]), m["open_before"], m["open_after"],
               row["origin_turn"]["accepted"],
               row["origin_turn"]["resumed"], row["origin_turn"]["protocols"]))
        return row

    def run_upstream_tls(self, proxies):
        res = {"mode": "upstream-tls", "turns": []}
        for rnd in range(1, self.a.rounds + 1):
            for proxy in proxies:
                for tls in (False, True):
                    res["turns"].append(self.upstream_turn(proxy, rnd, tls))
                    time.sleep(1.0)
        return res

    # ---- callgrind mode ------------------------------------------------------------------

    def callgrind(self, proxy):
        tag = "%s-callgrind" % proxy
        self.settle()
        la = loadavg()
        cgdir = os.path.join(self.out, "callgrind")
        os.makedirs(cgdir, exist_ok=True)
        outfile = os.path.join(cgdir, "callgrind.out.%s" % proxy)
        for old in glob.glob(outfile + "*"):
            os.remove(old)
        wrapper = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + outfile,
                   "--dump-instr=no", "--collect-jumps=no"]
        log("callgrind %s: starting under valgrind (load average %s)" % (proxy, la))
        p, port, d = self.start_proxy(proxy, tag, wrapper=wrapper, single_process=True, ready_timeout=300,
                                      measure=True)
        warm = self.count(port, self.a.cg_warmup, self.a.cg_conns)
        subprocess.run(["callgrind_control", "-z", str(p.pid)], check=True, capture_output=True)
        t0 = time.time()
        drive = self.count(port, self.a.cg_requests, self.a.cg_conns)
        secs = time.time() - t0
        before = set(glob.glob(outfile + "*"))
        subprocess.run(["callgrind_control", "-d", str(p.pid)], check=True, capture_output=True)
        dump = None
        end = time.time() + 60
        while dump is None and time.time() < end:
            new = [f for f in glob.glob(outfile + "*") if f not in before and os.path.getsize(f) > 0]
            for f in new:
                with open(f, "rb") as fh:
                    fh.seek(max(0, os.path.getsize(f) - 4096))
                    if b"totals:" in fh.read():
                        dump = f
            time.sleep(0.5)
        self.stop_proxy(d, proxy)
        if dump is None:
            raise RuntimeError("no callgrind dump for %s in %s" % (proxy, cgdir))
        ir = None
        with open(dump) as fh:
            for line in fh:
                if line.startswith("totals:") or (ir is None and line.startswith("summary:")):
                    ir = int(line.split()[1])
        for f in glob.glob(outfile + "*"):  # the final dump at exit covers the shutdown: drop it
            if f != dump:
                os.remove(f)
        final = outfile + ".dump"
        os.rename(dump, final)
        ann = {}
        r = subprocess.run(["callgrind_annotate", "--inclusive=yes", final], capture_output=True, text=True)
        path = os.path.join(cgdir, "annotate-%s-inclusive.txt" % proxy)
        with open(path, "w") as fh:
            fh.write(r.stdout)
        ann["inclusive"] = path
        ann["top_inclusive"] = os.path.join(cgdir, "top-%s-inclusive.txt" % proxy)
        with open(ann["top_inclusive"], "w") as fh:
            fh.write(top_functions(r.stdout, ir, 30))
        ann["top_self"] = os.path.join(cgdir, "top-%s-self.txt" % proxy)
        with open(ann["top_self"], "w") as fh:
            fh.write(top_self(final, ir, 40))
        res = {"proxy": proxy, "loadavg": la, "ir": ir, "requests": self.a.cg_requests,
               "instr_per_req": ir / self.a.cg_requests, "dump": final, "annotate": ann,
               "warmup": warm, "drive": drive, "drive_seconds": round(secs, 1),
               "conns": self.a.cg_conns}
        log("  %s: %.1f k instructions per request (%d requests in %.0f s under callgrind)"
            % (proxy, res["instr_per_req"] / 1000, self.a.cg_requests, secs))
        return res

    def strace(self, proxy):
        tag = "%s-strace" % proxy
        self.settle()
        la = loadavg()
        p, port, d = self.start_proxy(proxy, tag, measure=True)
        self.count(port, self.a.cg_warmup, self.a.cg_conns)
        out = os.path.join(self.out, "strace-%s.txt" % proxy)
        pids = proc_tree(p.pid)
        argv = ["strace", "-c", "-f", "-o", out]
        for pid in pids:
            argv += ["-p", str(pid)]
        errf = open(os.path.join(d, "strace.err"), "w+")
        st = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=errf, start_new_session=True)
        self.kids.procs["strace"] = st
        self.kids._write()
        threads = tree_threads(p.pid)
        end = time.time() + 20
        while time.time() < end:  # "Process N attached [with M threads]", one line per process
            errf.seek(0)
            if errf.read().count("attached") >= len(pids):
                break
            time.sleep(0.2)
        time.sleep(0.5)
        t0 = time.time()
        drive = self.count(port, self.a.strace_requests, self.a.cg_conns)
        secs = time.time() - t0
        time.sleep(0.2)
        st.send_signal(signal.SIGINT)
        st.wait(30)
        del self.kids.procs["strace"]
        self.kids._write()
        errf.seek(0)
        text = errf.read()
        errf.close()
        attached = sum(int(m.group(1) or 1) for m in re.finditer(r"attached(?: with (\d+) threads)?", text))
        self.stop_proxy(d, proxy)
        calls = {}
        with open(out) as fh:
            for line in fh:
                t = line.split()
                if len(t) < 5 or t[-1] == "total" or not re.match(r"^[\d.]+$", t[0]):
                    continue
                calls[t[-1]] = int(t[3])
        total = sum(calls.values())
        n = self.a.strace_requests
        res = {"proxy": proxy, "loadavg": la, "requests": n, "syscalls": total,
               "syscalls_per_req": total / n,
               "per_req": {k: round(v / n, 2) for k, v in sorted(calls.items(), key=lambda kv: -kv[1])},
               "threads": threads, "attached": attached, "drive": drive, "drive_seconds": round(secs, 1),
               "file": out, "conns": self.a.cg_conns}
        log("  %s: %.2f syscalls per request (%s)" % (proxy, res["syscalls_per_req"],
            ", ".join("%s %.2f" % kv for kv in list(res["per_req"].items())[:5])))
        return res

    def perf_turn(self, proxy, rnd):
        """One proxy under wrk while perf samples its core (the --perf mode)."""
        tag = "%s-perf-r%d" % (proxy, rnd)
        busy, waited = self.settle()
        p, port, d = self.start_proxy(proxy, tag)
        self.wrk(port, self.a.warmup)
        comms, exe = perfprof.proxy_identity(proc_tree(p.pid))
        data = os.path.join(self.out, "perf", "%s.data" % tag)
        os.makedirs(os.path.dirname(data), exist_ok=True)
        box = {}
        load = threading.Thread(target=lambda: box.update(w=self.wrk(port, self.a.duration)))
        load.start()
        time.sleep(1.0)
        window = self.a.duration - 2
        t0 = time.time()
        subprocess.run(perfprof.record_argv(self.pc, window, data, self.a.perf_freq),
                       check=True, capture_output=True)
        measured = time.time() - t0
        load.join()
        self.stop_proxy(d, proxy)
        w = box["w"]
        prof = perfprof.summarize(data, int(w["rps"] * measured), measured, comms, exe)
        log("  %s: %.0f req/s; %.2f us/req busy (kernel %.2f, user %.2f), idle %.2f"
            % (tag, w["rps"], prof["busy_us_per_req"], prof["us_per_req"]["kernel"],
               prof["user_us_per_req"], prof["us_per_req"]["idle"]))
        return {"proxy": proxy, "round": rnd, "rps": w["rps"], "busy_before_pct": busy, "settle_wait_s": waited,
                "window_s": round(measured, 2), "comms": comms, "exe": exe, "data": data, "profile": prof,
                "p99_us": w["p99_us"], "non2xx": w["non2xx"]}

    def run_perf(self, proxies):
        res = {"mode": "perf", "turns": []}
        for rnd in range(1, self.a.rounds + 1):
            for proxy in proxies:
                res["turns"].append(self.perf_turn(proxy, rnd))
                time.sleep(1.0)
        return res

    def run_callgrind(self, proxies):
        res = {"mode": "callgrind", "callgrind": {}, "strace": {}}
        for proxy in proxies:
            res["callgrind"][proxy] = self.callgrind(proxy)
            time.sleep(1.0)
        for proxy in proxies:
            res["strace"][proxy] = self.strace(proxy)
            time.sleep(1.0)
        return res


# --------------------------------------------------------------------------------------------
# tables


def table_rounds(res, meta):
    turns = res["turns"]
    ref = {t["round"]: t for t in turns if t["proxy"] == "nginx"}
    rows = []
    for t in turns:
        k, c, i = t["keepalive"], t["close"], t.get("idle") or {}
        n = ref.get(t["round"])
        nk = n["keepalive"] if n else None
        nc = n["close"] if n else None
        rows.append([
            "%s %d" % (t["proxy"], t["round"]),
            "%.2f" % t["loadavg"][0],
            "%.0f" % k["rps"],
            fmt(ratio(k["rps"], nk and nk["rps"]), "%.2f"),
            "%.3f" % (k["p50_us"] / 1000), "%.3f" % (k["p99_us"] / 1000), "%.3f" % (k["p999_us"] / 1000),
            fmt(ratio(k["p99_us"], nk and nk["p99_us"]), "%.2f"),
            "%.2f" % k["cpu_us_per_req"],
            fmt(ratio(k["cpu_us_per_req"], nk and nk["cpu_us_per_req"]), "%.2f"),
            "%.0f" % k["proxy_cpu_pct"],
            fmt(k.get("proxy_core_other_pct"), "%.0f"),
            "%.0f" % c["rps"],
            fmt(ratio(c["rps"], nc and nc["rps"]), "%.2f"),
            "%.1f" % c["cpu_us_per_req"],
            fmt(i.get("bytes_per_conn")),
            "%d/%d" % (k["non2xx"], c["non2xx"]),
            "%d/%d" % (k["err_connect"] + k["err_read"] + k["err_write"] + k["err_timeout"],
                       c["err_connect"] + c["err_read"] + c["err_write"] + c["err_timeout"]),
        ])
    headers = ["turn", "load1", "ka req/s", "x nginx", "p50 ms", "p99 ms", "p99.9 ms", "p99 x ng",
               "CPU us/req", "x nginx", "proxy CPU%", "core0 other%", "close conn/s", "x nginx",
               "close CPU us", "idle B/conn", "non-2xx ka/cl", "sock err ka/cl"]
    out = [render(headers, rows)]

    # medians per proxy over the rounds, ratios of medians
    summ = {}
    for proxy in meta["proxies"]:
        ts = [t for t in turns if t["proxy"] == proxy]
        summ[proxy] = {
            "rps": median([t["keepalive"]["rps"] for t in ts]),
            "p50": median([t["keepalive"]["p50_us"] / 1000 for t in ts]),
            "p99": median([t["keepalive"]["p99_us"] / 1000 for t in ts]),
            "p999": median([t["keepalive"]["p999_us"] / 1000 for t in ts]),
            "cpu": median([t["keepalive"]["cpu_us_per_req"] for t in ts]),
            "close": median([t["close"]["rps"] for t in ts]),
            "idle": median([(t.get("idle") or {}).get("bytes_per_conn") for t in ts]),
        }
    n = summ.get("nginx", {})
    rows = []
    for proxy, s in summ.items():
        rows.append([proxy, fmt(s["rps"]), fmt(ratio(s["rps"], n.get("rps")), "%.2f"),
                     fmt(s["p50"], "%.3f"), fmt(s["p99"], "%.3f"), fmt(s["p999"], "%.3f"),
                     fmt(ratio(s["p99"], n.get("p99")), "%.2f"),
                     fmt(s["cpu"], "%.2f"), fmt(ratio(s["cpu"], n.get("cpu")), "%.2f"),
                     fmt(s["close"]), fmt(ratio(s["close"], n.get("close")), "%.2f"),
                     fmt(s["idle"]), fmt(BASELINE["keepalive_rps"].get(proxy))])
    out.append("")
    out.append("Median over %d round(s), ratios of medians (x nginx):" % meta["rounds"])
    out.append(render(["proxy", "ka req/s", "x nginx", "p50 ms", "p99 ms", "p99.9 ms", "p99 x ng",
                       "CPU us/req", "x nginx", "close conn/s", "x nginx", "idle B/conn",
                       "issue#5 req/s"], rows))
    res["summary"] = summ
    fb, pb, fp = summ.get("firebreak"), summ.get("pingora"), summ.get("firebreak-plain")
    if fb and fp:
        out.append("firebreak / firebreak-plain (medians): req/s x%s, p99 x%s, CPU us/req x%s, close conn/s x%s"
                   % tuple(fmt(ratio(fb[k], fp[k]), "%.2f") for k in ("rps", "p99", "cpu", "close")))
    if fb and pb:
        out.append("firebreak / bare Pingora (medians): req/s x%s, p99 x%s, CPU us/req x%s, close conn/s x%s,"
                   " idle B/conn x%s" % tuple(fmt(ratio(fb[k], pb[k]), "%.2f")
                                             for k in ("rps", "p99", "cpu", "close", "idle")))
    if res.get("direct"):
        dr = res["direct"]
        out.append("")
        out.append("Direct to the origin (no proxy, wrk and origin on core %s): %.0f req/s, p99 %.3f ms"
                   " (issue #5: %d)" % (meta["load_core"], dr["rps"], dr["p99_us"] / 1000,
                                        BASELINE["keepalive_rps"]["direct"]))
    out.append("Issue #5 baseline (same method): nginx 96 k req/s p99 1.0 ms, HAProxy 92 k, bare Pingora 40 k"
               " (46 k mimalloc+LTO); idle memory nginx ~223 B/conn.")
    out.append("Load average (1/5/15 min) and machine busy % (1 s, before the proxy started) at each turn: "
               + "; ".join("%s %d: %s, %.0f %%" % (t["proxy"], t["round"], "/".join("%.2f" % x for x in t["loadavg"]),
                                                  t["busy_before_pct"]) for t in turns))
    return "\n".join(out)


def table_callgrind(res, meta):
    cg, st = res["callgrind"], res["strace"]
    ncg = cg.get("nginx", {}).get("instr_per_req")
    nst = st.get("nginx", {}).get("syscalls_per_req")
    rows = []
    for proxy in meta["proxies"]:
        c, s = cg.get(proxy, {}), st.get(proxy, {})
        rows.append([proxy,
                     fmt(c.get("instr_per_req")), fmt(ratio(c.get("instr_per_req"), ncg), "%.2f"),
                     fmt(BASELINE["instr_per_req"].get(proxy)),
                     fmt(s.get("syscalls_per_req"), "%.2f"), fmt(ratio(s.get("syscalls_per_req"), nst), "%.2f"),
                     fmt(BASELINE["syscalls_per_req"].get(proxy), "%.1f"),
                     "%s/%s" % (fmt(c and c["drive"]["requests"] - c["drive"]["ok"]),
                                fmt(s and s["drive"]["requests"] - s["drive"]["ok"])),
                     ", ".join("%s %.2f" % kv for kv in list((s.get("per_req") or {}).items())[:5])])
    if "pingora" in cg and "firebreak" in cg:
        extra = cg["firebreak"]["instr_per_req"] - cg["pingora"]["instr_per_req"]
        rows.append(["firebreak - pingora", fmt(extra), "", "", fmt(
            st.get("firebreak", {}).get("syscalls_per_req", 0) - st.get("pingora", {}).get("syscalls_per_req", 0),
            "%+.2f") if "pingora" in st and "firebreak" in st else "-", "", "", "", ""])
    rows.append(["pingora-bare (issue)", fmt(BASELINE["instr_per_req"]["pingora-bare"]),
                 fmt(ratio(BASELINE["instr_per_req"]["pingora-bare"], BASELINE["instr_per_req"]["nginx"]), "%.2f"),
                 fmt(BASELINE["instr_per_req"]["pingora-bare"]), "-", "-", "-", "", ""])
    out = [render(["proxy", "instr/req", "x nginx", "issue#5", "syscalls/req", "x nginx", "issue#5",
                   "non-2xx cg/st", "top syscalls per request"], rows)]
    for who in ("firebreak", "pingora"):
        ann = cg.get(who, {}).get("annotate", {})
        for title, key in (("%s, top 15 by self cost (exclusive Ir):" % who, "top_self"),
                           ("%s, top 30 by inclusive cost (callgrind_annotate --inclusive=yes):" % who,
                            "top_inclusive")):
            if ann.get(key) and os.path.exists(ann[key]) and (who == "firebreak" or key == "top_self"):
                with open(ann[key]) as f:
                    lines = f.read().splitlines()
                out += ["", title] + lines[:15 if key == "top_self" else 30]
    out.append("")
    out.append("instr/req: callgrind Ir (user space, every thread) between callgrind_control -z and -d, "
               "over %d requests (%d connection(s), keep-alive), after %d warm-up requests."
               % (meta["cg_requests"], meta["cg_conns"], meta["cg_warmup"]))
    out.append("syscalls/req: strace -c -f on every thread of the proxy over %d requests (same client)."
               % meta["strace_requests"])
    out.append("Load average at each step: " + "; ".join(
        ["%s callgrind %s" % (p, "/".join("%.2f" % x for x in c["loadavg"])) for p, c in cg.items()]
        + ["%s strace %s" % (p, "/".join("%.2f" % x for x in s["loadavg"])) for p, s in st.items()]))
    return "\n".join(out)


def header(meta):
    return ("firebreak whole-proxy benchmark, %s, mode %s, access log %s, same job %s, tls %s%s%s\n"
            "proxy on core %s (1 worker/thread); origin (nginx) + load on core %s; wrk -t1 -c%d; %s\n"
            "firebreak %s%s @ %s%s%s\n"
            "%s | %s | %s | %s\n"
            % (meta["started"], meta["mode"], meta["access_log"], meta.get("same_job", meta.get("peer_headers", "off")),
               meta.get("tls", "off"),
               (", keep-alive over HTTP/2 (oha, %d streams per connection)" % meta.get("h2_streams", 0))
               if meta.get("h2") == "on" else "",
               (", POST bodies of %d B" % meta["body_bytes"]) if meta.get("body_bytes") else "",
               meta["proxy_core"], meta["load_core"],
               meta["conns"],
               ("keep-alive %ds, close %ds, warm-up %ds, idle conns %d" % (meta["duration"], meta["close_duration"],
                                                                           meta["warmup"], meta["idle_conns"]))
               if meta["mode"] == "rounds" else
               ("upstream plain vs TLS (origin nginx on the load core, test CA, SNI %s): keep-alive %ds,"
                " warm-up %ds" % (upstream_tls.SNI, meta["duration"], meta["warmup"]))
               if meta["mode"] == "upstream-tls" else
               ("perf: %d s of each %d s keep-alive run, %d samples/s, warm-up %ds"
                % (meta.get("perf_window", 0), meta["duration"], meta.get("perf_freq", 0), meta["warmup"]))
               if meta["mode"] == "perf" else
               ("callgrind: %d requests, strace: %d requests, %d connection(s)"
                % (meta["cg_requests"], meta["strace_requests"], meta["cg_conns"])),
               meta["firebreak_bin"], " (PGO build, deploy/pgo/build.sh)" if meta.get("pgo") == "on" else "",
               (meta["git"] or {}).get("head", "?")[:12],
               (" + uncommitted changes in %d tracked file(s)" % len(meta["git"]["modified"]))
               if meta.get("git") and meta["git"]["modified"] else "",
               ("; firebreak-plain %s" % meta["firebreak_plain_bin"]) if meta.get("firebreak_plain_bin") else "",
               meta["versions"]["nginx"], meta["versions"]["haproxy"], meta["versions"]["wrk"],
               meta["versions"]["valgrind"] or "no valgrind"))


def write_report(out, res, meta):
    tables = {"rounds": table_rounds, "callgrind": table_callgrind,
              "upstream-tls": lambda r, m: upstream_tls.table(r, m, render, fmt, median, ratio),
              "perf": lambda r, m: perfprof.table(r, m, render, fmt, median)}
    text = header(meta) + "\n" + tables[res["mode"]](res, meta)
    with open(os.path.join(out, "table.txt"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"meta": meta, "results": res}, f, indent=1, default=str)
    return text


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--firebreak-bin", default=os.path.join(ROOT, "target", "release", "firebreak"))
    ap.add_argument("--firebreak-plain-bin", default=os.path.join(ROOT, "target", "release", "firebreak"),
                    help="the binary of the firebreak-plain proxy (see --proxies)")
    ap.add_argument("--pgo", choices=("on", "off"), default="off",
                    help="run.sh: FIREBREAK_BIN is the PGO build (deploy/pgo/build.sh), and the plain "
                         "release build runs next to it as firebreak-plain; bench.py only records it")
    ap.add_argument("--pingora-bin", default=os.path.join(ROOT, "target", "release", "examples", "pingora_bare"))
    ap.add_argument("--out", help="results directory (default target/bench/<time>)")
    ap.add_argument("--proxies", default=",".join(PROXIES), help="comma-separated, in turn order")
    ap.add_argument("--rounds", type=int, default=3, help="A B C D repeated this many times")
    ap.add_argument("--duration", type=int, default=10, help="seconds of each keep-alive wrk run")
    ap.add_argument("--close-duration", type=int, default=10, help="seconds of each Connection: close run")
    ap.add_argument("--warmup", type=int, default=2, help="seconds of keep-alive warm-up per turn")
    ap.add_argument("--conns", type=int, default=32, help="wrk connections (-c)")
    ap.add_argument("--idle-conns", type=int, default=2000, help="idle connections for memory (0 = skip)")
    ap.add_argument("--no-direct", action="store_true", help="skip the run straight at the origin")
    ap.add_argument("--access-log", choices=("on", "off"), default="off",
                    help="per-request access log in firebreak, nginx and HAProxy (default off, as issue #5's baseline)")
    ap.add_argument("--same-job", choices=("on", "off"), default="off",
                    help="on: nginx, HAProxy and bare Pingora also add the request id and forwarding"
                         " headers firebreak always adds, and bare Pingora keeps firebreak's timeouts"
                         " (default off, as issue #5's baseline)")
    ap.add_argument("--tls", choices=("on", "off"), default="off",
                    help="on: the proxies listen with TLS (one self-signed ECDSA P-256 certificate; wrk and"
                         " the idle client speak HTTPS); the origin stays plain HTTP. Default and --perf modes")
    ap.add_argument("--h2", choices=("on", "off"), default="off",
                    help="on (with --tls on): the keep-alive runs speak HTTP/2 (oha --http2); the"
                         " new-connection run and the idle connections stay HTTP/1.1")
    ap.add_argument("--h2-streams", type=int, default=8,
                    help="--h2 on: streams per connection (connections = --conns / this)")
    ap.add_argument("--body-bytes", type=int, default=0,
                    help="N > 0: every wrk request is a POST with an N-byte body (default 0: GET)."
                         " Default and --perf modes")
    ap.add_argument("--callgrind", action="store_true", help="instructions and syscalls per request instead")
    ap.add_argument("--upstream-tls", action="store_true",
                    help="instead: each proxy in turn with a plain and with a TLS upstream (the origin serves"
                         " a certificate of a test CA made for the run; verification on), keep-alive req/s,"
                         " CPU per request and upstream handshakes per 1000 requests; proxies"
                         " firebreak,nginx,haproxy unless --proxies is given")
    ap.add_argument("--perf", action="store_true",
                    help="real time per request (perf record -e cpu-clock on the proxy core) instead")
    ap.add_argument("--perf-freq", type=int, default=2000, help="perf samples per second")
    ap.add_argument("--cg-requests", type=int, default=20000, help="requests between zero and dump")
    ap.add_argument("--cg-warmup", type=int, default=2000)
    ap.add_argument("--cg-conns", type=int, default=32,
                    help="client connections for callgrind/strace (32 = wrk's; 1 = strictly sequential)")
    ap.add_argument("--strace-requests", type=int, default=20000)
    ap.add_argument("--settle", type=float, default=30,
                    help="before each turn, wait up to this many seconds for the machine to be quiet")
    ap.add_argument("--settle-busy", type=float, default=25,
                    help="'quiet' = at most this %% of all cores busy over 1 s")
    ap.add_argument("--proxy-core", type=int, default=0)
    ap.add_argument("--load-core", type=int, default=1)
    ap.add_argument("--keep-tmp", action="store_true", help="keep the temp dir of configs and logs")
    ap.add_argument("--report", metavar="DIR", help="re-print the table of an earlier run and exit")
    a = ap.parse_args()

    if a.report:
        with open(os.path.join(a.report, "results.json")) as f:
            data = json.load(f)
        print(write_report(a.report, data["results"], data["meta"]))
        return 0

    if not a.out:
        a.out = os.path.join(ROOT, "target", "bench", time.strftime("%Y%m%d-%H%M%S"))
    a.out = os.path.abspath(a.out)
    os.makedirs(os.path.join(a.out, "configs"), exist_ok=True)
    if a.upstream_tls and a.proxies == ",".join(PROXIES):
        a.proxies = "firebreak,nginx,haproxy"  # the bare Pingora proxy has no upstream TLS
    proxies = [p for p in a.proxies.split(",") if p]
    for p in proxies:
        if p not in PROXIES + OPTIONAL_PROXIES:
            sys.exit("unknown proxy " + p)
    if a.upstream_tls:
        if a.callgrind or a.perf:
            sys.exit("--upstream-tls is a mode of its own: not with --callgrind or --perf")
        if "pingora" in proxies:
            sys.exit("--upstream-tls: the bare Pingora proxy (examples/pingora_bare.rs) has no upstream TLS")
    need = ["nginx", "taskset", "wrk"] + [p for p in proxies if p == "haproxy"]
    if a.upstream_tls:
        need += ["openssl"]
    if a.callgrind:
        need += ["valgrind", "callgrind_control", "callgrind_annotate", "strace"]
    if a.perf:
        need += ["perf"]
    if a.perf and a.callgrind:
        sys.exit("--perf and --callgrind are two modes: choose one")
    if a.body_bytes and a.callgrind:
        sys.exit("--body-bytes is for the default and --perf modes (client.py sends GETs only)")
    if a.h2 == "on":
        if a.tls != "on" or a.callgrind:
            sys.exit("--h2 on needs --tls on (browsers speak HTTP/2 only over TLS), default or --perf mode")
        need += ["oha"]
    if a.tls == "on":
        if a.callgrind:
            sys.exit("--tls on is for the default and --perf modes (client.py counts plain HTTP only)")
        need += ["openssl"]
    require(need)
    if "firebreak" in proxies and not os.access(a.firebreak_bin, os.X_OK):
        sys.exit("no firebreak binary at %s (run.sh builds it)" % a.firebreak_bin)
    if "firebreak-plain" in proxies and not os.access(a.firebreak_plain_bin, os.X_OK):
        sys.exit("no firebreak binary at %s (--firebreak-plain-bin)" % a.firebreak_plain_bin)
    if "pingora" in proxies and not os.access(a.pingora_bin, os.X_OK):
        sys.exit("no pingora_bare binary at %s (run.sh builds it)" % a.pingora_bin)
    if os.cpu_count() and max(a.proxy_core, a.load_core) >= os.cpu_count():
        sys.exit("need cores %d and %d; this machine has %d" % (a.proxy_core, a.load_core, os.cpu_count()))

    b = Bench(a)
    atexit.register(b.kids.stop_all)
    if not a.keep_tmp:
        atexit.register(shutil.rmtree, b.tmp, True)

    def on_signal(sig, _frame):
        raise SystemExit(128 + sig)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    meta = {
        "mode": "callgrind" if a.callgrind else "perf" if a.perf else "upstream-tls" if a.upstream_tls else "rounds",
        "perf_freq": a.perf_freq, "perf_window": a.duration - 2,
        "command": " ".join(sys.argv),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "proxies": proxies, "rounds": a.rounds, "duration": a.duration, "close_duration": a.close_duration,
        "same_job": a.same_job, "tls": a.tls, "h2": a.h2, "h2_streams": a.h2_streams, "body_bytes": a.body_bytes, "warmup": a.warmup, "conns": a.conns, "settle": a.settle, "settle_busy": a.settle_busy, "idle_conns": a.idle_conns, "access_log": a.access_log,
        "cg_requests": a.cg_requests, "cg_warmup": a.cg_warmup, "cg_conns": a.cg_conns,
        "strace_requests": a.strace_requests, "proxy_core": a.proxy_core, "load_core": a.load_core,
        "firebreak_bin": a.firebreak_bin, "pgo": a.pgo,
        "firebreak_plain_bin": a.firebreak_plain_bin if "firebreak-plain" in proxies else None, "git": git_state(), "loadavg_start": loadavg(),
        "nproc": os.cpu_count(), "kernel": os.uname().release,
        "versions": {"nginx": tool_version(["nginx", "-v"]), "haproxy": tool_version(["haproxy", "-v"]),
                     "wrk": tool_version(["wrk", "--version"]), "valgrind": tool_version(["valgrind", "--version"]),
                     "strace": tool_version(["strace", "-V"])},
        "baseline_issue5": BASELINE,
        "tmp": b.tmp,
    }
    if "firebreak" in proxies:
        # A private link (or copy) of the binary: a rebuild by someone else during the run
        # (cargo replaces target/release/firebreak) cannot change the binary between turns.
        snap = os.path.join(b.tmp, "firebreak")
        try:
            os.link(os.path.realpath(a.firebreak_bin), snap)
        except OSError:
            shutil.copy2(a.firebreak_bin, snap)
        meta["firebreak_mtime"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(os.path.getmtime(snap)))
        meta["firebreak_version"] = tool_version([snap, "--version"])
        a.firebreak_bin = snap
    if "firebreak-plain" in proxies:
        snap = os.path.join(b.tmp, "firebreak-plain")
        shutil.copy2(a.firebreak_plain_bin, snap)
        a.firebreak_plain_bin = snap
    if "pingora" in proxies:
        snap = os.path.join(b.tmp, "pingora_bare")
        shutil.copy2(a.pingora_bin, snap)
        a.pingora_bin = snap
    log("results in %s (configs and logs in %s)" % (a.out, b.tmp))
    if a.perf and a.duration < 4:
        sys.exit("--perf needs --duration of at least 4 s (perf samples the middle of the run)")
    if a.upstream_tls:
        b.start_origin_upstream()
        res = b.run_upstream_tls(proxies)
    else:
        b.start_origin()
        res = b.run_callgrind(proxies) if a.callgrind else b.run_perf(proxies) if a.perf else b.run_rounds(proxies)
    meta["loadavg_end"] = loadavg()
    meta["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    print(write_report(a.out, res, meta), flush=True)
    log("saved %s/table.txt and results.json" % a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
