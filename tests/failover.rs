//! Across tiers: the July incident. The primary dies under steady traffic, then the standby,
//! then the primary comes back.

pub mod support;

use std::time::{Duration, Instant};
use support::conf::two_tier;
use support::{get, request, wait_until, Behaviour, Origin, Proxy};

#[test]
fn the_whole_incident_loses_no_get_and_ends_on_the_maintenance_page() {
    let a = Origin::start("a", Behaviour::Normal);
    let b = Origin::start("b", Behaviour::Normal);
    let s = Origin::start("standby", Behaviour::Normal);
    let p = Proxy::start(&two_tier(&[(&a, 1), (&b, 1)], &[&s], "", ""));
    assert!(p.wait_ready());
    assert!(wait_until(Duration::from_secs(5), || {
        let _ = get(p.http_addr(), "/warm");
        a.hits() > 0 && b.hits() > 0
    }));

    // Steady sequential GETs while the whole primary tier dies.
    let mut failed = vec![];
    for i in 0..300 {
        if i == 100 {
            a.kill();
            b.kill();
        }
        match get(p.http_addr(), &format!("/orders/{i}")) {
            Ok(r) if r.status == 200 => {}
            other => failed.push((i, other.map(|r| r.status))),
        }
    }
    assert!(failed.is_empty(), "GETs failed during failover: {failed:?}");
    assert!(s.hits() >= 150, "the standby took over ({} hits)", s.hits());
    let st = p.admin_get("/status").unwrap().json();
    assert_eq!(st["tiers"][0]["state"], "down");
    assert_eq!(st["tiers"][1]["share"], 1.0);

    // The standby dies too: the maintenance answer within 3 s, in both forms.
    s.kill();
    let t0 = Instant::now();
    assert!(
        wait_until(Duration::from_secs(3), || get(p.http_addr(), "/x")
            .map(|r| r.status == 503)
            .unwrap_or(false)),
        "no maintenance answer within 3 s"
    );
    assert!(t0.elapsed() < Duration::from_secs(3));
    let json = request(
        p.http_addr(),
        "GET",
        "/api/x",
        &[("Accept", "application/json")],
        b"",
    )
    .unwrap();
    assert_eq!(json.status, 503);
    assert_eq!(json.header("retry-after"), Some("30"));
    assert!(json.header("x-request-id").is_some());
    let v = json.json();
    assert_eq!(v["error"], "maintenance");
    assert_eq!(
        v["message"],
        "fireTMS is moving to backup servers. Your data is safe."
    );
    let html = request(
        p.http_addr(),
        "GET",
        "/",
        &[("Accept", "text/html,*/*;q=0.8")],
        b"",
    )
    .unwrap();
    assert_eq!(html.status, 503);
    assert!(html
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(html.text().contains("Your data is safe."));
    assert_eq!(p.admin_get("/readyz").unwrap().status, 503);

    // The primary returns: traffic goes back to it.
    a.restart();
    b.restart();
    assert!(
        wait_until(Duration::from_secs(5), || get(p.http_addr(), "/back")
            .map(|r| r.status == 200)
            .unwrap_or(false)),
        "primary never took traffic back"
    );
    a.reset_counts();
    b.reset_counts();
    for i in 0..50 {
        assert_eq!(
            get(p.http_addr(), &format!("/after/{i}")).unwrap().status,
            200
        );
    }
    assert_eq!(
        a.hits() + b.hits(),
        50,
        "a healthy primary carries everything again"
    );
}

#[test]
fn a_post_in_flight_when_its_backend_dies_is_never_sent_twice() {
    let delay = Behaviour::Delay(Duration::from_millis(500));
    let (a, s, p) = support::two_origins(delay, Behaviour::Normal, "", &[]);
    let addr = p.http_addr();
    let client = std::thread::spawn(move || {
        request(
            addr,
            "POST",
            "/orders",
            &[("Content-Type", "text/plain")],
            b"order-1",
        )
    });
    assert!(wait_until(Duration::from_secs(3), || a.applied().len() == 1));
    a.kill();
    let r = client.join().unwrap().expect("an answer, not a hang");
    assert_eq!(r.status, 502, "the in-flight POST fails cleanly");
    assert!(r.text().contains("could not be reached") || r.json()["error"] == "bad_gateway");
    assert_eq!(a.applied(), vec!["order-1".to_string()]);
    assert!(
        s.applied().is_empty(),
        "the POST was replayed on the standby"
    );
    // Later POSTs go to the standby (the connect failure proves nothing was sent).
    let r = request(addr, "POST", "/orders", &[], b"order-2").unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(s.applied(), vec!["order-2".to_string()]);
    assert_eq!(a.applied(), vec!["order-1".to_string()]);
}

#[test]
fn failover_only_standby_waits_until_the_whole_primary_is_down() {
    let a = Origin::start("a", Behaviour::Normal);
    let b = Origin::start("b", Behaviour::Normal);
    let s = Origin::start("standby", Behaviour::Normal);
    let p = Proxy::start(&two_tier(
        &[(&a, 1), (&b, 1)],
        &[&s],
        r#"spill = "failover_only""#,
        "",
    ));
    assert!(p.wait_ready());
    a.kill();
    for i in 0..100 {
        assert_eq!(get(p.http_addr(), &format!("/{i}")).unwrap().status, 200);
    }
    assert_eq!(
        s.hits(),
        0,
        "a failover_only standby took traffic while the primary was partly up"
    );
    b.kill();
    for i in 0..50 {
        assert_eq!(get(p.http_addr(), &format!("/{i}")).unwrap().status, 200);
    }
    assert!(s.hits() >= 49);
}

#[test]
fn a_half_dead_primary_spills_part_of_its_traffic_to_a_gradual_standby() {
    let a = Origin::start("a", Behaviour::Normal);
    let b = Origin::start("b", Behaviour::Normal);
    let s = Origin::start("standby", Behaviour::Normal);
    let p = Proxy::start(&two_tier(&[(&a, 1), (&b, 1)], &[&s], "", ""));
    assert!(p.wait_ready());
    b.set_healthy(false);
    assert!(wait_until(Duration::from_secs(3), || {
        p.admin_get("/status").unwrap().json()["pools"][0]["backends"][1]["health"] == "down"
    }));
    for i in 0..400 {
        assert_eq!(get(p.http_addr(), &format!("/{i}")).unwrap().status, 200);
    }
    // Half the weight left: the primary keeps 1.4 x 50 % = 70 %, the standby gets ~30 %.
    let share = s.hits() as f64 / 400.0;
    assert!((share - 0.3).abs() < 0.08, "standby share {share}");
}

#[test]
fn gets_in_flight_when_the_primary_dies_are_retried_on_the_standby() {
    let delay = Behaviour::Delay(Duration::from_millis(400));
    let (a, _s, p) = support::two_origins(delay, Behaviour::Normal, "", &[]);
    let addr = p.http_addr();
    let clients: Vec<_> = (0..5)
        .map(|i| std::thread::spawn(move || get(addr, &format!("/slow/{i}"))))
        .collect();
    assert!(wait_until(Duration::from_secs(3), || a.hits() == 5));
    a.kill();
    for c in clients {
        let r = c.join().unwrap().expect("an answer");
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("x-origin"), Some("standby"));
    }
}

