//! Protocols: HTTPS listeners (rustls, HTTP/1.1 and HTTP/2 by ALPN) and WebSocket upgrades
//! passed through to the backend.

pub mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;
use support::conf::two_tier;
use support::tls::{self_signed, Https};
use support::tools::{require, CURL, OPENSSL};
use support::{wait_until, Behaviour, Origin, Proxy};

#[test]
fn https_listener_speaks_http1_and_http2() {
    let (Some(openssl), Some(curl)) = (require(OPENSSL), require(CURL)) else {
        return;
    };
    let setup = Https::start(&openssl, "tls");
    let (a, p, https) = (&setup.a, &setup.proxy, setup.addr);
    let (dir, cert, key) = (&setup.dir, &setup.cert, &setup.key);
    for (flag, version) in [("--http1.1", "HTTP/1.1"), ("--http2", "HTTP/2")] {
        let out = Command::new(&curl)
            .args(["-sk", "-i", flag, "--max-time", "5"])
            .arg(format!("https://{https}/orders/1"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.starts_with(&format!("{version} 200")),
            "{flag}: {text}"
        );
        assert!(text.to_ascii_lowercase().contains("x-request-id"), "{text}");
        assert!(text.contains("\"origin\":\"a\""), "{text}");
    }
    assert_eq!(a.seen_header("x-forwarded-proto").as_deref(), Some("https"));

    // An upload of many TLS records arrives whole and in order (the listener reads straight
    // from the socket, record by record, without Pingora's L4 read buffer).
    let body: String = (0..20_000).map(|i| format!("line-{i:05}\n")).collect();
    let upload = dir.join("upload.txt");
    std::fs::write(&upload, &body).unwrap();
    for flag in ["--http1.1", "--http2"] {
        let out = Command::new(&curl)
            .args([
                "-sk",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                flag,
                "--max-time",
                "10",
            ])
            .arg("--data-binary")
            .arg(format!("@{}", upload.display()))
            .arg(format!("https://{https}/orders"))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "200", "{flag}");
        let applied = a.applied();
        assert!(
            applied.last() == Some(&body),
            "{flag}: {} uploads, the last {} bytes",
            applied.len(),
            applied.last().map_or(0, |b| b.len())
        );
    }

    // A renewed certificate is served after a reload, without a restart.
    assert!(served_subject(https).contains("localhost"));
    self_signed(&openssl, cert, key, "renewed.example");
    p.signal("HUP");
    assert!(
        wait_until(Duration::from_secs(5), || served_subject(https)
            .contains("renewed.example")),
        "still serving: {}",
        served_subject(https)
    );
}

/// The subject of the certificate the listener presents.
fn served_subject(addr: std::net::SocketAddr) -> String {
    let sc = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl s_client -connect {addr} -servername localhost </dev/null 2>/dev/null | openssl x509 -noout -subject"
        ))
        .output()
        .unwrap();
    String::from_utf8_lossy(&sc.stdout).to_string()
}

#[test]
fn websocket_upgrades_pass_through() {
    let ws = Origin::start("ws", Behaviour::UpgradeEcho);
    let s = Origin::start("standby", Behaviour::Normal);
    let p = Proxy::start(&two_tier(&[(&ws, 1)], &[&s], "", ""));
    assert!(wait_until(Duration::from_secs(5), || {
        p.backend_health(ws.addr()).as_deref() == Some("up")
    }));
    let mut c = TcpStream::connect(p.http_addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(b"GET /live HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            c.read(&mut b).unwrap(),
            1,
            "closed before the 101: {}",
            String::from_utf8_lossy(&head)
        );
        head.push(b[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    for msg in [&b"hello"[..], b"position update 52.23N 21.01E"] {
        c.write_all(msg).unwrap();
        let mut got = vec![0u8; msg.len()];
        c.read_exact(&mut got).unwrap();
        assert_eq!(got, msg);
    }
}

/// RFC 9112 §9.3 and §9.6: a request with `Connection: close`, or an HTTP/1.0 request without
/// `keep-alive`, gets `Connection: close` and the connection is closed after the answer; a
/// plain HTTP/1.1 request keeps it open.
#[test]
fn connection_close_and_http_1_0_close_the_connection() {
    let (_a, _s, p) = support::primary_and_standby("", &[]);
    let wait = Duration::from_secs(3);
    for head in [
        "GET /c HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        "GET /c HTTP/1.0\r\nHost: t\r\n\r\n",
    ] {
        let r = support::send_raw_timeout(p.http_addr(), head.as_bytes(), wait);
        let resp = r.resp().unwrap();
        assert_eq!(resp.status, 200, "{head:?}");
        assert_eq!(
            resp.header("connection").map(str::to_ascii_lowercase),
            Some("close".into()),
            "{head:?}"
        );
        assert!(r.closed, "{head:?}: the connection stayed open");
    }
    let r = support::send_raw_timeout(
        p.http_addr(),
        b"GET /k HTTP/1.1\r\nHost: t\r\n\r\n",
        Duration::from_millis(1500),
    );
    assert_eq!(r.resp().unwrap().status, 200);
    assert!(!r.closed, "a keep-alive connection was closed");
}

/// Pipelined requests (RFC 9112 §9.3.2) sent in one segment are each answered once, in order,
/// including one that follows a request body. firebreak reads plain-HTTP sockets without an
/// L4 read buffer, so the bytes past each head must be kept for the next request.
#[test]
fn pipelined_requests_are_answered_once_each_in_order() {
    let (_a, _s, p) = support::primary_and_standby("", &[]);
    let requests = "GET /p1 HTTP/1.1\r\nHost: t\r\n\r\n\
                    POST /p2 HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello\
                    GET /p3 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    let r = support::send_raw_timeout(p.http_addr(), requests.as_bytes(), Duration::from_secs(5));
    let paths: Vec<String> = r
        .resps()
        .iter()
        .map(|resp| {
            assert_eq!(resp.status, 200, "{}", r.text());
            let v: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
            v["path"].as_str().unwrap_or("").to_string()
        })
        .collect();
    assert_eq!(paths, ["/p1", "/p2", "/p3"], "{}", r.text());
    assert!(r.closed, "the last request asked to close");
}

/// A smuggling-shaped request (Content-Length with Transfer-Encoding) behind a good one on a
/// pipelined connection is refused like a first request would be, the connection is closed,
/// and nothing after it reaches a backend.
#[test]
fn a_bad_pipelined_request_is_refused_and_ends_the_connection() {
    let (a, s, p) = support::primary_and_standby("", &[]);
    let before = a.hits() + s.hits();
    let requests = "GET /ok HTTP/1.1\r\nHost: t\r\n\r\n\
                    POST /smuggle HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n\
                    GET /after HTTP/1.1\r\nHost: t\r\n\r\n";
    let r = support::send_raw_timeout(p.http_addr(), requests.as_bytes(), Duration::from_secs(5));
    let statuses: Vec<u16> = r.resps().iter().map(|x| x.status).collect();
    assert_eq!(statuses, [200, 400], "{}", r.text());
    assert!(
        r.closed,
        "the connection stayed open after a refused request"
    );
    assert_eq!(
        a.hits() + s.hits(),
        before + 1,
        "only the first request may reach a backend"
    );
}
