"""What the benchmark drivers (benches/proxy/bench.py, benches/july/july.py, deploy/pgo/train.py)
share: child processes that are always stopped, free ports, waiting, the tools a run needs, and
the commit a run measured.

Every child runs in its own session (its own process group), so stopping it stops whatever it
started too, and the group ids are listed in a file while they run: the driver's run.sh reads
that file to stop them even if the driver itself is killed. Standard library only.
"""

import http.client
import os
import signal
import socket
import subprocess
import sys
import time


def logger(tag):
    """A `log(msg)` that prints "[tag HH:MM:SS] msg" to stderr."""

    def log(msg):
        print("[%s %s] %s" % (tag, time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)

    return log


class Children:
    """Child processes, each in its own session (process group); group ids in `pids_file`."""

    def __init__(self, pids_file):
        self.procs = {}
        self.pids_file = pids_file

    def _write(self):
        with open(self.pids_file, "w") as f:
            for p in self.procs.values():
                f.write("%d\n" % p.pid)

    def start(self, name, argv, logfile, env=None, stdin=subprocess.DEVNULL, stdout=None):
        """Starts `argv` as `name`, stderr (and stdout unless given) appended to `logfile`."""
        out = open(logfile, "ab")
        p = subprocess.Popen(argv, stdin=stdin, stdout=stdout or out, stderr=out,
                             start_new_session=True, env=env, cwd=os.path.dirname(logfile))
        out.close()
        self.procs[name] = p
        self._write()
        return p

    def kill(self, name, sig=signal.SIGKILL):
        """Sends `sig` to the child's group; after SIGKILL, reaps it and forgets it."""
        p = self.procs.get(name)
        if p is None:
            return
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass
        if sig == signal.SIGKILL:
            p.wait()
            del self.procs[name]
            self._write()

    def stop(self, name, grace=3.0, sig=signal.SIGTERM):
        """`sig`, up to `grace` seconds to exit, then SIGKILL to what is left of the group.
        Returns the child's exit status (None if there was no such child)."""
        p = self.procs.get(name)
        if p is None:
            return None
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        try:  # whatever is left of its group
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()
        del self.procs[name]
        self._write()
        return p.returncode

    def stop_all(self, grace=2.0):
        for name in list(self.procs):
            self.stop(name, grace=grace)

    def alive(self, name):
        p = self.procs.get(name)
        return p is not None and p.poll() is None


def free_ports(n):
    """`n` distinct ports on 127.0.0.1 that were free a moment ago."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_until(fn, timeout, what, alive=None):
    """Polls `fn` every 0.1 s until it is true; a connection error counts as not yet. Raises
    after `timeout` seconds, or at once when `alive()` says the awaited process exited."""
    end = time.time() + timeout
    while time.time() < end:
        if alive is not None and not alive():
            raise RuntimeError("%s: the process exited" % what)
        try:
            if fn():
                return
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.1)
    raise RuntimeError("timed out waiting for " + what)


def require(tools, hint=None):
    """Makes sure every one of `tools` is installed, through benches/lib/require.sh (apt-get when
    root); exits with its message when that cannot be done."""
    argv = [os.path.join(os.path.dirname(os.path.abspath(__file__)), "require.sh")]
    argv += (["--hint", hint] if hint else []) + list(tools)
    if subprocess.run(argv).returncode != 0:
        sys.exit(1)
    cargo_bin = os.path.join(os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo")), "bin")
    for d in ("/usr/sbin", "/sbin", cargo_bin):  # nginx and haproxy; oha
        if d not in os.environ.get("PATH", "").split(os.pathsep):
            os.environ["PATH"] = os.environ.get("PATH", "") + os.pathsep + d


def git_state(root):
    """The commit `root` is at, and which tracked files differ from it."""
    try:
        head = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.split("\n")
        return {"head": head, "modified": [ln[3:] for ln in dirty if ln.strip()]}
    except OSError:
        return None
