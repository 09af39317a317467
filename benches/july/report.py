#!/usr/bin/env python3
"""Turns the July replay's result files into the comparison table.

    python3 report.py RESULTS_DIR        # re-print the table of a finished run

RESULTS_DIR holds capacity.json (the standby's directly measured capacity) and, per proxy,
<proxy>-load.json written by `load.py open`; firebreak-calm.json for the calm phase. The
definitions (a latency runs from the generator starting the request, before connect, to the
last byte of the answer; see load.py):

  offered      requests the generator actually started / load duration (req/s), and in
               brackets the p99 of the generator's own start lag (actual - scheduled start);
               compare with the planned rate
  crit≤1s      % of critical (/login) requests answered 2xx within 1 s
  norm≤1s      the same for normal (/orders) and bulk (/reports)
  bulk≤1s
  goodput      2xx answered within 1 s, all classes, per second of load
  good/cap     goodput ÷ the standby's directly measured capacity
  refused      answers with status 503 or 429 (a proxy's refusal), any latency
  ref p99      99th percentile latency of those refusals (ms)
  2xx p50/p99  latency of every 2xx answer (admitted and served), whatever its latency (ms)
  timeout      no complete answer within the generator's 5 s deadline
  other        connection errors (refused/reset/protocol) plus any other status (502, 504, 4xx)
  both sites   (runs with session cookies: --affinity or --sessions) sessions whose answers in
               the load phase came from both the primary and the standby (the X-Origin of every
               answer that has one); goal 0
"""

import json
import os
import sys

from load import pct  # the generator's nearest-rank percentile, one definition

CLASSES = ("critical", "normal", "bulk")


def summarize(load: dict, capacity_rps: float) -> dict:
    reqs = load["requests"]
    dur = float(load["duration"])
    ok = lambda r: 200 <= r[3] < 300  # noqa: E731
    good = [r for r in reqs if ok(r) and r[4] <= 1.0]
    refused = [r for r in reqs if r[3] in (503, 429)]
    timeouts = [r for r in reqs if r[5] == "timeout"]
    other = [
        r for r in reqs
        if (r[3] == 0 and r[5] != "timeout") or (r[3] != 0 and not ok(r) and r[3] not in (503, 429))
    ]
    admitted = [r[4] for r in reqs if ok(r)]
    per_class = {}
    for c in CLASSES:
        rc = [r for r in reqs if r[0] == c]
        gc = [r for r in rc if ok(r) and r[4] <= 1.0]
        per_class[c] = {
            "sent": len(rc),
            "ok_within_1s": len(gc),
            "ok_within_1s_pct": (100.0 * len(gc) / len(rc)) if rc else None,
            "ok_any": sum(1 for r in rc if ok(r)),
            "refused": sum(1 for r in rc if r[3] in (503, 429)),
        }
    statuses = {}
    for r in reqs:
        key = str(r[3]) if r[3] else r[5]
        statuses[key] = statuses.get(key, 0) + 1
    goodput = len(good) / dur
    ms = lambda v: None if v is None else round(1000.0 * v, 1)  # noqa: E731
    return {
        "requests": len(reqs),
        "planned_rps": load.get("planned_rps"),
        "offered_rps": load.get("offered_rps"),
        "generator_lag_ms": load.get("lag_ms"),
        "per_class": per_class,
        "critical_ok_within_1s_pct": per_class["critical"]["ok_within_1s_pct"],
        "goodput_rps": round(goodput, 2),
        "goodput_over_capacity": round(goodput / capacity_rps, 3) if capacity_rps else None,
        "refused": len(refused),
        "refused_p50_ms": ms(pct([r[4] for r in refused], 0.5)),
        "refused_p99_ms": ms(pct([r[4] for r in refused], 0.99)),
        "admitted_p50_ms": ms(pct(admitted, 0.5)),
        "admitted_p99_ms": ms(pct(admitted, 0.99)),
        "timeouts": len(timeouts),
        "other": len(other),
        "statuses": dict(sorted(statuses.items())),
    }


