#!/usr/bin/env bash
# Slow clients vs a 2-worker origin: firebreak vs nginx's default proxy (and no proxy at all,
# the control), each under slowhttptest's slow bodies (-B) and slow heads (-H, slowloris)
# while real users measure what they get. See benches/slow/README.md.
#
#   benches/slow/run.sh                        # full run: 30 s per attack (about 4 minutes)
#   benches/slow/run.sh --secs 15              # 15 s per attack
#   benches/slow/run.sh --out /tmp/slow        # results elsewhere (default target/slow/<time>/)
#   benches/slow/run.sh --targets firebreak --attacks B    # any slow.py option (--help)
#   python3 benches/slow/report.py target/slow/<time>      # re-print a run's table
#
# Environment: FIREBREAK_BIN=path skips the build and uses that binary. Otherwise
# `cargo build --release` runs when target/release/firebreak is missing or older than the
# sources (about 8 minutes with LTO on 2 cores).
# Installs slowhttptest and nginx with apt-get when missing (root only, benches/lib/require.sh),
# never touching system services: nginx and the origin run as foreground children with their
# config, pid and log files under the results directory. Traffic stays on 127.0.0.1. Every
# child process is stopped on exit.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$root/benches/lib/driver.sh"
pick_python

"$root/benches/lib/require.sh" slowhttptest nginx
PATH=$PATH:/usr/sbin:/sbin
export PATH

if [ -z "${FIREBREAK_BIN:-}" ]; then
    FIREBREAK_BIN=$root/target/release/firebreak
    if [ ! -x "$FIREBREAK_BIN" ] || [ -n "$(cd "$root" && find src Cargo.toml Cargo.lock build.rs \
            -newer "$FIREBREAK_BIN" 2>/dev/null | head -n 1)" ]; then
        echo "run.sh: cargo build --release (about 8 minutes)" >&2
        (cd "$root" && cargo build --release --quiet)
    fi
fi

# 500 attack connections per proxy, each with its upstream socket, plus slowhttptest's own.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

out_dir=$(arg_value out "$@")
if [ -z "$out_dir" ]; then
    out_dir=$root/target/slow/$(date +%Y%m%d-%H%M%S)
    set -- --out "$out_dir" "$@"
fi
mkdir -p "$out_dir"

# slow.py runs as a child, so that it and anything it started are stopped on any exit.
run_driver "$out_dir" 3 "$python" "$here/slow.py" --firebreak-bin "$FIREBREAK_BIN" "$@"
