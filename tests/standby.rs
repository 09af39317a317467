//! Standby readiness: shadow traffic, the capacity estimate, and failover rehearsals.

pub mod support;

use std::time::{Duration, Instant};
use support::conf::TOKEN;
use support::load::open_loop;
use support::{get, request, wait_until, Behaviour, Origin, Proxy};

/// A normal primary and a weak standby (100 req/s).
fn start(tail: &str) -> (Origin, Origin, Proxy) {
    support::two_origins(Behaviour::Normal, Behaviour::HUNDRED_RPS, tail, &[TOKEN])
}

#[test]
fn the_capacity_estimate_is_within_25_percent_and_the_ratio_drops_below_one_under_load() {
    let (_a, s, p) = start("[standby]\nprobe_interval = \"10s\"\nprobe_level = \"500ms\"\n");
    assert!(
        wait_until(Duration::from_secs(15), || !p
            .admin_get("/status")
            .unwrap()
            .json()["standby"]["capacity_rps"]
            .is_null()),
        "no estimate: {}",
        p.admin_get("/status").unwrap().text()
    );
    let st = p.admin_get("/status").unwrap().json();
    let est = st["standby"]["capacity_rps"].as_f64().unwrap();
    assert!(
        (est - 100.0).abs() <= 25.0,
        "estimate {est} req/s for a 100 req/s standby: {}",
        st["standby"]
    );
    assert!(s.hits() > 0, "the probe reached the standby");
    // The primary carries 300 req/s: three times what the standby could take.
    let out = open_loop(p.http_addr(), 300.0, 8.0, |i| {
        ("normal", format!("/orders/{i}"), String::new())
    });
    assert!(out.iter().all(|o| o.status == 200));
    let st = p.admin_get("/status").unwrap().json();
    let ratio = st["standby"]["capacity_ratio"]
        .as_f64()
        .expect("a ratio once the primary has load");
    assert!(ratio < 1.0, "ratio {ratio}: {}", st["standby"]);
    let m = p.admin_get("/metrics").unwrap().text();
    let line = m
        .lines()
        .find(|l| l.starts_with("firebreak_standby_capacity_ratio "))
        .unwrap();
    let v: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(v < 1.0, "{line}");
}

#[test]
fn a_rehearsal_against_a_too_weak_standby_aborts_by_itself_without_failing_customers() {
    let (_a, _s, p) = start("[standby]\nprobe_interval = \"0s\"\ndrill_max_p99 = \"300ms\"\n");
    let addr = p.http_addr();
    let load = std::thread::spawn(move || {
        open_loop(addr, 300.0, 8.0, |i| {
            ("normal", format!("/orders/{i}"), String::new())
        })
    });
    std::thread::sleep(Duration::from_millis(1500));
    let plan =
        r#"{"share": 0.5, "step": 0.1, "step_every": "1s", "max_share": 0.9, "duration": "30s"}"#;
    let r = p.admin_post("/drill", plan).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let t0 = Instant::now();
    assert!(
        wait_until(Duration::from_secs(5), || {
            p.admin_get("/status").unwrap().json()["standby"]["drill"]["state"] == "aborted"
        }),
        "the rehearsal did not abort: {}",
        p.admin_get("/status").unwrap().json()["standby"]
    );
    let took = t0.elapsed();
    let drill = p.admin_get("/status").unwrap().json()["standby"]["drill"].clone();
    assert!(
        drill["abort_reason"].as_str().unwrap().contains("SLO"),
        "{drill}"
    );
    assert_eq!(
        p.admin_get("/status").unwrap().json()["tiers"][1]["share"],
        0.0,
        "traffic went back at once"
    );
    let out = load.join().unwrap();
    let failed = out.iter().filter(|o| o.status != 200).count();
    assert!(
        failed as f64 <= 0.01 * out.len() as f64,
        "{failed} of {} customer requests failed",
        out.len()
    );
    assert!(took < Duration::from_secs(4), "abort took {took:?}");
    assert_eq!(
        p.admin_post("/drill", r#"{"share": 2}"#).unwrap().status,
        400
    );
}

#[test]
fn shadow_traffic_mirrors_only_reads_and_respects_its_rate_cap() {
    let tail = "[standby]\nshadow_max_rps = 5\nprobe_interval = \"0s\"\n\n[[route]]\nname = \"mirrored\"\npath_prefix = \"/api\"\nshadow = 1.0\n";
    let (a, s, p) = start(tail);
    for i in 0..40 {
        assert_eq!(
            get(p.http_addr(), &format!("/api/orders/{i}"))
                .unwrap()
                .status,
            200
        );
        assert_eq!(
            request(p.http_addr(), "POST", "/api/orders", &[], b"w")
                .unwrap()
                .status,
            200
        );
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(
        wait_until(Duration::from_secs(2), || s.hits() > 0),
        "nothing was mirrored"
    );
    std::thread::sleep(Duration::from_millis(300));
    let mirrored = s.requests();
    assert!(
        mirrored.iter().all(|r| r.starts_with("GET /api/orders/")),
        "{mirrored:?}"
    );
    assert!(s.applied().is_empty(), "a write was mirrored");
    assert!(
        mirrored.len() <= 15,
        "{} mirrored in ~2 s with a cap of 5/s",
        mirrored.len()
    );
    assert_eq!(s.seen_header("x-firebreak-shadow").as_deref(), Some("1"));
    assert_eq!(a.hits(), 80, "every live request was served by the primary");
}
