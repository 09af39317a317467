"""Where a proxy's real time goes: `perf record -e cpu-clock` on the proxy's core (bench.py --perf).

callgrind counts user-space instructions; it is stable on this noisy VM, but it sees neither
the kernel nor how long an instruction takes (a 14 KB `rep movsb` counts as 14 k
instructions and takes ~0.2 us). This mode samples the proxy's core with the software
`cpu-clock` event, which works in VMs without hardware counters (`perf stat -e cycles`
does not here), while wrk drives keep-alive load. The proxy is alone on its core (bench.py
pins it), so every sample on that core is either the proxy, the kernel working for it
(system calls, softirq network processing, wake-ups), or idle.

Each sample becomes microseconds per request: share of samples x window / requests in the
window. Buckets: kernel, the proxy's own binary, libc, vDSO (clock reads), other libraries,
other processes on the core, idle. Standard library only.
"""

import collections
import os
import re
import subprocess

LINE = re.compile(r"^\s*([\d.]+)%\s+(\S.*?)\s{2,}(\S+)\s+\[(.)\]\s+(.*?)\s*$")
IDLE_COMMS = ("swapper",)


def record_argv(core, seconds, out, freq=2000):
    """perf record of one core for `seconds`, flat profile (no call graphs: cheap, no bias)."""
    return ["perf", "record", "-e", "cpu-clock", "-F", str(freq), "-C", str(core), "-o", out,
            "--", "sleep", str(seconds)]


def samples(data):
    """[(share 0..1, comm, dso, kernel?, symbol)] from `perf report`, all samples of the core."""
    r = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "comm,dso,sym",
                        "--stdio", "-q", "--percent-limit", "0"],
                       capture_output=True, text=True, check=True)
    rows = []
    for line in r.stdout.splitlines():
        m = LINE.match(line)
        if m:
            rows.append((float(m.group(1)) / 100.0, m.group(2).strip(), m.group(3),
                         m.group(4) == "k", m.group(5)))
    return rows


def bucket(comm, dso, kernel, proxy_comms, binary):
    if comm.startswith(IDLE_COMMS):
        return "idle"
    if not any(comm.startswith(c) for c in proxy_comms):
        return "other process"
    if kernel:
        return "kernel"
    if dso == binary:
        return "proxy binary"
    if dso.startswith("libc.so"):
        return "libc"
    if dso.startswith("[vdso]"):
        return "vdso (clock)"
    return "other libraries"


BUCKETS = ("kernel", "proxy binary", "libc", "vdso (clock)", "other libraries", "other process", "idle")


def summarize(data, requests, window_s, proxy_comms, binary, top=20):
    """Microseconds per request by bucket and by symbol."""
    us = 1e6 * window_s / max(1, requests)
    by_bucket = collections.Counter()
    by_symbol = collections.Counter()
    for share, comm, dso, kernel, sym in samples(data):
        b = bucket(comm, dso, kernel, proxy_comms, binary)
        by_bucket[b] += share * us
        if b not in ("idle", "other process"):
            by_symbol["%s %s" % ("[k]" if kernel else "[u]", normalize(sym))] += share * us
    busy = sum(v for k, v in by_bucket.items() if k != "idle")
    return {
        "us_per_req": {k: round(by_bucket.get(k, 0.0), 3) for k in BUCKETS},
        "busy_us_per_req": round(busy, 3),
        "user_us_per_req": round(busy - by_bucket["kernel"] - by_bucket["other process"], 3),
        "top_user": [(k, round(v, 3)) for k, v in by_symbol.most_common() if k.startswith("[u]")][:top],
        "top_kernel": [(k, round(v, 3)) for k, v in by_symbol.most_common() if k.startswith("[k]")][:top],
        "symbols": {k: round(v, 4) for k, v in by_symbol.items() if v >= 0.002},
    }


def normalize(sym):
    """One name for the same code in firebreak and the bare proxy (their ProxyHttp impls)."""
    return re.sub(r"<(firebreak::proxy::Proxy|pingora_bare::Bare) as ", "<P as ", sym)