def sessions(reqs: list) -> dict:
    """Per session (requests with a cookie, load.py --sessions), the origins that answered it."""
    seen = {}
    for r in reqs:
        if len(r) > 7 and r[6] is not None:
            got = seen.setdefault(r[6], set())
            if r[7]:
                got.add(r[7])
    return seen


def switches(reqs: list) -> dict:
    """Per session, how often the origin of its answers changed, in the order of the requests'
    scheduled starts (one change: moved once, e.g. with a share change; two or more: bounced)."""
    last, n = {}, {}
    for r in sorted((r for r in reqs if len(r) > 7 and r[6] is not None and r[7]), key=lambda r: r[1]):
        if r[6] in last and last[r[6]] != r[7]:
            n[r[6]] = n.get(r[6], 0) + 1
        last[r[6]] = r[7]
    return n


def sites_summary(reqs: list, before: list = None) -> dict:
    """Sessions served by both sites (goal 0), by one, by none; with `before` (the warm-up's
    requests) also how many moved from the primary in the warm-up to the standby after it."""
    seen = sessions(reqs)
    if not seen:
        return None
    out = {
        "sessions": len(seen),
        "both_sites": sum(1 for v in seen.values() if {"primary", "standby"} <= v),
        "primary_only": sum(1 for v in seen.values() if v == {"primary"}),
        "standby_only": sum(1 for v in seen.values() if v == {"standby"}),
        "no_answer": sum(1 for v in seen.values() if not v),
        "bounced": sum(1 for v in switches(reqs).values() if v >= 2),
    }
    if before is not None:
        prior = sessions(before)
        out["moved_after_warmup"] = sum(1 for k, v in seen.items() if "standby" in v and prior.get(k) == {"primary"})
    return out


def fmt(v, spec="{:.1f}", none="-"):
    return none if v is None else spec.format(v)


HEADER = (
    "| proxy     | offered r/s (lag p99) | crit≤1s | norm≤1s | bulk≤1s | goodput r/s | good/cap "
    "| refused | ref p99 ms | 2xx p50 ms | 2xx p99 ms | timeout | other |"
)
RULE = "|" + "|".join("-" * (len(c)) for c in HEADER.split("|")[1:-1]) + "|"


def row(name: str, s: dict, both: bool = False) -> str:
    pc = s["per_class"]
    cells = [
        " %-9s " % name,
        " %-21s " % ("%.1f (%s ms)" % (s["offered_rps"], fmt((s["generator_lag_ms"] or {}).get("p99"), "{:.0f}"))),
        " %6s%% " % fmt(pc["critical"]["ok_within_1s_pct"]),
        " %6s%% " % fmt(pc["normal"]["ok_within_1s_pct"]),
        " %6s%% " % fmt(pc["bulk"]["ok_within_1s_pct"]),
        " %11s " % fmt(s["goodput_rps"]),
        " %7s%% " % fmt(None if s["goodput_over_capacity"] is None else 100 * s["goodput_over_capacity"], "{:.0f}"),
        " %7d " % s["refused"],
        " %10s " % fmt(s["refused_p99_ms"], "{:.0f}"),
        " %10s " % fmt(s["admitted_p50_ms"], "{:.0f}"),
        " %10s " % fmt(s["admitted_p99_ms"], "{:.0f}"),
        " %7d " % s["timeouts"],
        " %5d " % s["other"],
    ]
    if both:
        cells.append(" %10s " % fmt((s.get("sites") or {}).get("both_sites"), "{:d}"))
    return "|" + "|".join(cells) + "|"


