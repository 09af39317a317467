//! Failback waits for the data: after a failover, a recovered primary gets no traffic until an
//! operator says so (`mode = "manual"`, `POST /failback`) or it has stayed healthy for `hold`
//! (`"auto"`), then takes its share back over `ramp` without a failed request.

pub mod support;

use std::time::{Duration, Instant};
use support::conf::{two_tier, TOKEN};
use support::load::Steady;
use support::{wait_until, Behaviour, Origin, Proxy};

fn setup(failback: &str) -> (Origin, Origin, Proxy) {
    let a = Origin::start("primary", Behaviour::Normal);
    let s = Origin::start("standby", Behaviour::Normal);
    let p = Proxy::start_with_env(&two_tier(&[(&a, 1)], &[&s], "", failback), &[TOKEN]);
    assert!(p.wait_ready());
    (a, s, p)
}

fn state(p: &Proxy) -> String {
    let st = p.admin_get("/status").unwrap().json();
    st["failback"]["state"].as_str().unwrap_or("?").to_string()
}

fn pending(p: &Proxy) -> bool {
    let text = p.admin_get("/metrics").unwrap().text();
    text.lines().any(|l| l == "firebreak_failback_pending 1")
}

/// Kills the primary until the standby serves everything, then brings it back up.
fn fail_over_and_recover(a: &Origin, p: &Proxy) {
    a.kill();
    assert!(
        wait_until(Duration::from_secs(5), || state(p) == "failover"),
        "{}",
        state(p)
    );
    a.restart();
    let up = || p.backend_health(a.addr()).as_deref() == Some("up");
    assert!(wait_until(Duration::from_secs(5), up));
}

fn path(w: usize, i: u64) -> String {
    format!("/orders/{w}/{i}")
}

#[test]
fn a_manual_failback_holds_traffic_on_the_standby_until_released() {
    let (a, _s, p) = setup("[failback]\nmode = \"manual\"\nramp = \"2s\"\n");
    assert_eq!(
        p.admin_post("/failback", "").unwrap().status,
        409,
        "nothing waits yet"
    );
    fail_over_and_recover(&a, &p);
    a.reset_counts();
    let load = Steady::start(p.http_addr(), 4, path);
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        a.hits(),
        0,
        "the recovered primary got traffic before failback"
    );
    assert!(load.ok() > 50, "the standby served {} meanwhile", load.ok());
    assert_eq!(state(&p), "waiting");
    assert!(pending(&p), "firebreak_failback_pending is not 1");
    // Released: the ramp moves traffic back, and nothing fails on the way.
    let r = p.admin_post("/failback", "").unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let t = Instant::now();
    assert!(wait_until(Duration::from_secs(5), || state(&p) == "normal"));
    let ramp = t.elapsed();
    a.reset_counts();
    std::thread::sleep(Duration::from_millis(500));
    let (ok, failed) = load.finish();
    eprintln!("manual failback: ramp took {ramp:?}; {ok} GETs, {failed} failed");
    assert_eq!(failed, 0);
    assert!(a.hits() > 10, "traffic did not return to the primary");
    assert!(!pending(&p));
    assert_eq!(p.admin_post("/failback", "").unwrap().status, 409);
}

#[test]
fn an_automatic_failback_waits_for_hold() {
    let (a, _s, p) = setup("[failback]\nmode = \"auto\"\nhold = \"2s\"\nramp = \"1s\"\n");
    fail_over_and_recover(&a, &p);
    let back = Instant::now();
    a.reset_counts();
    let load = Steady::start(p.http_addr(), 2, path);
    assert!(wait_until(Duration::from_secs(8), || a.hits() > 0));
    let waited = back.elapsed();
    let (_, failed) = load.finish();
    eprintln!("auto failback: the first request reached the primary {waited:?} after it was up");
    assert!(
        waited >= Duration::from_millis(1800),
        "returned after {waited:?}, before hold"
    );
    assert_eq!(failed, 0);
}
