"""The firebreak config template of the benches and the PGO training: one function writes every
firebreak TOML they run (benches/july, benches/soak, benches/proxy, deploy/pgo), so the shape of
the file is in one place and each caller states only what it varies. Standard library only.

    fbconf.config(
        comment="what this config is for",
        threads=2, grace="5s", listen=8080, admin=9000, token_env="TOKEN_VAR",
        pools=[fbconf.pool("primary", [9001, (9002, 3)], tier=0, health=fbconf.health("200ms", "150ms"))],
        routes=[fbconf.route("login", "/login", "critical"), fbconf.route("default", "/", "normal")],
        tables={"admission": {"initial_limit": 24}},
    )

Every address is on 127.0.0.1. Keys keep the order they are given in.
"""

import json


def value(v):
    """A TOML value: strings, integers, floats, booleans, lists and inline tables."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a TOML basic string for everything the benches write
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join("%s = %s" % (k, value(x)) for k, x in v.items()) + " }"
    raise TypeError("no TOML for %r" % (v,))


def table(header, entries):
    return "\n".join([header] + ["%s = %s" % (k, value(v)) for k, v in entries.items() if v is not None])


def addr(port):
    return "127.0.0.1:%d" % port


def health(interval, timeout, rise=2, fall=2, path="/health"):
    """An active health check (the pool's `health` inline table)."""
    return {"path": path, "interval": interval, "timeout": timeout, "rise": rise, "fall": fall}


def pool(name, backends, tier=None, spill=None, connect_timeout=None, read_timeout=None,
         slow_start=None, health=None):
    """A [[pool]]; `backends` are ports (weight 1) or (port, weight) pairs. None leaves a key
    out (firebreak's default)."""
    bs = [{"addr": addr(b[0]), "weight": b[1]} if isinstance(b, tuple) else {"addr": addr(b), "weight": 1}
          for b in backends]
    return {"name": name, "tier": tier, "spill": spill, "connect_timeout": connect_timeout,
            "read_timeout": read_timeout, "slow_start": slow_start, "health": health, "backends": bs}


def route(name, path_prefix, priority=None, host=None, shadow=None):
    """A [[route]]; without a priority the route is `normal` (firebreak's default)."""
    return {"name": name, "host": host, "path_prefix": path_prefix, "priority": priority, "shadow": shadow}


def config(*, listen, admin, pools, routes, threads, grace, https=None, token_env=None,
           tables=None, comment="", tail=""):
    """The whole file. `listen` is the plain HTTP port (or None), `https` a list of
    (port, cert, key); `tables` adds top-level tables after the routes ({"admission": {...}});
    `tail` is raw text appended at the end (the soak's deliberately broken file)."""
    parts = []
    if comment:
        parts.append("\n".join(("# " + ln).rstrip() for ln in comment.strip("\n").split("\n")))
    parts.append(table("[server]", {"threads": threads, "grace": grace}))
    parts.append(table("[listen]", {
        "http": [addr(listen)] if listen is not None else None,
        "https": [{"addr": addr(p), "cert": c, "key": k} for p, c, k in https] if https else None,
    }))
    parts.append(table("[admin]", {"listen": addr(admin), "token_env": token_env}))
    parts += [table("[[pool]]", p) for p in pools]
    parts += [table("[[route]]", r) for r in routes]
    parts += [table("[%s]" % name, entries) for name, entries in (tables or {}).items()]
    if tail:
        parts.append(tail.strip("\n"))
    return "\n\n".join(parts) + "\n"
