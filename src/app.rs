//! The process's shared state: snapshot store, maintenance, metrics, budgets, counters.
//!
//! One `Arc<App>` is handed to the proxy, the admin API and the background loops. Reload
//! orchestration lives here because it touches several of them at once.

use crate::admission::tenant::Tenants;
use crate::clock::now_ns;
use crate::config::Config;
use crate::maintenance::MaintenanceState;
use crate::metrics::Metrics;
use crate::reload::{ReloadReport, Store};
use crate::retry::RetryBudget;
use crate::tier::Load;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use tokio::sync::Notify;

/// The fleet as the last exchange of operator state saw it ([`crate::fleet`]).
#[derive(Debug, Clone, Default)]
pub struct FleetSeen {
    /// The ids of the replicas that answered, this one included, sorted.
    pub ids: Vec<String>,
    /// The sum of their primary loads (requests/s, each a recent peak), this one's included.
    pub primary_load_rps: f64,
    /// Other replicas asked, and how many answered.
    pub peers: usize,
    pub reached: usize,
    /// Unix seconds of the exchange (0: none yet).
    pub at: u64,
    /// Why the last exchange found no peers (said once per change).
    pub targets_error: Option<String>,
}

#[derive(Debug)]
pub struct App {
    pub store: Store,
    pub maintenance: MaintenanceState,
    pub metrics: Metrics,
    pub retry_budget: RetryBudget,
    /// Certificates of the HTTPS listeners (reloaded with the config).
    pub certs: crate::certs::Certs,
    /// Shadow traffic, capacity estimate, drills.
    pub standby: Arc<crate::standby::Standby>,
    /// Per-client in-flight counts for fairness while shedding.
    pub tenants: Arc<Tenants>,
    /// Affinity keys held on a higher tier (kept across reloads).
    pub holds: crate::affinity::Holds,
    /// Failback after a failover (kept across reloads).
    pub failback: crate::failback::Failback,
    /// This replica's Lamport clock for operator state ([`crate::stamp`]).
    pub clock: Arc<crate::stamp::Clock>,
    /// Drains, failback releases and notes, as the fleet shares them.
    pub ledger: crate::ledger::Ledger,
    /// The public status page: its mode, since when, its last rendering, its rate cap.
    pub status_page: crate::status_page::Board,
    /// A random name for this process, so that it knows itself among its fleet's addresses.
    pub replica_id: String,
    /// The fleet as the last exchange saw it.
    pub fleet_seen: std::sync::Mutex<FleetSeen>,
    /// The primary tier's (requests, errors) totals at the last tick.
    primary_seen: std::sync::Mutex<Option<(u64, u64)>>,
    /// Wakes the planner at once (a backend was ejected or flipped health).
    pub replan: Notify,
    /// Requests in flight in this process (for draining on shutdown).
    inflight: AtomicUsize,
}

impl App {
    pub fn new(config: Config, path: &Path) -> Arc<App> {
        let clock = Arc::new(crate::stamp::Clock::default());
        let replica_id = format!("{:016x}", fastrand::u64(..));
        Arc::new(App {
            maintenance: MaintenanceState::new(&config.maintenance, clock.clone()),
            ledger: crate::ledger::Ledger::new(clock.clone()),
            status_page: Default::default(),
            fleet_seen: std::sync::Mutex::new(FleetSeen {
                ids: vec![replica_id.clone()],
                ..FleetSeen::default()
            }),
            replica_id,
            clock,
            store: Store::new(config, path),
            metrics: Metrics::new(),
            retry_budget: RetryBudget::default(),
            tenants: Arc::new(Tenants::default()),
            holds: Default::default(),
            failback: Default::default(),
            primary_seen: Default::default(),
            standby: Arc::default(),
            certs: Default::default(),
            replan: Notify::new(),
            inflight: AtomicUsize::new(0),
        })
    }

    /// Re-reads the config file; see [`Store::reload`].
    pub fn reload(&self, trigger: &str) -> ReloadReport {
        let (report, swapped) = self.store.reload(trigger);
        let result = if report.ok { "success" } else { "failure" };
        self.metrics.reloads.with_label_values(&[result]).inc();
        if let Some((old, new)) = swapped {
            self.maintenance
                .on_reload(&old.maintenance, &new.maintenance);
            for e in self.certs.reload(&new.listen.https) {
                tracing::error!(error = %e, "certificate not reloaded; the old one stays");
            }
            self.replan.notify_one();
            tracing::info!(version = report.version, trigger, restart_required = ?report.restart_required, "config reloaded");
        } else {
            for e in &report.errors {
                tracing::error!(trigger, error = %e, "config reload refused; the old config keeps serving");
            }
        }
        report
    }