def diff(a, b, n=15):
    """Symbols where `a` spends the most more than `b`, in us/request."""
    keys = set(a["symbols"]) | set(b["symbols"])
    d = sorted(((a["symbols"].get(k, 0.0) - b["symbols"].get(k, 0.0), k) for k in keys), reverse=True)
    return [(k, round(v, 3), a["symbols"].get(k, 0.0), b["symbols"].get(k, 0.0)) for v, k in d[:n]]


def proxy_identity(pids):
    """(thread names, executable basename) of a proxy's process tree, as perf reports them."""
    comms, exe = set(), None
    for pid in pids:
        try:
            exe = exe or os.path.basename(os.readlink("/proc/%d/exe" % pid))
            for tid in os.listdir("/proc/%d/task" % pid):
                with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                    comms.add(f.read().strip())
        except OSError:
            pass
    return tuple(sorted(comms)), exe


def table(res, meta, render, fmt, median):
    """The --perf report: median us/request per bucket, then where firebreak's time goes."""
    turns = collections.defaultdict(list)
    for t in res["turns"]:
        turns[t["proxy"]].append(t)
    med = {p: {b: median([t["profile"]["us_per_req"][b] for t in ts]) for b in BUCKETS}
           for p, ts in turns.items()}
    busy = {p: median([t["profile"]["busy_us_per_req"] for t in ts]) for p, ts in turns.items()}
    rps = {p: median([t["rps"] for t in ts]) for p, ts in turns.items()}
    user = {p: median([t["profile"]["user_us_per_req"] for t in ts]) for p, ts in turns.items()}
    rows = []
    for p in meta["proxies"]:
        if p not in med:
            continue
        m = med[p]
        rows.append([p, fmt(rps[p]), fmt(busy[p], "%.2f"),
                     fmt(busy[p] / busy["nginx"], "%.2f") if "nginx" in busy else "-",
                     fmt(m["kernel"], "%.2f"), fmt(user[p], "%.2f"), fmt(m["proxy binary"], "%.2f"),
                     fmt(m["libc"], "%.2f"), fmt(m["vdso (clock)"], "%.2f"), fmt(m["other libraries"], "%.2f"),
                     fmt(m["other process"], "%.2f"), fmt(m["idle"], "%.2f"), len(turns[p])])
    out = [render(["proxy", "req/s", "busy us/req", "x nginx", "kernel", "user", "binary", "libc", "vdso",
                   "other libs", "other procs", "idle", "turns"], rows)]

    def pick(p):  # the turn whose busy time is the median one: its symbol lists
        ts = sorted(turns[p], key=lambda t: t["profile"]["busy_us_per_req"])
        return ts[len(ts) // 2]["profile"]

    for p in ("firebreak", "pingora", "nginx"):
        if p in turns:
            prof = pick(p)
            out += ["", "%s, top user-space symbols (us/request):" % p]
            out += ["  %7.3f  %s" % (v, k[4:][:150]) for k, v in prof["top_user"][:12]]
            out += ["%s, top kernel symbols (us/request):" % p]
            out += ["  %7.3f  %s" % (v, k[4:][:150]) for k, v in prof["top_kernel"][:6]]
    if "firebreak" in turns and "pingora" in turns:
        out += ["", "firebreak - pingora, the symbols with the most extra time (us/request: diff, firebreak, pingora):"]
        out += ["  %+7.3f  %7.3f  %7.3f  %s" % (d, a, b, k[:150]) for k, d, a, b in diff(pick("firebreak"), pick("pingora"))]
    if "firebreak" in turns and "pingora" in turns:
        out.append("firebreak / bare Pingora (medians): req/s x%.2f, user us/req x%.2f, busy us/req x%.2f"
                   % (rps["firebreak"] / rps["pingora"], user["firebreak"] / user["pingora"],
                      busy["firebreak"] / busy["pingora"]))
    out += ["", "perf record -e cpu-clock -F %d -C %d for %d s inside each %d s wrk run (keep-alive, -c%d); "
            "us/request = share of the core's samples x window / requests in the window. busy = all but idle; "
            "user = busy - kernel - other processes. Every column is the median over the turns."
            % (meta["perf_freq"], meta["proxy_core"], meta["perf_window"], meta["duration"], meta["conns"])]
    return "\n".join(out)
