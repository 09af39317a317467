#!/usr/bin/env bash
# The July replay: firebreak vs nginx (`backup`) vs HAProxy (maxconn + queue + priority)
# with the primary killed and the load at >= 3x the standby's measured capacity.
#
#   benches/july/run.sh            # full run: 20 s of load per proxy (about 3 minutes)
#   benches/july/run.sh --quick    # 8 s of load per proxy
#   benches/july/run.sh --affinity # 300 session cookies, firebreak with [affinity]; + "both sites"
#   benches/july/run.sh --affinity --lose half   # half the primary killed: traffic split 70/30
#   benches/july/run.sh --proxies firebreak,haproxy --out /tmp/july   # any july.py option
#   benches/july/run.sh --replicas 1,3   # firebreak as 1 and as 3 replicas: "1 replica vs 3 replicas"
#
# Environment: FIREBREAK_BIN=path skips `cargo build --release` and uses that binary.
# Installs nginx and haproxy with apt-get when missing (root only, benches/lib/require.sh),
# never touching system services: both run as foreground children with their own config, pid
# and log files under the results directory (target/july/<time>/ unless --out is given).
# Traffic stays on 127.0.0.1. Every child process is stopped on exit.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$root/benches/lib/driver.sh"
pick_python

proxies=$(arg_value proxies "$@")
tools=
for p in nginx haproxy; do
    case ",${proxies:-nginx,haproxy}," in *,$p,*) tools="$tools $p" ;; esac
done
# shellcheck disable=SC2086
[ -z "$tools" ] || "$root/benches/lib/require.sh" --hint "or pass --proxies firebreak" $tools
PATH=$PATH:/usr/sbin:/sbin
export PATH

if [ -z "${FIREBREAK_BIN:-}" ]; then
    echo "run.sh: cargo build --release" >&2
    (cd "$root" && cargo build --release --quiet)
    FIREBREAK_BIN=$root/target/release/firebreak
fi

out_dir=$(arg_value out "$@")
if [ -z "$out_dir" ]; then
    out_dir=$root/target/july/$(date +%Y%m%d-%H%M%S)
    set -- --out "$out_dir" "$@"
fi
mkdir -p "$out_dir"

# The replay runs as a child, so that it and anything it started are stopped on any exit.
run_driver "$out_dir" 2 "$python" "$here/july.py" --firebreak-bin "$FIREBREAK_BIN" "$@"
