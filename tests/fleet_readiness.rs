//! Standby readiness across a fleet: a replica that does not measure the standby itself takes
//! its peer's newer capacity estimate, and its standby pool's limit starts from it (seeded by
//! Little's law, held to it until traffic proves more), not from `initial_limit`.

pub mod support;

use std::net::SocketAddr;
use std::time::Duration;
use support::conf::{two_tier, TOKEN};
use support::proxy::free_addr;
use support::{wait_until, Behaviour, Origin, Proxy};

fn replica(a: &Origin, s: &Origin, me: SocketAddr, peer: SocketAddr, standby: &str) -> Proxy {
    let tail = format!("{standby}\n[fleet]\npeers = [\"{peer}\"]\nsync_every = \"1s\"\n");
    let p = Proxy::start_with_admin(&two_tier(&[(a, 1)], &[s], "", &tail), &[TOKEN], me);
    assert!(p.wait_ready());
    p
}

fn standby_of(p: &Proxy) -> serde_json::Value {
    let st: serde_json::Value = p.admin_get("/status").unwrap().json();
    let pool = st["pools"]
        .as_array()
        .and_then(|ps| ps.iter().find(|x| x["name"] == "standby").cloned())
        .expect("a standby pool");
    serde_json::json!({"estimate": st["standby"]["estimate"], "pool": pool})
}

#[test]
fn a_replica_that_does_not_probe_takes_the_peers_estimate_and_seeds_its_limit() {
    let a = Origin::start("primary", Behaviour::Normal);
    let s = Origin::start("standby", Behaviour::Normal);
    let (ma, mb) = (free_addr(), free_addr());
    let measures =
        "[standby]\nprobe_interval = \"60s\"\nprobe_level = \"200ms\"\nprobe_max_concurrency = 4\n";
    let a_rep = replica(&a, &s, ma, mb, measures);
    let b_rep = replica(&a, &s, mb, ma, "[standby]\nprobe_interval = \"0s\"\n");
    let before = standby_of(&b_rep);
    assert!(before["estimate"].is_null(), "B never probes: {before}");
    assert_eq!(before["pool"]["limit"], 20.0, "cold: initial_limit");
    let took = wait_until(Duration::from_secs(20), || {
        !standby_of(&b_rep)["estimate"].is_null()
    });
    assert!(
        took,
        "B never took A's estimate: A has {}",
        standby_of(&a_rep)
    );
    let (ea, eb) = (standby_of(&a_rep), standby_of(&b_rep));
    assert_eq!(ea["estimate"]["measured_at"], eb["estimate"]["measured_at"]);
    assert_eq!(
        ea["estimate"]["capacity_rps"],
        eb["estimate"]["capacity_rps"]
    );
    // Seeded at the next planning ticks: the measured concurrency times 1/2 (B's share of a
    // fleet of two), at least one request, held, with the measured no-load latency as its
    // baseline; no longer the cold start's share of `initial_limit` (10).
    let seeded = wait_until(Duration::from_secs(5), || {
        let pool = &standby_of(&b_rep)["pool"];
        pool["limit_baseline_ms"].as_f64().is_some_and(|b| b > 0.0)
            && pool["limit"].as_f64().is_some_and(|l| l < 10.0)
            && pool["held"] == true
    });
    assert!(
        seeded,
        "B's standby pool was not seeded: {}",
        standby_of(&b_rep)
    );
}
