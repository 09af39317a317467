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

With --replicas (a fleet of firebreak processes, the row `firebreak xN`) every figure of the
row is computed over the union of all replicas' answers, as the customers see them; a row per
replica follows (`replica i`: the answers of the requests sent to it; its good/cap is its
goodput over capacity ÷ N, its even share). Below the table: the admitted-latency table (2xx
p50/p99 per class over the whole load phase and its first 2 s, × the standby's unloaded p50) and
the shed table (latency.py); issue #3's goals per firebreak row, issue #18's latency goals per row,
each replica's standby pool over the load phase (replicas.py) and, with several counts in one
run, the "1 replica vs N replicas" table.
"""

import json
import os
import sys

import latency
import replicas
from summary import replica_load, sites_summary, summarize


def fmt(v, spec="{:.1f}", none="-"):
    return none if v is None else spec.format(v)


HEADER = (
    "| proxy        | offered r/s (lag p99) | crit≤1s | norm≤1s | bulk≤1s | goodput r/s | good/cap "
    "| refused | ref p99 ms | 2xx p50 ms | 2xx p99 ms | timeout | other |"
)
RULE = "|" + "|".join("-" * (len(c)) for c in HEADER.split("|")[1:-1]) + "|"


def row(name: str, s: dict, both: bool = False) -> str:
    pc = s["per_class"]
    cells = [
        " %-12s " % name,
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


def end_status(results_dir: str, name: str, n: int) -> list:
    """Each replica's /status captured 0.5 s before the end of the load phase."""
    out = []
    for i in range(1, n + 1):
        path = os.path.join(results_dir, "%s-status-end%s.json" % (name, "-r%d" % i if n > 1 else ""))
        if not os.path.exists(path):
            continue
        with open(path) as f:
            st = json.load(f)
        out.append("%s /status at the end of the load phase (%s):" % (replicas.label(name), os.path.basename(path)))
        out.append("  tiers: " + ", ".join("tier %s %s share %.2f" % (t["tier"], t["state"], t["share"])
                                           for t in st.get("tiers", [])))
        for p in st.get("pools", []):
            out.append(
                "  pool %-8s tier %s %-9s limit %-6s in_flight %-4s queued %-4s congested %-5s "
                "p50 %s ms, baseline %s ms, limit baseline %s ms"
                % (p.get("name"), p.get("tier"), p.get("state"), p.get("limit"), p.get("in_flight"),
                   p.get("queued"), p.get("congested"), p.get("latency_p50_ms"),
                   p.get("latency_baseline_ms"), p.get("limit_baseline_ms")))
            for b in p.get("backends", []):
                out.append(
                    "    backend %s %s in_flight %s limit %s latency %s ms failures %s"
                    % (b.get("address"), b.get("health"), b.get("in_flight"), b.get("limit"), b.get("latency_ms"),
                       b.get("failures")))
    if n == 1:
        lims = [(t, p.get("limit"), p.get("in_flight"), p.get("queued"), p.get("congested"))
                for t, r in replicas.series(results_dir, name) for p in [replicas.pool(r[min(r)])]]
        if lims:
            out.append("  standby over the load phase (t s: limit/in_flight/queued/congested): "
                       + "  ".join("%.1f: %s/%s/%s/%s" % x for x in lims))
    return out


def read(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def session_lines(meta: dict, summaries: dict) -> list:
    """The sessions' sites per row (runs with session cookies), and the affinity goal line."""
    lines = ["", "sessions in the load phase (by the X-Origin of their answers): " + "; ".join(
        "%s %d sessions: %d both sites (%d of them back and forth), %d primary only, %d standby only,"
        " %d no answer from an origin%s"
        % (replicas.label(n), x["sessions"], x["both_sites"], x["bounced"], x["primary_only"], x["standby_only"],
           x["no_answer"], (", %d moved from the primary (warm-up) to the standby" % x["moved_after_warmup"])
           if "moved_after_warmup" in x else "")
        for n, x in ((n, s["sites"]) for n, s in summaries.items() if s.get("sites")))]
    for name, fb in summaries.items():
        if not name.startswith("firebreak") or not fb.get("sites") or not meta.get("affinity"):
            continue
        if meta.get("lose") == "half":
            lines.append(
                "%s with affinity, traffic split: %d sessions on both sites (goal 0; it also counts a session of"
                " the band that moved when the share changed after the kill, if the primary answered it before), %d"
                " back and forth (goal 0)" % (replicas.label(name), fb["sites"]["both_sites"], fb["sites"]["bounced"]))
        else:
            crit, gc = fb["critical_ok_within_1s_pct"], fb["goodput_over_capacity"]
            ok = fb["sites"]["both_sites"] == 0 and (crit or 0) >= 99.0 and (gc or 0) >= 0.9
            lines.append(
                "%s with affinity: %d sessions on both sites (goal 0), crit≤1s %s %% (goal ≥ 99), good/cap"
                " %s %% (goal ≥ 90): %s" % (replicas.label(name), fb["sites"]["both_sites"], fmt(crit),
                                             fmt(None if gc is None else 100 * gc, "{:.0f}"), "holds" if ok else "MISSED"))
    if meta.get("lose", "all") == "all":
        lines.append(
            "(The primary is dead for the whole load phase, so no answer can come from it: here the figure"
            " can only show an answer from the primary after the kill. --lose half splits the traffic.)")
    return lines


def render(results_dir: str) -> str:
    cap = read(os.path.join(results_dir, "capacity.json"))
    meta = read(os.path.join(results_dir, "meta.json")) or {}
    capacity = cap["standby"]["rps"]
    ref = latency.unloaded_p50(cap)
    lines = [
        "standby capacity (direct, closed loop, concurrency %d, %.0f s): %.1f req/s; primary (generator-bound lower bound): %s req/s"
        % (cap["standby"]["concurrency"], cap["standby"]["duration"], capacity, cap.get("primary", {}).get("rps", "-")),
        latency.unloaded_line(cap)]
    if meta:
        la = meta.get("loadavg_start")
        if la:
            lines.append("machine: %d cores, load average at start %.2f %.2f %.2f" % ((os.cpu_count() or 0,) + tuple(la)))
        lines.append(
            "load phase: %s s, planned %s req/s (%s), %s SIGKILLed right before; timeout %s s; new connection per request"
            % (meta.get("load_seconds"), meta.get("planned_rps"), meta.get("mix"),
               "one of the primary's two backends" if meta.get("lose") == "half" else "primary", meta.get("timeout")))
        if meta.get("sessions"):
            lines.append(
                "sessions: %d session cookies (Cookie: sid=s<k>), firebreak %s; primary lost: %s"
                % (meta["sessions"], "with [affinity] key = \"cookie:sid\"" if meta.get("affinity")
                   else "WITHOUT [affinity] (baseline)",
                   "half (2 backends, 1 killed)" if meta.get("lose") == "half" else "all (killed)"))
        fleets = [n for n in (meta.get("replicas") or {}).values() if n > 1]
        if fleets:
            lines.append(
                "firebreak xN: N firebreak processes in front of the same primary and standby, requests round-robin"
                " over them (warm-up, calm and load); [fleet]: %s; each replica threads = 0 (one per core)"
                % meta.get("fleet"))
    both = bool(meta.get("sessions"))
    nrep = meta.get("replicas") or {}
    lines += ["", HEADER + (" both sites |" if both else ""), RULE + ("-" * 12 + "|" if both else "")]
    summaries, calms, per_replica = {}, {}, {}
    lat_rows, delays = [], []
    turns = meta.get("turns") or {}
    for name in meta.get("rows") or meta.get("proxies", ["firebreak", "nginx", "haproxy"]):
        load = read(os.path.join(results_dir, "%s-load.json" % name))
        if load is None:
            continue
        s = summarize(load, capacity)
        if both:
            warm = read(os.path.join(results_dir, "%s-warmup.json" % name))
            s["sites"] = sites_summary(load["requests"], warm["requests"] if warm else None)
        s["latency"] = latency.summarize_latency(load, ref)
        summaries[name] = s
        lines.append(row(replicas.label(name), s, both))
        lat_rows.append((replicas.label(name), s["latency"]))
        killed = (turns.get(name) or {}).get("killed_wall")
        delays.append((replicas.label(name), load["wall_start"] - killed if killed and "wall_start" in load else None))
        n = nrep.get(name, 1)
        if n > 1:
            per_replica[name] = []
            for k in range(n):
                part = replica_load(load, k, n)
                x = summarize(part, capacity / n)
                x["latency"] = latency.summarize_latency(part, ref)
                per_replica[name].append(x)
                lat_rows.append(("  replica %d" % (k + 1), x["latency"]))
            lines += [row("  replica %d" % (k + 1), x, both) for k, x in enumerate(per_replica[name])]
        calm = read(os.path.join(results_dir, "%s-calm.json" % name)) if name.startswith("firebreak") else None
        if calm is not None:
            c = summarize(calm, capacity)
            c["duration"] = calm["duration"]
            if both:
                c["sites"] = sites_summary(calm["requests"])
            calms[name] = c
    if summaries:
        lines += ["", "answers by status: " + "; ".join(
            "%s %s" % (replicas.label(n), " ".join("%s×%d" % kv for kv in s["statuses"].items()))
            for n, s in summaries.items())]
    if both:
        lines += session_lines(meta, summaries)
    if lat_rows:
        lines += [""] + latency.tables(lat_rows, delays)
    for name, s in calms.items():
        non2xx = s["requests"] - sum(v["ok_any"] for v in s["per_class"].values())
        lines += ["", "%s calm (primary and standby alive, %.0f req/s offered for %.0f s): %d requests, refused %d, "
                  "other non-2xx %d, timeouts %d, 2xx p50 %s ms p99 %s ms%s"
                  % (replicas.label(name), s["offered_rps"], s["duration"], s["requests"], s["refused"],
                     non2xx - s["refused"] - s["timeouts"], s["timeouts"], fmt(s["admitted_p50_ms"], "{:.0f}"),
                     fmt(s["admitted_p99_ms"], "{:.0f}"),
                     ("; sessions: %d both sites, %d on the standby only" % (s["sites"]["both_sites"],
                                                                              s["sites"]["standby_only"]))
                     if s.get("sites") else "")]
    fb_rows = [(nm, nrep.get(nm, 1)) for nm in summaries if nm.startswith("firebreak")]
    workers = (meta.get("standby") or {}).get("workers", 2)
    if fb_rows:
        lines.append("")
        lines += [replicas.goals_line(nm, summaries[nm], calms.get(nm)) for nm, _ in fb_rows]
    if summaries:
        lines += [""] + [latency.goals_line(replicas.label(nm), s["latency"]) for nm, s in summaries.items()]
    if len(fb_rows) > 1:
        lines.append("")
        lines += replicas.compare_table(results_dir, fb_rows, summaries, calms, workers)
    if turns:
        lines += ["", "machine CPU busy in the second before each turn (others' work; 2 cores): "
                  + ", ".join("%s %s%%" % (k, v.get("cpu_busy_before_pct")) for k, v in turns.items())]
    for nm, n in fb_rows:
        diag = end_status(results_dir, nm, n) + replicas.status_lines(results_dir, nm, n, workers)
        if diag:
            lines += [""] + diag
    if "firebreak" in calms:
        summaries["firebreak-calm"] = calms["firebreak"]  # where benches/compare.py reads it
    with open(os.path.join(results_dir, "summary.json"), "w") as f:
        json.dump({"capacity": cap, "meta": meta, "summaries": summaries, "calm": calms,
                   "replicas": per_replica}, f, indent=1)
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: report.py RESULTS_DIR")
    print(render(sys.argv[1]))
