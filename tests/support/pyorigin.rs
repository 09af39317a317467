//! The origin as a separate process (`pyorigin.py`), for tests that need a real process: one
//! that can be frozen with SIGSTOP, or run inside a network namespace. Everything else uses the
//! in-process [`super::Origin`], which can be steered far more finely.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// `pyorigin.py` in its own process, optionally behind a prefix such as `ip netns exec NS`.
/// Dropping it kills (SIGKILL works on a stopped process too) and reaps it.
pub struct PyOrigin {
    child: Child,
    addr: SocketAddr,
}

impl PyOrigin {
    /// Starts it on `host:port` (port 0 = any) and waits for the port it printed.
    pub fn start(python: &Path, prefix: &[&str], host: &str, port: u16, name: &str) -> PyOrigin {
        PyOrigin::start_with(python, prefix, &[host, &port.to_string(), name])
    }

    /// Like `start`, speaking HTTPS with the PEM certificate chain and key.
    pub fn start_tls(
        python: &Path,
        prefix: &[&str],
        (host, port, name): (&str, u16, &str),
        cert: &Path,
        key: &Path,
    ) -> PyOrigin {
        let (cert, key) = (cert.display().to_string(), key.display().to_string());
        PyOrigin::start_with(
            python,
            prefix,
            &[host, &port.to_string(), name, &cert, &key],
        )
    }

    fn start_with(python: &Path, prefix: &[&str], args: &[&str]) -> PyOrigin {
        let (host, name) = (args[0], args[2]);
        let mut cmd = match prefix.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(python);
                c
            }
            None => Command::new(python),
        };
        let mut child = cmd
            .arg(super::support_file("pyorigin.py"))
            .args(args)
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
    /// Freezes the process: the kernel still completes TCP handshakes, nothing answers.
    /// SIGSTOP, returning once every thread of the process is seen stopped (state `T` in
    /// `/proc/PID/task/*/stat`), so that nothing the caller sends afterwards can be answered.
    pub fn freeze(&self) {
        self.signal("STOP");
        let stopped = super::wait_until(std::time::Duration::from_secs(5), || {
            all_threads_stopped(self.child.id())
        });
        assert!(stopped, "pyorigin {} did not stop on SIGSTOP", self.addr);
    }
    pub fn thaw(&self) {
        self.signal("CONT");
    }

    /// Sends a signal by name (ignoring errors: it may be gone).
    fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for PyOrigin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether every thread of `pid` is in the stopped state (`T`).
fn all_threads_stopped(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().all(|t| {
        std::fs::read_to_string(t.path().join("stat"))
            // The state follows the command name in parentheses, which may itself hold spaces.
            .is_ok_and(|s| {
                s.rsplit_once(')')
                    .is_some_and(|(_, rest)| rest.trim_start().starts_with('T'))
            })
    })
}
