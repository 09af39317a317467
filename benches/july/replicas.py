"""The July replay's report on firebreak: issue #3's goals for each firebreak row, its /status
over the load phase (one process, or each replica of a fleet and their sums), and with several
replica counts in one run (`--replicas 1,3`) the "1 replica vs 3 replicas" table. Used by
report.py; standard library only.

The goals (issue #3), computed over the union of every replica's answers: crit≤1s ≥ 99 %,
good/cap ≥ 90 %, ref p99 ≤ 50 ms, and 0 refused in the calm phase. The compare table also shows
the admitted latency and issue #18's latency goals' verdict (latency.py), apart from these.

The status series (admin.py) has a line per replica per sample; one sampling round asks the
replicas one after another, so a round is a run of lines with rising replica numbers. Sums over
replicas use the rounds in which every replica answered.
"""

import json
import os
import statistics

import latency

GOALS = (  # (key, label, goal text, test, unit)
    ("crit", "crit≤1s", "≥ 99 %", lambda v: v >= 99.0, "points"),
    ("goodcap", "good/cap", "≥ 90 %", lambda v: v >= 90.0, "points"),
    ("refp99", "ref p99", "≤ 50 ms", lambda v: v <= 50.0, "ms"),
    ("calm", "calm refused", "= 0", lambda v: v == 0, ""),
)
BOUND = {"crit": 99.0, "goodcap": 90.0, "refp99": 50.0, "calm": 0}


def label(name):
    """A row's name as shown: firebreak-x3 -> firebreak x3."""
    return name.replace("-x", " x")


def goal_values(s, calm):
    """The goals' figures of one row (`s`) and its calm phase (`calm`, or None)."""
    gc = s.get("goodput_over_capacity")
    return {"crit": s["per_class"]["critical"]["ok_within_1s_pct"],
            "goodcap": None if gc is None else 100.0 * gc,
            "refp99": s.get("refused_p99_ms") or 0.0,  # nothing refused: nothing slow
            "calm": None if calm is None else calm["refused"]}


def goals_line(name, s, calm):
    """'goals firebreak x3: crit≤1s 100.0 % (≥ 99 %) ok, ... : holds | MISSED (...)'."""
    v = goal_values(s, calm)
    cells, missed = [], []
    for key, lab, goal, test, unit in GOALS:
        x = v[key]
        if x is None:
            cells.append("%s - (%s) not measured" % (lab, goal))
            continue
        shown = ("%.1f %%" % x) if key == "crit" else ("%.0f %%" % x) if key == "goodcap" else \
            ("%.0f ms" % x) if key == "refp99" else "%d" % x
        ok = test(x)
        if not ok:
            by = abs(x - BOUND[key])
            missed.append("%s by %s" % (lab, ("%.1f %s" % (by, unit)).strip() if unit else "%d" % by))
        cells.append("%s %s (%s) %s" % (lab, shown, goal, "ok" if ok else "MISSED"))
    return "goals %s: %s: %s" % (label(name), ", ".join(cells),
                                 "holds" if not missed else "MISSED (%s)" % "; ".join(missed))


def series(results_dir, tag):
    """[(t, {replica: status})] of the turn's status series, one entry per sampling round."""
    path = os.path.join(results_dir, "%s-status.jsonl" % tag)
    rounds, last = [], None
    if not os.path.exists(path):
        return rounds
    with open(path) as f:
        for ln in f:
            try:
                x = json.loads(ln)
            except ValueError:
                continue
            i = x.get("replica", 1)
            if last is None or i <= last:
                rounds.append((x["t"], {}))
            rounds[-1][1][i] = x["status"]
            last = i
    return rounds


def pool(st, name="standby"):
    for p in st.get("pools", []):
        if p.get("name") == name:
            return p
    return {}


def med(v):
    return statistics.median(v) if v else None


def standby_stats(results_dir, tag, n):
    """The standby pool over the load phase: per replica and summed over the replicas."""
    rounds = series(results_dir, tag)
    full = [(t, r) for t, r in rounds if len(r) == n]
    per = {}
    for i in range(1, n + 1):
        ps = [pool(r[i]) for _, r in rounds if i in r]
        g = lambda k: [p[k] for p in ps if p.get(k) is not None]  # noqa: E731
        per[i] = {"limit": g("limit"), "in_flight": g("in_flight"), "queued": g("queued"),
                  "congested": g("congested"), "p50": g("latency_p50_ms"),
                  "baseline_end": (ps[-1].get("latency_baseline_ms") if ps else None)}
    sums = {k: [sum(pool(r[i]).get(k) or 0 for i in r) for _, r in full] for k in ("limit", "in_flight", "queued")}
    p50 = [statistics.mean([pool(r[i]).get("latency_p50_ms") or 0 for i in r]) for _, r in full]
    return {"rounds": len(full), "t": [t for t, _ in full], "per": per, "sum": sums, "p50_mean": p50}


def rng(v, spec="{:.0f}"):
    """'median (min–max)' of a list."""
    if not v:
        return "-"
    return "%s (%s–%s)" % (spec.format(med(v)), spec.format(min(v)), spec.format(max(v)))


