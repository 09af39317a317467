"""benches/slow's figures: one row per (target, attack) from the real users, the origin's
busy-worker samples and slowhttptest's own output, and the Markdown table of a run.

    python3 benches/slow/report.py target/slow/<time>     # re-print a run's table
"""

import csv
import json
import os
import re
import sys

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def pct(sorted_values, q):
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, int(round(q / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def ms(s):
    return None if s is None else round(s * 1000.0, 1)


def slowhttptest_verdict(d):
    """What slowhttptest itself said over its runs in `d` (slowhttptest-1, -2, ...): its last
    `service available` line and exit status, and from its CSVs the seconds it ran, the seconds
    it judged the service unavailable, its most connections open at once and those it saw
    closed (by the other side: the last second before a run ends is not in its CSV)."""
    out = {"runs": 0, "available": None, "exits": [], "seconds": 0, "unavailable_s": 0,
           "max_connected": 0, "closed": 0}
    names = sorted((n for n in os.listdir(d) if re.fullmatch(r"slowhttptest-\d+\.out", n)),
                   key=lambda n: int(re.findall(r"\d+", n)[0]))
    for name in names:
        out["runs"] += 1
        with open(os.path.join(d, name), errors="replace") as f:
            text = ANSI.sub("", f.read())
        said = re.findall(r"service available:\s*(YES|NO)", text)
        out["available"] = said[-1] if said else out["available"]
        m = re.findall(r"Exit status:\s*(.+)", text)
        out["exits"].append(m[-1].strip() if m else "?")
        try:
            with open(os.path.join(d, name[:-4] + ".csv")) as f:
                rows = list(csv.DictReader(f))
            out["seconds"] += len(rows)
            out["unavailable_s"] += sum(1 for r in rows if int(r["Service Available"]) == 0)
            out["max_connected"] = max([out["max_connected"]] + [int(r["Connected"]) for r in rows])
            out["closed"] += int(rows[-1]["Closed"]) if rows else 0
        except (OSError, KeyError, ValueError):
            pass
    return out if out["runs"] else None


def verdict_text(v):
    if v is None:
        return "-"
    cut = sum(1 for e in v["exits"] if e.lower().startswith("no open connections"))
    return "%s; NO %d of %d s; open max %d; %d run%s%s" % (
        v["available"] or "?", v["unavailable_s"], v["seconds"], v["max_connected"], v["runs"],
        "" if v["runs"] == 1 else "s", ", %d ended with all connections closed" % cut if cut else "")


def summarize(target, attack, secs, users, sampler, stats, d, proxy_alive, workers):
    outcomes = [o for u in users for o in u.outcomes]
    lat = sorted(o[2] for o in outcomes)
    ok = sum(1 for o in outcomes if 200 <= o[1] < 300)
    statuses, errors = {}, {}
    for u in users:
        for k, v in u.statuses.items():
            statuses[str(k)] = statuses.get(str(k), 0) + v
        for k, v in u.errors.items():
            errors[k] = errors.get(k, 0) + v
    busy = sampler.busy
    v = slowhttptest_verdict(d) if attack != "none" else None
    return {
        "target": target, "attack": attack, "secs": secs, "requests": len(outcomes),
        "ok_pct": round(100.0 * ok / len(outcomes), 1) if outcomes else 0.0,
        "statuses": statuses, "errors": errors,
        "p50_ms": ms(pct(lat, 50)), "p99_ms": ms(pct(lat, 99)), "max_ms": ms(lat[-1] if lat else None),
        "samples": len(busy), "samples_missed": sampler.missed,
        "busy_mean": round(sum(busy) / len(busy), 2) if busy else None,
        "busy_max": max(busy) if busy else None,
        "both_busy": sum(1 for b in busy if b >= workers),
        "origin_stats": stats, "proxy_alive_at_end": proxy_alive,
        "slowhttptest": v, "verdict": verdict_text(v) if v else "-",
    }


def table(res):
    lines = [
        "# Slow clients vs a 2-worker origin (%s)" % res["when"],
        "",
        "Origin: %d sync workers x %d ms (a worker is held from the request head to the answer). "
        "Real users: %d threads, %g req/s in all, %g s timeout. Attacks: slowhttptest, %d connections, "
        "%d s each." % (res["origin"]["workers"], res["origin"]["service_ms"], res["users"]["threads"],
                        res["users"]["rate"], res["users"]["timeout_s"], res["conns"], res["secs"]),
        "",
        "| target | attack | s | requests | 2xx % | p50 ms | p99 ms | max ms | busy mean | busy max "
        "| both busy (samples) | slowhttptest: service available |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in res["rows"]:
        lines.append("| %s | %s | %d | %d | %.1f | %s | %s | %s | %s | %s | %d / %d | %s |" % (
            r["target"], r["attack"], r["secs"], r["requests"], r["ok_pct"], r["p50_ms"], r["p99_ms"], r["max_ms"],
            r["busy_mean"], r["busy_max"], r["both_busy"], r["samples"], r["verdict"]))
    odd = ["%s %s: %s" % (r["target"], r["attack"], ", ".join("%s x%d" % kv for kv in sorted(
        dict(r["errors"], **{"HTTP " + k: n for k, n in r["statuses"].items() if not k.startswith("2") and k != "0"}).items())))
        for r in res["rows"] if r["errors"] or any(not k.startswith("2") for k in r["statuses"])]
    dead = ["%s %s" % (r["target"], r["attack"]) for r in res["rows"] if not r["proxy_alive_at_end"]]
    if odd:
        lines += ["", "Real users' failures: " + "; ".join(odd) + "."]
    if dead:
        lines += ["", "**The proxy had exited by the end of: " + ", ".join(dead) + ".**"]
    git = res.get("git") or {}
    lines += ["", "Commit %s%s; %d s in all." % (git.get("head", "?")[:12],
                                                 " (modified: %d files)" % len(git["modified"]) if git.get("modified") else "",
                                                 res["seconds"])]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: report.py RESULTS_DIR")
    with open(os.path.join(sys.argv[1], "results.json")) as f:
        sys.stdout.write(table(json.load(f)))
