//! Refusals no proxy hook sees: a head Pingora's parser refuses and a head that takes too long
//! are answered in firebreak's own form, counted in `/metrics` and logged (rate-limited).

pub mod support;

use std::time::Duration;
use support::{send_raw_timeout, wait_until};

/// `firebreak_requests_total{route="-",pool="none",code=CODE}` as scraped.
fn unparsed(p: &support::Proxy, code: u16) -> u64 {
    let text = p.admin_get("/metrics").unwrap().text();
    let series = format!("firebreak_requests_total{{code=\"{code}\",pool=\"none\",route=\"-\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(series.as_str()))
        .map_or(0, |v| v.trim().parse().unwrap())
}

#[test]
fn parser_refusals_and_slow_heads_are_answered_counted_and_logged() {
    let (a, s, p) =
        support::primary_and_standby("[limits]\nheader_read_timeout = \"500ms\"\n", &[]);
    let huge_uri = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "u".repeat(1 << 20));
    let cases: [(&str, Vec<u8>); 3] = [
        (
            "NUL in a header",
            b"GET / HTTP/1.1\r\nHost: t\r\nX-A: a\x00b\r\n\r\n".to_vec(),
        ),
        (
            "space in a header name",
            b"GET / HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n".to_vec(),
        ),
        ("URI over Pingora's 1 MiB head", huge_uri.into_bytes()),
    ];
    for (name, bytes) in &cases {
        let r = send_raw_timeout(p.http_addr(), bytes, Duration::from_secs(3));
        let text = r.text();
        assert!(
            text.starts_with("HTTP/1.1 400 "),
            "{name}: {:?}",
            text.lines().next()
        );
        let resp = r.resp().unwrap();
        assert_eq!(resp.header("server"), None, "{name}: Pingora's own answer");
        assert!(
            resp.header("x-request-id").is_some(),
            "{name}: no request id"
        );
        assert_eq!(
            resp.json()["error"],
            "bad_request",
            "{name}: {}",
            resp.text()
        );
    }
    // A head that stops half-way: the 408 is counted too.
    let r = send_raw_timeout(
        p.http_addr(),
        b"GET / HTTP/1.1\r\nHo",
        Duration::from_secs(3),
    );
    assert!(r.text().starts_with("HTTP/1.1 408 "), "{:?}", r.text());
    assert_eq!(unparsed(&p, 400), cases.len() as u64);
    assert_eq!(unparsed(&p, 408), 1);
    assert_eq!(a.heads() + s.heads(), 0);
    // Logged on the access target, at most a line a second: the four came within one.
    assert!(
        wait_until(Duration::from_secs(2), || p
            .stderr_text()
            .contains("request head refused before it was parsed")),
        "no log line: {}",
        p.stderr_text()
    );
    // Pingora's own ERROR line per such connection is not repeated on top of ours.
    assert!(
        !p.stderr_text().contains("downstream session type"),
        "{}",
        p.stderr_text()
    );
}
