//! Zero-downtime binary upgrade under a supervisor: on SIGUSR2 the running firebreak starts its
//! successor itself and hands the listening sockets over.
//!
//! Pingora's upgrade (SIGQUIT with `--upgrade`, docs/operations.md) needs two steps from outside: start the new
//! binary with `--upgrade`, then SIGQUIT the old process, which passes its listening sockets over
//! the upgrade socket and drains. Under systemd that fails: the unit's main process is the old
//! one, and when it exits systemd stops the unit and kills the new process with it. So the old
//! process does both steps, and tells systemd about the new main process first:
//!
//! 1. the binary at the path firebreak was started from (by then the new one) must accept the
//!    config (`check`); otherwise the upgrade is refused and this process serves on;
//! 2. it is started with this process's own arguments plus `--upgrade`, and must be waiting on
//!    the upgrade socket within [`START_LIMIT`]; otherwise it is stopped, and this process serves
//!    on;
//! 3. `MAINPID=<new pid>` goes to the supervisor ([`crate::notify`]);
//! 4. SIGQUIT to this process: Pingora sends the sockets and the background service drains.

use crate::app::App;
use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the successor may take to start waiting on the upgrade socket. Its startup includes
/// the first round of health checks (about one check timeout).
pub const START_LIMIT: Duration = Duration::from_secs(10);

/// Listens for SIGUSR2 and runs one upgrade at a time; after a successful one it stops listening.
pub async fn run(app: Arc<App>, upgrade_sock: PathBuf) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut usr2) = signal(SignalKind::user_defined2()) else {
        tracing::error!("cannot listen for SIGUSR2; upgrade with --upgrade and SIGQUIT");
        return;
    };
    while usr2.recv().await.is_some() {
        let config = app.store.path().to_path_buf();
        let sock = upgrade_sock.clone();
        let outcome = tokio::task::spawn_blocking(move || start_successor(&config, &sock)).await;
        match outcome {
            Ok(Ok(pid)) => {
                tracing::info!(
                    pid,
                    "upgrade: the new process waits for the sockets; handing over"
                );
                crate::notify::tell(&format!("MAINPID={pid}\nSTATUS=handing over to {pid}"));
                if let Err(e) = nix::sys::signal::raise(nix::sys::signal::Signal::SIGQUIT) {
                    tracing::error!(error = %e, "upgrade: cannot raise SIGQUIT");
                }
                return;
            }
            Ok(Err(why)) => tracing::error!("upgrade refused, still serving: {why}"),
            Err(e) => tracing::error!(error = %e, "upgrade task failed, still serving"),
        }
    }
}

/// Steps 1 and 2: checks and starts the successor; its pid once it waits on `sock`.
fn start_successor(config: &Path, sock: &Path) -> Result<u32, String> {
    let mut args = std::env::args_os();
    let exe = args
        .next()
        .ok_or("no argv[0] to start the new binary from")?;
    let mut args: Vec<OsString> = args.collect();
    if !args.iter().any(|a| a == "--upgrade") {
        args.push("--upgrade".into());
    }
    let check = Command::new(&exe)
        .arg("check")
        .arg("--config")
        .arg(config)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", exe.to_string_lossy()))?;
    if !check.status.success() {
        return Err(format!(
            "{} check --config {}: {} {}",
            exe.to_string_lossy(),
            config.display(),
            String::from_utf8_lossy(&check.stdout).trim(),
            String::from_utf8_lossy(&check.stderr).trim()
        ));
    }
    // The successor replaces the socket file; a file left by an earlier upgrade must not be
    // taken for it. Removing it first is what the successor does too; should that fail, a new
    // file still differs from the old one in inode or change time.
    let stale = socket_id(sock);
    let _ = std::fs::remove_file(sock);
    let mut child = Command::new(&exe)
        .args(&args)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", exe.to_string_lossy()))?;
    match wait_for_socket(&mut child, sock, stale) {
        Ok(()) => Ok(child.id()),
        Err(why) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(why)
        }
    }
}

/// The upgrade socket file's identity (device, inode, change time).
type SocketId = (u64, u64, i64, i64);

fn socket_id(sock: &Path) -> Option<SocketId> {
    std::fs::metadata(sock)
        .ok()
        .map(|m| (m.dev(), m.ino(), m.ctime(), m.ctime_nsec()))
}

#[allow(clippy::disallowed_methods)] // waits for a real process: wall time is the point
fn wait_for_socket(child: &mut Child, sock: &Path, stale: Option<SocketId>) -> Result<(), String> {
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "the new process exited before taking over ({status})"
            ));
        }
        let id = socket_id(sock);
        if id.is_some() && id != stale {
            return Ok(());
        }
        if start.elapsed() > START_LIMIT {
            return Err(format!(
                "the new process did not open {} within {START_LIMIT:?}",
                sock.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
