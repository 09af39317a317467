//! The tier plan treats a small standby as a small standby: a slow primary keeps giving its
//! traffic away for as long as it stays slow (and takes it back once fast), and half a primary
//! plus a weak standby refuse next to nothing while the primary has room.
//!
//! Shares and refusals are asserted; latencies are printed, not asserted (speed is measured in
//! benchmarks, not in timed tests).

pub mod support;

use std::time::Duration;
use support::conf::two_tier;
use support::load::{open_loop, quantile};
use support::{get, wait_until, Behaviour, Origin, Proxy};

/// Light traffic: `rps` GETs per second for `secs`, all of which must be answered 200. Returns
/// the share the standby served and the answers' median latency.
fn light(p: &Proxy, a: &Origin, s: &Origin, rps: f64, secs: f64) -> (f64, Duration) {
    a.reset_counts();
    s.reset_counts();
    let out = open_loop(p.http_addr(), rps, secs, |i| {
        ("light", format!("/orders/{i}"), String::new())
    });
    let failed: Vec<_> = out.iter().filter(|o| o.status != 200).collect();
    assert!(
        failed.is_empty(),
        "{} of {} failed: {:?}",
        failed.len(),
        out.len(),
        &failed[..failed.len().min(5)]
    );
    // Count only this traffic (the standby also sees the readiness probe's ramp).
    let ours = |o: &Origin| {
        o.requests()
            .iter()
            .filter(|r| r.contains("/orders/"))
            .count() as f64
    };
    let (on_a, on_s) = (ours(a), ours(s));
    (on_s / (on_a + on_s).max(1.0), quantile(&out, 0.5, |_| true))
}

#[test]
fn a_slow_primary_keeps_giving_its_traffic_to_a_faster_standby_until_it_is_fast_again() {
    let a = Origin::start("primary", Behaviour::Normal);
    let s = Origin::start(
        "standby",
        Behaviour::Capacity {
            workers: 2,
            service: Duration::from_millis(60),
        },
    );
    let p = Proxy::start(&two_tier(&[(&a, 1)], &[&s], "", ""));
    assert!(p.wait_ready());
    let (on_standby, _) = light(&p, &a, &s, 20.0, 5.0);
    assert_eq!(
        on_standby,
        0.0,
        "a fast primary keeps everything: {}",
        p.admin_get("/status").unwrap().text()
    );

    a.set_behaviour(Behaviour::Delay(Duration::from_millis(500)));
    light(&p, &a, &s, 10.0, 15.0); // the plan learns the slowdown and the standby's latency
    for window in 1..=4 {
        let (on_standby, p50) = light(&p, &a, &s, 10.0, 30.0);
        println!(
            "30 s window {window}: {:.0} % on the standby, served p50 {p50:?}",
            on_standby * 100.0
        );
        assert!(
            on_standby >= 0.8,
            "window {window}: only {:.0} % on the standby; {}",
            on_standby * 100.0,
            p.admin_get("/status").unwrap().text()
        );
    }
    let why = &p.admin_get("/status").unwrap().json()["tiers"][0]["why"];
    assert!(why["versus_faster_tier"].as_f64().is_some(), "{why}");

    a.set_behaviour(Behaviour::Normal);
    let back = wait_until(Duration::from_secs(30), || {
        let _ = get(p.http_addr(), "/orders/back");
        p.admin_get("/status").unwrap().json()["tiers"][0]["share"] == 1.0
    });
    assert!(
        back,
        "the fast primary did not get its traffic back within 30 s: {}",
        p.admin_get("/status").unwrap().text()
    );
}

#[test]
fn half_a_primary_and_a_weak_standby_refuse_next_to_nothing() {
    let primary = || Behaviour::Capacity {
        workers: 16,
        service: Duration::from_millis(5),
    };
    let a = Origin::start("primary-a", primary());
    let b = Origin::start("primary-b", primary());
    let s = Origin::start(
        "standby",
        Behaviour::Capacity {
            workers: 2,
            service: Duration::from_millis(20),
        },
    );
    let p = Proxy::start(&two_tier(&[(&a, 1), (&b, 1)], &[&s], "", ""));
    assert!(p.wait_ready());
    // Warm up both tiers' limits, then lose half the primary.
    open_loop(p.http_addr(), 200.0, 3.0, |i| {
        ("warm", format!("/orders/{i}"), String::new())
    });
    b.kill();
    assert!(wait_until(Duration::from_secs(5), || {
        p.admin_get("/status").unwrap().json()["tiers"][1]["share"]
            .as_f64()
            .unwrap_or(0.0)
            > 0.0
    }));
    s.reset_counts();
    let out = open_loop(p.http_addr(), 450.0, 15.0, |i| {
        ("load", format!("/orders/{i}"), String::new())
    });
    let refused = out.iter().filter(|o| o.status != 200).count();
    let rate = refused as f64 / out.len() as f64;
    let status = p.admin_get("/status").unwrap().json();
    println!(
        "standby pool: p50 {} ms (baseline {} ms); standby tier: {}",
        status["pools"][1]["latency_p50_ms"],
        status["pools"][1]["latency_baseline_ms"],
        status["tiers"][1]
    );
    println!(
        "450 req/s for 15 s: {refused} of {} refused ({:.2} %), {} on the standby, p50 {:?}, p99 {:?}",
        out.len(),
        rate * 100.0,
        s.requests().iter().filter(|r| r.contains("/orders/")).count(),
        quantile(&out, 0.5, |o| o.status == 200),
        quantile(&out, 0.99, |o| o.status == 200),
    );
    assert!(
        rate <= 0.005,
        "{refused} of {} refused while the primary had room; {}",
        out.len(),
        p.admin_get("/status").unwrap().text()
    );
}