def status_lines(results_dir, name, n, workers=2):
    """The standby pool of every replica over the load phase, and the sums."""
    x = standby_stats(results_dir, name, n)
    if not x["rounds"]:
        return []
    out = ["%s, standby pool over the load phase (%d samples; median (min–max)):" % (label(name), x["rounds"])]
    for i, p in x["per"].items():
        cong = p["congested"]
        out.append("  %s limit %s, in_flight %s, queued %s, congested %s of samples, p50 %s ms, baseline at end %s ms"
                   % ("replica %d" % i if n > 1 else "firebreak", rng(p["limit"], "{:.1f}"), rng(p["in_flight"]),
                      rng(p["queued"]), "%.0f %%" % (100.0 * sum(cong) / len(cong)) if cong else "-",
                      rng(p["p50"]), p["baseline_end"]))
    if n > 1:
        s = x["sum"]
        out.append("  sum over the %d replicas: limit %s, in_flight %s, queued in firebreak %s (the standby has %d workers)"
                   % (n, rng(s["limit"], "{:.1f}"), rng(s["in_flight"]), rng(s["queued"]), workers))
        out.append("  per second (t: limits r1+r2+.. = sum / in_flight sum / queued sum): " + "  ".join(
            "%.1f: %s = %.1f/%d/%d" % (t, "+".join("%.1f" % (pool(r[i]).get("limit") or 0) for i in sorted(r)),
                                       sum(pool(r[i]).get("limit") or 0 for i in r),
                                       sum(pool(r[i]).get("in_flight") or 0 for i in r),
                                       sum(pool(r[i]).get("queued") or 0 for i in r))
            for t, r in series(results_dir, name) if len(r) == n))
    return out


def compare_table(results_dir, rows, summaries, calms, workers=2):
    """'1 replica vs 3 replicas': the firebreak rows side by side (`rows`: [(name, n)])."""
    if len(rows) < 2:
        return []
    stats = {nm: standby_stats(results_dir, nm, n) for nm, n in rows}
    head = "| %-38s | " % "" + " | ".join("%-18s" % label(nm) for nm, _ in rows) + " | goal     |"
    out = [" vs ".join("%d replica%s" % (n, "" if n == 1 else "s") for _, n in rows) + ":", "",
           head, "|" + "|".join("-" * len(c) for c in head.split("|")[1:-1]) + "|"]

    def line(what, cells, goal=""):
        out.append("| %-38s | " % what + " | ".join("%-18s" % c for c in cells) + " | %-8s |" % goal)

    def f(v, spec="{:.1f}"):
        return "-" if v is None else spec.format(v)

    S = [summaries[nm] for nm, _ in rows]
    C = [calms.get(nm) for nm, _ in rows]
    X = [stats[nm] for nm, _ in rows]
    line("crit≤1s %", [f(s["per_class"]["critical"]["ok_within_1s_pct"]) for s in S], "≥ 99")
    line("norm≤1s % / bulk≤1s %", ["%s / %s" % (f(s["per_class"]["normal"]["ok_within_1s_pct"]),
                                               f(s["per_class"]["bulk"]["ok_within_1s_pct"])) for s in S])
    line("goodput r/s (good/cap %)", ["%s (%s)" % (f(s["goodput_rps"]), f(100 * s["goodput_over_capacity"], "{:.0f}"))
                                      for s in S], "≥ 90 %")
    line("refused (ref p99 ms)", ["%d (%s)" % (s["refused"], f(s["refused_p99_ms"], "{:.0f}")) for s in S], "≤ 50 ms")
    line("2xx p50 / p99 ms", ["%s / %s" % (f(s["admitted_p50_ms"], "{:.0f}"), f(s["admitted_p99_ms"], "{:.0f}"))
                              for s in S])
    line("critical 2xx p99 ms", [f(s.get("critical_p99_ms"), "{:.0f}") for s in S])
    for what, cells, goal in latency.compare_rows(S):
        line(what, cells, goal)
    line("timeouts / other", ["%d / %d" % (s["timeouts"], s["other"]) for s in S])
    line("calm: refused (2xx p99 ms)", ["-" if c is None else "%d (%s)" % (c["refused"], f(c["admitted_p99_ms"], "{:.0f}"))
                                        for c in C], "0")
    line("standby limit, sum of replicas", [rng(x["sum"]["limit"], "{:.1f}") for x in X])
    line("standby limit, each replica (median)", ["/".join(f(med(p["limit"])) for p in x["per"].values()) for x in X])
    line("standby limit at t=0 (sum)", [f(x["sum"]["limit"][0] if x["sum"]["limit"] else None) for x in X])
    line("limit sum ÷ standby workers (median)", [f(med(x["sum"]["limit"]) / workers if x["sum"]["limit"] else None)
                                                   for x in X])
    line("standby in flight, sum", [rng(x["sum"]["in_flight"]) for x in X])
    line("queued in firebreak, sum", [rng(x["sum"]["queued"]) for x in X])
    line("standby p50 ms seen (mean of replicas)", [rng(x["p50_mean"]) for x in X])
    line("goals (issue #3)", ["holds" if "MISSED" not in goals_line(nm, s, c) else "MISSED" for (nm, _), s, c in zip(rows, S, C)])
    return out
