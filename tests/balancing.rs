//! Within a pool: traffic follows weights, and a backend failing its checks gets none.

pub mod support;

use std::time::Duration;
use support::conf::two_tier;
use support::{get, wait_until, Behaviour, Origin, Proxy};

fn origin_of(r: &support::Resp) -> String {
    r.header("x-origin").unwrap_or("?").to_string()
}

fn ready(p: &Proxy) {
    assert!(
        p.wait_ready(),
        "proxy never became ready: {}",
        p.stderr_text()
    );
}

#[test]
fn weights_3_to_1_split_75_25() {
    let a = Origin::start("a", Behaviour::Normal);
    let b = Origin::start("b", Behaviour::Normal);
    let s = Origin::start("s", Behaviour::Normal);
    let p = Proxy::start(&two_tier(&[(&a, 3), (&b, 1)], &[&s], "", ""));
    ready(&p);
    // Both primary backends must be up before counting.
    assert!(wait_until(Duration::from_secs(5), || p
        .backends_up(&[a.addr(), b.addr()])));
    let mut on_a = 0;
    for i in 0..400 {
        let r = get(p.http_addr(), &format!("/orders/{i}")).unwrap();
        assert_eq!(r.status, 200);
        if origin_of(&r) == "a" {
            on_a += 1;
        }
    }
    assert_eq!(s.hits(), 0, "a healthy primary keeps all its traffic");
    let share = on_a as f64 / 400.0;
    assert!(
        (share - 0.75).abs() <= 0.075,
        "share of the weight-3 backend: {share}"
    );
}

#[test]
fn a_backend_failing_checks_gets_no_traffic_within_two_intervals() {
    let a = Origin::start("a", Behaviour::Normal);
    let b = Origin::start("b", Behaviour::Normal);
    let s = Origin::start("s", Behaviour::Normal);
    let p = Proxy::start(&two_tier(&[(&a, 1), (&b, 1)], &[&s], "", ""));
    ready(&p);
    assert!(wait_until(Duration::from_secs(5), || {
        let _ = get(p.http_addr(), "/warm");
        b.hits() > 0
    }));
    b.set_healthy(false);
    // fall = 2 at a 100 ms interval: out after ~200 ms; allow two intervals of slack beyond.
    std::thread::sleep(Duration::from_millis(400));
    for o in [&a, &b, &s] {
        o.reset_counts();
    }
    for _ in 0..100 {
        assert_eq!(get(p.http_addr(), "/x").unwrap().status, 200);
    }
    assert_eq!(b.hits(), 0, "an unhealthy backend still got traffic");
    assert_eq!(
        a.hits() + s.hits(),
        100,
        "the rest went to the healthy backend and the standby"
    );
    let st = p.admin_get("/status").unwrap().json();
    assert_eq!(st["pools"][0]["backends"][1]["health"], "down");
    assert_eq!(st["pools"][0]["state"], "degraded");
}

#[test]
fn request_id_and_forwarding_headers_reach_the_backend_and_the_client() {
    let a = Origin::start("a", Behaviour::Normal);
    let s = Origin::start("s", Behaviour::Normal);
    let p = Proxy::start(&two_tier(&[(&a, 1)], &[&s], "", ""));
    ready(&p);
    let r = support::request(
        p.http_addr(),
        "GET",
        "/x",
        &[("X-Request-Id", "trace-42")],
        b"",
    )
    .unwrap();
    assert_eq!(r.header("x-request-id"), Some("trace-42"));
    assert_eq!(a.seen_header("x-request-id").as_deref(), Some("trace-42"));
    assert_eq!(
        a.seen_header("x-forwarded-for").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(a.seen_header("x-forwarded-proto").as_deref(), Some("http"));
    // From a peer that is not a trusted proxy, X-Forwarded-For is replaced, not extended: a
    // client cannot plant addresses upstream (tests/client_identity.rs has the trusted case).
    support::request(
        p.http_addr(),
        "GET",
        "/xff",
        &[
            ("X-Forwarded-For", "1.1.1.1"),
            ("X-Forwarded-For", "2.2.2.2"),
        ],
        b"",
    )
    .unwrap();
    assert_eq!(
        a.seen_header("x-forwarded-for").as_deref(),
        Some("127.0.0.1")
    );
    // An absolute-form target (meant for proxies) reaches the origin in origin-form.
    let r = support::send_raw_timeout(
        p.http_addr(),
        b"GET http://t/abs?q=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        Duration::from_secs(3),
    );
    assert_eq!(r.status(), Some(200), "{}", r.text());
    assert!(
        a.requests().iter().any(|l| l == "GET /abs?q=1"),
        "{:?}",
        a.requests()
    );
    let r = get(p.http_addr(), "/y").unwrap();
    let id = r
        .header("x-request-id")
        .expect("generated request id")
        .to_string();
    assert_eq!(id.len(), 32);
    assert_eq!(a.seen_header("x-request-id"), Some(id));
}
