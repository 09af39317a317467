//! The external programs some tests run (promtool, Chromium, curl, ...), and the one way to
//! require one: [`require`].
//!
//! A missing tool FAILS its test with a loud message saying how to install it, unless the
//! environment variable `FIREBREAK_SKIP_TOOLS` names it (a comma- or space-separated list, e.g.
//! `FIREBREAK_SKIP_TOOLS=chromium,prometheus`): then the test prints a loud SKIPPED line and
//! returns. Never a silent pass. The `.ci/deps*` scripts install every tool named here.
//!
//! `Spawned` runs a tool in its own process group with stdout/stderr captured to files, and kills
//! that group (the tool and every child it forked, e.g. Chromium's renderers) when dropped, also
//! when the test panics. `artifacts_dir` is `target/test-artifacts/`, kept out of git.

use super::wait_until;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

/// A program tests need: its name (as `FIREBREAK_SKIP_TOOLS` spells it), where to find it, and
/// how to install it.
#[derive(Clone, Copy)]
pub struct Tool {
    name: &'static str,
    find: fn() -> Option<PathBuf>,
    install: &'static str,
}

pub const PROMTOOL: Tool = Tool {
    name: "promtool",
    find: || which("promtool"),
    install: "run `.ci/deps test` or `.ci/deps-deploy` as root (or `apt-get install prometheus`)",
};
pub const PROMETHEUS: Tool = Tool {
    name: "prometheus",
    find: || which("prometheus"),
    install: "run `.ci/deps-browser` as root (or `apt-get install -y --no-install-recommends \
              prometheus`)",
};
pub const CHROMIUM: Tool = Tool {
    name: "chromium",
    find: || which("chromium").or_else(|| which("chromium-browser")),
    install: "run `.ci/deps-browser` as root (or `apt-get install -y --no-install-recommends \
              chromium`)",
};
pub const SYSTEMD_ANALYZE: Tool = Tool {
    name: "systemd-analyze",
    find: || which("systemd-analyze"),
    install: "run `.ci/deps-deploy` as root (or `apt-get install systemd`)",
};
pub const KUBERNETES_VALIDATE: Tool = Tool {
    name: "kubernetes-validate",
    find: || {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let venv = tools_dir("deploy-tools").join("venv/bin/kubernetes-validate");
        let user = home.map(|h| h.join(".local/bin/kubernetes-validate"));
        which("kubernetes-validate")
            .or_else(|| executable(venv))
            .or_else(|| executable(user?))
    },
    install: "run `.ci/deps-deploy` (a venv under target/deploy-tools/ with `pip install \
              kubernetes-validate` from PyPI)",
};
pub const PYTHON3: Tool = Tool {
    name: "python3",
    find: python,
    install: "run `.ci/deps-reliability` as root (or `apt-get install python3`)",
};
/// A Python that can `import h2, hyperframe, hpack` (PyPI's `h2`).
pub const H2: Tool = Tool {
    name: "h2",
    find: h2_python,
    install: "run `.ci/deps-reliability` (a venv under target/reliability-tools/ with `pip \
              install h2` from PyPI)",
};
pub const CURL: Tool = Tool {
    name: "curl",
    find: || which("curl"),
    install: "run `.ci/deps test` as root (or `apt-get install curl`)",
};
pub const OPENSSL: Tool = Tool {
    name: "openssl",
    find: || which("openssl"),
    install: "run `.ci/deps test` as root (or `apt-get install openssl`)",
};
pub const SLOWHTTPTEST: Tool = Tool {
    name: "slowhttptest",
    find: || which("slowhttptest"),
    install: "run `.ci/deps-reliability` as root (or `apt-get install slowhttptest`)",
};
pub const HAPROXY: Tool = Tool {
    name: "haproxy",
    find: || which("haproxy"),
    install: "run `.ci/deps-reliability` as root (or `apt-get install haproxy`)",
};
pub const IP: Tool = Tool {
    name: "ip",
    find: || which("ip"),
    install: "run `.ci/deps-reliability` as root (or `apt-get install iproute2`)",
};

/// The path of `tool`. If it is missing: a loud SKIPPED line and `None` when
/// `FIREBREAK_SKIP_TOOLS` names it, else a panic that says how to install it.
#[track_caller]
pub fn require(tool: Tool) -> Option<PathBuf> {
    if let Some(found) = (tool.find)() {
        return Some(found);
    }
    let name = tool.name;
    let skip = std::env::var("FIREBREAK_SKIP_TOOLS").unwrap_or_default();
    if skip
        .split(|c: char| c == ',' || c.is_whitespace())
        .any(|t| t == name)
    {
        // libtest names each test's thread after the test.
        let thread = std::thread::current();
        let test = thread.name().unwrap_or("this test");
        loud(&format!(
            "SKIPPED: `{name}` is not installed and FIREBREAK_SKIP_TOOLS={skip:?} names it. \
             {test} did NOT run"
        ));
        return None;
    }
    panic!(
        "\n\n!!!!! `{name}` is NOT INSTALLED !!!!!\n\
         This test needs it: {}.\n\
         Only if it truly cannot be installed, set FIREBREAK_SKIP_TOOLS={name} to skip it \
         (loudly).\n",
        tool.install
    );
}

/// Writes straight to fd 2, past libtest's capture, so the line shows even when the test passes.
pub fn loud(msg: &str) {
    let _ = std::io::stderr().write_all(format!("\n!!!!! {msg} !!!!!\n\n").as_bytes());
}

/// An executable named `name` on `PATH`, or else in the usual system directories (which a
/// non-login `PATH` may lack, e.g. /usr/sbin for `ip`).
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.extend(["/usr/local/bin", "/usr/bin", "/usr/sbin", "/sbin"].map(PathBuf::from));
    dirs.into_iter().find_map(|d| executable(d.join(name)))
}

fn executable(path: PathBuf) -> Option<PathBuf> {
    let meta = std::fs::metadata(&path).ok()?;
    (meta.is_file() && meta.permissions().mode() & 0o111 != 0).then_some(path)
}

/// The real interpreter behind `python3` (not a pyenv shim), if it runs.
fn python() -> Option<PathBuf> {
    let out = Command::new(which("python3")?)
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .ok()?;
    let exe = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !exe.is_empty()).then(|| PathBuf::from(exe))
}

/// A Python that can `import h2, hyperframe, hpack`: the venv of `.ci/deps-reliability`, else
/// the system `python3`.
fn h2_python() -> Option<PathBuf> {
    let venv = tools_dir("reliability-tools").join("venv/bin/python3");
    let candidates = [Some(venv), python()];
    candidates.into_iter().flatten().find(|py| {
        Command::new(py)
            .args(["-c", "import h2, hyperframe, hpack"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Where the `.ci/deps*` scripts put what they install from PyPI: `$FIREBREAK_TOOLS_DIR`, else
/// `target/<default>` (`deploy-tools`, `reliability-tools`).
fn tools_dir(default: &str) -> PathBuf {
    std::env::var_os("FIREBREAK_TOOLS_DIR")
        .map_or_else(|| super::repo().join("target").join(default), PathBuf::from)
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
        let mut status = None;
        wait_until(timeout, || {
            status = self.exited();
            status.is_some()
        });
        status.unwrap_or_else(|| {
            self.kill();
            panic!(
                "{} did not finish within {timeout:?}\n--- stderr ---\n{}",
                self.name,
                self.stderr_text()
            )
        })
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
