//! Runs the real `firebreak` binary for black-box integration tests.
//!
//! `Proxy::start` fills the `{HTTP}` and `{ADMIN}` placeholders of a TOML config with free
//! loopback addresses, writes it to a fresh temp dir, starts `firebreak run --config <file>` with
//! stdout/stderr captured to files in that dir, and waits until the admin `/healthz` answers 200.
//! Tests then talk to it over real sockets, rewrite its config, and signal it. Dropping a `Proxy`
//! kills (SIGKILL) and reaps the process; its temp dir is removed unless the test is panicking.

use super::client::{self, Resp};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long `start` waits for `/healthz`.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The binary under test.
pub fn bin_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_firebreak"))
}

/// Runs the binary to completion with these arguments (e.g. `check --config F`, `--version`).
pub fn cli(args: &[&str]) -> Output {
    Command::new(bin_path())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run firebreak")
}

/// A fresh, empty directory under the system temp dir.
pub fn scratch_dir(tag: &str) -> PathBuf {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = SEQ.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("{tag}-{}-{n}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("cannot create scratch dir");
    dir
}

/// A loopback address whose port was free a moment ago (bound to port 0, then released).
pub fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("cannot bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr")
}

/// Replaces `{HTTP}` and `{ADMIN}` with the addresses (`127.0.0.1:PORT`, no quotes).
pub fn substitute(template: &str, http: SocketAddr, admin: SocketAddr) -> String {
    let text = template.replace("{HTTP}", &http.to_string());
    text.replace("{ADMIN}", &admin.to_string())
}

/// A running `firebreak run` process.
pub struct Proxy {
    child: Mutex<Child>,
    pid: u32,
    dir: PathBuf,
    config: PathBuf,
    http: SocketAddr,
    admin: SocketAddr,
}

impl Proxy {
    /// Starts the proxy; panics with its stderr unless `/healthz` answers 200 (and the `{HTTP}`
    /// port, if used, accepts connections) within 20 s.
    pub fn start(config_toml: &str) -> Proxy {
        Proxy::start_with_env(config_toml, &[])
    }

    /// Like `start`, with extra environment variables (e.g. the admin token variable).
    pub fn start_with_env(config_toml: &str, env: &[(&str, &str)]) -> Proxy {
        Proxy::try_start(config_toml, env).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like `start_with_env`, but returns the failure (with the captured stderr) instead.
    /// A start that fails because a chosen port was taken meanwhile is retried with new ports.
    pub fn try_start(config_toml: &str, env: &[(&str, &str)]) -> Result<Proxy, String> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Proxy::spawn_once(config_toml, env) {
                Err(e) if attempt < 3 && (e.contains("in use") || e.contains("clashes")) => {
                    continue
                }
                other => return other,
            }
        }
    }

    fn spawn_once(config_toml: &str, env: &[(&str, &str)]) -> Result<Proxy, String> {
        // Two ports free at the same time: hold the first while asking for the second, or the
        // kernel may hand out the same port twice.
        let (http, admin) = {
            let a = TcpListener::bind("127.0.0.1:0").expect("cannot bind 127.0.0.1:0");
            let b = TcpListener::bind("127.0.0.1:0").expect("cannot bind 127.0.0.1:0");
            (
                a.local_addr().expect("local_addr"),
                b.local_addr().expect("local_addr"),
            )
        };
        let dir = scratch_dir("firebreak-test");
        let config = dir.join("firebreak.toml");
        std::fs::write(&config, substitute(config_toml, http, admin)).expect("write config");
        let out = std::fs::File::create(dir.join("stdout.log")).expect("create stdout.log");
        let err = std::fs::File::create(dir.join("stderr.log")).expect("create stderr.log");
        let child = Command::new(bin_path())
            .arg("run")
            .arg("--config")
            .arg(&config)
            .envs(env.iter().copied())
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot spawn {}: {e}", bin_path().display()))?;
        let proxy = Proxy {
            pid: child.id(),
            child: Mutex::new(child),
            dir,
            config,
            http,
            admin,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let healthz =
                client::request_timeout(admin, "GET", "/healthz", &[], b"", Duration::from_secs(1));
            // Ready once /healthz answers and, if the config uses {HTTP}, that port accepts.
            let http_up = !config_toml.contains("{HTTP}")
                || TcpStream::connect_timeout(&http, Duration::from_secs(1)).is_ok();
            if http_up && healthz.is_ok_and(|r| r.status == 200) {
                return Ok(proxy);
            }
            let exited = proxy.child.lock().unwrap().try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > deadline {
                let how = exited.map_or("did not answer /healthz in time".into(), |s| {
                    format!("exited early ({s})")
                });
                let (stdout, stderr) = (proxy.stdout_text(), proxy.stderr_text());
                return Err(format!(
                    "firebreak {how}\n--- config ---\n{}\n--- stdout ---\n{stdout}\n\
                     --- stderr ---\n{stderr}",
                    std::fs::read_to_string(&proxy.config).unwrap_or_default()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http
    }
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin
    }
    pub fn config_path(&self) -> &Path {
        &self.config
    }
    /// The temp dir holding the config and the captured output.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Writes a new config (same placeholder substitution and addresses) atomically via rename.
    /// It does not reload: follow with `signal("HUP")` or `POST /reload`.
    pub fn rewrite_config(&self, config_toml: &str) {
        let tmp = self.dir.join("firebreak.toml.new");
        let text = substitute(config_toml, self.http, self.admin);
        std::fs::write(&tmp, text).expect("write new config");
        std::fs::rename(&tmp, &self.config).expect("rename new config into place");
    }

    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default()
    }
    pub fn stdout_text(&self) -> String {
        std::fs::read_to_string(self.dir.join("stdout.log")).unwrap_or_default()
    }

    /// `GET` on the admin listener.
    pub fn admin_get(&self, path: &str) -> Result<Resp, String> {
        client::get(self.admin, path)
    }

    /// Waits up to 5 s for `/readyz` to answer 200; false if it never does.
    pub fn wait_ready(&self) -> bool {
        super::wait_until(Duration::from_secs(5), || {
            self.admin_get("/readyz")
                .map(|r| r.status == 200)
                .unwrap_or(false)
        })
    }

    /// Sends a signal by name ("TERM", "HUP", "INT", "QUIT", "KILL") with the `kill` command.
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid.to_string())
            .status()
            .expect("cannot run kill");
        assert!(
            status.success(),
            "kill -{sig} {} failed: {status}",
            self.pid
        );
    }

    /// Waits for the process to exit: its exit code, or 128+N if killed by signal N;
    /// `None` if it is still running after `timeout`.
    pub fn wait_exit(&self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.lock().unwrap().try_wait().ok().flatten() {
                use std::os::unix::process::ExitStatusExt;
                return status.code().or(status.signal().map(|s| 128 + s));
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&self) -> bool {
        matches!(self.child.lock().unwrap().try_wait(), Ok(None))
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(|e| e.into_inner());
        let _ = child.kill();
        let _ = child.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
