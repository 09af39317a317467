//! Slowloris (issue 6, item 4): connections that trickle their request head must not slow real
//! users, and must be cut off by `[limits] header_read_timeout` (2 s here) with a 408 or a close.
//!
//! The first test is our own attacker: 300 connections kept open at all times (each reconnects
//! when cut off), each sending one more header line every 300 ms and never the blank line. The
//! second runs Debian's `slowhttptest` (a real attacker tool) for 10 s with 300 connections.
//! Both measure the p99 latency of normal requests (open loop, 50/s) before and during the attack
//! and require it to stay within 2x (with a 50 ms floor against noise on tiny values).

pub mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::load::{open_loop, quantile, Outcome};
use support::origin::runtime;
use support::proxy::scratch_dir;
use support::tools::{loud, require, SLOWHTTPTEST};
use support::{wait_until, Origin, Proxy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(2);
/// How late after the deadline a slow connection may still be open (timer granularity, load).
const CUT_SLACK: Duration = Duration::from_millis(1000);
const P99_FLOOR: Duration = Duration::from_millis(50);

/// The tests of this file measure latency: one at a time, not beside each other.
static SERIAL: Mutex<()> = Mutex::new(());

fn setup() -> (Origin, Origin, Proxy) {
    support::primary_and_standby("[limits]\nheader_read_timeout = \"2s\"\n", &[])
}

/// Normal GETs, 50 a second for `secs`: (p99, statuses other than 200).
fn normal_traffic(addr: SocketAddr, secs: f64, tag: &'static str) -> (Duration, Vec<u16>) {
    let out: Vec<Outcome> = open_loop(addr, 50.0, secs, |i| {
        (tag, format!("/{tag}/{i}"), String::new())
    });
    let bad = out.iter().map(|o| o.status).filter(|s| *s != 200).collect();
    (quantile(&out, 0.99, |_| true), bad)
}

/// p99 during the attack must stay within 2x of before (both floored at 50 ms).
fn assert_p99(name: &str, before: Duration, during: Duration) {
    let bound = 2 * before.max(P99_FLOOR);
    eprintln!("{name}: p99 of normal GETs {before:?} before, {during:?} during (bound {bound:?})");
    assert!(
        during <= bound,
        "{name}: p99 went from {before:?} to {during:?} (> {bound:?})"
    );
}

/// How one slow connection ended.
#[derive(Debug)]
enum End {
    Status408,
    Eof,
    Reset,
    Other(String),
    /// Still open when the attack stopped.
    Open,
}

/// A slowloris connection, reconnecting until `stop`: (how long each lived, how it ended).
async fn trickle(addr: SocketAddr, stop: Arc<AtomicBool>, log: Arc<Mutex<Vec<(Duration, End)>>>) {
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut s) = TcpStream::connect(addr).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let t = Instant::now();
        let _ = s.write_all(b"GET /slowloris HTTP/1.1\r\nHost: t\r\n").await;
        let (mut got, mut buf, mut n) = (Vec::new(), [0u8; 512], 0);
        let end = loop {
            tokio::select! {
                r = s.read(&mut buf) => match r {
                    Ok(0) | Err(_) if got.starts_with(b"HTTP/1.1 408") => break End::Status408,
                    Ok(0) if got.is_empty() => break End::Eof,
                    Err(_) if got.is_empty() => break End::Reset,
                    Ok(0) | Err(_) => break End::Other(String::from_utf8_lossy(&got).into()),
                    Ok(k) => got.extend_from_slice(&buf[..k]),
                },
                _ = tokio::time::sleep(Duration::from_millis(300)) => {
                    if stop.load(Ordering::Relaxed) {
                        break End::Open;
                    }
                    n += 1;
                    // A write error means the proxy hung up: the read above reports it.
                    let _ = s.write_all(format!("X-Slow-{n}: x\r\n").as_bytes()).await;
                }
            }
        };
        log.lock().unwrap().push((t.elapsed(), end));
    }
}

