//! Zero-downtime binary upgrade: a new process started with `--upgrade` takes the listening
//! sockets over from the old one (SIGQUIT), which drains and exits; clients see no error. Under
//! a supervisor, SIGUSR2 makes the old process do both steps itself and name the new main
//! process over `$NOTIFY_SOCKET` (a stand-in for systemd's here).

pub mod support;

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::load::Steady;
use support::proxy::{bin_path, scratch_dir};
use support::{get, Origin, Proxy};

/// A process the test did not start itself (the successor), killed when the test ends.
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.0.to_string()])
            .status();
    }
}

fn upgrade_env(dir: &Path) -> Vec<(&'static str, String)> {
    vec![
        (
            "FIREBREAK_UPGRADE_SOCK",
            dir.join("upgrade.sock").display().to_string(),
        ),
        (
            "FIREBREAK_PID_FILE",
            dir.join("firebreak.pid").display().to_string(),
        ),
        (
            "NOTIFY_SOCKET",
            dir.join("notify.sock").display().to_string(),
        ),
    ]
}

/// The usual primary + standby setup, the proxy with the upgrade environment for `dir`.
fn start(dir: &Path) -> (Origin, Origin, Proxy) {
    let env = upgrade_env(dir);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    support::primary_and_standby("", &env)
}

/// One worker, GET /orders back to back.
fn orders(old: &Proxy) -> Steady {
    Steady::start(old.http_addr(), 1, |_, _| "/orders".to_string())
}

/// The next datagram on the stand-in supervisor socket, waiting at most `limit`.
fn next_notice(rx: &UnixDatagram, limit: Duration) -> Option<String> {
    rx.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 512];
    let n = rx.recv(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[test]
fn upgrade_hands_the_sockets_over_without_failing_a_request() {
    let dir = scratch_dir("upgrade");
    let (_a, _s, old) = start(&dir);
    let load = orders(&old);
    std::thread::sleep(Duration::from_millis(300));

    let log = std::fs::File::create(dir.join("new.log")).unwrap();
    let mut new = Command::new(bin_path())
        .args(["run", "--upgrade", "--config"])
        .arg(old.config_path())
        .envs(upgrade_env(&dir))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800)); // the new process waits on the socket
    old.signal("QUIT");
    assert_eq!(
        old.wait_exit(Duration::from_secs(15)),
        Some(0),
        "the old process did not exit cleanly"
    );
    let served_before = load.ok();
    std::thread::sleep(Duration::from_millis(500));
    let (ok, failed) = load.finish();
    let new_log = std::fs::read_to_string(dir.join("new.log")).unwrap_or_default();
    assert!(
        ok > served_before,
        "nothing served after the old process left: {new_log}"
    );
    assert_eq!(failed, 0, "requests failed during the upgrade: {new_log}");
    assert_eq!(get(old.http_addr(), "/after").unwrap().status, 200);
    let _ = new.kill();
    let _ = new.wait();
}

#[test]
fn sigusr2_starts_the_successor_names_it_to_the_supervisor_and_fails_no_request() {
    let dir = scratch_dir("handover");
    let rx = UnixDatagram::bind(dir.join("notify.sock")).unwrap();
    let (_a, _s, old) = start(&dir);
    assert_eq!(
        next_notice(&rx, Duration::from_secs(10)).as_deref(),
        Some("READY=1\nSTATUS=serving")
    );
    let load = orders(&old);
    std::thread::sleep(Duration::from_millis(300));

    old.signal("USR2");
    let notice = next_notice(&rx, Duration::from_secs(15)).unwrap_or_default();
    let new_pid: u32 = notice
        .lines()
        .find_map(|l| l.strip_prefix("MAINPID="))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "no MAINPID= after SIGUSR2: {notice:?}\n{}",
                old.stderr_text()
            )
        });
    let _successor = KillOnDrop(new_pid);
    assert_ne!(new_pid, old.pid());
    assert_eq!(
        old.wait_exit(Duration::from_secs(15)),
        Some(0),
        "the old process did not exit cleanly: {}",
        old.stderr_text()
    );
    // The successor announces itself once it serves on the inherited sockets.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    while Instant::now() < deadline && !seen.iter().any(|m| m == "READY=1\nSTATUS=serving") {
        seen.extend(next_notice(&rx, Duration::from_secs(1)));
    }
    assert!(
        seen.iter().any(|m| m == "READY=1\nSTATUS=serving"),
        "no READY=1 from the successor: {seen:?}"
    );
    let served_before = load.ok();
    std::thread::sleep(Duration::from_millis(500));
    let (ok, failed) = load.finish();
    assert!(
        ok > served_before,
        "nothing served after the old process left"
    );
    assert_eq!(failed, 0, "requests failed during the upgrade");
    assert!(Path::new(&format!("/proc/{new_pid}")).exists());
    assert_eq!(get(old.http_addr(), "/after").unwrap().status, 200);
}

#[test]
fn sigusr2_with_a_config_the_binary_refuses_keeps_the_old_process_serving() {
    let dir = scratch_dir("handover-refused");
    let rx = UnixDatagram::bind(dir.join("notify.sock")).unwrap();
    let (_a, _s, old) = start(&dir);
    assert!(next_notice(&rx, Duration::from_secs(10)).is_some());
    // The running process keeps its config (a bad file is refused); the new binary would have
    // to start from this one.
    old.rewrite_config("[listen]\nhttp = 1\n");

    old.signal("USR2");
    assert!(
        support::wait_until(Duration::from_secs(10), || old
            .stderr_text()
            .contains("upgrade refused")),
        "{}",
        old.stderr_text()
    );
    assert_eq!(next_notice(&rx, Duration::from_millis(500)), None);
    assert!(old.is_running());
    assert_eq!(get(old.http_addr(), "/orders").unwrap().status, 200);
}
