//! Who the client is behind a load balancer: `X-Forwarded-For` believed only from
//! `[clients] trusted_proxies` (the right-most untrusted hop is the client; from anyone else
//! the header is replaced), and PROXY protocol v1/v2 listeners, from a real sender (HAProxy)
//! and by hand.

pub mod support;

use std::time::Duration;
use support::{request, wait_until};

fn xff_seen(a: &support::Origin) -> String {
    a.seen_header("x-forwarded-for").unwrap_or_default()
}

#[test]
fn forwarded_for_is_believed_only_from_trusted_proxies() {
    // Untrusted (no [clients]): whatever the client sends is replaced by its address.
    let (a, _s, p) = support::primary_and_standby("", &[]);
    let spoof = [
        ("X-Forwarded-For", "6.6.6.6"),
        ("X-Forwarded-For", "7.7.7.7"),
    ];
    assert_eq!(
        request(p.http_addr(), "GET", "/spoof", &spoof, b"")
            .unwrap()
            .status,
        200
    );
    assert_eq!(xff_seen(&a), "127.0.0.1");
    // Trusted loopback (a load balancer on this host): the list is extended, and the client is
    // the right-most hop that is not itself trusted.
    let tail = "[clients]\ntrusted_proxies = [\"127.0.0.0/8\", \"10.0.0.0/8\"]\n";
    let (a, _s, p) = support::primary_and_standby(tail, &[]);
    let hops = [
        ("X-Forwarded-For", "6.6.6.6, 198.51.100.4"),
        ("X-Forwarded-For", "10.1.1.1"),
    ];
    assert_eq!(
        request(p.http_addr(), "GET", "/via-lb", &hops, b"")
            .unwrap()
            .status,
        200
    );
    assert_eq!(xff_seen(&a), "6.6.6.6, 198.51.100.4, 10.1.1.1, 127.0.0.1");
    let logged = wait_until(Duration::from_secs(2), || {
        p.stderr_text()
            .lines()
            .any(|l| l.contains("/via-lb") && l.contains("client=198.51.100.4"))
    });
    assert!(
        logged,
        "the access log does not name the client: {}",
        p.stderr_text()
    );
}
