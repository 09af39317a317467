#!/usr/bin/env bash
# The firebreak soak: N minutes (default 30) of mixed traffic through a release build while
# backends are killed and restarted and the config is reloaded every few seconds; then checks
# zero crashes, zero duplicated or lost writes, every reload applied, and a flat RSS curve.
#
#   benches/soak/soak.sh            # 30 minutes
#   benches/soak/soak.sh 5          # 5 minutes
#   benches/soak/soak.sh 60 --rps 300 --kill-every 3     # any soak.py option after N
#
# Environment: FIREBREAK_BIN=path skips `cargo build --release` and uses that binary;
# SOAK_OUT=dir chooses the results directory (default target/soak/<time>/).
# Needs only python3 (standard library). Exit status 0 when every check passed.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
minutes=${1:-30}
[ $# -gt 0 ] && shift
case "$minutes" in
    ''|*[!0-9.]*) echo "usage: $0 [MINUTES] [soak.py options]" >&2; exit 2 ;;
esac

. "$root/benches/lib/driver.sh"
pick_python

bin=${FIREBREAK_BIN:-}
if [ -z "$bin" ]; then
    echo "soak.sh: cargo build --release" >&2
    (cd "$root" && cargo build --release --quiet)
    bin=$root/target/release/firebreak
fi
[ -x "$bin" ] || { echo "soak.sh: no binary at $bin" >&2; exit 1; }

out=${SOAK_OUT:-$root/target/soak/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
ulimit -n 65536 2>/dev/null || true
exec "$python" "$here/soak.py" --bin "$bin" --minutes "$minutes" --out "$out" "$@"
