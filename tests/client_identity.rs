//! Who the client is behind a load balancer: `X-Forwarded-For` believed only from
//! `[clients] trusted_proxies` (the right-most untrusted hop is the client; from anyone else
//! the header is replaced), and PROXY protocol v1/v2 listeners, from a real sender (HAProxy)
//! and by hand.

pub mod support;

use std::net::SocketAddr;
use std::time::Duration;
use support::proxy::{free_addr, scratch_dir};
use support::tls_origin::TestCa;
use support::tools::{require, HAPROXY};
use support::{request, send_raw_timeout, wait_until};

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

/// A proxy with a plain listener `{HTTP}`, plus a plain and a TLS listener that require PROXY
/// protocol; returns (origin, proxy, plain PROXY listener, TLS PROXY listener).
fn with_proxy_protocol() -> (
    support::Origin,
    support::Origin,
    support::Proxy,
    SocketAddr,
    SocketAddr,
) {
    let dir = scratch_dir("pp");
    let ca = TestCa::new(&dir, "pp");
    let leaf = ca.leaf("listener", &["localhost"], false);
    let (pp, pps) = (free_addr(), free_addr());
    let a = support::Origin::start("a", support::Behaviour::Normal);
    let s = support::Origin::start("standby", support::Behaviour::Normal);
    let cfg = support::conf::two_tier(&[(&a, 1)], &[&s], "", "");
    let listeners = format!(
        "http = [\"{{HTTP}}\", {{ addr = \"{pp}\", proxy_protocol = true }}]\n\
         https = [{{ addr = \"{pps}\", cert = \"{}\", key = \"{}\", proxy_protocol = true }}]",
        leaf.cert.display(),
        leaf.key.display()
    );
    let cfg = cfg.replace("http = [\"{HTTP}\"]", &listeners);
    let p = support::Proxy::start(&cfg);
    assert!(p.wait_ready());
    (a, s, p, pp, pps)
}

fn v2_header(src: [u8; 4], port: u16) -> Vec<u8> {
    let mut h = b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c".to_vec();
    h.extend_from_slice(&src);
    h.extend_from_slice(&[127, 0, 0, 1]);
    h.extend_from_slice(&port.to_be_bytes());
    h.extend_from_slice(&8080u16.to_be_bytes());
    h
}

#[test]
fn proxy_protocol_listeners_take_the_client_from_the_header() {
    let (a, _s, p, pp, _pps) = with_proxy_protocol();
    let get = |path: &str| format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let v1 = format!(
        "PROXY TCP4 198.51.100.4 127.0.0.1 51234 8080\r\n{}",
        get("/v1")
    );
    let r = send_raw_timeout(pp, v1.as_bytes(), Duration::from_secs(3));
    assert_eq!(r.status(), Some(200), "{}", r.text());
    assert_eq!(xff_seen(&a), "198.51.100.4");
    let mut v2 = v2_header([203, 0, 113, 7], 40000);
    v2.extend_from_slice(get("/v2").as_bytes());
    let r = send_raw_timeout(pp, &v2, Duration::from_secs(3));
    assert_eq!(r.status(), Some(200), "{}", r.text());
    assert_eq!(xff_seen(&a), "203.0.113.7");
    // No header, or a malformed one: that connection is closed unanswered, nothing proxied.
    let before = a.hits();
    for bad in [
        get("/none"),
        format!("PROXY TCP4 nonsense\r\n{}", get("/bad")),
    ] {
        let r = send_raw_timeout(pp, bad.as_bytes(), Duration::from_secs(3));
        assert!(r.status().is_none() && r.closed, "answered: {}", r.text());
    }
    assert_eq!(
        a.hits(),
        before,
        "a request without a valid header was proxied"
    );
    // Everyone else is still served, on both kinds of listener.
    assert_eq!(get_ok(p.http_addr()), 200);
    let logged = wait_until(Duration::from_secs(2), || {
        let log = p.stderr_text();
        log.contains("client=198.51.100.4")
            && log.contains("PROXY protocol header missing or malformed")
    });
    assert!(logged, "{}", p.stderr_text());
}

fn get_ok(addr: SocketAddr) -> u16 {
    support::get(addr, "/ok").map(|r| r.status).unwrap_or(0)
}

#[test]
fn haproxy_sends_proxy_protocol_v2_to_plain_and_tls_listeners() {
    let Some(haproxy) = require(HAPROXY) else {
        return;
    };
    let (a, _s, _p, pp, pps) = with_proxy_protocol();
    let dir = scratch_dir("haproxy-pp");
    let (front, front_tls) = (free_addr(), free_addr());
    let cfg = format!(
        "global\n  maxconn 200\ndefaults\n  mode http\n  timeout connect 2s\n  timeout client 5s\n  \
         timeout server 5s\nfrontend plain\n  bind {front}\n  default_backend fb\n\
         frontend tls\n  bind {front_tls}\n  default_backend fbs\n\
         backend fb\n  server fb {pp} send-proxy-v2\n\
         backend fbs\n  server fbs {pps} send-proxy-v2 ssl verify none sni str(localhost)\n"
    );
    let file = dir.join("haproxy.cfg");
    std::fs::write(&file, cfg).unwrap();
    let mut child = std::process::Command::new(haproxy)
        .args(["-db", "-f"])
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("cannot start haproxy");
    let up = wait_until(Duration::from_secs(5), || {
        get_ok(front) == 200 && get_ok(front_tls) == 200
    });
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    assert!(
        up,
        "haproxy -> firebreak failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(xff_seen(&a), "127.0.0.1");
}
