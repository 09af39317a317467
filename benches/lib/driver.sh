# shellcheck shell=sh
# Sourced by the benches' run.sh scripts (benches/july, benches/proxy): what each of them did
# alike. Not executable on its own.
#
#   pick_python              sets $python: $PYTHON, else python3.11, else python3
#   arg_value NAME "$@"      prints the value of the last --NAME V or --NAME=V among the args
#   run_driver OUT GRACE CMD...
#                            runs CMD (a driver that lists its children's process groups in
#                            OUT/pids) as a child and exits with its status. On any exit,
#                            interrupt or termination it sends the driver SIGTERM, gives it
#                            GRACE seconds, then SIGKILLs every group still listed in OUT/pids.

pick_python() {
    python=${PYTHON:-}
    if [ -z "$python" ]; then
        for c in python3.11 python3; do
            if command -v "$c" >/dev/null 2>&1; then python=$c; break; fi
        done
    fi
    [ -n "$python" ] || { echo "$(basename "$0"): python3 is needed" >&2; exit 1; }
}

arg_value() {
    _name=$1
    shift
    _prev=
    _value=
    for _arg in "$@"; do
        [ "$_prev" = "--$_name" ] && _value=$_arg
        case "$_arg" in --"$_name"=*) _value=${_arg#--"$_name"=} ;; esac
        _prev=$_arg
    done
    printf '%s' "$_value"
}

_driver_pid=
_driver_out=
_driver_grace=2
_stop_driver() {
    if [ -n "$_driver_pid" ] && kill -0 "$_driver_pid" 2>/dev/null; then
        kill -TERM "$_driver_pid" 2>/dev/null || true
        sleep "$_driver_grace"
    fi
    # Process groups of children the driver started and did not get to stop (by their ids).
    if [ -f "$_driver_out/pids" ]; then
        while read -r pgid; do
            if [ -n "$pgid" ]; then kill -KILL -- "-$pgid" 2>/dev/null || true; fi
        done <"$_driver_out/pids"
    fi
}

run_driver() {
    _driver_out=$1
    _driver_grace=$2
    shift 2
    trap _stop_driver EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    "$@" &
    _driver_pid=$!
    _rc=0
    wait "$_driver_pid" || _rc=$?
    _driver_pid=
    exit "$_rc"
}
