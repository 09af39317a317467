//! The July incident as a test: the primary is gone and the standby has a third of the
//! capacity needed. What is admitted stays fast, critical work is served first, the excess is
//! refused at once, and one flooding client cannot starve the others.

pub mod support;

use std::time::Duration;
use support::load::{ok_within, open_loop, quantile};
use support::{get, wait_until, Behaviour, Origin, Proxy};

/// A proxy whose primary has just died, so everything runs on the weak standby (100 req/s).
/// `tail` adds config (e.g. an `[admission]` table).
fn on_standby_only_with(tail: &str) -> (Origin, Origin, Proxy) {
    let (a, s, p) = support::two_origins(Behaviour::Normal, Behaviour::HUNDRED_RPS, tail, &[]);
    a.kill();
    assert!(wait_until(Duration::from_secs(3), || get(
        p.http_addr(),
        "/warm"
    )
    .map(|r| r.status == 200)
    .unwrap_or(false)));
    (a, s, p)
}

fn on_standby_only() -> (Origin, Origin, Proxy) {
    on_standby_only_with("")
}

#[test]
fn at_three_times_the_standby_capacity_critical_is_served_and_the_rest_refused_fast() {
    let (_a, s, p) = on_standby_only();
    // Meanwhile: does the standby tier, refusing much of its traffic, read `degraded`?
    let admin = p.admin_addr();
    let watching = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let watch = {
        let watching = watching.clone();
        std::thread::spawn(move || {
            let mut states = std::collections::BTreeSet::new();
            while watching.load(std::sync::atomic::Ordering::SeqCst) {
                if let Ok(r) = support::request(admin, "GET", "/status", &[], b"") {
                    states.insert(r.json()["tiers"][1]["state"].to_string());
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            states
        })
    };
    // 300 req/s for 6 s: 15 % critical (login), 45 % normal, 40 % bulk (reports).
    let out = open_loop(p.http_addr(), 300.0, 6.0, |i| match i % 20 {
        0..=2 => ("critical", format!("/login/{i}"), String::new()),
        3..=11 => ("normal", format!("/orders/{i}"), String::new()),
        _ => ("bulk", format!("/reports/{i}"), String::new()),
    });
    // Skip the first second (the limiter learns the standby from cold).
    let steady: Vec<_> = out.iter().filter(|o| o.i >= 300).cloned().collect();
    watching.store(false, std::sync::atomic::Ordering::SeqCst);
    let states = watch.join().unwrap();
    assert!(
        states.contains("\"degraded\""),
        "a standby shedding at 3x its capacity never read degraded: {states:?}"
    );
    let critical = ok_within(&steady, "critical", Duration::from_secs(1));
    assert!(critical >= 0.97, "critical served within 1 s: {critical}");
    let refused: Vec<_> = steady.iter().filter(|o| o.status == 503).collect();
    assert!(!refused.is_empty(), "nothing was shed at 3x capacity");
    let refusal_p99 = quantile(&steady, 0.99, |o| o.status == 503);
    assert!(
        refusal_p99 < Duration::from_millis(150),
        "refusals took {refusal_p99:?} (p99)"
    );
    let admitted_p50 = quantile(&steady, 0.5, |o| o.status == 200);
    assert!(
        admitted_p50 < Duration::from_millis(150),
        "admitted p50 {admitted_p50:?}"
    );
    let rate = |c: &str| {
        let of: Vec<_> = steady.iter().filter(|o| o.class == c).collect();
        of.iter().filter(|o| o.status == 503).count() as f64 / of.len() as f64
    };
    assert!(
        rate("bulk") > rate("normal") && rate("normal") > rate("critical"),
        "{} {} {}",
        rate("bulk"),
        rate("normal"),
        rate("critical")
    );
    let goodput = steady
        .iter()
        .filter(|o| o.status == 200 && o.latency <= Duration::from_secs(1))
        .count() as f64
        / 5.0;
    assert!(goodput >= 75.0, "goodput {goodput} req/s of ~100 possible");
    assert!(s.hits() > 0);
    let m = p.admin_get("/metrics").unwrap().text();
    assert!(
        m.contains(r#"firebreak_shed_total{reason="overloaded",route="reports"}"#),
        "{m}"
    );
}

#[test]
fn no_shedding_at_half_load_on_a_healthy_primary() {
    let primary = Behaviour::Capacity {
        workers: 8,
        service: Duration::from_millis(20),
    };
    let (_a, _s, p) = support::two_origins(primary, Behaviour::HUNDRED_RPS, "", &[]);
    // 400 req/s capacity; offer 200 req/s.
    let out = open_loop(p.http_addr(), 200.0, 5.0, |i| {
        ("normal", format!("/orders/{i}"), String::new())
    });
    let bad: Vec<_> = out.iter().filter(|o| o.status != 200).collect();
    assert!(
        bad.is_empty(),
        "{} of {} not 200, e.g. {:?}",
        bad.len(),
        out.len(),
        bad.first()
    );
}

#[test]
fn one_flooding_client_does_not_starve_nine_modest_ones() {
    let tail = "[admission]\nclient_key = \"header:X-Client\"\n";
    let (_a, _s, p) = on_standby_only_with(tail);
    // One client floods at 300 req/s (3x the standby); nine others send 3 req/s each.
    let out = open_loop(p.http_addr(), 330.0, 6.0, |i| {
        if i % 11 == 0 {
            (
                "modest",
                format!("/orders/{i}"),
                format!("X-Client: c{}\r\n", (i / 11) % 9),
            )
        } else {
            (
                "flood",
                format!("/orders/{i}"),
                "X-Client: flood\r\n".to_string(),
            )
        }
    });
    let steady: Vec<_> = out.iter().filter(|o| o.i >= 330).cloned().collect();
    let modest = ok_within(&steady, "modest", Duration::from_secs(1));
    assert!(modest >= 0.9, "the nine modest clients got {modest} served");
    let flood = ok_within(&steady, "flood", Duration::from_secs(1));
    assert!(flood < 0.5, "the flooder was not limited ({flood})");
}

#[test]
fn when_the_primary_returns_traffic_moves_back_and_shedding_stops() {
    let (a, s, p) = on_standby_only();
    let out = open_loop(p.http_addr(), 300.0, 2.0, |i| {
        ("normal", format!("/orders/{i}"), String::new())
    });
    assert!(
        out.iter().any(|o| o.status == 503),
        "the standby alone should shed at 3x"
    );
    a.restart();
    assert!(
        wait_until(Duration::from_secs(5), || {
            p.admin_get("/status").unwrap().json()["tiers"][0]["share"] == 1.0
        }),
        "the primary never took its share back"
    );
    let before = s.hits();
    let out = open_loop(p.http_addr(), 300.0, 3.0, |i| {
        ("normal", format!("/orders/{i}"), String::new())
    });
    let refused = out.iter().filter(|o| o.status != 200).count();
    assert_eq!(
        refused,
        0,
        "{refused} of {} refused with the primary back",
        out.len()
    );
    assert!(
        s.hits() - before < 5,
        "the standby kept traffic: {}",
        s.hits() - before
    );
}

#[test]
fn heavy_features_can_be_switched_off_while_on_the_standby() {
    let tail = "[[route]]\nname = \"exports\"\npath_prefix = \"/exports\"\npriority = \"bulk\"\non_standby = \"refuse\"\n";
    let (a, s, p) = support::primary_and_standby(tail, &[]);
    assert_eq!(get(p.http_addr(), "/exports/1").unwrap().status, 200);
    a.kill();
    assert!(wait_until(Duration::from_secs(3), || get(
        p.http_addr(),
        "/orders"
    )
    .map(|r| r.status == 200)
    .unwrap_or(false)));
    let r = support::request(
        p.http_addr(),
        "GET",
        "/exports/2",
        &[("Accept", "application/json")],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 503);
    assert!(r.header("retry-after").is_some());
    assert_eq!(r.json()["reason"], "off_on_standby");
    assert_eq!(
        s.requests()
            .iter()
            .filter(|q| q.contains("/exports"))
            .count(),
        0
    );
    assert_eq!(
        get(p.http_addr(), "/orders/3").unwrap().status,
        200,
        "other routes still served"
    );
}
