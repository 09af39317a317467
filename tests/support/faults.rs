//! Helpers of the reliability tests (`unhealthy`, `netns`, `h2flood`, `slowloris`): finding the
//! external tools they drive (failing loudly, or skipping loudly when `FIREBREAK_SKIP_TOOLS` names
//! the tool), a real origin *process* (`PyOrigin`, `pyorigin.py`) that can be frozen with SIGSTOP
//! or run inside a network namespace, and readings of the proxy (`/status`, RSS).
//!
//! Included with `#[path = "support/faults.rs"] mod faults;` next to `mod support;`.
#![allow(dead_code)]

use crate::support::Proxy;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How the tools get installed.
pub const INSTALL_HINT: &str = "run `.ci/deps-reliability` (as root, so that it can apt-get)";

/// Writes straight to fd 2, past libtest's capture, so the line shows even when the test passes.
pub fn loud(msg: &str) {
    let _ = std::io::stderr().write_all(format!("\n!!!!! {msg} !!!!!\n\n").as_bytes());
}

/// `found`, or: a loud SKIPPED line and `None` when `FIREBREAK_SKIP_TOOLS` names `tool`, else a
/// loud panic saying how to install it (`how`).
pub fn require<T>(tool: &str, found: Option<T>, how: &str) -> Option<T> {
    if found.is_some() {
        return found;
    }
    let skip = std::env::var("FIREBREAK_SKIP_TOOLS").unwrap_or_default();
    if skip.contains(tool) {
        loud(&format!(
            "SKIPPED: `{tool}` is not installed and FIREBREAK_SKIP_TOOLS={skip:?} names it. \
             This test did NOT run"
        ));
        return None;
    }
    panic!(
        "\n\n!!!!! `{tool}` is NOT INSTALLED !!!!!\n\
         This test needs it: {how};\nor {INSTALL_HINT}.\n\
         Only if it truly cannot be installed, set FIREBREAK_SKIP_TOOLS={tool} to skip it \
         (loudly).\n"
    );
}

/// An executable on `PATH` (or in /usr/sbin, /usr/bin, /sbin).
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.extend(["/usr/sbin", "/usr/bin", "/sbin"].map(PathBuf::from));
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// The real interpreter behind `python3` (not a pyenv shim), if it runs.
pub fn python() -> Option<PathBuf> {
    let out = Command::new(which("python3")?)
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .ok()?;
    let exe = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !exe.is_empty()).then(|| PathBuf::from(exe))
}

/// A Python that can `import h2, hyperframe, hpack`: the venv of `.ci/deps-reliability`
/// (`$FIREBREAK_TOOLS_DIR/venv` or `target/reliability-tools/venv`), else the system `python3`.
pub fn h2_python() -> Option<PathBuf> {
    let tools = std::env::var_os("FIREBREAK_TOOLS_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/reliability-tools"),
        PathBuf::from,
    );
    let candidates = [Some(tools.join("venv/bin/python3")), python()];
    candidates.into_iter().flatten().find(|py| {
        Command::new(py)
            .args(["-c", "import h2, hyperframe, hpack"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// A file under `tests/support/`.
pub fn support_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(name)
}

/// Sends a signal by name to a process (ignoring errors: it may be gone).
pub fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status();
}

/// `pyorigin.py` in its own process, optionally behind a prefix such as `ip netns exec NS`.
/// Dropping it kills (SIGKILL works on a stopped process too) and reaps it.
pub struct PyOrigin {
    child: Child,
    addr: SocketAddr,
}

impl PyOrigin {
    /// Starts it on `host:port` (port 0 = any) and waits for the port it printed.
    pub fn start(python: &Path, prefix: &[&str], host: &str, port: u16, name: &str) -> PyOrigin {
        let mut cmd = match prefix.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(python);
                c
            }
            None => Command::new(python),
        };
        let mut child = cmd
            .arg(support_file("pyorigin.py"))
            .args([host, &port.to_string(), name])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start pyorigin.py: {e}"));
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped stdout");
        let _ = BufReader::new(stdout).read_line(&mut line);
        let Ok(port) = line.trim().parse::<u16>() else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("pyorigin.py {name} on {host} did not start (printed {line:?})");
        };
        let addr = format!("{host}:{port}").parse().expect("origin address");
        PyOrigin { child, addr }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
    /// Freezes the process: the kernel still completes TCP handshakes, nothing answers.
    pub fn freeze(&self) {
        signal(self.pid(), "STOP");
    }
    pub fn thaw(&self) {
        signal(self.pid(), "CONT");
    }
}

impl Drop for PyOrigin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The proxy's resident set size in KiB (`VmRSS` of /proc/PID/status).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmRSS:"));
    let kib = line.and_then(|l| l.split_whitespace().nth(1)?.parse().ok());
    kib.unwrap_or_else(|| panic!("no VmRSS for pid {pid}: is it running?"))
}

/// The backend at `addr` in `/status` (health, ejections, failures, ...), if listed.
pub fn backend_status(p: &Proxy, addr: SocketAddr) -> Option<serde_json::Value> {
    let st = p.admin_get("/status").ok()?.try_json().ok()?;
    let pools = st["pools"].as_array()?;
    let mut backends = pools
        .iter()
        .filter_map(|p| p["backends"].as_array())
        .flatten();
    let me = addr.to_string();
    backends
        .find(|b| b["address"].as_str() == Some(&me))
        .cloned()
}

/// `(health, ejections)` of the backend at `addr` in `/status`, or `None` if not listed.
pub fn backend_health(p: &Proxy, addr: SocketAddr) -> Option<(String, u64)> {
    let b = backend_status(p, addr)?;
    let health = b["health"].as_str().unwrap_or("?").to_string();
    Some((health, b["ejections"].as_u64().unwrap_or(0)))
}

/// The `q` quantile (0..=1) of `v`, zero when empty.
pub fn quantile(v: &[Duration], q: f64) -> Duration {
    let mut v = v.to_vec();
    v.sort_unstable();
    let i = ((v.len() as f64 * q).ceil() as usize).saturating_sub(1);
    v.get(i.min(v.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

/// A self-signed cert and key for `localhost`/127.0.0.1 in `dir` (needs `openssl`).
pub fn self_signed(openssl: &Path, dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new(openssl)
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("cannot run openssl");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "openssl req failed: {err}");
    (cert, key)
}