#[test]
fn a_badly_slowed_primary_spills_to_the_standby_and_takes_it_back_when_fast_again() {
    let (a, s, p) = support::primary_and_standby("", &[]);
    // Learn the primary's baseline.
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(1500) {
        assert_eq!(get(p.http_addr(), "/warm").unwrap().status, 200);
    }
    assert_eq!(s.hits(), 0);
    a.set_behaviour(Behaviour::Delay(Duration::from_millis(80)));
    let spilled = wait_until(Duration::from_secs(10), || {
        let _ = get(p.http_addr(), "/slow");
        p.admin_get("/status").unwrap().json()["tiers"][1]["share"]
            .as_f64()
            .unwrap_or(0.0)
            > 0.3
    });
    assert!(
        spilled,
        "no spill: {}",
        p.admin_get("/status").unwrap().text()
    );
    s.reset_counts();
    for i in 0..60 {
        assert_eq!(get(p.http_addr(), &format!("/s/{i}")).unwrap().status, 200);
    }
    assert!(s.hits() >= 20, "the standby took {} of 60", s.hits());
    assert_eq!(
        p.admin_get("/status").unwrap().json()["tiers"][0]["state"],
        "degraded"
    );
    a.set_behaviour(Behaviour::Normal);
    assert!(
        wait_until(Duration::from_secs(10), || {
            let _ = get(p.http_addr(), "/fast");
            p.admin_get("/status").unwrap().json()["tiers"][0]["share"] == 1.0
        }),
        "the primary never took its traffic back: {}",
        p.admin_get("/status").unwrap().text()
    );
}
