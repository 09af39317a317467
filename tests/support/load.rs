//! Load generators for tests.
//!
//! * [`open_loop`]: requests start on a fixed schedule whatever the answers do (as real users
//!   keep arriving), each on its own connection, and every outcome is recorded with its
//!   latency. Runs on the harness's tokio runtime.
//! * [`ClosedLoop`]: worker threads each send one request after another while something else
//!   happens (a reload, an upgrade, a failover), keeping what each one got. [`Steady`] (GETs
//!   that must answer 200) and [`writers`] (POSTs with unique ids) are built on it.
//! * [`sequential_gets`]: one client's GETs, one after another, timed against a fault.

use super::client::{self, Resp};
use super::origin::runtime;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
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
    let l: Vec<Duration> = out.iter().filter(|o| pred(o)).map(|o| o.latency).collect();
    latency_quantile(&l, q)
}

/// The `q` quantile (0..=1) of `latencies`: the one at index `len x q` once sorted (the
/// largest for `q` = 1); zero when empty.
pub fn latency_quantile(latencies: &[Duration], q: f64) -> Duration {
    let mut l = latencies.to_vec();
    l.sort_unstable();
    l.get(((l.len() as f64 * q) as usize).min(l.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

/// Closed-loop traffic: `workers` threads, each calling `job(worker, i)` (i from 1) one
/// after another until [`ClosedLoop::finish`], keeping every result.
pub struct ClosedLoop<T> {
    stop: Arc<AtomicBool>,
    results: Arc<Mutex<Vec<T>>>,
    threads: Vec<JoinHandle<()>>,
}

impl<T: Send + 'static> ClosedLoop<T> {
    pub fn start(workers: usize, job: impl Fn(usize, u64) -> T + Send + Sync + 'static) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let results = Arc::new(Mutex::new(Vec::new()));
        let job = Arc::new(job);
        let threads = (0..workers)
            .map(|w| {
                let (stop, results, job) = (stop.clone(), results.clone(), job.clone());
                std::thread::spawn(move || {
                    let mut i = 0;
                    while !stop.load(SeqCst) {
                        i += 1;
                        let result = job(w, i);
                        results.lock().unwrap().push(result);
                    }
                })
            })
            .collect();
        ClosedLoop {
            stop,
            results,
            threads,
        }
    }

    /// How many results so far satisfy `pred`.
    pub fn count(&self, pred: impl Fn(&T) -> bool) -> usize {
        self.results
            .lock()
            .unwrap()
            .iter()
            .filter(|r| pred(r))
            .count()
    }

    /// Stops the workers, waits for them, and returns every result.
    pub fn finish(mut self) -> Vec<T> {
        self.stop.store(true, SeqCst);
        for t in self.threads.drain(..) {
            t.join().unwrap();
        }
        std::mem::take(&mut *self.results.lock().unwrap())
    }
}

impl<T> Drop for ClosedLoop<T> {
    /// A test that fails before `finish` still stops its workers.
    fn drop(&mut self) {
        self.stop.store(true, SeqCst);
    }
}

/// Closed-loop GETs (each on its own connection) that should all answer 200; the others are
/// logged and counted.
pub struct Steady(ClosedLoop<bool>);

impl Steady {
    /// `path(worker, i)` names the `i`-th request (from 1) of each worker.
    pub fn start(addr: SocketAddr, workers: usize, path: fn(usize, u64) -> String) -> Steady {
        Steady(ClosedLoop::start(workers, move |w, i| {
            let p = path(w, i);
            match client::get(addr, &p) {
                Ok(r) if r.status == 200 => true,
                other => {
                    eprintln!("failed: {p}: {other:?}");
                    false
                }
            }
        }))
    }

    /// Requests answered 200 so far.
    pub fn ok(&self) -> u64 {
        self.0.count(|ok| *ok) as u64
    }

    /// Stops the workers and waits for them: (answered 200, failed).
    pub fn finish(self) -> (u64, u64) {
        let all = self.0.finish();
        let ok = all.iter().filter(|ok| **ok).count() as u64;
        (ok, all.len() as u64 - ok)
    }
}

/// One write of [`writers`].
#[derive(Clone, Debug)]
pub struct Posted {
    /// The unique id, sent as the whole body.
    pub id: String,
    pub status: Result<u16, String>,
    pub started: Instant,
    pub took: Duration,
}

/// `clients` threads POSTing one write after another (each on its own connection, allowed
/// 10 s), with `pause` between two writes of a client. Write `i` (from 1) of client `c` has
/// the body `id(c, i)` and goes to `path(i)`.
pub fn writers(
    addr: SocketAddr,
    clients: usize,
    pause: Duration,
    id: fn(usize, u64) -> String,
    path: fn(u64) -> &'static str,
) -> ClosedLoop<Posted> {
    ClosedLoop::start(clients, move |c, i| {
        let id = id(c, i);
        let started = Instant::now();
        let hdr = [("Content-Type", "text/plain")];
        let timeout = Duration::from_secs(10);
        let r = client::request_timeout(addr, "POST", path(i), &hdr, id.as_bytes(), timeout);
        let took = started.elapsed();
        std::thread::sleep(pause);
        Posted {
            id,
            status: r.map(|r| r.status),
            started,
            took,
        }
    })
}

/// One GET of [`sequential_gets`].
pub struct Sample {
    /// When it started, since `t0`.
    pub at: Duration,
    pub latency: Duration,
    pub answer: Result<Resp, String>,
}

/// One client's GETs of `/orders/N` with `Accept: application/json`, one after another, until
/// `run` has passed since `t0`; `after_each` runs after every one. Each may take 9 s, far past
/// any configured timeout: a hang shows up as an `Err`, not a stuck test.
pub fn sequential_gets(
    addr: SocketAddr,
    t0: Instant,
    run: Duration,
    mut after_each: impl FnMut(),
) -> Vec<Sample> {
    let json = [("Accept", "application/json")];
    let mut samples = Vec::new();
    while t0.elapsed() < run {
        let at = t0.elapsed();
        let path = format!("/orders/{}", samples.len());
        let timeout = Duration::from_secs(9);
        let answer = client::request_timeout(addr, "GET", &path, &json, b"", timeout);
        samples.push(Sample {
            at,
            latency: t0.elapsed() - at,
            answer,
        });
        after_each();
    }
    samples
}
