"""Starting the proxy of a July replay turn: firebreak (one process, or a fleet of `replicas`
processes sharing the same origins), nginx or HAProxy, each from its config generated in the
turn's folder (configs.py), checked before it starts and waited on until it serves. Used by
july.py; standard library only.

A fleet's replica i (1..N) is the child `proxy-r<i>` with its own listen and admin ports, its
config `firebreak-r<i>.toml` and log `firebreak-r<i>.log`; its [fleet] table lists the other
replicas' admin addresses. A single firebreak is the child `proxy` with `firebreak.toml` and
`firebreak.log`, as before --replicas existed.
"""

import os
import subprocess

from admin import http_get
from configs import firebreak_conf, haproxy_conf, nginx_conf
from procs import free_ports, wait_until

FLEET_PROBE = """\
[listen]
http = ["127.0.0.1:1"]

[admin]
listen = "127.0.0.1:2"

[[pool]]
name = "p"
backends = [{ addr = "127.0.0.1:3" }]

[[route]]
name = "r"
path_prefix = "/"

[fleet]
peers = ["127.0.0.1:4"]
sync_every = "1s"
"""


def fleet_supported(firebreak_bin, d):
    """(True, "") if this firebreak binary accepts a [fleet] table, else (False, its error)
    (a binary built before the fleet slice, 07114ed, rejects the table)."""
    probe = os.path.join(d, "fleet-probe.toml")
    with open(probe, "w") as f:
        f.write(FLEET_PROBE)
    r = subprocess.run([firebreak_bin, "check", "--config", probe], capture_output=True, text=True)
    said = (r.stdout + r.stderr).strip()
    if r.returncode != 0 and "fleet" not in said.split("\n")[0]:
        raise RuntimeError("the [fleet] probe failed for another reason: " + said)
    first = said.split("\n")[0]
    return r.returncode == 0, first.split(": ", 1)[-1].split(", expected")[0]  # "unknown field `fleet`"


class Proxy:
    """The running proxy of a turn: `listens` (one port per replica) and `admins` (firebreak
    only), and the children's names."""

    def __init__(self, kind, names, listens, admins):
        self.kind, self.names, self.listens, self.admins = kind, names, listens, admins

    def stop(self, kids):
        for n in self.names:
            kids.stop(n)


def start(kids, a, proxy, d, primary, standby, replicas=1):
    """Starts `proxy` for a turn in folder `d` in front of `primary` (a port, or a list of
    ports with --lose half) and `standby`; returns its Proxy once every process serves."""
    if proxy == "firebreak":
        n = replicas
        ports = free_ports(2 * n)
        listens, admins = ports[:n], ports[n:]
        names = ["proxy"] if n == 1 else ["proxy-r%d" % i for i in range(1, n + 1)]
        for i in range(n):
            stem = "firebreak" if n == 1 else "firebreak-r%d" % (i + 1)
            conf = os.path.join(d, stem + ".toml")
            peers = [p for j, p in enumerate(admins) if j != i] if n > 1 and a.fleet else None
            with open(conf, "w") as f:
                f.write(firebreak_conf(listens[i], admins[i], primary, standby, affinity=a.affinity,
                                       peers=peers, replica=i + 1))
            subprocess.run([a.firebreak_bin, "check", "--config", conf], check=True)
            kids.start(names[i], [a.firebreak_bin, "run", "--config", conf], os.path.join(d, stem + ".log"))
        p = Proxy(proxy, names, listens, admins)
    else:
        (listen,) = free_ports(1)
        if proxy == "nginx":
            conf = os.path.join(d, "nginx.conf")
            with open(conf, "w") as f:
                f.write(nginx_conf(listen, primary, standby, d))
            base = ["nginx", "-p", d, "-e", os.path.join(d, "nginx-error.log"), "-c", conf]
            subprocess.run(base + ["-t", "-q"], check=True)
            kids.start("proxy", base + ["-g", "daemon off;"], os.path.join(d, "nginx.out"))
        elif proxy == "haproxy":
            conf = os.path.join(d, "haproxy.cfg")
            with open(conf, "w") as f:
                f.write(haproxy_conf(listen, primary, standby, d))
            subprocess.run(["haproxy", "-c", "-q", "-f", conf], check=True)
            kids.start("proxy", ["haproxy", "-f", conf, "-db"], os.path.join(d, "haproxy.log"))
        else:
            raise ValueError(proxy)
        p = Proxy(proxy, ["proxy"], [listen], [])

    for name, port in zip(p.names, p.listens):
        def ready(name=name, port=port):
            if not kids.alive(name):
                raise RuntimeError("%s (%s) exited; see %s" % (proxy, name, d))
            return http_get(port, "/orders/ready")[0] == 200

        wait_until(ready, 20, "%s (%s) to serve" % (proxy, name))
    return p
