//! Prometheus metrics: the contract names of docs/operations.md plus what an SRE needs to see a
//! failover.
//!
//! One registry per process (not the global default, so tests can run several). Request
//! counters are updated in the proxy's `logging` phase; backend and tier gauges are refreshed by
//! the planner every tick, in place. Their series are dropped and rebuilt only when the
//! snapshot changes, so backends removed by a reload disappear and a scrape never catches a
//! series missing between a reset and its refresh. Label
//! values are bounded: route and pool names come from the config, `code` from HTTP statuses,
//! `backend` from configured addresses. The per-request metrics go through pre-resolved
//! handles ([`RequestHandles`]), one table per config snapshot.

mod handles;
#[cfg(test)]
mod refresh_tests;

pub use handles::{label, Key, RequestHandles};

use crate::pool::Pool;
use crate::tier::{TierPlan, TierState};
use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// Latency buckets (seconds) from 1 ms to 60 s.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub duration: HistogramVec,
    pub shed: IntCounterVec,
    pub retries: IntCounterVec,
    pub reuse_failures: IntCounterVec,
    pub tls_errors: IntCounterVec,
    pub dns: IntCounterVec,
    pub reloads: IntCounterVec,
    pub maintenance_active: IntGauge,
    pub failback_pending: IntGauge,
    backend_up: IntGaugeVec,
    backend_inflight: IntGaugeVec,
    backend_latency: GaugeVec,
    backend_share: GaugeVec,
    backend_ejections: IntGaugeVec,
    tier_share: GaugeVec,
    standby_capacity: prometheus::Gauge,
    standby_ratio: prometheus::Gauge,
    primary_load: prometheus::Gauge,
    pool_limit: GaugeVec,
    pool_inflight: IntGaugeVec,
    pool_queued: IntGaugeVec,
    pool_congested: IntGaugeVec,
    tier_state: IntGaugeVec,
    /// The snapshot version the labelled gauges hold series for (`u64::MAX`: none yet).
    published: AtomicU64,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

// Metric names, help texts and labels are constants, and each is registered once in a registry
// of its own: an error here is a bug that every test meets at start, never a runtime input.
#[allow(clippy::expect_used)]
fn reg<T: prometheus::core::Collector + Clone + 'static>(r: &Registry, c: T) -> T {
    // Names are static and distinct: registration cannot fail.
    r.register(Box::new(c.clone()))
        .expect("metric registration");
    c
}

