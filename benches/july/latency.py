"""The July replay's admitted latency (issue #18, "admitted requests stay fast from the first
second of a failover"): the latency of the 2xx answers per class, over the whole load phase and
over its first 2 s (the failover itself: the primary is SIGKILLed right before the load
starts), each against the standby's unloaded latency, and the refusals (shed) per class in both
windows. Used by report.py and replicas.py; standard library only.

The reference is the p50 of the standby's unloaded latency (capacity.json "standby_unloaded":
a fresh standby origin, no proxy, concurrency 1, 2 s, a new connection per request, timed from
before connect as the load phase times its requests). A request belongs to the first window
when it *started* (scheduled start + the generator's start lag, both relative to the phase's
start: load.py record fields 1 and 2) less than FIRST_S after the load phase began.

The goals, per class (critical /login, normal /orders, bulk /reports) and over all classes:
2xx p99 ≤ 3 × the unloaded p50 over the whole load phase, ≤ 5 × in the first 2 s. A class with
no 2xx answer in a window has no latency to judge ("no 2xx"): it neither holds nor misses.
"""

from http1 import pct
from summary import CLASSES

FIRST_S = 2.0
GOALS = (("whole", "whole run", 3.0), ("first", "first 2 s", 5.0))  # (window, label, factor)
SHORT = {"critical": "crit", "normal": "norm", "bulk": "bulk", "all": "all"}


def unloaded_p50(cap):
    """The standby's unloaded p50 (ms) of a run's capacity.json, None for runs before it."""
    return ((cap or {}).get("standby_unloaded") or {}).get("latency_ms_p50")


def unloaded_line(cap):
    u = (cap or {}).get("standby_unloaded")
    if not u:
        return "standby unloaded latency: n/a (not measured in this run)"
    return ("standby unloaded latency p50 %s ms, p99 %s ms (concurrency %d, %.0f s, %d requests, no proxy, a new"
            " connection each): the reference (p50) of the admitted-latency goals"
            % (u["latency_ms_p50"], u["latency_ms_p99"], u["concurrency"], u["duration"], u["ok"]))


def _ms(v):
    return None if v is None else round(1000.0 * v, 1)


def _x(v, ref):
    return None if v is None or not ref else round(v / ref, 2)


def window_stats(reqs, ref):
    """Per class and "all": requests sent, 2xx, 2xx p50/p99 (ms and × ref), refused (503/429)."""
    out = {}
    for c in CLASSES + ("all",):
        rc = reqs if c == "all" else [r for r in reqs if r[0] == c]
        lat = [r[4] for r in rc if 200 <= r[3] < 300]
        shed = sum(1 for r in rc if r[3] in (503, 429))
        p50, p99 = _ms(pct(lat, 0.5)), _ms(pct(lat, 0.99))
        out[c] = {"sent": len(rc), "ok": len(lat), "p50_ms": p50, "p99_ms": p99,
                  "p50_x": _x(p50, ref), "p99_x": _x(p99, ref), "shed": shed,
                  "shed_pct": round(100.0 * shed / len(rc), 1) if rc else None}
    return out


def summarize_latency(load, ref, first_s=FIRST_S):
    """The admitted latency of one phase (a load.py open result) against `ref` (ms, or None)."""
    reqs = load["requests"]
    first = [r for r in reqs if r[1] + r[2] < first_s]
    return {"unloaded_p50_ms": ref, "first_s": first_s,
            "whole": window_stats(reqs, ref), "first": window_stats(first, ref)}


def verdict(lat):
    """(cells per window, missed list, judged count) of the latency goals of one row."""
    ref = lat.get("unloaded_p50_ms")
    parts, missed, judged = [], [], 0
    for w, lab, factor in GOALS:
        bound = factor * ref
        cells, over = [], []
        for c in CLASSES + ("all",):
            x = lat[w][c]
            if x["p99_ms"] is None:
                cells.append("%s - (no 2xx)" % SHORT[c])
                continue
            judged += 1
            ok = x["p99_ms"] <= bound
            if not ok:
                over.append("%s by %.0f ms" % (SHORT[c], x["p99_ms"] - bound))
            cells.append("%s %.0f ms %.1f× %s" % (SHORT[c], x["p99_ms"], x["p99_x"], "ok" if ok else "MISSED"))
        if over:
            missed.append("%s: %s" % (lab, ", ".join(over)))
        parts.append("%s ≤ %.0f× (%.0f ms): %s" % (lab, factor, bound, ", ".join(cells)))
    return parts, missed, judged


