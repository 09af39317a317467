//! Request bodies are read before a backend is involved: slow uploads cannot hold a weak
//! standby's workers, malformed bodies never reach a backend's head, and bodies larger than
//! the buffer still arrive whole.

pub mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::load::{latency_quantile, ClosedLoop};
use support::{request, send_raw_timeout, Behaviour, Origin};

const TWO_WORKERS: Behaviour = Behaviour::Capacity {
    workers: 2,
    service: Duration::from_millis(10),
};

#[test]
fn malformed_bodies_answer_400_and_no_backend_sees_their_head() {
    let (a, s, p) = support::primary_and_standby("", &[]);
    let chunked = "POST /orders HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
    let cases: &[(&str, String)] = &[
        (
            "0x chunk size",
            format!("{chunked}0x5\r\nhello\r\n0\r\n\r\n"),
        ),
        (
            "chunk size over 2^64",
            format!("{chunked}10000000000000000\r\nx\r\n0\r\n\r\n"),
        ),
        ("LF-only chunk lines", format!("{chunked}5\nhello\n0\n\n")),
        (
            "chunk longer than its size",
            format!("{chunked}2\r\nhello\r\n0\r\n\r\n"),
        ),
        ("no hex at all", format!("{chunked}zz\r\nabc\r\n0\r\n\r\n")),
    ];
    for (name, bytes) in cases {
        let r = send_raw_timeout(p.http_addr(), bytes.as_bytes(), Duration::from_secs(3));
        assert!(
            r.status() == Some(400) || (r.status().is_none() && r.closed),
            "{name}: got {:?}",
            r.text().lines().next()
        );
        if let Some(ct) = r
            .resp()
            .ok()
            .and_then(|r| r.header("content-type").map(String::from))
        {
            assert!(
                ct.starts_with("application/json"),
                "{name}: firebreak's own answer: {ct}"
            );
        }
    }
    // A body cut short by the client: the head alone must not reach a backend either.
    let mut c = TcpStream::connect(p.http_addr()).unwrap();
    c.write_all(b"POST /orders HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nhalf")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    drop(c);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(a.heads() + s.heads(), 0, "a request head reached a backend");
    // A client gone mid-body is not a backend failure: no 502, no error line.
    let metrics = p.admin_get("/metrics").unwrap().text();
    assert!(!metrics.contains("code=\"502\""), "counted as a 502");
    assert!(
        !p.stderr_text().contains("Fail to filter request"),
        "{}",
        p.stderr_text()
    );
    assert_eq!(
        request(p.http_addr(), "POST", "/orders", &[], b"ok")
            .unwrap()
            .status,
        200
    );
    assert_eq!(a.applied(), vec!["ok".to_string()]);
}

