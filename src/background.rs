//! The background service: planner ticks, health checks, SIGHUP and file-change reloads, and
//! draining.
//!
//! Pingora, on SIGTERM, stops accepting and then sleeps its whole grace period even with
//! nothing in flight (notes/pingora.md §7). We watch the same shutdown signal, wait until the
//! last in-flight request has finished (at most `server.grace`), and exit 0 at once.

use crate::app::App;
use crate::health;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Planning tick: latency windows, shares and gauges are refreshed this often.
pub const TICK: Duration = Duration::from_millis(100);

pub struct Background {
    app: Arc<App>,
}

impl Background {
    pub fn new(app: Arc<App>) -> Self {
        Self { app }
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
            tokio::spawn(sighup(app.clone())),
            tokio::spawn(crate::watch::run(app.clone())),
            tokio::spawn(crate::standby::run_probes(app.clone())),
        ];
        let _ = shutdown.changed().await;
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