def firebreak_diag(results_dir: str) -> list:
    """Summarises firebreak's /status captured at the end of the load phase."""
    path = os.path.join(results_dir, "firebreak-status-end.json")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        st = json.load(f)
    out = ["firebreak /status at the end of the load phase (%s):" % os.path.basename(path)]
    out.append("  tiers: " + ", ".join("tier %s %s share %.2f" % (t["tier"], t["state"], t["share"]) for t in st.get("tiers", [])))
    for p in st.get("pools", []):
        out.append(
            "  pool %-8s tier %s %-9s limit %-6s in_flight %-4s queued %-4s congested %-5s "
            "p50 %s ms, baseline %s ms, limit baseline %s ms"
            % (
                p.get("name"), p.get("tier"), p.get("state"), p.get("limit"), p.get("in_flight"),
                p.get("queued"), p.get("congested"), p.get("latency_p50_ms"),
                p.get("latency_baseline_ms"), p.get("limit_baseline_ms"),
            )
        )
        for b in p.get("backends", []):
            out.append(
                "    backend %s %s in_flight %s limit %s latency %s ms failures %s"
                % (b.get("address"), b.get("health"), b.get("in_flight"), b.get("limit"), b.get("latency_ms"), b.get("failures"))
            )
    series = os.path.join(results_dir, "firebreak-status.jsonl")
    if os.path.exists(series):
        lims = []
        with open(series) as f:
            for ln in f:
                try:
                    s = json.loads(ln)
                except ValueError:
                    continue
                for p in s["status"].get("pools", []):
                    if p.get("name") == "standby":
                        lims.append((s["t"], p.get("limit"), p.get("in_flight"), p.get("queued"), p.get("congested")))
        if lims:
            out.append(
                "  standby over the load phase (t s: limit/in_flight/queued/congested): "
                + "  ".join("%.1f: %s/%s/%s/%s" % l for l in lims)
            )
    return out