impl Metrics {
    #[allow(clippy::expect_used)] // constant definitions, see `reg`
    pub fn new() -> Self {
        let r = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            reg(
                &r,
                IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric"),
            )
        };
        let igauge = |name: &str, help: &str, labels: &[&str]| {
            reg(
                &r,
                IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric"),
            )
        };
        let fgauge = |name: &str, help: &str, labels: &[&str]| {
            reg(
                &r,
                GaugeVec::new(Opts::new(name, help), labels).expect("valid metric"),
            )
        };
        let m = Metrics {
            requests: counter(
                "firebreak_requests_total",
                "Requests answered, by route, pool and status code.",
                &["route", "pool", "code"],
            ),
            duration: reg(
                &r,
                HistogramVec::new(
                    HistogramOpts::new(
                        "firebreak_request_duration_seconds",
                        "Time from request head to the end of the answer.",
                    )
                    .buckets(BUCKETS.to_vec()),
                    &["route", "pool"],
                )
                .expect("valid metric"),
            ),
            shed: counter(
                "firebreak_shed_total",
                "Requests refused by firebreak itself, by route and reason.",
                &["route", "reason"],
            ),
            retries: counter(
                "firebreak_retries_total",
                "Upstream attempts retried on another backend, by pool and reason.",
                &["pool", "reason"],
            ),
            dns: counter(
                "firebreak_dns_resolutions_total",
                "Background resolutions of backend host names, by pool and result (success, \
                 failure: the last known addresses were kept).",
                &["pool", "result"],
            ),
            tls_errors: counter(
                "firebreak_upstream_tls_errors_total",
                "TLS handshakes with a backend that failed, by pool and reason (unknown_ca, \
                 name_mismatch, expired, not_yet_valid, client_cert_refused, handshake_failed).",
                &["pool", "reason"],
            ),
            reuse_failures: counter(
                "firebreak_upstream_reuse_failures_total",
                "Upstream exchanges that failed on a reused (pooled) connection, by pool.",
                &["pool"],
            ),
            reloads: counter(
                "firebreak_config_reloads_total",
                "Config reloads, by result.",
                &["result"],
            ),
            failback_pending: reg(
                &r,
                IntGauge::new(
                    "firebreak_failback_pending",
                    "1 while the primary is healthy again but traffic waits for failback.",
                )
                .expect("valid metric"),
            ),
            maintenance_active: reg(
                &r,
                IntGauge::new(
                    "firebreak_maintenance_active",
                    "1 while maintenance mode is on.",
                )
                .expect("valid metric"),
            ),
            backend_up: igauge(
                "firebreak_backend_up",
                "1 when the backend may take traffic.",
                &["pool", "backend"],
            ),
            backend_inflight: igauge(
                "firebreak_backend_inflight",
                "Requests in flight to the backend.",
                &["pool", "backend"],
            ),
            backend_latency: fgauge(
                "firebreak_backend_latency_ewma_seconds",
                "Peak-EWMA response time of the backend.",
                &["pool", "backend"],
            ),
            backend_share: fgauge(
                "firebreak_backend_share",
                "Share of its pool's new requests the backend gets now.",
                &["pool", "backend"],
            ),
            backend_ejections: igauge(
                "firebreak_backend_ejections",
                "Passive ejections of the backend since it was added.",
                &["pool", "backend"],
            ),
            pool_limit: fgauge(
                "firebreak_pool_concurrency_limit",
                "Adaptive concurrency limit of the pool.",
                &["pool"],
            ),
            pool_inflight: igauge(
                "firebreak_pool_inflight",
                "Requests admitted to the pool and not finished.",
                &["pool"],
            ),
            pool_queued: igauge(
                "firebreak_pool_queued",
                "Requests waiting for a slot in the pool.",
                &["pool"],
            ),
            pool_congested: igauge(
                "firebreak_pool_congested",
                "1 while the pool's latency shows queueing (limits enforced).",
                &["pool"],
            ),
            standby_capacity: reg(&r, prometheus::Gauge::new("firebreak_standby_capacity_rps", "Estimated sustainable request rate of the standby tier (NaN until measured).").expect("valid metric")),
            standby_ratio: reg(&r, prometheus::Gauge::new("firebreak_standby_capacity_ratio", "Standby capacity estimate divided by this replica's primary-tier peak load (NaN while unknown); for a fleet, use the recording rule over firebreak_primary_load_rps.").expect("valid metric")),
            primary_load: reg(&r, prometheus::Gauge::new("firebreak_primary_load_rps", "This replica's recent peak request rate on the primary tier: summed over replicas, the load the standby must carry.").expect("valid metric")),
            tier_share: fgauge(
                "firebreak_tier_share",
                "Share of all traffic sent to the tier.",
                &["tier"],
            ),
            tier_state: igauge(
                "firebreak_tier_state",
                "Tier state: 0 up, 1 degraded, 2 down.",
                &["tier"],
            ),
            registry: r.clone(),
            published: AtomicU64::new(u64::MAX),
        };
        for result in ["success", "failure"] {
            m.reloads.with_label_values(&[result]);
        }
        let info = igauge("firebreak_build_info", "Build information.", &["version"]);
        info.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        m
    }

    /// Refreshes the gauges from the live pools and tier plan of snapshot `version` (called
    /// by the planner every tick).
    pub fn refresh(
        &self,
        version: u64,
        pools: &[Arc<Pool>],
        tiers: &TierPlan,
        maintenance_on: bool,
        now_ns: u64,
    ) {
        self.maintenance_active.set(maintenance_on as i64);
        if self.published.swap(version, Relaxed) != version {
            // A new snapshot may have dropped pools, backends or tiers: rebuild the series.
            for g in [
                &self.backend_up,
                &self.backend_inflight,
                &self.backend_ejections,
                &self.pool_inflight,
                &self.pool_queued,
                &self.pool_congested,
                &self.tier_state,
            ] {
                g.reset();
            }
            for g in [
                &self.backend_latency,
                &self.backend_share,
                &self.pool_limit,
                &self.tier_share,
            ] {
                g.reset();
            }
        }
        for pool in pools {
            let l = [pool.name()];
            self.pool_limit.with_label_values(&l).set(pool.gate.limit());
            self.pool_inflight
                .with_label_values(&l)
                .set(pool.gate.inflight() as i64);
            self.pool_queued
                .with_label_values(&l)
                .set(pool.gate.queued() as i64);
            self.pool_congested
                .with_label_values(&l)
                .set(pool.gate.congested() as i64);
        }
        for pool in pools {
            let plan = pool.plan();
            for (i, b) in pool.backends.iter().enumerate() {
                let l = [pool.name(), b.label.as_str()];
                self.backend_up
                    .with_label_values(&l)
                    .set(b.is_available(now_ns) as i64);
                self.backend_inflight
                    .with_label_values(&l)
                    .set(b.inflight() as i64);
                self.backend_latency
                    .with_label_values(&l)
                    .set(b.ewma.get() / 1e9);
                self.backend_share.with_label_values(&l).set(plan.share(i));
                self.backend_ejections
                    .with_label_values(&l)
                    .set(b.health.ejections_total() as i64);
            }
        }
        for t in &tiers.tiers {
            let tier = t.tier.to_string();
            self.tier_share.with_label_values(&[&tier]).set(t.share);
            let state = match t.state {
                TierState::Up => 0,
                TierState::Degraded => 1,
                TierState::Down => 2,
            };
            self.tier_state.with_label_values(&[&tier]).set(state);
        }
    }

    /// Publishes the standby's capacity estimate and its ratio to the primary's peak load.
    pub fn set_standby(&self, capacity: Option<f64>, ratio: f64, primary_load_rps: f64) {
        self.standby_capacity.set(capacity.unwrap_or(f64::NAN));
        self.standby_ratio.set(ratio);
        self.primary_load.set(primary_load_rps);
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(16 * 1024);
        // Encoding into a Vec cannot fail for well-formed families.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        buf
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
