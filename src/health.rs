//! Active HTTP health checks, run in the background for every pool with a `health` table.
//!
//! Every 50 ms the checker looks at the current snapshot and starts a probe for each backend
//! whose next check is due (one probe per backend at a time; intervals get ±10 % jitter so
//! probes of many backends do not fire in lockstep). A probe is a plain `GET <path>` over a new
//! connection within `timeout`; a 2xx or 3xx status passes. Results go to the backend's
//! [`HealthState`](crate::pool::HealthState); a flip wakes the planner at once, so a failed
//! backend loses its traffic within one interval of its `fall`-th failed probe.

use crate::app::App;
use crate::clock::{now_ns, ns};
use crate::config::HealthConf;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SCAN_EVERY: Duration = Duration::from_millis(50);

/// Runs one probe: true when the backend answered 2xx/3xx within the timeout.
pub async fn probe(addr: SocketAddr, conf: &HealthConf) -> bool {
    tokio::time::timeout(conf.timeout, probe_inner(addr, &conf.path))
        .await
        .unwrap_or(false)
}

async fn probe_inner(addr: SocketAddr, path: &str) -> bool {
    let Ok(mut s) = TcpStream::connect(addr).await else {
        return false;
    };
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: firebreak-health\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).await.is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    let mut n = 0;
    while n < 12 {
        match s.read(&mut buf[n..]).await {
            Ok(0) | Err(_) => return false,
            Ok(k) => n += k,
        }
    }
    status_passes(&buf[..n])
}

/// Parses "HTTP/1.x NNN" and accepts 2xx and 3xx.
fn status_passes(head: &[u8]) -> bool {
    head.starts_with(b"HTTP/1.")
        && head.len() >= 12
        && head[8] == b' '
        && matches!(head[9], b'2' | b'3')
        && head[10].is_ascii_digit()
        && head[11].is_ascii_digit()
}

struct Slot {
    next_ns: u64,
    busy: Arc<AtomicBool>,
}

/// One probe of every checked backend, all at once, before the proxy starts serving: a new
/// process (a start, or an `--upgrade` taking the sockets over from a running one) then
/// begins with the backends that answer marked up, instead of answering "no tier can
/// serve" until the checker's first round. Takes at most one probe timeout.
pub async fn first_round(app: &App) {
    let snap = app.store.load();
    let probes = snap.pools.iter().flat_map(|pool| {
        let conf = pool.conf.health.clone();
        pool.backends
            .iter()
            .filter_map(move |b| conf.clone().map(|c| (b.clone(), c)))
    });
    let probes: Vec<_> = probes
        .map(|(b, conf)| {
            tokio::spawn(async move {
                let ok = probe(b.addr, &conf).await;
                b.health.record_probe(ok, conf.rise, conf.fall, now_ns());
            })
        })
        .collect();
    for p in probes {
        let _ = p.await;
    }
    app.plan_tick(false);
}

/// The checker loop; returns when `shutdown` flips.
pub async fn run(app: Arc<App>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut slots: HashMap<(String, SocketAddr), Slot> = HashMap::new();
    loop {
        let snap = app.store.load();
        let now = now_ns();
        let mut live = HashSet::new();
        for pool in &snap.pools {
            let Some(conf) = pool.conf.health.clone() else {
                continue;
            };
            for b in &pool.backends {
                let key = (pool.name().to_string(), b.addr);
                live.insert(key.clone());
                let slot = slots.entry(key).or_insert_with(|| Slot {
                    next_ns: now,
                    busy: Arc::default(),
                });
                if now < slot.next_ns || slot.busy.swap(true, Relaxed) {
                    continue;
                }
                let jitter = 0.9 + fastrand::f64() * 0.2;
                slot.next_ns = now + (ns(conf.interval) as f64 * jitter) as u64;
                let (app, b, conf, busy) =
                    (app.clone(), b.clone(), conf.clone(), slot.busy.clone());
                tokio::spawn(async move {
                    let ok = probe(b.addr, &conf).await;
                    if b.health.record_probe(ok, conf.rise, conf.fall, now_ns()) {
                        tracing::info!(backend = %b.label, up = ok, "health changed");
                        app.replan.notify_one();
                    }
                    busy.store(false, Relaxed);
                });
            }
        }
        slots.retain(|k, _| live.contains(k));
        tokio::select! {
            _ = tokio::time::sleep(SCAN_EVERY) => {}
            _ = shutdown.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert!(status_passes(b"HTTP/1.1 200 OK\r\n"));
        assert!(status_passes(b"HTTP/1.0 302 Found"));
        assert!(!status_passes(b"HTTP/1.1 503 Busy"));
        assert!(!status_passes(b"HTTP/1.1 2"));
        assert!(!status_passes(b"garbage garbage"));
        assert!(!status_passes(b""));
    }
}
