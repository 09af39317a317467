//! Broken backends: timeouts give 504, broken answers 502, both in the negotiated form and
//! without backend internals; GETs are retried elsewhere, writes are not.

pub mod support;

use std::time::Duration;
use support::conf::{two_tier, with_read_timeout};
use support::{request, Behaviour, Origin, Proxy};

fn short_timeouts(cfg: &str) -> String {
    with_read_timeout(cfg, Duration::from_millis(400))
}

#[test]
fn an_upstream_timeout_is_a_504_and_never_names_the_backend() {
    let a = Origin::start("a", Behaviour::Hang);
    let s = Origin::start("standby", Behaviour::Hang);
    let p = Proxy::start(&short_timeouts(&two_tier(&[(&a, 1)], &[&s], "", "")));
    assert!(p.wait_ready());
    let r = request(
        p.http_addr(),
        "POST",
        "/orders",
        &[("Accept", "application/json")],
        b"x",
    )
    .unwrap();
    assert_eq!(r.status, 504);
    assert_eq!(r.json()["error"], "gateway_timeout");
    assert!(r.header("x-request-id").is_some());
    let body = r.text();
    assert!(
        !body.contains(&a.addr().port().to_string()),
        "backend address leaked: {body}"
    );
    assert_eq!(
        a.applied().len() + s.applied().len(),
        1,
        "a timed-out POST is not replayed"
    );
    let h = request(p.http_addr(), "GET", "/x", &[("Accept", "text/html")], b"").unwrap();
    assert_eq!(h.status, 504);
    assert!(h.header("content-type").unwrap().starts_with("text/html"));
}

#[test]
fn a_timed_out_get_is_retried_on_the_standby() {
    let a = Origin::start("a", Behaviour::Hang);
    let s = Origin::start("standby", Behaviour::Normal);
    let p = Proxy::start(&short_timeouts(&two_tier(&[(&a, 1)], &[&s], "", "")));
    assert!(p.wait_ready());
    let r = request(p.http_addr(), "GET", "/x", &[], b"").unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-origin"), Some("standby"));
}

#[test]
fn garbage_and_resets_are_502_for_writes_and_retried_for_reads() {
    for behaviour in [Behaviour::Garbage, Behaviour::ResetMidResponse] {
        let (a, s, p) = support::two_origins(behaviour.clone(), Behaviour::Normal, "", &[]);
        let r = request(
            p.http_addr(),
            "POST",
            "/orders",
            &[("Accept", "application/json")],
            b"o-1",
        );
        match (&behaviour, r) {
            (_, Ok(r)) if r.status == 502 => assert_eq!(r.json()["error"], "bad_gateway"),
            // A reset after the response head was forwarded can only cut the answer short.
            (Behaviour::ResetMidResponse, Err(e)) => assert!(e.contains("body"), "{e}"),
            (b, other) => panic!("{b:?}: {other:?}"),
        }
        assert_eq!(a.applied(), vec!["o-1".to_string()], "{behaviour:?}");
        assert!(
            s.applied().is_empty(),
            "{behaviour:?}: the POST was replayed"
        );
        if matches!(behaviour, Behaviour::Garbage) {
            // Nothing was forwarded yet, so a GET is retried on the standby.
            let g = request(p.http_addr(), "GET", "/y", &[], b"").unwrap();
            assert_eq!(g.status, 200);
            assert_eq!(g.header("x-origin"), Some("standby"));
        }
    }
}

#[test]
fn a_502_says_connection_close_so_the_next_request_is_not_lost() {
    let (_a, _s, p) = support::two_origins(Behaviour::Garbage, Behaviour::Garbage, "", &[]);
    let raw = support::send_raw_timeout(
        p.http_addr(),
        b"POST /orders HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx",
        Duration::from_secs(3),
    );
    let text = raw.text().to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 502"), "{text}");
    assert!(
        text.contains("connection: close"),
        "a keep-alive 502 on a connection about to close: {text}"
    );
}
