//! External tools for the integration tests that need them (Chromium, Prometheus).
//!
//! `require` finds a tool or decides what to do without it: a missing tool FAILS the test with a
//! loud message saying how to install it, unless `FIREBREAK_SKIP_TOOLS` names it (e.g.
//! `FIREBREAK_SKIP_TOOLS=chromium,prometheus`), in which case it prints a loud SKIPPED line to
//! stderr and the test returns. Never a silent pass.
//!
//! `Spawned` runs a tool in its own process group with stdout/stderr captured to files, and kills
//! that group (the tool and every child it forked, e.g. Chromium's renderers) when dropped, also
//! when the test panics. `artifacts_dir` is `target/test-artifacts/`, kept out of git.
#![allow(dead_code)]

use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Where `.ci/deps-browser` installs the tools from.
pub const INSTALL_HINT: &str = "run `.ci/deps-browser` as root (or `sudo apt-get install -y \
     --no-install-recommends chromium prometheus`)";

/// The first of `candidates` (absolute paths or names looked up on `PATH`) that exists.
/// If none does: panics loudly, or returns `None` after a loud SKIPPED line when
/// `FIREBREAK_SKIP_TOOLS` contains `tool`.
pub fn require(tool: &str, candidates: &[&str], debian_package: &str) -> Option<PathBuf> {
    if let Some(found) = candidates.iter().find_map(|c| locate(c)) {
        return Some(found);
    }
    let skip = std::env::var("FIREBREAK_SKIP_TOOLS").unwrap_or_default();
    if skip.contains(tool) {
        // Straight to fd 2, past libtest's capture, so the line shows even though the test passes.
        let line = format!(
            "\n!!!!! SKIPPED: `{tool}` is not installed (looked for {candidates:?}) and \
             FIREBREAK_SKIP_TOOLS={skip:?} names it. This test did NOT run. !!!!!\n\n"
        );
        let _ = std::io::stderr().write_all(line.as_bytes());
        return None;
    }
    panic!(
        "\n\n!!!!! `{tool}` is NOT INSTALLED (looked for {candidates:?}) !!!!!\n\
         This test needs Debian's `{debian_package}` package: {INSTALL_HINT}.\n\
         Only if it truly cannot be installed, set FIREBREAK_SKIP_TOOLS={tool} to skip it \
         (loudly).\n"
    );
}

fn locate(candidate: &str) -> Option<PathBuf> {
    if candidate.contains('/') {
        let p = PathBuf::from(candidate);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(candidate))
        .find(|p| p.is_file())
}

/// `target/test-artifacts/` (created), next to the target dir's `tmp/`; not tracked by git.
pub fn artifacts_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tmp.parent().unwrap_or(tmp).join("test-artifacts");
    std::fs::create_dir_all(&dir).expect("cannot create target/test-artifacts");
    dir
}

/// A tool process in its own process group; dropping it kills the group and reaps the tool.
pub struct Spawned {
    child: Child,
    name: String,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Spawned {
    /// Spawns `cmd` in a new process group, stdout/stderr to `<log_dir>/<name>.{out,err}`.
    pub fn start(name: &str, mut cmd: Command, log_dir: &Path) -> Spawned {
        let stdout = log_dir.join(format!("{name}.out"));
        let stderr = log_dir.join(format!("{name}.err"));
        let child = cmd
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).expect("create stdout log"))
            .stderr(std::fs::File::create(&stderr).expect("create stderr log"))
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        Spawned {
            child,
            name: name.to_string(),
            stdout,
            stderr,
        }
    }

    /// Its exit status if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits up to `timeout` for it to exit; on timeout kills it and panics with its stderr.
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited() {
                return status;
            }
            if Instant::now() > deadline {
                self.kill();
                panic!(
                    "{} did not finish within {timeout:?}\n--- stderr ---\n{}",
                    self.name,
                    self.stderr_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stdout_text(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }
    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// SIGKILL to the whole group, then reaps the tool. The group is only signalled while the
    /// tool (its leader) is unreaped, so its id cannot belong to anyone else.
    pub fn kill(&mut self) {
        if self.exited().is_none() {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", self.child.id())])
                .stderr(Stdio::null())
                .status();
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Minimal percent-encoding for a URL query value.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `http://ADDR/` as a string.
pub fn http_url(addr: SocketAddr, path: &str) -> String {
    format!("http://{addr}{path}")
}
