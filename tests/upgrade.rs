//! Zero-downtime binary upgrade: a new process started with `--upgrade` takes the listening
//! sockets over from the old one (SIGQUIT), which drains and exits; clients see no error.

mod support;

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;
use support::conf::two_tier;
use support::proxy::{bin_path, scratch_dir};
use support::{get, Behaviour, Origin, Proxy};

#[test]
fn upgrade_hands_the_sockets_over_without_failing_a_request() {
    let a = Origin::start("a", Behaviour::Normal);
    let s = Origin::start("standby", Behaviour::Normal);
    let dir = scratch_dir("upgrade");
    let sock = dir.join("upgrade.sock").display().to_string();
    let pid = dir.join("firebreak.pid").display().to_string();
    let env = [
        ("FIREBREAK_UPGRADE_SOCK", sock.as_str()),
        ("FIREBREAK_PID_FILE", pid.as_str()),
    ];
    let old = Proxy::start_with_env(&two_tier(&[(&a, 1)], &[&s], "", ""), &env);
    assert!(old.wait_ready());

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let addr = old.http_addr();
    let load = {
        let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
        std::thread::spawn(move || {
            while !stop.load(SeqCst) {
                match get(addr, "/orders") {
                    Ok(r) if r.status == 200 => ok.fetch_add(1, SeqCst),
                    other => {
                        eprintln!("failed during upgrade: {other:?}");
                        failed.fetch_add(1, SeqCst)
                    }
                };
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));

    let log = std::fs::File::create(dir.join("new.log")).unwrap();
    let mut new = Command::new(bin_path())
        .args(["run", "--upgrade", "--config"])
        .arg(old.config_path())
        .envs(env)
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
    let served_before = ok.load(SeqCst);
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, SeqCst);
    load.join().unwrap();
    let new_log = std::fs::read_to_string(dir.join("new.log")).unwrap_or_default();
    assert!(
        ok.load(SeqCst) > served_before,
        "nothing served after the old process left: {new_log}"
    );
    assert_eq!(
        failed.load(SeqCst),
        0,
        "requests failed during the upgrade: {new_log}"
    );
    assert_eq!(get(addr, "/after").unwrap().status, 200);
    let _ = new.kill();
    let _ = new.wait();
}
