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
    config_with(a, s, peers, "")
}

fn config_with(a: &Origin, s: &Origin, peers: &[SocketAddr], extra: &str) -> String {
    let list: Vec<String> = peers.iter().map(|p| format!("\"{p}\"")).collect();
    let fleet = format!(
        "[fleet]\npeers = [{}]\nsync_every = \"1s\"\n{extra}",
        list.join(", ")
    );
    two_tier(&[(a, 1)], &[s], "", &fleet)
}

/// `n` replicas whose fleets list each other plus `more` (peers that are not replicas).
fn fleet_of(n: usize, a: &Origin, s: &Origin, more: &[SocketAddr], extra: &str) -> Vec<Proxy> {
    let admins: Vec<SocketAddr> = (0..n).map(|_| free_addr()).collect();
    let replicas: Vec<Proxy> = admins
        .iter()
        .map(|&me| {
            let peers: Vec<SocketAddr> = admins
                .iter()
                .chain(more)
                .copied()
                .filter(|&x| x != me)
                .collect();
            Proxy::start_with_admin(&config_with(a, s, &peers, extra), &[TOKEN], me)
        })
        .collect();
    for p in &replicas {
        assert!(p.wait_ready());
    }
    replicas
}

fn status(p: &Proxy) -> serde_json::Value {
    p.admin_get("/status").unwrap().json()
}

fn in_maintenance(p: &Proxy) -> bool {
    get(p.http_addr(), "/orders/1")
        .is_ok_and(|r| r.status == 503 && r.text().contains("Back at 14:00"))
}

/// Runs `firebreak ctl --config <p's config> ARGS` with the test token.
fn ctl(p: &Proxy, args: &[&str]) -> (i32, String) {
    let config = p.config_path().display().to_string();
    ctl_args(&[&["--config", &config], args].concat())
}

/// Runs `firebreak ctl ARGS` with the test token in `FLEET_TOKEN`.
fn ctl_args(args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(bin_path())
        .arg("ctl")
        .args(args)
        .env(TOKEN.0, TOKEN.1)
        .env("FLEET_TOKEN", TOKEN.1)
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

#[test]
fn drains_notes_and_drills_reach_the_fleet_past_a_dead_and_a_garbage_peer() {
    let a = Origin::start("primary", Behaviour::Normal);
    let s = Origin::start("standby", Behaviour::Normal);
    // Peers that are not replicas: nothing listening, and an origin answering 200 non-JSON.
    let others = [free_addr(), a.addr()];
    let r = fleet_of(2, &a, &s, &others, "");
    let fleet = format!("{},{}", r[0].admin_addr(), r[1].admin_addr());
    let base = ["--fleet", fleet.as_str(), "--token-env", "FLEET_TOKEN"];
    // A note through ctl with no config: on both replicas, one note, stored as typed.
    let text = "Standby carries <b>traffic</b> & orders work";
    let (code, out) = ctl_args(&[&base[..], &["note", text]].concat());
    assert_eq!(code, 0, "{out}");
    std::thread::sleep(Duration::from_millis(2500)); // two exchanges: nothing doubles
    for p in &r {
        let notes = status(p)["notes"].clone();
        assert_eq!(notes.as_array().map(Vec::len), Some(1), "{notes}");
        assert_eq!(notes[0]["text"], text);
    }
    // A drain made on one replica only reaches the other by the exchange.
    let drain = format!(r#"{{"pool": "primary", "backend": "{}"}}"#, a.addr());
    assert_eq!(r[0].admin_post("/drain", &drain).unwrap().status, 200);
    let drained = || r[1].backend_health(a.addr()).as_deref() == Some("drained");
    assert!(
        wait_until(Duration::from_secs(5), drained),
        "the drain did not spread"
    );
    let (code, out) =
        ctl_args(&[&base[..], &["undrain", "primary", &a.addr().to_string()]].concat());
    assert_eq!(code, 0, "{out}");
    // A drill on every replica, then cancelled on every replica.
    let (code, out) =
        ctl_args(&[&base[..], &["drill", "--share", "0.1", "--duration", "1m"]].concat());
    assert_eq!(code, 0, "{out}");
    assert!(r
        .iter()
        .all(|p| status(p)["standby"]["drill"]["state"] == "running"));
    let (code, out) = ctl_args(&[&base[..], &["drill", "--cancel"]].concat());
    assert_eq!(code, 0, "{out}");
    // Each replica sees the other, not the two non-replicas, and takes its own probe slot.
    let fleets: Vec<serde_json::Value> = r.iter().map(|p| status(p)["fleet"].clone()).collect();
    for f in &fleets {
        assert_eq!(
            (
                f["replicas"].as_u64(),
                f["peers"].as_u64(),
                f["peers_reached"].as_u64()
            ),
            (Some(2), Some(3), Some(1)),
            "{f}"
        );
    }
    assert_ne!(fleets[0]["probe_slot"], fleets[1]["probe_slot"]);
    // A bad note is refused with its reason; ctl says so per replica and exits 1.
    let long = "x".repeat(3000);
    let (code, out) = ctl_args(&[&base[..], &["note", &long]].concat());
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        out.lines()
            .filter(|l| l.contains("FAILED: 400 a note is at most"))
            .count(),
        2,
        "{out}"
    );
}

#[test]
fn a_failback_released_on_one_replica_releases_the_fleet_and_a_new_one_waits_too() {
    let a = Origin::start("primary", Behaviour::Normal);
    let s = Origin::start("standby", Behaviour::Normal);
    let r = fleet_of(
        2,
        &a,
        &s,
        &[],
        "[failback]\nmode = \"manual\"\nramp = \"1s\"\n",
    );
    let phase = |p: &Proxy| {
        status(p)["failback"]["state"]
            .as_str()
            .unwrap_or("?")
            .to_string()
    };
    a.kill();
    assert!(wait_until(Duration::from_secs(5), || r
        .iter()
        .all(|p| phase(p) == "failover")));
    a.restart();
    assert!(wait_until(Duration::from_secs(5), || r
        .iter()
        .all(|p| phase(p) == "waiting")));
    // A replica started now takes the fleet's hold instead of sending traffic to the primary.
    let peers = [r[0].admin_addr(), r[1].admin_addr()];
    let late = Proxy::start_with_admin(
        &config_with(
            &a,
            &s,
            &peers,
            "[failback]\nmode = \"manual\"\nramp = \"1s\"\n",
        ),
        &[TOKEN],
        free_addr(),
    );
    assert!(
        wait_until(Duration::from_secs(5), || phase(&late) == "waiting"),
        "{}",
        phase(&late)
    );
    a.reset_counts();
    for i in 0..20 {
        assert_eq!(
            get(late.http_addr(), &format!("/orders/{i}")).map(|r| r.status),
            Ok(200)
        );
    }
    assert_eq!(
        a.hits(),
        0,
        "the new replica sent traffic to the held primary"
    );
    // Released on one replica: every replica ramps back, the late one included.
    assert_eq!(r[0].admin_post("/failback", "").unwrap().status, 200);
    let back = || r.iter().chain([&late]).all(|p| phase(p) == "normal");
    assert!(
        wait_until(Duration::from_secs(6), back),
        "{:?}",
        r.iter().chain([&late]).map(phase).collect::<Vec<_>>()
    );
}