#[test]
fn slow_bodies_get_408_and_never_hold_a_two_worker_backend() {
    let a = Origin::start("a", TWO_WORKERS);
    let s = Origin::start("standby", Behaviour::Normal);
    let tail = "[limits]\nbody_read_timeout = \"1s\"\n";
    let p = support::Proxy::start(&support::conf::two_tier(&[(&a, 1)], &[&s], "", tail));
    assert!(p.wait_ready());
    let addr = p.http_addr();
    // 40 clients each declare 4 KiB and send a byte every 100 ms (slowhttptest -B in small).
    let stop = Arc::new(AtomicBool::new(false));
    let slow: Vec<_> = (0..40)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut c = TcpStream::connect(addr).unwrap();
                c.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
                let head = "POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 4096\r\n\r\n";
                c.write_all(head.as_bytes()).unwrap();
                let mut answer = Vec::new();
                let t = Instant::now();
                while !stop.load(Ordering::SeqCst) && t.elapsed() < Duration::from_secs(5) {
                    if c.write_all(b"x").is_err() {
                        break;
                    }
                    let mut buf = [0u8; 4096];
                    match c.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => answer.extend_from_slice(&buf[..n]),
                        Err(_) => {}
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                (String::from_utf8_lossy(&answer).into_owned(), t.elapsed())
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    // Real users meanwhile, on the same two workers.
    let users = ClosedLoop::start(4, move |w, i| {
        let t = Instant::now();
        let status = match i % 2 {
            0 => support::get(addr, &format!("/user/{w}/{i}")).map(|r| r.status),
            _ => request(addr, "POST", "/orders", &[], b"{\"n\":1}").map(|r| r.status),
        };
        (status.ok(), t.elapsed())
    });
    std::thread::sleep(Duration::from_millis(1500));
    let served = users.finish();
    stop.store(true, Ordering::SeqCst);
    let answers: Vec<_> = slow.into_iter().map(|h| h.join().unwrap()).collect();
    let latencies: Vec<Duration> = served.iter().map(|(_, d)| *d).collect();
    let failed = served.iter().filter(|(s, _)| *s != Some(200)).count();
    eprintln!(
        "real users: {} requests, {failed} failed, p50 {:?}, p99 {:?}",
        served.len(),
        latency_quantile(&latencies, 0.5),
        latency_quantile(&latencies, 0.99)
    );
    assert_eq!(failed, 0, "real users were refused or failed");
    assert!(
        a.requests().iter().all(|r| !r.contains("/slow")) && a.heads() as usize == served.len(),
        "a slow body's head reached the backend ({} heads for {} user requests)",
        a.heads(),
        served.len()
    );
    for (text, took) in &answers {
        assert!(text.starts_with("HTTP/1.1 408"), "slow client got {text:?}");
        assert!(*took < Duration::from_secs(3), "cut after {took:?}");
    }
}

/// Sends a chunked POST of `pieces` chunks of `size` bytes (a pause every 10 when `trickle`)
/// and returns the answer and the body sent.
fn post_chunked(
    addr: std::net::SocketAddr,
    pieces: usize,
    size: usize,
    trickle: bool,
) -> (String, String) {
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut wire = b"POST /chunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    let mut sent = String::new();
    for i in 0..pieces {
        let piece = ((b'a' + (i % 26) as u8) as char).to_string().repeat(size);
        wire.extend_from_slice(format!("{size:x}\r\n{piece}\r\n").as_bytes());
        sent.push_str(&piece);
        if trickle && i % 10 == 0 {
            c.write_all(&wire).unwrap();
            wire.clear();
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    wire.extend_from_slice(b"0\r\n\r\n");
    c.write_all(&wire).unwrap();
    let mut answer = String::new();
    let _ = c.read_to_string(&mut answer);
    (answer, sent)
}

#[test]
fn bodies_past_the_buffer_stream_and_arrive_whole() {
    // 4 KiB: what was read ahead stays in Pingora's replay buffer and goes first. Default
    // (64 KiB): the read that crosses it leaves Pingora nothing, and firebreak's own copy goes
    // first.
    for tail in ["[limits]\nrequest_buffer_bytes = \"4KiB\"\n", ""] {
        let (a, _s, p) = support::primary_and_standby(tail, &[]);
        let big = "d".repeat(200 << 10);
        let r = request(p.http_addr(), "POST", "/big", &[], big.as_bytes()).unwrap();
        assert_eq!(r.status, 200, "{tail}");
        // 1000-byte chunks: no read ends exactly on the 64 KiB line.
        let (answer, sent) = post_chunked(p.http_addr(), 100, 1000, true);
        assert!(answer.starts_with("HTTP/1.1 200"), "{tail}: {answer:?}");
        let applied = a.applied();
        assert_eq!(
            applied.len(),
            2,
            "{tail}: bodies applied: {}",
            applied.len()
        );
        assert!(
            applied[0] == big,
            "{tail}: the declared body arrived changed"
        );
        assert!(
            applied[1] == sent,
            "{tail}: the chunked body arrived changed ({} of {} bytes)",
            applied[1].len(),
            sent.len()
        );
    }
}

#[test]
fn a_chunked_body_ending_past_the_replay_buffer_is_whole_or_refused_with_411() {
    let (a, _s, p) = support::primary_and_standby("", &[]);
    for _ in 0..5 {
        a.reset_counts();
        let (answer, sent) = post_chunked(p.http_addr(), 70, 1000, false);
        match answer.get(..12) {
            Some("HTTP/1.1 200") => assert_eq!(a.applied(), vec![sent]),
            Some("HTTP/1.1 411") => assert!(a.heads() == 0, "411, but the backend saw the head"),
            _ => panic!("{answer:?}"),
        }
        eprintln!(
            "70 KB chunked in one write: {}",
            &answer[..12.min(answer.len())]
        );
    }
}

#[test]
fn expect_100_continue_is_answered_and_the_connection_stays_open() {
    let (a, _s, p) = support::primary_and_standby("", &[]);
    let mut c = TcpStream::connect(p.http_addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    c.write_all(
        b"POST /orders HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        assert_eq!(c.read(&mut byte).unwrap(), 1);
        got.push(byte[0]);
    }
    assert!(
        got.starts_with(b"HTTP/1.1 100"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    c.write_all(b"hello").unwrap();
    c.write_all(b"GET /second HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut rest = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline && rest.windows(12).filter(|w| w == b"HTTP/1.1 200").count() < 2
    {
        match c.read(&mut byte) {
            Ok(1) => rest.push(byte[0]),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&rest);
    assert_eq!(text.matches("HTTP/1.1 200").count(), 2, "{text:?}");
    assert!(
        !text.contains("HTTP/1.1 100"),
        "a second 100 Continue: {text:?}"
    );
    assert_eq!(a.applied(), vec!["hello".to_string()]);
    assert!(
        a.seen_header("expect").is_none(),
        "Expect went upstream after it was answered"
    );
}

#[test]
fn an_http2_body_that_contradicts_its_content_length_never_reaches_a_backend() {
    use support::tools::{require, H2, OPENSSL};
    let (Some(python), Some(openssl)) = (require(H2), require(OPENSSL)) else {
        return;
    };
    let t = support::tls::Https::start(&openssl, "h2body");
    let out = std::process::Command::new(python)
        .arg(support::support_file("h2body.py"))
        .args([t.addr.ip().to_string(), t.addr.port().to_string()])
        .output()
        .expect("cannot run h2body.py");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    eprintln!("HTTP/2 bodies: {got}");
    for case in ["longer", "shorter"] {
        let answer = got[case].as_str().unwrap();
        assert!(
            ["400", "reset", "closed"].contains(&answer),
            "{case}: {answer}"
        );
    }
    assert_eq!(got["exact"], "200");
    assert_eq!(t.a.applied(), vec!["x".repeat(10)]);
    assert_eq!(
        t.a.heads() + t.standby.heads(),
        1,
        "a contradicted body's head reached a backend"
    );
}