def goals_line(label, lat):
    """'latency goals firebreak (...): whole run ≤ 3× (66 ms): crit 40 ms 1.8× ok, ...: holds'."""
    if not lat or not lat.get("unloaded_p50_ms"):
        return "latency goals %s: n/a (no unloaded latency measured in this run)" % label
    parts, missed, judged = verdict(lat)
    end = "n/a (no 2xx)" if not judged else "holds" if not missed else "MISSED (%s)" % "; ".join(missed)
    return "latency goals %s (2xx p99 vs the standby's unloaded p50 %s ms): %s: %s" % (
        label, lat["unloaded_p50_ms"], "; ".join(parts), end)


def holds(lat):
    """'holds', 'MISSED' or 'n/a' for the latency goals of one row."""
    if not lat or not lat.get("unloaded_p50_ms"):
        return "n/a"
    _, missed, judged = verdict(lat)
    return "n/a" if not judged else "MISSED" if missed else "holds"


def _cell(ms, x):
    """'232 (10.5×)'; without a reference (runs before it) '232'; no 2xx: '-'."""
    if ms is None:
        return "-"
    return "%.0f" % ms if x is None else "%.0f (%.1f×)" % (ms, x)


def _lat_cell(x):
    return _cell(x["p99_ms"], x["p99_x"])


def _p50_cell(x):
    return _cell(x["p50_ms"], x["p50_x"])


def _table(head, rows):
    """A markdown-style table whose columns are as wide as their header or widest cell."""
    w = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(head)]
    fmt = lambda cells: "| " + " | ".join(c.ljust(w[i]) for i, c in enumerate(cells)) + " |"  # noqa: E731
    return [fmt(head), "|" + "|".join("-" * (n + 2) for n in w) + "|"] + [fmt(r) for r in rows]


def tables(rows, kill_delays=None):
    """The admitted-latency and shed tables; `rows`: [(label, latency summary)]."""
    rows = [(n, x) for n, x in rows if x]
    if not rows:
        return []
    ref = rows[0][1].get("unloaded_p50_ms")
    first_s = rows[0][1].get("first_s", FIRST_S)
    fs = "first %g s" % first_s
    head = ["proxy"]
    for lab in ("whole: ", fs + ": "):
        head += [lab + "crit p99", "norm p99", "bulk p99", "all p99", "all p50"]
    head.append("2xx in %s (c/n/b)" % fs)
    body = []
    for name, lat in rows:
        cells = [name]
        for w in ("whole", "first"):
            cells += [_lat_cell(lat[w][c]) for c in CLASSES + ("all",)] + [_p50_cell(lat[w]["all"])]
        cells.append("/".join("%d" % lat["first"][c]["ok"] for c in CLASSES))
        body.append(cells)
    out = ["admitted latency (2xx), whole run | %s after the kill: ms (× the standby's unloaded p50, %s)"
           % (fs, "%s ms" % ref if ref else "n/a: not measured in this run")]
    out += _table(head, body)
    head = ["proxy"] + ["whole: crit", "norm", "bulk", "all"] + [fs + ": crit", "norm", "bulk", "all"]
    body = [[name] + ["%s %%" % ("-" if lat[w][c]["shed_pct"] is None else "%.1f" % lat[w][c]["shed_pct"])
                      for w in ("whole", "first") for c in CLASSES + ("all",)] for name, lat in rows]
    out += ["", "shed (503/429 refusals, %% of the class's requests), whole run | %s" % fs] + _table(head, body)
    if kill_delays:
        out.append("the load phase (and its first %g s) began this long after the SIGKILL of the primary: %s" % (
            first_s, ", ".join("%s %s" % (n, "n/a" if d is None else "%.0f ms" % (1000 * d))
                               for n, d in kill_delays)))
    return out


def compare_rows(S):
    """Lines of the '1 replica vs N replicas' table: [(what, cells, goal)] for summaries S."""
    L = [s.get("latency") for s in S]
    if not any(L):
        return []
    cell = lambda lat, w: "-" if not lat else _lat_cell(lat[w]["all"])  # noqa: E731
    return [("2xx p99 ms whole run (× unloaded p50)", [cell(x, "whole") for x in L], "≤ 3×"),
            ("2xx p99 ms first 2 s (× unloaded p50)", [cell(x, "first") for x in L], "≤ 5×"),
            ("latency goals (per class and all)", [holds(x) for x in L], "")]
