//! The background service: planner ticks, health checks, SIGHUP and file-change reloads, the
//! readiness notice and SIGUSR2 upgrades for a supervisor, and draining.
//!
//! Pingora, on SIGTERM, stops accepting and then sleeps its whole grace period even with
//! nothing in flight (`pingora-core`'s server shutdown path, 0.9). We watch the same shutdown signal, wait until the
//! last in-flight request has finished (at most `server.grace`), and exit 0 at once.

use crate::app::App;
use crate::health;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Planning tick: latency windows, shares and gauges are refreshed this often.
pub const TICK: Duration = Duration::from_millis(100);

pub struct Background {
    app: Arc<App>,
    /// Pingora's upgrade socket, which a SIGUSR2 successor opens (src/handover.rs).
    upgrade_sock: PathBuf,
}

impl Background {
    pub fn new(app: Arc<App>, upgrade_sock: PathBuf) -> Self {
        Self { app, upgrade_sock }
    }
}

/// Tells a supervisor (`Type=notify`) that firebreak serves, once its first listener accepts.
async fn announce_ready(app: Arc<App>) {
    let config = app.store.peek().config.clone();
    // A plain listener if there is one: a probe of a TLS listener ends in a logged handshake
    // failure.
    let first = config.listen.http.first().copied();
    let first = first.or_else(|| config.listen.https.first().map(|t| t.addr));
    let Some(addr) = first else { return };
    let up = tokio::task::spawn_blocking(move || {
        crate::notify::wait_listening(addr, Duration::from_secs(10))
    })
    .await
    .unwrap_or(false);
    if up {
        crate::notify::tell("READY=1\nSTATUS=serving");
    } else {
        tracing::warn!(%addr, "listener not accepting after 10 s; no READY=1 for the supervisor");
    }
}

async fn planner(app: Arc<App>) {
    let mut next = tokio::time::Instant::now() + TICK;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {
                next += TICK;
                app.plan_tick(true);
            }
            _ = app.replan.notified() => app.plan_tick(false),
        }
    }
}

async fn sighup(app: Arc<App>) {
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        tracing::error!("cannot listen for SIGHUP; reload with POST /reload");
        return;
    };
    while hup.recv().await.is_some() {
        let app = app.clone();
        // Reading and validating the file is blocking work: keep it off the async threads.
        let _ = tokio::task::spawn_blocking(move || app.reload("SIGHUP")).await;
    }
}

#[async_trait]
impl BackgroundService for Background {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let app = self.app.clone();
        app.plan_tick(false);
        let tasks = [
            tokio::spawn(planner(app.clone())),
            tokio::spawn(health::run(app.clone(), shutdown.clone())),
            tokio::spawn(resolve_names(app.clone(), shutdown.clone())),
            tokio::spawn(fleet_sync(app.clone(), shutdown.clone())),
            tokio::spawn(sighup(app.clone())),
            tokio::spawn(crate::watch::run(app.clone())),
            tokio::spawn({
                let app = app.clone();
                let (a, b) = (app.clone(), app.clone());
                crate::standby::run_probes(
                    app.standby.clone(),
                    move || a.store.load(),
                    move || fleet_ids(&b).map(|seen| crate::slot::slot(&b.replica_id, &seen)),
                )
            }),
            tokio::spawn(announce_ready(app.clone())),
            tokio::spawn(crate::handover::run(app.clone(), self.upgrade_sock.clone())),
        ];
        let _ = shutdown.changed().await;
        crate::notify::tell("STOPPING=1");
        let grace = app.store.peek().config.server.grace;
        tracing::info!(
            in_flight = app.inflight(),
            ?grace,
            "shutting down: draining in-flight requests"
        );
        let start = Instant::now();
        tokio::time::sleep(Duration::from_millis(100)).await;
        while app.inflight() > 0 && start.elapsed() < grace {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let left = app.inflight();
        if left > 0 {
            tracing::warn!(left, "grace period over with requests still in flight");
        } else {
            tracing::info!(
                elapsed_ms = start.elapsed().as_millis() as u64,
                "drained; exiting"
            );
        }
        for t in tasks {
            t.abort();
        }
        crate::telemetry::flush();
        std::process::exit(0);
    }
}

/// The background loop: every second, each backend name whose pool's `resolve_every` has
/// passed is looked up on a blocking thread; a change swaps in a new snapshot. Returns when
/// `shutdown` flips.
async fn resolve_names(app: Arc<App>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut next: std::collections::HashMap<(String, String, u16), u64> = Default::default();
    loop {
        let snap = app.store.load();
        let now = crate::clock::now_ns();
        let mut due = Vec::new();
        for pool in &snap.config.pools {
            for n in &pool.names {
                let key = (pool.name.clone(), n.host.clone(), n.port);
                let at = next
                    .entry(key.clone())
                    .or_insert(now + crate::clock::ns(pool.resolve_every));
                if now >= *at {
                    *at = now + crate::clock::ns(pool.resolve_every);
                    due.push(key);
                }
            }
        }
        for (pool, host, port) in due {
            let app = app.clone();
            let _ = tokio::task::spawn_blocking(move || {
                let outcome =
                    app.store
                        .resolved(&pool, &host, port, crate::resolve::lookup(&host, port));
                let result = match outcome {
                    crate::resolve::Outcome::Failed(_) => "failure",
                    _ => "success",
                };
                app.metrics.dns.with_label_values(&[&pool, result]).inc();
                if outcome == crate::resolve::Outcome::Changed {
                    app.replan.notify_one();
                }
            })
            .await;
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// The replica ids the last fleet exchange saw (None without a `[fleet]`).
fn fleet_ids(app: &App) -> Option<Vec<String>> {
    app.store.peek().config.fleet.as_ref()?;
    Some(crate::lock::lock(&app.fleet_seen).ids.clone())
}

/// Pulls the fleet's operator state every `fleet.sync_every` ([`crate::fleet`]); a replica cut
/// off from its peers catches up at the first exchange after. Returns when `shutdown` flips.
async fn fleet_sync(app: Arc<App>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    loop {
        let snap = app.store.load();
        let every = match &snap.config.fleet {
            Some(fleet) => {
                let every = fleet.sync_every;
                let (app2, fleet, me) = (app.clone(), fleet.clone(), snap.config.admin.listen);
                let _ = tokio::task::spawn_blocking(move || {
                    crate::fleet::pull(&app2, &fleet, Some(me), false)
                })
                .await;
                every
            }
            None => std::time::Duration::from_secs(5), // look again after a reload
        };
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
    }
}
