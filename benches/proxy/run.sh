#!/usr/bin/env bash
# Whole-proxy benchmark (issue #5, item 2): firebreak vs bare Pingora vs nginx vs HAProxy, each on one core.
#
#   benches/proxy/run.sh                      # 3 rounds of A B C D (firebreak, pingora, nginx, haproxy)
#   benches/proxy/run.sh --rounds 2           # 2 rounds
#   benches/proxy/run.sh --callgrind          # instructions (callgrind) and syscalls (strace) per request
#   benches/proxy/run.sh --perf               # real time per request: kernel vs user, by symbol (perf cpu-clock)
#   benches/proxy/run.sh --access-log on      # every proxy writes its per-request access log (default off)
#   benches/proxy/run.sh --tls on             # the proxies listen with TLS (self-signed ECDSA certificate)
#   benches/proxy/run.sh --tls on --h2 on     # ... and the keep-alive runs speak HTTP/2 (oha)
#   benches/proxy/run.sh --body-bytes 65536   # every request a POST with a 64 KB body
#   benches/proxy/run.sh --upstream-tls       # plain vs TLS to the origin: req/s, CPU/req, handshakes
#                                             # per 1000 requests (firebreak, nginx, haproxy), ~6 min
#   benches/proxy/run.sh --pgo on             # firebreak is the PGO build (deploy/pgo/build.sh), and
#                                             # the plain release build runs too, as firebreak-plain
#   benches/proxy/run.sh --proxies firebreak,nginx --duration 5   # any bench.py option
#   python3 benches/proxy/bench.py --report target/bench/<time>   # re-print a run's table
#
# Environment: FIREBREAK_BIN=path skips `cargo build --release` and uses that binary;
# PINGORA_BIN=path does the same for the bare Pingora proxy (examples/pingora_bare.rs).
# With --pgo on, FIREBREAK_BIN=path skips deploy/pgo/build.sh and FIREBREAK_PLAIN_BIN=path
# the plain release build.
# Installs wrk, nginx, haproxy, valgrind and strace with apt-get when missing (root only),
# and oha with cargo for --h2 on (benches/lib/require.sh), never touching system services:
# the origin and the proxies run as foreground children with their own config, pid and log
# files in a temp dir. Traffic stays on 127.0.0.1. Results go
# to target/bench/<time>/ (table.txt, results.json, configs/, callgrind/). Every child
# process is stopped on exit.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$root/benches/lib/driver.sh"
pick_python

PATH=$PATH:/usr/sbin:/sbin:${CARGO_HOME:-$HOME/.cargo}/bin
export PATH

callgrind=0
upstream_tls=0
perf=0
h2=0
pgo=0
proxies_given=0
prev=
for arg in "$@"; do
    case "$arg" in
        --callgrind) callgrind=1 ;; --perf) perf=1 ;; --upstream-tls) upstream_tls=1 ;; --h2=on) h2=1 ;; --pgo=on) pgo=1 ;;
        --proxies|--proxies=*) proxies_given=1 ;;
        --report|--report=*) exec "$python" "$here/bench.py" "$@" ;;
    esac
    if [ "$prev" = --h2 ] && [ "$arg" = on ]; then h2=1; fi
    if [ "$prev" = --pgo ] && [ "$arg" = on ]; then pgo=1; fi
    prev=$arg
done

tools="wrk nginx haproxy taskset openssl"   # openssl: --tls on's self-signed certificate
[ "$callgrind" = 1 ] && tools="$tools valgrind callgrind_control strace"
[ "$perf" = 1 ] && tools="$tools perf"
[ "$h2" = 1 ] && tools="$tools oha"          # --h2 on: oha drives HTTP/2 (wrk speaks only HTTP/1.1)
# shellcheck disable=SC2086
"$root/benches/lib/require.sh" $tools

# The plain release build; prints its path.
plain_build() {
    echo "run.sh: cargo build --release (waits if another build holds the cargo lock)" >&2
    (cd "$root" && cargo build --release --quiet)
    echo "$root/target/release/firebreak"
}
if [ "$pgo" = 1 ]; then
    # firebreak is the PGO build to deploy, and the plain build runs next to it.
    [ -n "${FIREBREAK_PLAIN_BIN:-}" ] || FIREBREAK_PLAIN_BIN=$(plain_build)
    if [ -z "${FIREBREAK_BIN:-}" ]; then
        echo "run.sh: deploy/pgo/build.sh (two builds and a training run, ~12 min)" >&2
        FIREBREAK_BIN=$("$root/deploy/pgo/build.sh")
    fi
    set -- --firebreak-plain-bin "$FIREBREAK_PLAIN_BIN" "$@"
    [ "$proxies_given" = 1 ] || set -- --proxies firebreak,firebreak-plain,pingora,nginx,haproxy "$@"
elif [ -z "${FIREBREAK_BIN:-}" ]; then
    FIREBREAK_BIN=$(plain_build)
fi
# The bare Pingora proxy (examples/pingora_bare.rs), same profile and allocator as firebreak.
# --upstream-tls does not run it (it has no upstream TLS).
if [ "$upstream_tls" = 1 ]; then
    PINGORA_BIN=${PINGORA_BIN:-none}
elif [ -z "${PINGORA_BIN:-}" ]; then
    echo "run.sh: cargo build --release --example pingora_bare --features bench-bare" >&2
    (cd "$root" && cargo build --release --quiet --example pingora_bare --features bench-bare)
    PINGORA_BIN=$root/target/release/examples/pingora_bare
fi

# 2,000 idle connections plus the proxy's own descriptors.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

out_dir=$(arg_value out "$@")
if [ -z "$out_dir" ]; then
    out_dir=$root/target/bench/$(date +%Y%m%d-%H%M%S)
    set -- --out "$out_dir" "$@"
fi
mkdir -p "$out_dir"

# bench.py runs as a child, so that it and anything it started are stopped on any exit.
run_driver "$out_dir" 3 "$python" "$here/bench.py" --firebreak-bin "$FIREBREAK_BIN" --pingora-bin "$PINGORA_BIN" "$@"
