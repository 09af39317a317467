//! A fleet, not a process: `firebreak ctl` applies an action on every replica and names the
//! ones that failed; operator state set on one replica reaches the others, and a replica that
//! starts later takes it before its first request.

pub mod support;

use std::net::SocketAddr;
use std::time::Duration;
use support::conf::{two_tier, TOKEN};
use support::proxy::{bin_path, free_addr};
use support::{get, wait_until, Behaviour, Origin, Proxy};

/// A config for one replica whose [fleet] lists `peers`.
fn config(a: &Origin, s: &Origin, peers: &[SocketAddr]) -> String {
    let list: Vec<String> = peers.iter().map(|p| format!("\"{p}\"")).collect();
    let fleet = format!(
        "[fleet]\npeers = [{}]\nsync_every = \"1s\"\n",
        list.join(", ")
    );
    two_tier(&[(a, 1)], &[s], "", &fleet)
}

fn in_maintenance(p: &Proxy) -> bool {
    get(p.http_addr(), "/orders/1")
        .is_ok_and(|r| r.status == 503 && r.text().contains("Back at 14:00"))
}

/// Runs `firebreak ctl --config <p's config> ARGS` with the test token.
fn ctl(p: &Proxy, args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(bin_path())
        .args(["ctl", "--config"])
        .arg(p.config_path())
        .args(args)
        .env(TOKEN.0, TOKEN.1)
        .output()
        .expect("cannot run firebreak ctl");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn ctl_reaches_every_replica_and_state_reaches_late_and_cut_off_ones() {
    let a = Origin::start("primary", Behaviour::Normal);
    let s = Origin::start("standby", Behaviour::Normal);
    let admins: Vec<SocketAddr> = (0..4).map(|_| free_addr()).collect();
    let mut replicas: Vec<Proxy> = (0..3)
        .map(|i| {
            let peers: Vec<SocketAddr> = admins[..3]
                .iter()
                .copied()
                .filter(|&x| x != admins[i])
                .collect();
            Proxy::start_with_admin(&config(&a, &s, &peers), &[TOKEN], admins[i])
        })
        .collect();
    for p in &replicas {
        assert!(p.wait_ready());
    }
    // One command, three replicas, one line each.
    let (code, out) = ctl(
        &replicas[0],
        &["maintenance", "on", "--message", "Back at 14:00"],
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out.lines().filter(|l| l.contains("applied")).count(),
        3,
        "{out}"
    );
    for p in &replicas {
        assert!(
            in_maintenance(p),
            "a replica does not serve the maintenance page"
        );
    }
    // A fourth replica started afterwards serves the fleet's state from its first request.
    let late = Proxy::start_with_admin(&config(&a, &s, &admins[..3]), &[TOKEN], admins[3]);
    assert!(
        in_maintenance(&late),
        "the late replica started from its config"
    );
    let source = late.admin_get("/status").unwrap().json()["maintenance"]["source"].clone();
    assert!(
        source.as_str().is_some_and(|s| s.starts_with("peer ")),
        "{source}"
    );
    // A change made on one replica only reaches the others by the exchange.
    let r = replicas[1]
        .admin_post("/maintenance", r#"{"enabled": false}"#)
        .unwrap();
    assert_eq!(r.status, 200);
    let all_off = || replicas.iter().chain([&late]).all(|p| !in_maintenance(p));
    assert!(
        wait_until(Duration::from_secs(5), all_off),
        "the change did not spread"
    );
    // One replica down: ctl names it, applies on the others, and exits non-zero.
    drop(replicas.remove(2));
    let (code, out) = ctl(&late, &["status"]);
    assert_eq!(code, 1, "{out}");
    let down = admins[2].to_string();
    assert!(
        out.lines()
            .any(|l| l.starts_with(&down) && l.contains("FAILED")),
        "{out}"
    );
    assert_eq!(
        out.lines().filter(|l| l.contains("serving=true")).count(),
        3,
        "{out}"
    );
}
