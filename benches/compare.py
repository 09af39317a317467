#!/usr/bin/env python3
"""Prints side by side the figures of benches/compare.sh runs: per round, the July replay's row
per proxy (and its calm phase) and the soak's numbers. Standard library only.

    python3 benches/compare.py target/compare/base target/compare/new

Each directory holds july-<n>/ (summary.json, written by benches/july/report.py) and soak-<n>/
(results.json and the printed verdict soak.txt).
"""

import glob
import json
import os
import re
import sys


def fmt(v, spec="%.1f"):
    return "-" if v is None else spec % v


def label(r):
    """`<run dir>/<round>`, e.g. before/july-1."""
    return "%s/%s" % (os.path.basename(os.path.dirname(os.path.abspath(r))), os.path.basename(r))


def rounds(d, kind):
    paths = glob.glob(os.path.join(d, "%s-*" % kind))
    return sorted((p for p in paths if os.path.isdir(p)), key=lambda p: int(p.rsplit("-", 1)[1]))


def july_rows(d):
    out = []
    for r in rounds(d, "july"):
        path = os.path.join(r, "summary.json")
        if not os.path.exists(path):
            out.append("| %s | (no summary.json) |" % label(r))
            continue
        with open(path) as f:
            s = json.load(f)
        cap = s["capacity"]["standby"]["rps"]
        busy = {k: v.get("cpu_busy_before_pct") for k, v in (s["meta"].get("turns") or {}).items()}
        for name, x in s["summaries"].items():
            pc = x["per_class"]
            if name == "firebreak-calm":
                continue
            out.append("| %s | %s | %.1f | %.1f (%s) | %s | %s | %s | %.1f | %s | %d | %s | %s | %s | %d | %d | %s |" % (
                label(r), name, cap, x["offered_rps"], fmt((x["generator_lag_ms"] or {}).get("p99"), "%.0f"),
                fmt(pc["critical"]["ok_within_1s_pct"]), fmt(pc["normal"]["ok_within_1s_pct"]),
                fmt(pc["bulk"]["ok_within_1s_pct"]), x["goodput_rps"],
                fmt(None if x["goodput_over_capacity"] is None else 100 * x["goodput_over_capacity"], "%.0f"),
                x["refused"], fmt(x["refused_p99_ms"], "%.0f"), fmt(x["admitted_p50_ms"], "%.0f"),
                fmt(x["admitted_p99_ms"], "%.0f"), x["timeouts"], x["other"], fmt(busy.get(name), "%.0f")))
        calm = s["summaries"].get("firebreak-calm")
        if calm:
            out.append("| %s | firebreak calm | | %.1f | | | | | | %d | | %s | %s | %d | %d | %s |" % (
                label(r), calm["offered_rps"], calm["refused"], fmt(calm["admitted_p50_ms"], "%.0f"),
                fmt(calm["admitted_p99_ms"], "%.0f"), calm["timeouts"], calm["other"],
                fmt(busy.get("firebreak-calm"), "%.0f")))
    return out


SOAK_LINE = re.compile(r"requests: (\d+) \(([\d.]+)/s\); 2xx latency p50 ([\d.]+) ms, p99 ([\d.]+) ms; client errors (.*)")
WRITES_LINE = re.compile(r"(\d+) applied though not answered 2xx")


def soak_rows(d):
    out = []
    for r in rounds(d, "soak"):
        path = os.path.join(r, "results.json")
        if not os.path.exists(path):
            out.append("| %s | (no results.json) |" % label(r))
            continue
        with open(path) as f:
            s = json.load(f)
        text = open(os.path.join(r, "soak.txt"), errors="replace").read() if os.path.exists(os.path.join(r, "soak.txt")) else ""
        m = SOAK_LINE.search(text)
        w = WRITES_LINE.search(text)
        growth = s.get("rss_growth")
        out.append("| %s | %d | %s | %s | %s | %s | %d / %d | %s | %s | %d / %d | %d / %d | %s → %s MiB (%s) | %s |" % (
            label(r), s["requests"], m.group(2) if m else "-", m.group(3) if m else "-",
            m.group(4) if m else "-", m.group(5) if m else "-", s["writes_2xx"], s["writes_sent"],
            " ".join("%s×%d" % kv for kv in sorted(s["write_statuses"].items())), w.group(1) if w else "-",
            s["duplicates"], s["lost"], s["reloads_good"], s["reloads_broken"],
            fmt(s["rss_first_quarter_kib"] and s["rss_first_quarter_kib"] / 1024),
            fmt(s["rss_last_quarter_kib"] and s["rss_last_quarter_kib"] / 1024),
            "-" if growth is None else "%+.1f%%" % (100 * growth), "PASS" if s["passed"] else "FAIL"))
    return out


def main():
    dirs = sys.argv[1:]
    if not dirs:
        sys.exit(__doc__)
    print("July replay, --quick (8 s of load per proxy; calm: 5 s, both pools alive)\n")
    print("| run | proxy | standby cap r/s | offered r/s (lag p99 ms) | crit≤1s % | norm≤1s % | bulk≤1s % "
          "| goodput r/s | good/cap % | refused | ref p99 ms | 2xx p50 ms | 2xx p99 ms | timeout | other | CPU busy before % |")
    print("|" + "---|" * 16)
    for d in dirs:
        for line in july_rows(d):
            print(line)
    print("\nSoak, 1 minute (150 req/s offered, a kill every 5 s, a reload every 3 s)\n")
    print("| run | requests | req/s | 2xx p50 ms | 2xx p99 ms | client errors | writes 2xx / sent | write statuses "
          "| applied, not 2xx | dup / lost | reloads good / broken | RSS first → last quarter | verdict |")
    print("|" + "---|" * 13)
    for d in dirs:
        for line in soak_rows(d):
            print(line)
    for d in dirs:
        about = os.path.join(d, "about.txt")
        if os.path.exists(about):
            print("\n%s:\n%s" % (os.path.relpath(d), open(about).read().strip()))


if __name__ == "__main__":
    main()
