"""The July replay's numbers from one phase's answers (a `load.py open` result): per class, the
goodput, refusals, latencies and statuses (`summarize`), the sessions' sites (`sites_summary`),
and the answers of one replica of a fleet (`replica_load`: the requests the generator sent to
that replica's address, record field 8). Used by report.py and replicas.py; standard library only.
"""

from http1 import pct  # the generator's nearest-rank percentile, one definition

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
        "critical_p99_ms": ms(pct([r[4] for r in reqs if ok(r) and r[0] == "critical"], 0.99)),
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


def replica_of(r: list) -> int:
    """The index (0-based) of the replica a request went to (0 for runs of one target)."""
    return r[8] if len(r) > 8 and r[8] is not None else 0


def replica_load(load: dict, k: int, n: int) -> dict:
    """The part of `load` that went to replica k (0-based) of n, shaped like a load.py result:
    its requests, offered rate and start lag; its planned rate is the n-th part of the whole."""
    reqs = [r for r in load["requests"] if replica_of(r) == k]
    dur = float(load["duration"])
    lags = [r[2] for r in reqs]
    out = dict(load)
    out.update(
        requests=reqs,
        planned_rps=(load.get("planned_rps") or 0) / n,
        offered_rps=round(len(reqs) / dur, 2),
        lag_ms={q: (round(1000 * pct(lags, v), 2) if lags else None) for q, v in (("p50", 0.5), ("p99", 0.99))},
    )
    return out
