//! Runs the real `firebreak` binary for black-box integration tests.
//!
//! `Proxy::start` fills the `{HTTP}` and `{ADMIN}` placeholders of a TOML config with free
//! loopback addresses, writes it to a fresh temp dir, starts `firebreak run --config <file>` with
//! stdout/stderr captured to files in that dir, and waits until the admin `/healthz` answers 200.
//! Tests then talk to it over real sockets, rewrite its config, and signal it. Dropping a `Proxy`
//! kills (SIGKILL) and reaps the process; its temp dir is removed unless the test is panicking.
//! Its admin API is read and driven through the `admin_*` and `backend*` methods.

use super::client::{self, Resp};
use super::{conf, wait_until};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long `start` waits for `/healthz`.
const START_TIMEOUT: Duration = Duration::from_secs(20);

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
fn substitute(template: &str, http: SocketAddr, admin: SocketAddr) -> String {
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
        Proxy::try_start(config_toml, env, &[], None).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like `start_with_env`, with the admin listener (`{ADMIN}`) at a chosen address, so other
    /// replicas' configs can name it before it starts.
    pub fn start_with_admin(config_toml: &str, env: &[(&str, &str)], admin: SocketAddr) -> Proxy {
        Proxy::try_start(config_toml, env, &[], Some(admin)).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like `start`, in a private mount namespace whose `/etc/hosts` is `hosts` (bind-mounted
    /// with `unshare`, needs root): the proxy resolves names through glibc as in production,
    /// and the machine's own `/etc/hosts` is never touched.
    pub fn start_with_hosts(config_toml: &str, unshare: &Path, hosts: &Path) -> Proxy {
        let script = format!(
            "mount --bind {} /etc/hosts && exec \"$0\" \"$@\"",
            hosts.display()
        );
        let unshare = unshare.display().to_string();
        let prefix = [
            unshare.as_str(),
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            &script,
        ];
        Proxy::start_via(config_toml, &prefix)
    }

    /// Like `start`, run through `prefix` (a command that ends by exec'ing its arguments, such
    /// as `unshare`), so the proxy's process is the one the prefix becomes.
    pub fn start_via(config_toml: &str, prefix: &[&str]) -> Proxy {
        Proxy::try_start(config_toml, &[], prefix, None).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like `start_with_env`, but returns the failure (with the captured stderr) instead.
    /// A start that fails because a chosen port was taken meanwhile is retried with new ports.
    fn try_start(
        config_toml: &str,
        env: &[(&str, &str)],
        prefix: &[&str],
        admin_at: Option<SocketAddr>,
    ) -> Result<Proxy, String> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Proxy::spawn_once(config_toml, env, prefix, admin_at) {
                Err(e) if attempt < 3 && (e.contains("in use") || e.contains("clashes")) => {
                    continue
                }
                other => return other,
            }
        }
    }

    fn spawn_once(
        config_toml: &str,
        env: &[(&str, &str)],
        prefix: &[&str],
        admin_at: Option<SocketAddr>,
    ) -> Result<Proxy, String> {
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
        let admin = admin_at.unwrap_or(admin);
        let dir = scratch_dir("firebreak-test");
        let config = dir.join("firebreak.toml");
        std::fs::write(&config, substitute(config_toml, http, admin)).expect("write config");
        let out = std::fs::File::create(dir.join("stdout.log")).expect("create stdout.log");
        let err = std::fs::File::create(dir.join("stderr.log")).expect("create stderr.log");
        let mut command = match prefix.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(bin_path());
                c
            }
            None => Command::new(bin_path()),
        };
        let child = command
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
        let mut exited = None;
        let up = wait_until(START_TIMEOUT, || {
            let healthz =
                client::request_timeout(admin, "GET", "/healthz", &[], b"", Duration::from_secs(1));
            // Ready once /healthz answers and, if the config uses {HTTP}, that port accepts.
            let http_up = !config_toml.contains("{HTTP}")
                || TcpStream::connect_timeout(&http, Duration::from_secs(1)).is_ok();
            if http_up && healthz.is_ok_and(|r| r.status == 200) {
                return true;
            }
            exited = proxy.child.lock().unwrap().try_wait().ok().flatten();
            exited.is_some()
        });
        if up && exited.is_none() {
            return Ok(proxy);
        }
        let how = exited.map_or("did not answer /healthz in time".into(), |s| {
            format!("exited early ({s})")
        });
        let (stdout, stderr) = (proxy.stdout_text(), proxy.stderr_text());
        Err(format!(
            "firebreak {how}\n--- config ---\n{}\n--- stdout ---\n{stdout}\n\
             --- stderr ---\n{stderr}",
            std::fs::read_to_string(&proxy.config).unwrap_or_default()
        ))
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
    fn stdout_text(&self) -> String {
        std::fs::read_to_string(self.dir.join("stdout.log")).unwrap_or_default()
    }

    /// `GET` on the admin listener.
    pub fn admin_get(&self, path: &str) -> Result<Resp, String> {
        client::get(self.admin, path)
    }

    /// `POST` of a JSON body on the admin listener with the test token (`conf::TOKEN`).
    pub fn admin_post(&self, path: &str, body: &str) -> Result<Resp, String> {
        self.admin_post_as(Some(conf::TOKEN.1), path, body)
    }

    /// `POST` of a JSON body on the admin listener as `Bearer <token>`, or with no
    /// `Authorization` header at all.
    pub fn admin_post_as(
        &self,
        token: Option<&str>,
        path: &str,
        body: &str,
    ) -> Result<Resp, String> {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(a) = &auth {
            headers.push(("Authorization", a.as_str()));
        }
        client::request(self.admin, "POST", path, &headers, body.as_bytes())
    }

    /// The config version `/status` reports (1 at start, +1 for each applied reload).
    pub fn config_version(&self) -> Option<u64> {
        self.admin_get("/status").ok()?.try_json().ok()?["version"].as_u64()
    }

    /// The backend at `addr` as `/status` lists it (health, ejections, failures, ...).
    pub fn backend(&self, addr: SocketAddr) -> Option<serde_json::Value> {
        let st = self.admin_get("/status").ok()?.try_json().ok()?;
        let me = addr.to_string();
        let pools = st["pools"].as_array()?;
        let mut backends = pools
            .iter()
            .filter_map(|p| p["backends"].as_array())
            .flatten();
        backends
            .find(|b| b["address"].as_str() == Some(&me))
            .cloned()
    }

    /// The health `/status` shows for the backend at `addr` ("up", "down", "ejected", ...).
    pub fn backend_health(&self, addr: SocketAddr) -> Option<String> {
        let b = self.backend(addr)?;
        b["health"].as_str().map(String::from)
    }

    /// Whether `/status` shows every backend of `addrs` up.
    pub fn backends_up(&self, addrs: &[SocketAddr]) -> bool {
        addrs
            .iter()
            .all(|a| self.backend_health(*a).as_deref() == Some("up"))
    }

    /// Waits up to 5 s for `/readyz` to answer 200; false if it never does.
    pub fn wait_ready(&self) -> bool {
        self.wait_ready_within(Duration::from_secs(5))
    }

    /// Waits up to `timeout` for `/readyz` to answer 200; false if it never does.
    pub fn wait_ready_within(&self, timeout: Duration) -> bool {
        wait_until(timeout, || {
            self.admin_get("/readyz")
                .map(|r| r.status == 200)
                .unwrap_or(false)
        })
    }

    /// The process's resident set size in KiB (`VmRSS` of /proc/PID/status).
    pub fn rss_kib(&self) -> u64 {
        let pid = self.pid;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let line = status.lines().find(|l| l.starts_with("VmRSS:"));
        let kib = line.and_then(|l| l.split_whitespace().nth(1)?.parse().ok());
        kib.unwrap_or_else(|| panic!("no VmRSS for pid {pid}: is it running?"))
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
        use std::os::unix::process::ExitStatusExt;
        let mut exited = None;
        wait_until(timeout, || {
            exited = self.child.lock().unwrap().try_wait().ok().flatten();
            exited.is_some()
        });
        exited.and_then(|status| status.code().or(status.signal().map(|s| 128 + s)))
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
