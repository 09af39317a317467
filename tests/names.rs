//! Backends given by host name, resolved through the system resolver and re-resolved every
//! `resolve_every`: a name that moves, a name with two addresses, a name that stops resolving.
//!
//! The names live in a hosts file of the test's own, bind-mounted over `/etc/hosts` in a
//! private mount namespace that only the proxy runs in (`unshare --mount`): the proxy resolves
//! through glibc exactly as in production, and the machine's own `/etc/hosts` is never touched.
//! Origins listen on 127.0.0.2 and 127.0.0.3. Needs root (for the mount); otherwise a loud
//! SKIPPED line.

pub mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use support::conf::two_tier_at;
use support::proxy::{free_addr, scratch_dir};
use support::tools::{loud, which};
use support::{get, wait_until, Behaviour, Origin, Proxy};

const NAME: &str = "standby.fb.test";

fn root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status.lines().find(|l| l.starts_with("Uid:"));
    uid.and_then(|l| l.split_whitespace().nth(1)) == Some("0")
}

/// Rewrites the hosts file in place (same inode: the bind mount keeps pointing at it).
fn hosts(file: &Path, lines: &[&str]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(file, format!("127.0.0.1 localhost\n{text}")).unwrap();
}

fn origin_from(p: &Proxy) -> Option<String> {
    get(p.http_addr(), "/which")
        .ok()
        .and_then(|r| r.header("x-origin").map(String::from))
}

fn dns(p: &Proxy, result: &str) -> u64 {
    let text = p.admin_get("/metrics").unwrap().text();
    let series =
        format!("firebreak_dns_resolutions_total{{pool=\"standby\",result=\"{result}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(series.as_str()))
        .map_or(0, |v| v.trim().parse().unwrap())
}

#[test]
fn a_backend_name_is_followed_as_it_moves_splits_and_stops_resolving() {
    let Some(unshare) = which("unshare").filter(|_| root()) else {
        loud("SKIPPED: names.rs needs root and `unshare` (a private mount for /etc/hosts)");
        return;
    };
    let a = Origin::start_on("127.0.0.2:0".parse().unwrap(), "a", Behaviour::Normal);
    let port = a.addr().port();
    let b = Origin::start_on(
        SocketAddr::from(([127, 0, 0, 3], port)),
        "b",
        Behaviour::Normal,
    );
    let dir = scratch_dir("names");
    let file = dir.join("hosts");
    hosts(&file, &[&format!("127.0.0.2 {NAME}")]);
    let placeholder = SocketAddr::from(([127, 0, 0, 9], port));
    let cfg = two_tier_at(
        &[(free_addr(), 1)],
        &[placeholder],
        "resolve_every = \"1s\"",
        "",
    )
    .replace(&placeholder.to_string(), &format!("{NAME}:{port}"));
    let p = Proxy::start_with_hosts(&cfg, &unshare, &file);
    assert!(
        p.wait_ready(),
        "{:?}",
        p.admin_get("/status").map(|r| r.text())
    );
    assert_eq!(origin_from(&p).as_deref(), Some("a"));
    let status = p.backend(a.addr()).unwrap();
    assert_eq!(status["name"], NAME, "{status}");

    // The name moves (a provider's failover IP): traffic follows within resolve_every plus the
    // new address's health checks.
    hosts(&file, &[&format!("127.0.0.3 {NAME}")]);
    assert!(wait_until(Duration::from_secs(5), || origin_from(&p)
        .as_deref()
        == Some("b")));
    a.reset_counts();
    for _ in 0..10 {
        assert_eq!(origin_from(&p).as_deref(), Some("b"));
    }
    assert_eq!(a.hits(), 0, "the old address still gets requests");
    assert!(b.hits() >= 10);
    assert!(
        p.backend(a.addr()).is_none(),
        "the old address is still listed"
    );

    // Two addresses: both serve, sharing the backend's weight.
    hosts(
        &file,
        &[&format!("127.0.0.2 {NAME}"), &format!("127.0.0.3 {NAME}")],
    );
    assert!(wait_until(Duration::from_secs(5), || p
        .backend(a.addr())
        .is_some_and(|s| s["health"] == "up")));
    let seen: Vec<_> = (0..40).filter_map(|_| origin_from(&p)).collect();
    assert!(
        seen.iter().any(|o| o == "a") && seen.iter().any(|o| o == "b"),
        "{seen:?}"
    );
    let weight = |addr| p.backend(addr).unwrap()["share_in_pool"].as_f64().unwrap();
    assert!(
        (weight(a.addr()) - 0.5).abs() < 0.01,
        "{}",
        weight(a.addr())
    );

    // The name stops resolving: the last known addresses keep serving, and it is counted.
    let failures = dns(&p, "failure");
    hosts(&file, &[]);
    assert!(wait_until(Duration::from_secs(5), || dns(&p, "failure") > failures));
    for _ in 0..10 {
        assert!(
            origin_from(&p).is_some(),
            "served no more after a failed resolution"
        );
    }
    assert!(dns(&p, "success") > 0);
}
