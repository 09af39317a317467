"""The soak's verdict: checks what the run recorded and prints the numbers and the RSS curve.

Checks (each printed PASS/FAIL; all must pass):
  * no crash: the proxy ran to the end, never logged a panic, and exited 0 on SIGTERM;
  * no duplicated write: no POST id appears twice in the origins' applied log (across origins);
  * no lost write: every POST id answered 2xx was applied exactly once; no unknown id applied;
  * reloads: every good reload was applied, every broken one refused with 400;
  * RSS flat: after the warm-up, the last quarter's mean RSS is within +rss_growth (20 %) of the
    first quarter's.
Writes results.json and rss.csv into the output directory.
"""

import collections
import json
import os
import re


def quarters(samples, warmup):
    """Mean RSS (KiB) of the first and last quarter of the samples taken after the warm-up."""
    after = [s for s in samples if s[0] >= warmup]
    if len(after) < 4:
        return None, None, len(after)
    q = len(after) // 4
    mean = lambda xs: sum(x[1] for x in xs) / len(xs)  # noqa: E731
    return mean(after[:q]), mean(after[-q:]), len(after)


def curve(samples, width=50):
    """An ASCII chart of RSS over time, one line per sample."""
    if not samples:
        return "  (no samples)"
    lo = min(s[1] for s in samples)
    hi = max(s[1] for s in samples)
    span = max(hi - lo, 1)
    lines = []
    for t, rss, threads, fds, _ in samples:
        bar = "#" * (1 + int((rss - lo) / span * (width - 1)))
        lines.append("  %6.0fs %8.1f MiB |%-*s| fds=%d" % (t, rss / 1024, width, bar, fds))
    return "\n".join(lines)


def percentile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * q))] if xs else 0.0


