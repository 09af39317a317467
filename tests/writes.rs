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
