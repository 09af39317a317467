#!/usr/bin/env bash
# The public status page's throughput next to the proxy's plain proxied throughput (issue #19:
# "the page must sustain at least the proxy's plain req/s").
#
#   benches/status_page.sh [BIN] [SECONDS] [CONNECTIONS]   # defaults: target/release/firebreak 10 32
#
# firebreak (1 worker thread, pinned to CPU 0) proxies to nginx (1 worker, a 2-byte answer,
# pinned with wrk to CPU 1, so the origin never limits the proxy). wrk (keep-alive, HTTP/1.1)
# then loads, in turn: a proxied path, the page, its JSON form, each for SECONDS; the first
# three with `max_rps` out of the way (serving capacity), then the page once more with the
# default cap (2000/s: the rest is answered 429 from memory). Needs wrk, nginx and taskset
# (`apt-get install wrk nginx util-linux`); everything stays on 127.0.0.1.
set -eu
bin=$(realpath "${1:-target/release/firebreak}")
secs=${2:-10}
conns=${3:-32}
for tool in wrk nginx taskset curl; do
    command -v "$tool" >/dev/null || { echo "status_page.sh: needs $tool" >&2; exit 1; }
done
d=$(mktemp -d /tmp/firebreak-status-bench-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.5; rm -rf "$d"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
origin=$(port); proxy=$(port); admin=$(port)
user=""; [ "$(id -u)" = 0 ] && user="user root;"
cat >"$d/nginx.conf" <<EOF
$user
worker_processes 1;
daemon off;
pid $d/nginx.pid;
error_log $d/nginx-error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $d/cb; proxy_temp_path $d/p; fastcgi_temp_path $d/f;
    uwsgi_temp_path $d/u; scgi_temp_path $d/s;
    server { listen 127.0.0.1:$origin backlog=4096; location / { return 200 "ok"; } }
}
EOF
conf() {
    cat <<EOF
[server]
threads = 1
grace = "1s"
[listen]
http = ["127.0.0.1:$proxy"]
[admin]
listen = "127.0.0.1:$admin"
[[pool]]
name = "primary"
tier = 0
backends = [{ addr = "127.0.0.1:$origin", weight = 1 }]
[[route]]
name = "default"
path_prefix = "/"
[status_page]
path = "/_status"
$1
EOF
}
conf "max_rps = 1000000" >"$d/firebreak.toml"
taskset -c 1 nginx -c "$d/nginx.conf" -p "$d" & pids+=($!)
taskset -c 0 "$bin" run --config "$d/firebreak.toml" 2>"$d/firebreak.log" & pids+=($!)
for _ in $(seq 100); do curl -sf "127.0.0.1:$admin/healthz" >/dev/null && break; sleep 0.1; done
curl -sf "127.0.0.1:$proxy/x" >/dev/null || { echo "the proxy does not serve" >&2; exit 1; }

load() { # PATH LABEL: one wrk run, prints "LABEL req/s non-2xx"
    local out
    out=$(taskset -c 1 wrk -t1 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$proxy$1")
    printf '%-34s %10s req/s  p99 %-9s non-2xx %s\n' "$2" \
        "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
        "$(awk '$1 == "99%" {print $2}' <<<"$out")" \
        "$(awk '/Non-2xx/ {print $NF}' <<<"$out" | grep . || echo 0)"
}
taskset -c 1 wrk -t1 -c"$conns" -d2s "http://127.0.0.1:$proxy/warm" >/dev/null
echo "firebreak $("$bin" --version) | 1 worker thread on CPU 0 | wrk -t1 -c$conns -d${secs}s on CPU 1"
load /orders/1 "proxied GET /orders/1 (nginx)"
load /_status "status page /_status (HTML)"
load /_status.json "status page /_status.json"
conf "" >"$d/firebreak.toml"
curl -sf -X POST "127.0.0.1:$admin/reload" >/dev/null 2>&1 || kill -HUP "${pids[1]}"
sleep 1
load /_status "/_status with max_rps = 2000"
