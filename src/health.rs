//! Active HTTP health checks, run in the background for every pool with a `health` table.
//!
//! Every 50 ms the checker looks at the current snapshot and starts a probe for each backend
//! whose next check is due (one probe per backend at a time; intervals get ±10 % jitter so
//! probes of many backends do not fire in lockstep). A probe is a `GET <path>` over a new
//! connection within `timeout`, sent through [`crate::outbound`] exactly as proxied requests
//! go (TLS, SNI, verification, client certificate), with `Host` = `health.host`, else the
//! pool's `host_header`, else the backend's address. It passes when the status is in
//! `expect_status` (default: any 2xx or 3xx) and, with `expect_body`, the first 64 KiB of the
//! body contain that text: an application can fail its check on purpose (replication lag too
//! high) while the site still answers. A failed probe's reason (`tls: unknown_ca`, `status
//! 503`, …) is the backend's `problem` in `/status`; TLS failures are also counted in
//! `firebreak_upstream_tls_errors_total`. Results go to the backend's
//! [`HealthState`](crate::pool::HealthState); a flip wakes the planner at once, so a failed
//! backend loses its traffic within one interval of its `fall`-th failed probe.

use crate::app::App;
use crate::clock::{now_ns, ns};
use crate::config::HealthConf;
use crate::metrics::Metrics;
use crate::outbound::{Client, Get};
use crate::pool::{Backend, Pool};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

const SCAN_EVERY: Duration = Duration::from_millis(50);
/// Body bytes a check reads for `expect_body`.
const BODY_KEPT: usize = 64 << 10;

/// Runs one probe: `Ok` when it passed, else why not.
pub async fn probe(
    client: &Client,
    pool: &Pool,
    b: &Backend,
    conf: &HealthConf,
) -> Result<(), String> {
    let host = match (&conf.host, pool.peer.host_header(), &b.host) {
        (Some(h), _, _) => h.clone(),
        (None, Some(h), _) => h.to_string(),
        (None, None, Some(name)) => format!("{name}:{}", b.addr.port()),
        (None, None, None) => b.addr.to_string(),
    };
    let peer = pool.peer.peer(b.addr, b.host.as_deref());
    let keep = if conf.expect_body.is_some() {
        BODY_KEPT
    } else {
        0
    };
    let headers = [("User-Agent", "firebreak-health")];
    let get = Get {
        host: &host,
        path: &conf.path,
        headers: &headers,
        timeout: conf.timeout,
        keep,
        reuse: false,
    };
    let answer = client.get(&peer, get).await.map_err(|f| f.to_string())?;
    verdict(conf, answer.status, &answer.body)
}

/// Whether an answer passes the check's expectations.
fn verdict(conf: &HealthConf, status: u16, body: &[u8]) -> Result<(), String> {
    let status_ok = if conf.expect_status.is_empty() {
        (200..400).contains(&status)
    } else {
        conf.expect_status.contains(&status)
    };
    if !status_ok {
        return Err(format!("status {status}"));
    }
    if let Some(want) = &conf.expect_body {
        let found = body.windows(want.len()).any(|w| w == want.as_bytes());
        if !found {
            return Err(format!("body lacks {want:?}"));
        }
    }
    Ok(())
}

/// Records a probe's result on the backend; true when its health flipped.
fn record(
    metrics: &Metrics,
    pool: &Pool,
    b: &Backend,
    conf: &HealthConf,
    result: Result<(), String>,
) -> bool {
    if let Err(e) = &result {
        if let Some(reason) = e.strip_prefix("tls: ") {
            metrics
                .tls_errors
                .with_label_values(&[pool.name(), reason])
                .inc();
        }
    }
    let ok = result.is_ok();
    let problem = result.err();
    if b.set_problem(problem.clone()) {
        if let Some(p) = &problem {
            tracing::warn!(pool = pool.name(), backend = %b.label, problem = %p, "health check failing");
        }
    }
    b.health.record_probe(ok, conf.rise, conf.fall, now_ns())
}

struct Slot {
    next_ns: u64,
    busy: Arc<AtomicBool>,
}

/// One probe of every checked backend, all at once, before the proxy starts serving: a new
/// process (a start, or an `--upgrade` taking the sockets over from a running one) then
/// begins with the backends that answer marked up, instead of answering "no tier can
/// serve" until the checker's first round. Takes at most one probe timeout.
pub async fn first_round(app: &Arc<App>) {
    let snap = app.store.load();
    let mut probes = Vec::new();
    for (pi, pool) in snap.pools.iter().enumerate() {
        let Some(conf) = pool.conf.health.clone() else {
            continue;
        };
        for b in &pool.backends {
            let (app, snap, b, conf) = (app.clone(), snap.clone(), b.clone(), conf.clone());
            probes.push(tokio::spawn(async move {
                let pool = &snap.pools[pi];
                let result = probe(&app.standby.client, pool, &b, &conf).await;
                record(&app.metrics, pool, &b, &conf, result);
            }));
        }
    }
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
        for (pi, pool) in snap.pools.iter().enumerate() {
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
                let (app, snap, b, conf, busy) = (
                    app.clone(),
                    snap.clone(),
                    b.clone(),
                    conf.clone(),
                    slot.busy.clone(),
                );
                tokio::spawn(async move {
                    let pool = &snap.pools[pi];
                    let result = probe(&app.standby.client, pool, &b, &conf).await;
                    if record(&app.metrics, pool, &b, &conf, result) {
                        tracing::info!(backend = %b.label, up = b.health.is_up(), "health changed");
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

    fn conf(expect_status: Vec<u16>, expect_body: Option<&str>) -> HealthConf {
        HealthConf {
            path: "/health".into(),
            interval: Duration::from_secs(1),
            timeout: Duration::from_millis(500),
            rise: 2,
            fall: 3,
            host: None,
            expect_status,
            expect_body: expect_body.map(String::from),
        }
    }

    #[test]
    fn verdicts() {
        let any = conf(vec![], None);
        assert!(verdict(&any, 200, b"").is_ok());
        assert!(verdict(&any, 302, b"").is_ok());
        assert_eq!(verdict(&any, 503, b""), Err("status 503".into()));
        let strict = conf(vec![200, 204], Some("replication ok"));
        assert!(verdict(&strict, 200, b"db: replication ok, lag 2s").is_ok());
        assert_eq!(
            verdict(&strict, 302, b"replication ok"),
            Err("status 302".into())
        );
        assert!(verdict(&strict, 200, b"replication lagging")
            .unwrap_err()
            .contains("body lacks"));
    }
}
