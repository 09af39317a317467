#!/usr/bin/env bash
# The overload drill: firebreak vs nginx (`backup`) vs HAProxy (maxconn + queue + priority)
# with the primary killed and the load at >= 3x the standby's measured capacity.
#
#   benches/drill/run.sh            # full run: 20 s of load per proxy (about 3 minutes)
#   benches/drill/run.sh --quick    # 8 s of load per proxy
#   benches/drill/run.sh --proxies firebreak,haproxy --out /tmp/drill   # any drill.py option
#
# Environment: FIREBREAK_BIN=path skips `cargo build --release` and uses that binary.
# Installs nginx and haproxy with apt-get when missing (root only), never touching system
# services: both run as foreground children with their own config, pid and log files under
# the results directory (target/drill/<time>/ unless --out is given). Traffic stays on
# 127.0.0.1. Every child process is stopped on exit.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

python=${PYTHON:-}
if [ -z "$python" ]; then
    for c in python3.11 python3; do
        if command -v "$c" >/dev/null 2>&1; then python=$c; break; fi
    done
fi
[ -n "$python" ] || { echo "run.sh: python3 is needed" >&2; exit 1; }

want_nginx=1
want_haproxy=1
prev=
for arg in "$@"; do
    case "$prev" in --proxies)
        case ",$arg," in *,nginx,*) ;; *) want_nginx=0 ;; esac
        case ",$arg," in *,haproxy,*) ;; *) want_haproxy=0 ;; esac ;;
    esac
    case "$arg" in --proxies=*)
        v=${arg#--proxies=}
        case ",$v," in *,nginx,*) ;; *) want_nginx=0 ;; esac
        case ",$v," in *,haproxy,*) ;; *) want_haproxy=0 ;; esac ;;
    esac
    prev=$arg
done

missing=
[ "$want_nginx" = 1 ] && ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ] && missing="$missing nginx"
[ "$want_haproxy" = 1 ] && ! command -v haproxy >/dev/null 2>&1 && [ ! -x /usr/sbin/haproxy ] && missing="$missing haproxy"
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "run.sh: installing$missing" >&2
        # policy-rc.d may or may not exist; the packages' services are never used by the drill.
        export DEBIAN_FRONTEND=noninteractive
        # shellcheck disable=SC2086
        apt-get install -y --no-install-recommends $missing >/dev/null 2>&1 || {
            apt-get update >/dev/null
            apt-get install -y --no-install-recommends $missing >/dev/null
        }
    else
        echo "run.sh: please install$missing (or pass --proxies firebreak)" >&2
        exit 1
    fi
fi
PATH=$PATH:/usr/sbin:/sbin
export PATH

if [ -z "${FIREBREAK_BIN:-}" ]; then
    echo "run.sh: cargo build --release" >&2
    (cd "$root" && cargo build --release --quiet)
    FIREBREAK_BIN=$root/target/release/firebreak
fi

# Run the drill as a child so the trap can stop it, and anything it started, on any exit.
out_dir=
prev=
for arg in "$@"; do
    [ "$prev" = --out ] && out_dir=$arg
    case "$arg" in --out=*) out_dir=${arg#--out=} ;; esac
    prev=$arg
done
if [ -z "$out_dir" ]; then
    out_dir=$root/target/drill/$(date +%Y%m%d-%H%M%S)
    set -- --out "$out_dir" "$@"
fi
mkdir -p "$out_dir"

drill_pid=
cleanup() {
    if [ -n "$drill_pid" ] && kill -0 "$drill_pid" 2>/dev/null; then
        kill -TERM "$drill_pid" 2>/dev/null || true
        sleep 2
    fi
    # Process groups of children the drill started and did not get to stop (by their ids).
    if [ -f "$out_dir/pids" ]; then
        while read -r pgid; do
            [ -n "$pgid" ] && kill -KILL -- "-$pgid" 2>/dev/null || true
        done <"$out_dir/pids"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$python" "$here/drill.py" --firebreak-bin "$FIREBREAK_BIN" "$@" &
drill_pid=$!
rc=0
wait "$drill_pid" || rc=$?
drill_pid=
exit "$rc"