def render(results_dir: str) -> str:
    with open(os.path.join(results_dir, "capacity.json")) as f:
        cap = json.load(f)
    meta = {}
    mp = os.path.join(results_dir, "meta.json")
    if os.path.exists(mp):
        with open(mp) as f:
            meta = json.load(f)
    capacity = cap["standby"]["rps"]
    lines = []
    lines.append(
        "standby capacity (direct, closed loop, concurrency %d, %.0f s): %.1f req/s; primary (generator-bound lower bound): %s req/s"
        % (cap["standby"]["concurrency"], cap["standby"]["duration"], capacity, cap.get("primary", {}).get("rps", "-"))
    )
    if meta:
        la = meta.get("loadavg_start")
        if la:
            lines.append("machine: %d cores, load average at start %.2f %.2f %.2f" % ((os.cpu_count() or 0,) + tuple(la)))
        lines.append(
            "load phase: %s s, planned %s req/s (%s), %s SIGKILLed right before; timeout %s s; new connection per request"
            % (meta.get("load_seconds"), meta.get("planned_rps"), meta.get("mix"),
               "one of the primary's two backends" if meta.get("lose") == "half" else "primary", meta.get("timeout"))
        )
        if meta.get("sessions"):
            lines.append(
                "sessions: %d session cookies (Cookie: sid=s<k>), firebreak %s; primary lost: %s"
                % (meta["sessions"], "with [affinity] key = \"cookie:sid\"" if meta.get("affinity")
                   else "WITHOUT [affinity] (baseline)",
                   "half (2 backends, 1 killed)" if meta.get("lose") == "half" else "all (killed)"))
    both = bool(meta.get("sessions"))
    lines.append("")
    lines.append(HEADER + (" both sites |" if both else ""))
    lines.append(RULE + ("-" * 12 + "|" if both else ""))
    summaries = {}
    for name in meta.get("proxies", ["firebreak", "nginx", "haproxy"]):
        p = os.path.join(results_dir, "%s-load.json" % name)
        if not os.path.exists(p):
            continue
        with open(p) as f:
            load = json.load(f)
        s = summarize(load, capacity)
        if both:
            warm = os.path.join(results_dir, "%s-warmup.json" % name)
            before = None
            if os.path.exists(warm):
                with open(warm) as f:
                    before = json.load(f)["requests"]
            s["sites"] = sites_summary(load["requests"], before)
        summaries[name] = s
        lines.append(row(name, s, both))
    if summaries:
        lines.append("")
        lines.append("answers by status: " + "; ".join(
            "%s %s" % (n, " ".join("%s×%d" % kv for kv in s["statuses"].items())) for n, s in summaries.items()))
    if both:
        lines.append("")
        lines.append("sessions in the load phase (by the X-Origin of their answers): " + "; ".join(
            "%s %d sessions: %d both sites (%d of them back and forth), %d primary only, %d standby only,"
            " %d no answer from an origin%s"
            % (n, x["sessions"], x["both_sites"], x["bounced"], x["primary_only"], x["standby_only"], x["no_answer"],
                    (", %d moved from the primary (warm-up) to the standby" % x["moved_after_warmup"])
                    if "moved_after_warmup" in x else "")
            for n, x in ((n, s["sites"]) for n, s in summaries.items() if s.get("sites"))))
        fb = summaries.get("firebreak")
        if fb and fb.get("sites") and meta.get("affinity") and meta.get("lose") == "half":
            lines.append(
                "firebreak with affinity, traffic split: %d sessions on both sites (goal 0; it also counts a session of"
                " the band that moved when the share changed after the kill, if the primary answered it before), %d back and forth (goal 0)"
                % (fb["sites"]["both_sites"], fb["sites"]["bounced"]))
        elif fb and fb.get("sites") and meta.get("affinity"):
            crit, gc = fb["critical_ok_within_1s_pct"], fb["goodput_over_capacity"]
            ok = fb["sites"]["both_sites"] == 0 and (crit or 0) >= 99.0 and (gc or 0) >= 0.9
            lines.append(
                "firebreak with affinity: %d sessions on both sites (goal 0), crit≤1s %s %% (goal ≥ 99), good/cap"
                " %s %% (goal ≥ 90): %s" % (fb["sites"]["both_sites"], fmt(crit), fmt(None if gc is None else 100 * gc,
                                                                                  "{:.0f}"),
                                             "holds" if ok else "MISSED"))
        if meta.get("lose", "all") == "all":
            lines.append(
                "(The primary is dead for the whole load phase, so no answer can come from it: here the figure"
                " can only show an answer from the primary after the kill. --lose half splits the traffic.)")
    calm = os.path.join(results_dir, "firebreak-calm.json")
    if os.path.exists(calm):
        with open(calm) as f:
            c = json.load(f)
        s = summarize(c, capacity)
        if both:
            s["sites"] = sites_summary(c["requests"])
        summaries["firebreak-calm"] = s
        non2xx = s["requests"] - sum(v["ok_any"] for v in s["per_class"].values())
        lines.append("")
        lines.append(
            "firebreak calm (primary and standby alive, %.0f req/s offered for %.0f s): %d requests, refused %d, "
            "other non-2xx %d, timeouts %d, 2xx p50 %s ms p99 %s ms%s"
            % (s["offered_rps"], c["duration"], s["requests"], s["refused"], non2xx - s["refused"] - s["timeouts"],
               s["timeouts"], fmt(s["admitted_p50_ms"], "{:.0f}"), fmt(s["admitted_p99_ms"], "{:.0f}"),
               ("; sessions: %d both sites, %d on the standby only" % (s["sites"]["both_sites"],
                                                                        s["sites"]["standby_only"]))
               if s.get("sites") else "")
        )
    turns = meta.get("turns") or {}
    if turns:
        lines.append("")
        lines.append(
            "machine CPU busy in the second before each turn (others' work; 2 cores): "
            + ", ".join("%s %s%%" % (k, v.get("cpu_busy_before_pct")) for k, v in turns.items())
        )
    diag = firebreak_diag(results_dir)
    if diag:
        lines.append("")
        lines.extend(diag)
    with open(os.path.join(results_dir, "summary.json"), "w") as f:
        json.dump({"capacity": cap, "meta": meta, "summaries": summaries}, f, indent=1)
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: report.py RESULTS_DIR")
    print(render(sys.argv[1]))
