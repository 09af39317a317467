#!/bin/sh
# The one way the benches (and the PGO training) require a tool:
#
#   benches/lib/require.sh [--hint TEXT] TOOL...
#
# Exits 0 when every TOOL is on PATH (or in /usr/sbin, /sbin, ~/.cargo/bin). Otherwise, as
# root with apt-get, installs the Debian packages that carry the missing ones (apt-get update
# only if the first try fails) and exits 0; not root, prints "please install ..." (and TEXT)
# and exits 1. A tool Debian does not package (oha) is built with `cargo install`, root or not.
# The packages' system services (nginx, haproxy) are never used: the benches run their own
# copies as foreground children.
set -eu

hint=
if [ "${1:-}" = --hint ]; then hint=" ($2)"; shift 2; fi
PATH=$PATH:/usr/sbin:/sbin:${CARGO_HOME:-$HOME/.cargo}/bin

package() {
    case "$1" in
        taskset) echo util-linux ;;
        callgrind_control | callgrind_annotate) echo valgrind ;;
        perf) echo linux-perf ;;
        *) echo "$1" ;;
    esac
}

missing=
for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 && continue
    if [ "$tool" = oha ]; then
        echo "require: cargo install oha --locked (a few minutes)" >&2
        cargo install oha --locked --quiet
        continue
    fi
    pkg=$(package "$tool")
    case " $missing " in *" $pkg "*) ;; *) missing="$missing $pkg" ;; esac
done
[ -n "$missing" ] || exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "require: installing$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086
    apt-get install -y --no-install-recommends $missing >/dev/null 2>&1 || {
        apt-get update >/dev/null
        apt-get install -y --no-install-recommends $missing >/dev/null
    }
else
    echo "require: please install$missing$hint" >&2
    exit 1
fi