    /// One planning step: re-plan every pool and the tiers, refresh gauges.
    pub fn plan_tick(&self, end_window: bool) {
        let now = now_ns();
        let snap = self.store.peek();
        let load = Load {
            offered_rps: self.standby.offered_rps(),
            standby_capacity_rps: self.standby.estimate().map(|e| e.capacity_rps),
        };
        self.hint_pools(&snap, now);
        let failback = snap.config.failback.as_ref();
        let cap = self.failback.cap(failback, now);
        let windows = snap.replan(now, end_window, self.standby.drill_share(), load, cap);
        let mut replan = end_window && self.standby.tick(&snap, &windows, now); // a drill ended
        if end_window {
            let (primary_up, window) = self.primary_window(&snap, &windows);
            let slo = crate::failback::Slo {
                max_error_rate: snap.config.standby.drill_max_error_rate,
                max_p99_ns: crate::clock::ns(snap.config.standby.drill_max_p99),
            };
            replan |= self.failback.tick(failback, primary_up, window, slo, now) != cap;
        }
        if replan {
            // Undo a drill's share, or apply a new failback cap, at once.
            let cap = self.failback.cap(failback, now);
            snap.replan(now, false, self.standby.drill_share(), load, cap);
        }
        self.tenants.refresh(now);
        self.metrics.refresh(
            snap.version,
            &snap.pools,
            &snap.tiers(),
            self.maintenance.get().enabled,
            now,
        );
        self.metrics.set_standby(
            load.standby_capacity_rps,
            self.standby.ratio(),
            self.standby.primary_peak_rps(),
        );
        self.metrics
            .failback_pending
            .set(i64::from(self.failback.pending()));
        let drill = self.standby.drill_share() > 0.0;
        let maintenance = self.maintenance.get().enabled;
        let unix = crate::clock::unix_now();
        (self.status_page).tick(maintenance, &snap.tiers(), drill, now, unix);
    }

    /// Tells every pool's limiter this replica's share of the fleet, and the standby pools
    /// their seed from the capacity estimate.
    fn hint_pools(&self, snap: &crate::reload::Snapshot, now: u64) {
        let replicas = match snap.config.fleet {
            Some(_) => crate::lock::lock(&self.fleet_seen).ids.len().max(1),
            None => 1,
        };
        let estimate = self.standby.estimate();
        let standby = crate::standby::standby_pools(snap);
        for (i, pool) in snap.pools.iter().enumerate() {
            let seed = estimate
                .as_ref()
                .filter(|_| standby.contains(&i))
                .and_then(|e| {
                    let up = pool.backends.iter().filter(|b| b.is_available(now)).count();
                    crate::standby::estimate::seed(e, up)
                });
            pool.gate.set_hint(crate::admission::limit::Hint {
                share: 1.0 / replicas as f64,
                seed,
            });
        }
    }

    /// Whether the primary tier can serve, and what it did in the window that just ended
    /// (requests and errors since the last tick, its p99): the failback ramp's SLO.
    fn primary_window(
        &self,
        snap: &crate::reload::Snapshot,
        windows: &[crate::latency::Drained],
    ) -> (bool, crate::failback::Window) {
        let plan = snap.tiers();
        let primary = plan.primary();
        let up = plan
            .tiers
            .first()
            .is_some_and(|t| t.state != crate::tier::TierState::Down);
        let pools: Vec<usize> = (0..snap.pools.len())
            .filter(|&i| Some(snap.pools[i].tier()) == primary)
            .collect();
        let (req, err) = pools.iter().fold((0, 0), |(r, e), &i| {
            let p = &snap.pools[i];
            (r + p.requests.load(Relaxed), e + p.errors.load(Relaxed))
        });
        let mut seen = crate::lock::lock(&self.primary_seen);
        let (r0, e0) = seen.unwrap_or((req, err));
        *seen = Some((req, err));
        let mut merged = crate::latency::Drained::default();
        pools
            .iter()
            .filter_map(|&i| windows.get(i))
            .for_each(|w| merged.merge(w));
        let window = crate::failback::Window {
            requests: req.saturating_sub(r0),
            errors: err.saturating_sub(e0),
            p99_ns: merged.quantile(0.99),
        };
        (up, window)
    }

    pub fn inflight(&self) -> usize {
        self.inflight.load(Relaxed)
    }

    /// Counts a request in flight until the guard drops.
    pub fn track(self: &Arc<Self>) -> RequestGuard {
        self.inflight.fetch_add(1, Relaxed);
        RequestGuard(self.clone())
    }
}

/// Decrements the process in-flight count on drop.
#[derive(Debug)]
pub struct RequestGuard(Arc<App>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.inflight.fetch_sub(1, Relaxed);
    }
}