def verdict(soak, crashed, exit_code, outcomes, posts, errors, metrics):
    a, out = soak.args, soak.out
    checks = []

    def check(name, ok, detail):
        checks.append((name, bool(ok), detail))

    err_text = open(os.path.join(out, "firebreak.err"), errors="replace").read()
    panics = [ln for ln in err_text.splitlines() if "panicked" in ln]
    check("proxy alive until the end", crashed is None, "exit status %s mid-run" % crashed)
    check("exit 0 on SIGTERM", exit_code == 0, "exit: %r" % (exit_code,))
    check("no panic in the proxy's log", not panics, "; ".join(panics[:3]))

    applied = collections.Counter()
    where = collections.defaultdict(list)
    with open(soak.applied_log) as f:
        for line in f:
            origin, _, wid = line.strip().partition(" ")
            applied[wid] += 1
            where[wid].append(origin)
    dups = {w: where[w] for w, n in applied.items() if n > 1}
    ok_ids = [w for w, st in posts.items() if 200 <= st < 300]
    lost = [w for w in ok_ids if applied[w] != 1]
    unknown = [w for w in applied if w not in posts]
    check("no write applied twice", not dups, "duplicates: %s" % list(dups.items())[:5])
    check("every 2xx write applied exactly once", not lost, "missing/odd: %s" % lost[:5])
    check("no unknown write applied", not unknown, "unknown: %s" % unknown[:5])

    reloads = soak.events["reloads"]
    good = [r for r in reloads if not r[1]]
    bad = [r for r in reloads if r[1]]
    check("every reload applied (bad ones refused)", all(r[2] for r in reloads),
          "; ".join(soak.events["problems"][:5]))

    first, last, n_after = quarters(soak.samples, a.warmup)
    if first is None:
        check("RSS flat", False, "too few samples after the %.0f s warm-up" % a.warmup)
        growth = None
    else:
        growth = last / first - 1
        check("RSS flat (last quarter within +%d%% of first)" % (a.rss_growth * 100),
              growth <= a.rss_growth,
              "first quarter %.1f MiB, last quarter %.1f MiB (%+.1f%%)"
              % (first / 1024, last / 1024, growth * 100))

    by_kind = collections.defaultdict(collections.Counter)
    for kind, status, _ in outcomes:
        by_kind[kind][status] += 1
    lat = [o[2] for o in outcomes if 200 <= o[1] < 300]
    post_status = collections.Counter(posts.values())
    applied_not_ok = [w for w, st in posts.items() if not 200 <= st < 300 and applied[w]]
    m = re.findall(r'firebreak_config_reloads_total\{result="(\w+)"\} (\d+)', metrics)
    reload_metrics = {k: int(v) for k, v in m}
    methods = collections.Counter(r[0] + (" (broken)" if r[1] else "") for r in reloads)

    print("\n=== soak results (%s min) ===" % a.minutes)
    print("requests: %d (%.1f/s); 2xx latency p50 %.1f ms, p99 %.1f ms; client errors %s"
          % (len(outcomes), len(outcomes) / max(1, a.minutes * 60), percentile(lat, .5) * 1e3,
             percentile(lat, .99) * 1e3, dict(errors) or "none"))
    for kind in sorted(by_kind):
        print("  %-14s %s" % (kind, dict(sorted(by_kind[kind].items()))))
    print("writes: %d sent, %d answered 2xx, statuses %s; applied %d distinct ids; "
          "%d applied though not answered 2xx (in flight at a kill)"
          % (len(posts), len(ok_ids), dict(sorted(post_status.items())), len(applied),
             len(applied_not_ok)))
    print("kills: %d, restarts: %d; reloads: %d good + %d broken %s; proxy counted %s"
          % (soak.events["kills"], soak.events["restarts"], len(good), len(bad), dict(methods),
             reload_metrics))
    if good:
        print("reload apply time: p50 %.2f s, max %.2f s"
              % (percentile([r[3] for r in good], .5), max(r[3] for r in good)))
    if soak.samples:
        s0, s1 = soak.samples[0], soak.samples[-1]
        print("RSS: start %.1f MiB, end %.1f MiB, min %.1f, max %.1f; threads %d -> %d; "
              "fds %d -> %d" % (s0[1] / 1024, s1[1] / 1024, min(s[1] for s in soak.samples) / 1024,
                                max(s[1] for s in soak.samples) / 1024, s0[2], s1[2], s0[3], s1[3]))
    for t, path, name in soak.error_log[:10]:
        near = [(abs(e[0] - t), e) for e in soak.timeline if abs(e[0] - t) < 1.0]
        what = ", ".join("%s %+.2f s" % (e[1], e[0] - t) for _, e in sorted(near)[:3])
        print("client error: %s on %s; nearest events: %s" % (name, path, what or "none within 1 s"))
    print("RSS curve (every %.0f s; warm-up %.0f s, %d samples after it):"
          % (a.sample, a.warmup, n_after))
    print(curve(soak.samples))
    print()
    for name, ok, detail in checks:
        print("%s  %s%s" % ("PASS" if ok else "FAIL", name, "" if ok else "  -- " + detail))
    passed = all(ok for _, ok, _ in checks)
    print("\nsoak %s" % ("PASSED" if passed else "FAILED"))

    with open(os.path.join(out, "rss.csv"), "w") as f:
        f.write("seconds,rss_kib,threads,fds,requests\n")
        for s in soak.samples:
            f.write("%.1f,%d,%d,%d,%d\n" % s)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({
            "minutes": a.minutes, "requests": len(outcomes), "writes_sent": len(posts),
            "writes_2xx": len(ok_ids), "write_statuses": {str(k): v for k, v in post_status.items()},
            "duplicates": len(dups), "lost": len(lost), "kills": soak.events["kills"],
            "reloads_good": len(good), "reloads_broken": len(bad),
            "rss_first_quarter_kib": first, "rss_last_quarter_kib": last, "rss_growth": growth,
            "checks": [{"name": n, "ok": ok, "detail": d} for n, ok, d in checks],
            "passed": passed,
        }, f, indent=1)
    return passed
