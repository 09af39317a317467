//! Load generators for tests.
//!
//! * [`open_loop`]: requests start on a fixed schedule whatever the answers do (as real users
//!   keep arriving), each on its own connection, and every outcome is recorded with its
//!   latency. Runs on the harness's tokio runtime.
//! * [`Steady`]: worker threads send requests back to back while something else happens (a
//!   reload, an upgrade) and count what did not answer 200.

use super::origin::runtime;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One request's fate.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Index in the schedule.
    pub i: usize,
    /// The caller's label (e.g. "critical").
    pub class: &'static str,
    /// HTTP status, or 0 when the connection failed or timed out.
    pub status: u16,
    pub latency: Duration,
}

/// Fires `rps` requests per second for `secs` seconds. `make(i)` gives each request's class,
/// path and extra header lines (each ending in "\r\n").
pub fn open_loop(
    addr: SocketAddr,
    rps: f64,
    secs: f64,
    make: impl Fn(usize) -> (&'static str, String, String),
) -> Vec<Outcome> {
    let n = (rps * secs) as usize;
    let start = Instant::now();
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let (class, path, extra) = make(i);
            let at = start + Duration::from_secs_f64(i as f64 / rps);
            runtime().spawn(async move {
                tokio::time::sleep_until(at.into()).await;
                let t = Instant::now();
                let status =
                    tokio::time::timeout(Duration::from_secs(10), one(addr, &path, &extra))
                        .await
                        .unwrap_or(0);
                Outcome {
                    i,
                    class,
                    status,
                    latency: t.elapsed(),
                }
            })
        })
        .collect();
    runtime().block_on(async {
        let mut out = Vec::with_capacity(n);
        for h in handles {
            if let Ok(o) = h.await {
                out.push(o);
            }
        }
        out
    })
}

async fn one(addr: SocketAddr, path: &str, extra: &str) -> u16 {
    let Ok(mut s) = TcpStream::connect(addr).await else {
        return 0;
    };
    let req = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{extra}\r\n");
    if s.write_all(req.as_bytes()).await.is_err() {
        return 0;
    }
    let mut buf = Vec::new();
    if s.read_to_end(&mut buf).await.is_err() && buf.len() < 12 {
        return 0;
    }
    std::str::from_utf8(buf.get(9..12).unwrap_or_default())
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// Share of `class` outcomes that were 2xx within `within`.
pub fn ok_within(out: &[Outcome], class: &str, within: Duration) -> f64 {
    let of: Vec<_> = out.iter().filter(|o| o.class == class).collect();
    let good = of
        .iter()
        .filter(|o| (200..300).contains(&o.status) && o.latency <= within)
        .count();
    good as f64 / of.len().max(1) as f64
}

/// The `q` quantile of latencies of outcomes matching `pred`.
pub fn quantile(out: &[Outcome], q: f64, pred: impl Fn(&Outcome) -> bool) -> Duration {
    let mut l: Vec<Duration> = out.iter().filter(|o| pred(o)).map(|o| o.latency).collect();
    l.sort_unstable();
    l.get(((l.len() as f64 * q) as usize).min(l.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

/// Closed-loop traffic: `workers` threads, each sending one GET after another (each on its own
/// connection) until [`Steady::finish`], counting 200s and everything else.
pub struct Steady {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    threads: Vec<JoinHandle<()>>,
}

impl Steady {
    /// `path(worker, i)` names the `i`-th request (from 1) of each worker.
    pub fn start(addr: SocketAddr, workers: usize, path: fn(usize, u64) -> String) -> Steady {
        let stop = Arc::new(AtomicBool::new(false));
        let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let threads = (0..workers)
            .map(|w| {
                let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
                std::thread::spawn(move || {
                    let mut i = 0;
                    while !stop.load(SeqCst) {
                        i += 1;
                        let p = path(w, i);
                        match super::client::get(addr, &p) {
                            Ok(r) if r.status == 200 => ok.fetch_add(1, SeqCst),
                            other => {
                                eprintln!("failed: {p}: {other:?}");
                                failed.fetch_add(1, SeqCst)
                            }
                        };
                    }
                })
            })
            .collect();
        Steady {
            stop,
            ok,
            failed,
            threads,
        }
    }

    /// Requests answered 200 so far.
    pub fn ok(&self) -> u64 {
        self.ok.load(SeqCst)
    }

    /// Stops the workers and waits for them: (answered 200, failed).
    pub fn finish(mut self) -> (u64, u64) {
        self.stop.store(true, SeqCst);
        for t in self.threads.drain(..) {
            t.join().unwrap();
        }
        (self.ok.load(SeqCst), self.failed.load(SeqCst))
    }
}

impl Drop for Steady {
    /// A test that fails before `finish` still stops its workers.
    fn drop(&mut self) {
        self.stop.store(true, SeqCst);
    }
}