#[test]
fn three_hundred_trickling_connections_are_cut_off_and_do_not_slow_real_users() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (a, _s, p) = setup();
    let (before, bad_before) = normal_traffic(p.http_addr(), 4.0, "before");
    assert!(bad_before.is_empty(), "before the attack: {bad_before:?}");

    let stop = Arc::new(AtomicBool::new(false));
    let log = Arc::new(Mutex::new(Vec::new()));
    let tasks: Vec<_> = (0..300)
        .map(|i| {
            let (stop, log, addr) = (stop.clone(), log.clone(), p.http_addr());
            runtime().spawn(async move {
                // Staggered over 1.5 s, so that cut-offs and reconnects never pause the attack.
                tokio::time::sleep(Duration::from_millis(5 * i)).await;
                trickle(addr, stop, log).await
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    let (during, bad_during) = normal_traffic(p.http_addr(), 5.0, "during");
    stop.store(true, Ordering::Relaxed);
    runtime().block_on(async {
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
    });

    let log = log.lock().unwrap();
    let count = |f: fn(&End) -> bool| log.iter().filter(|(_, e)| f(e)).count();
    let longest = log.iter().map(|(d, _)| *d).max().unwrap_or_default();
    let late: Vec<_> = log
        .iter()
        .filter(|(d, _)| *d > HEADER_READ_TIMEOUT + CUT_SLACK)
        .collect();
    let odd: Vec<&String> = log
        .iter()
        .filter_map(|(_, e)| match e {
            End::Other(text) => Some(text),
            _ => None,
        })
        .collect();
    eprintln!(
        "slowloris: {} slow connections: {} got 408, {} EOF, {} reset, {} still open at the end; \
         longest lived {longest:?}",
        log.len(),
        count(|e| matches!(e, End::Status408)),
        count(|e| matches!(e, End::Eof)),
        count(|e| matches!(e, End::Reset)),
        count(|e| matches!(e, End::Open))
    );
    assert!(
        bad_during.is_empty(),
        "normal GETs failed during the attack: {bad_during:?}"
    );
    assert_p99("slowloris", before, during);
    assert!(
        log.len() >= 600,
        "only {} slow connections were made",
        log.len()
    );
    assert!(
        late.is_empty(),
        "{} slow connections outlived the deadline: {late:?}",
        late.len()
    );
    assert!(
        odd.is_empty(),
        "slow connections got answers other than 408: {odd:?}"
    );
    assert!(
        a.requests().iter().all(|r| !r.contains("/slowloris")),
        "a slow head reached the backend"
    );
    assert!(p.is_running());
}

/// Parses slowhttptest's CSV: rows of (seconds, closed, pending, connected).
fn parse_csv(text: &str) -> Vec<[u64; 4]> {
    let rows = text.lines().skip(1).map(|l| {
        let v: Vec<u64> = l.split(',').filter_map(|c| c.trim().parse().ok()).collect();
        [0, 1, 2, 3].map(|i| v.get(i).copied().unwrap_or(0))
    });
    rows.collect()
}

#[test]
fn slowhttptest_for_ten_seconds_does_not_slow_real_users() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(tool) = require(SLOWHTTPTEST) else {
        return;
    };
    let (_a, _s, p) = setup();
    let (before, bad_before) = normal_traffic(p.http_addr(), 4.0, "before");
    assert!(bad_before.is_empty(), "before the attack: {bad_before:?}");

    let dir = scratch_dir("slowhttptest");
    // Slow headers (-H), 300 connections opened at 30/s over the 10 s, one more header line per
    // connection every second: about 60 are open at once, each cut off by the 2 s deadline.
    let mut child = std::process::Command::new(tool)
        .args([
            "-H", "-c", "300", "-r", "30", "-i", "1", "-l", "10", "-x", "24", "-p", "3",
        ])
        .args([
            "-t",
            "GET",
            "-u",
            &format!("http://{}/slowhttptest", p.http_addr()),
        ])
        .arg("-g")
        .arg("-o")
        .arg(dir.join("stats"))
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(dir.join("out.txt")).unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("cannot start slowhttptest");
    std::thread::sleep(Duration::from_secs(2));
    let (during, bad_during) = normal_traffic(p.http_addr(), 7.0, "during");
    let finished = wait_until(Duration::from_secs(30), || {
        child.try_wait().ok().flatten().is_some()
    });
    if !finished {
        let _ = child.kill();
        let _ = child.wait();
        panic!("slowhttptest did not finish within 30 s");
    }
    let csv = std::fs::read_to_string(dir.join("stats.csv")).unwrap_or_default();
    let rows = parse_csv(&csv);
    let max_connected = rows.iter().map(|r| r[3]).max().unwrap_or(0);
    let last = rows.last().copied().unwrap_or_default();
    eprintln!(
        "slowhttptest: {} s, {} closed by the proxy, {} still connected at the end, at most {} \
         connected at once",
        last[0], last[1], last[3], max_connected
    );
    if rows.is_empty() {
        loud("slowhttptest wrote no CSV");
        panic!(
            "no CSV from slowhttptest: {}",
            std::fs::read_to_string(dir.join("out.txt")).unwrap_or_default()
        );
    }
    assert!(
        bad_during.is_empty(),
        "normal GETs failed during the attack: {bad_during:?}"
    );
    assert_p99("slowhttptest", before, during);
    // Opened at 30/s and cut after 2 s: ~60 at once; far more means the deadline did not hold.
    assert!(
        max_connected <= 110,
        "{max_connected} slow connections were open at once: {csv}"
    );
    assert!(
        last[1] >= 200,
        "only {} slow connections were closed: {csv}",
        last[1]
    );
    assert!(p.is_running());
}
