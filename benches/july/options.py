"""The command line of the July replay (july.py): its options, checked and completed (the
--quick durations, the sessions of --affinity, the --replicas list, the results directory).
Standard library only; see benches/july/README.md for what each option does.
"""

import argparse
import os
import sys
import time


def options(doc, root):
    """The parsed options of july.py (`doc`: its help text; `root`: the repository)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--firebreak-bin", default=os.path.join(root, "target", "release", "firebreak"))
    ap.add_argument("--out", help="results directory (default target/july/<time>)")
    ap.add_argument("--proxies", default="firebreak,nginx,haproxy")
    ap.add_argument("--quick", action="store_true", help="8 s of load, 5 s of calm")
    ap.add_argument("--load-seconds", type=float, default=20.0)
    ap.add_argument("--calm-seconds", type=float, default=10.0)
    ap.add_argument("--warmup-seconds", type=float, default=5.0)
    ap.add_argument("--warmup-rate", type=int, default=60, help="req/s during warm-up (same mix)")
    ap.add_argument("--cold", action="store_true",
                    help="kill the primary right after the warm-up, without waiting for "
                         "firebreak's first standby capacity estimate (its limits start cold)")
    ap.add_argument("--capacity-seconds", type=float, default=5.0)
    ap.add_argument("--unloaded-seconds", type=float, default=2.0,
                    help="the standby's unloaded latency: seconds at concurrency 1, no proxy")
    ap.add_argument("--factor", type=float, default=3.0, help="offered load / standby capacity (>= 3)")
    ap.add_argument("--min-rate", type=int, default=300, help="offered load is at least this (req/s)")
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--tenants", type=int, default=0, help="X-Tenant-Id spread over N tenants (0 = none)")
    ap.add_argument("--affinity", action="store_true",
                    help="session cookies (--sessions, default 300) on every request, firebreak with"
                         " [affinity] key = \"cookie:sid\"; the report counts sessions served by both sites")
    ap.add_argument("--sessions", type=int, default=None,
                    help="Cookie: sid=s<k> from N sessions and the both-sites count (default 0, or 300"
                         " with --affinity); without --affinity firebreak has no [affinity] (the baseline)")
    ap.add_argument("--lose", choices=("all", "half"), default="all",
                    help="all: the primary (one backend) is killed, the July incident; half: the primary"
                         " is two backends and one is killed, so firebreak splits the traffic 70/30")
    ap.add_argument("--replicas", default="1",
                    help="firebreak replicas sharing the origins, the requests spread round-robin over them;"
                         " a list (1,3) runs firebreak once per count, one row each (firebreak, firebreak x3)")
    ap.add_argument("--fleet", choices=("auto", "on", "off"), default="auto",
                    help="the replicas' [fleet] table (peers = the others' admin addresses): auto = when the"
                         " binary accepts it (one built before 07114ed does not), on = required, off = never")
    a = ap.parse_args()
    if a.sessions is None:
        a.sessions = 300 if a.affinity else 0
    if a.affinity and a.sessions <= 0:
        sys.exit("--affinity needs --sessions > 0")
    if a.quick:
        a.load_seconds, a.calm_seconds = 8.0, 5.0
    try:
        a.replicas = [int(x) for x in a.replicas.split(",") if x.strip()]
    except ValueError:
        sys.exit("--replicas takes N or a list N,M,...")
    if not a.replicas or min(a.replicas) < 1 or len(set(a.replicas)) != len(a.replicas):
        sys.exit("--replicas: distinct counts >= 1, e.g. 3 or 1,3")
    if not a.out:
        a.out = os.path.join(root, "target", "july", time.strftime("%Y%m%d-%H%M%S"))
    a.out = os.path.abspath(a.out)
    # children run in their turn's folder: a relative FIREBREAK_BIN must not depend on that
    a.firebreak_bin = os.path.abspath(a.firebreak_bin)
    return a
