#!/usr/bin/env bash
# The figures issue 14 asks to keep: the July replay (`benches/july/run.sh --quick`) and a short
# soak (`benches/soak/soak.sh 1`, one minute), with one firebreak binary, ROUNDS times in turn;
# then the table of benches/compare.py over this run and any earlier ones given with --vs.
#
#   benches/compare.sh BIN OUT [ROUNDS]                    # ROUNDS defaults to 2
#   benches/compare.sh BIN OUT 2 --vs target/compare/base  # ... and print it next to an earlier run
#   benches/compare.sh --kit /work/bench-base BIN OUT      # run another checkout's benches
#                                                          # (its benches/drill before the rename)
#   python3 benches/compare.py OUT_A OUT_B ...             # re-print the table
#
# Each round writes OUT/july-<n>/ (the replay's results directory) and OUT/soak-<n>/ (the
# soak's, with its printed verdict in soak.txt). Needs what the two benches need (nginx and
# haproxy are installed by the replay's run.sh when missing, as root). Traffic stays on
# 127.0.0.1.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
kit=$(cd "$here/.." && pwd)
if [ "${1:-}" = --kit ]; then kit=$(cd "$2" && pwd); shift 2; fi
[ $# -ge 2 ] || { sed -n '2,15p' "$0" >&2; exit 2; }
bin=$(realpath "$1")
out=$2
rounds=${3:-2}
shift 2
[ $# -gt 0 ] && shift
vs=()
while [ $# -gt 0 ]; do
    case "$1" in --vs) vs+=("$2"); shift 2 ;; *) echo "compare.sh: unknown argument $1" >&2; exit 2 ;; esac
done
[ -x "$bin" ] || { echo "compare.sh: no binary at $bin" >&2; exit 1; }

july=$kit/benches/july/run.sh
[ -x "$july" ] || july=$kit/benches/drill/run.sh   # a checkout from before the rename
mkdir -p "$out"
out=$(cd "$out" && pwd)
{
    echo "binary: $bin ($(sha256sum "$bin" | cut -c1-16), $("$bin" --version 2>/dev/null || true))"
    echo "kit: $kit at $(git -C "$kit" rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "started: $(date -Is)"
} >"$out/about.txt"
for n in $(seq 1 "$rounds"); do
    echo "compare.sh: round $n/$rounds: July replay (--quick)" >&2
    FIREBREAK_BIN=$bin "$july" --quick --out "$out/july-$n" >"$out/july-$n.txt" 2>"$out/july-$n.log" ||
        echo "compare.sh: the replay failed, see $out/july-$n.log" >&2
    echo "compare.sh: round $n/$rounds: soak (1 minute)" >&2
    mkdir -p "$out/soak-$n"
    FIREBREAK_BIN=$bin SOAK_OUT=$out/soak-$n "$kit/benches/soak/soak.sh" 1 >"$out/soak-$n/soak.txt" 2>&1 ||
        echo "compare.sh: the soak failed its checks, see $out/soak-$n/soak.txt" >&2
done
python3 "$here/compare.py" "${vs[@]}" "$out"
