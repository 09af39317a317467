//! Writes across a failover: a steady stream of POSTs with unique ids while the whole primary
//! dies mid-stream. No id is applied twice; every id answered 2xx was applied; only requests
//! truly in flight at the moment of death may fail (the two primary backends die one after
//! the other, so a client may lose one request at each), and they fail with 502, never a hang.

pub mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};
use support::conf::two_tier;
use support::load::{writers, Posted};
use support::{Behaviour, Origin, Proxy};

#[test]
fn no_write_is_lost_or_applied_twice_when_the_primary_dies() {
    let a = Origin::start("a", Behaviour::Delay(Duration::from_millis(15)));
    let b = Origin::start("b", Behaviour::Delay(Duration::from_millis(15)));
    let s = Origin::start("standby", Behaviour::Normal);
    let p = Proxy::start(&two_tier(&[(&a, 1), (&b, 1)], &[&s], "", ""));
    assert!(p.wait_ready());

    const CLIENTS: usize = 6;
    let clients = writers(
        p.http_addr(),
        CLIENTS,
        Duration::ZERO,
        |c, i| format!("order-{c}-{i}"),
        |_| "/orders",
    );
    std::thread::sleep(Duration::from_millis(700));
    a.kill();
    b.kill();
    // Both backends are dead from here on: anything started later was never in flight there.
    let dead = Instant::now();
    std::thread::sleep(Duration::from_millis(1500));
    let answers = clients.finish();

    let mut applied: HashMap<String, usize> = HashMap::new();
    for o in [&a, &b, &s] {
        for id in o.applied() {
            *applied.entry(id).or_default() += 1;
        }
    }
    let twice: Vec<_> = applied.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "applied twice: {twice:?}");
    assert!(answers.len() > 100, "too few writes: {}", answers.len());
    let mut failed = vec![];
    for Posted {
        id,
        status,
        started,
        took,
    } in answers.iter()
    {
        assert!(*took < Duration::from_secs(5), "{id} hung for {took:?}");
        match status {
            Ok(200) => assert_eq!(
                applied.get(id),
                Some(&1),
                "{id} was answered 200 but not applied"
            ),
            Ok(502) => {
                assert!(
                    *started < dead,
                    "{id} started after the primary was gone, yet failed"
                );
                failed.push(id.clone());
            }
            other => panic!("{id}: unexpected answer {other:?}"),
        }
    }
    // Each client has at most one request in flight at each of the two deaths.
    assert!(
        failed.len() <= 2 * CLIENTS,
        "more failures than requests in flight: {failed:?}"
    );
    assert!(s.applied().len() > 10, "the standby took over the writes");
}

/// A backend that closes idle keep-alive connections (gunicorn after 2 s, Node.js and uvicorn
/// after 5 s) must not turn writes into 502s: the pool's `idle_timeout` is below it, so a POST
/// never goes out on a connection the backend is closing. Here scaled down: the backend closes
/// after 500 ms idle, the pool keeps connections 250 ms, and one POST arrives every 400–600 ms,
/// each on a new client connection.
#[test]
fn writes_never_meet_a_backend_closing_its_idle_connections() {
    let a = Origin::start("a", Behaviour::Normal);
    let s = Origin::start("standby", Behaviour::Normal);
    a.set_keepalive(Duration::from_millis(500));
    let cfg = two_tier(&[(&a, 1)], &[&s], "", "").replace(
        "read_timeout = \"3s\"",
        "read_timeout = \"3s\"\nidle_timeout = \"250ms\"",
    );
    assert!(cfg.contains("idle_timeout"), "{cfg}");
    let p = Proxy::start(&cfg);
    assert!(p.wait_ready());
    let mut rng = 7u64;
    let mut failed = vec![];
    for i in 0..20 {
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_millis(400 + (rng >> 33) % 200));
        let body = format!("order-{i}");
        let r = support::request(p.http_addr(), "POST", "/orders", &[], body.as_bytes()).unwrap();
        if r.status != 200 {
            failed.push((i, r.status));
        }
    }
    let metrics = p.admin_get("/metrics").unwrap().text();
    assert!(failed.is_empty(), "writes failed: {failed:?}\n{metrics}");
    assert_eq!(a.applied().len(), 20);
}
