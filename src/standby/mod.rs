//! Standby readiness: know before the incident whether the standby can carry the load.
//!
//! * **Shadow traffic** ([`Standby::maybe_shadow`]): a configured fraction of a route's live
//!   GET/HEAD requests is mirrored to the standby, fire-and-forget, under hard caps on rate and
//!   in-flight count (dropped when full, never queued), so it cannot slow the live request or
//!   swamp the standby. Its latencies teach the standby pool's limiter its baseline.
//! * **Capacity estimate** ([`estimate`]): every `probe_interval`, while the standby carries no
//!   real traffic, a short concurrency ramp measures the throughput it sustains before latency
//!   degrades. Exported as `firebreak_standby_capacity_rps`, and divided by the primary tier's
//!   recent peak load as `firebreak_standby_capacity_ratio` (below 1: the standby is too weak).
//! * **Drill** ([`drill`]): `POST /drill` moves a growing share of live traffic to the
//!   standby for a bounded time and aborts at once when it breaks its SLO.

pub mod drill;
pub mod estimate;
mod probe;
pub mod shadow;

pub use probe::run_probes;

use crate::latency::Drained;
use crate::lock::lock;
use crate::reload::Snapshot;
use drill::{Drill, Window};
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

const RECENT_PATHS: usize = 64;
/// Time constant of the primary's load average, and of its peak's decay.
const LOAD_TAU_NS: f64 = 10e9;
const PEAK_TAU_NS: f64 = 600e9;

/// The last capacity measurement.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Estimate {
    pub capacity_rps: f64,
    /// Unix seconds.
    pub measured_at: u64,
    pub backends: usize,
    pub levels: Vec<(u32, f64, f64)>,
}

/// Request rates, from the pools' answered-request counters.
#[derive(Debug, Default)]
struct Load {
    last_total: u64,
    last_all: u64,
    last_ns: u64,
    /// The primary tier's rate, and its slowly decaying peak.
    rps: f64,
    peak_rps: f64,
    /// Every pool's rate: the load the tier planner shares out.
    all_rps: f64,
}

#[derive(Debug, Default)]
pub struct Standby {
    shadow_inflight: AtomicU32,
    shadow_second: AtomicU64,
    shadow_in_second: AtomicU32,
    /// Shadow requests sent / dropped by the caps (for status).
    pub shadow_sent: AtomicU64,
    pub shadow_dropped: AtomicU64,
    recent: Mutex<VecDeque<(String, String)>>,
    estimate: Mutex<Option<Estimate>>,
    load: Mutex<Load>,
    drill: Mutex<Option<Drill>>,
    /// Standby pools' (requests, errors) totals at the last tick of a drill (None: not yet).
    drill_seen: Mutex<Option<(u64, u64)>>,
    /// Drill requests the standby could not admit (sent to the primary instead).
    pub drill_fallbacks: AtomicU64,
    /// The standby served real traffic recently: no capacity probe before this time (ns).
    busy_until: AtomicU64,
    standby_seen: AtomicU64,
    /// firebreak's own requests to backends (shared with the health checks).
    pub client: Arc<crate::outbound::Client>,
}

/// After real traffic on the standby, the probe waits this long (it must never compete).
const QUIET_NS: u64 = 30_000_000_000;

/// The pools of the standby tier (the first tier above the primary).
pub fn standby_pools(snap: &Snapshot) -> Vec<usize> {
    let tier = snap.tiers().standby();
    (0..snap.pools.len())
        .filter(|&i| Some(snap.pools[i].tier()) == tier)
        .collect()
}

impl Standby {
    /// Mirrors a live request with probability `fraction`, within the caps. Never blocks.
    pub fn maybe_shadow(
        self: &Arc<Self>,
        snap: &Arc<Snapshot>,
        fraction: f64,
        host: &str,
        path: &str,
        now_ns: u64,
    ) {
        if fraction <= 0.0 || fastrand::f64() >= fraction {
            return;
        }
        let conf = &snap.config.standby;
        let second = now_ns / 1_000_000_000;
        if self.shadow_second.swap(second, Relaxed) != second {
            self.shadow_in_second.store(0, Relaxed);
        }
        let over_rate = self.shadow_in_second.fetch_add(1, Relaxed) >= conf.shadow_max_rps;
        let slot = self.shadow_inflight.fetch_update(Relaxed, Relaxed, |n| {
            (n < conf.shadow_max_inflight).then_some(n + 1)
        });
        if over_rate || slot.is_err() {
            if slot.is_ok() {
                self.shadow_inflight.fetch_sub(1, Relaxed);
            }
            self.shadow_dropped.fetch_add(1, Relaxed);
            return;
        }
        {
            let mut recent = lock(&self.recent);
            if recent.len() >= RECENT_PATHS {
                recent.pop_front();
            }
            recent.push_back((host.to_string(), path.to_string()));
        }
        let target = standby_pools(snap).into_iter().find_map(|pi| {
            let pool = &snap.pools[pi];
            let plan = pool.plan();
            crate::pool::select::pick(
                &pool.backends,
                &plan,
                &[],
                &mut fastrand::Rng::new(),
                now_ns,
            )
            .map(|bi| (pi, bi))
        });
        let Some((pi, bi)) = target else {
            self.shadow_inflight.fetch_sub(1, Relaxed);
            return;
        };
        self.shadow_sent.fetch_add(1, Relaxed);
        let (me, snap, host, path) = (
            self.clone(),
            snap.clone(),
            host.to_string(),
            path.to_string(),
        );
        tokio::spawn(async move {
            let pool = &snap.pools[pi];
            let to = shadow::Target {
                client: me.client.clone(),
                peer: pool.peer.clone(),
                addr: pool.backends[bi].addr,
                host: pool.backends[bi].host.clone(),
            };
            if let Some((code, took)) = shadow::fetch(&to, &host, &path).await {
                if code < 500 {
                    pool.window.record(took.as_nanos() as u64);
                }
            }
            me.shadow_inflight.fetch_sub(1, Relaxed);
        });
    }

    /// The standby carried real traffic in the last 30 s (the capacity probe must wait).
    pub fn recently_busy(&self, now_ns: u64) -> bool {
        now_ns < self.busy_until.load(Relaxed)
    }

    /// Recent mirrored (host, path) pairs, replayed by the capacity probe.
    pub fn recent(&self) -> Vec<(String, String)> {
        lock(&self.recent).iter().cloned().collect()
    }

    pub fn set_estimate(&self, e: Estimate) {
        *lock(&self.estimate) = Some(e);
    }

    /// Takes a peer's estimate when it is newer than this replica's own (a replica that
    /// starts in a fleet needs no probe of its own to seed its limits).
    pub fn adopt_estimate(&self, e: Estimate) -> bool {
        let mut cur = lock(&self.estimate);
        let newer = cur.as_ref().map_or(true, |c| e.measured_at > c.measured_at);
        if newer && e.capacity_rps.is_finite() && e.capacity_rps > 0.0 {
            *cur = Some(e);
            return true;
        }
        false
    }

    pub fn estimate(&self) -> Option<Estimate> {
        lock(&self.estimate).clone()
    }

    /// Requests per second answered through all pools (a 10 s average): the offered load the
    /// tier planner weighs capacity caps against.
    pub fn offered_rps(&self) -> f64 {
        lock(&self.load).all_rps
    }

    /// The primary tier's recent peak load (requests per second).
    pub fn primary_peak_rps(&self) -> f64 {
        lock(&self.load).peak_rps
    }

    /// Estimate ÷ primary peak load (NaN when either is unknown).
    pub fn ratio(&self) -> f64 {
        let peak = self.primary_peak_rps();
        match self.estimate() {
            Some(e) if peak >= 0.1 => e.capacity_rps / peak,
            _ => f64::NAN,
        }
    }

    /// Starts a drill (replacing none: one at a time).
    pub fn start_drill(&self, d: Drill) -> Result<(), &'static str> {
        let mut cur = lock(&self.drill);
        if cur
            .as_ref()
            .is_some_and(|c| c.state == drill::State::Running)
        {
            return Err("a drill is already running");
        }
        *cur = Some(d);
        *lock(&self.drill_seen) = None;
        self.drill_fallbacks.store(0, Relaxed);
        Ok(())
    }

    pub fn cancel_drill(&self) {
        if let Some(d) = lock(&self.drill).as_mut() {
            d.cancel();
        }
    }

    pub fn drill(&self) -> Option<Drill> {
        lock(&self.drill).clone()
    }

    /// The share of traffic a running drill sends to the standby.
    pub fn drill_share(&self) -> f64 {
        lock(&self.drill).as_ref().map_or(0.0, |d| d.share())
    }

    /// One planning tick: primary load, drill SLO. `windows` are the pools' drained
    /// latency windows of this tick. Returns true when a drill just ended.
    pub fn tick(&self, snap: &Snapshot, windows: &[Drained], now_ns: u64) -> bool {
        let primary = snap.tiers().primary();
        let total: u64 = snap
            .pools
            .iter()
            .filter(|p| Some(p.tier()) == primary)
            .map(|p| p.requests.load(Relaxed))
            .sum();
        let all: u64 = snap.pools.iter().map(|p| p.requests.load(Relaxed)).sum();
        {
            let mut l = lock(&self.load);
            let dt = now_ns.saturating_sub(l.last_ns) as f64;
            if l.last_ns != 0 && dt > 0.0 {
                let rate = total.saturating_sub(l.last_total) as f64 / (dt / 1e9);
                let all_rate = all.saturating_sub(l.last_all) as f64 / (dt / 1e9);
                let w = 1.0 - (-dt / LOAD_TAU_NS).exp();
                l.rps += (rate - l.rps) * w;
                l.all_rps += (all_rate - l.all_rps) * w;
                l.peak_rps = l.rps.max(l.peak_rps * (-dt / PEAK_TAU_NS).exp());
            }
            l.last_total = total;
            l.last_all = all;
            l.last_ns = now_ns;
        }
        let standby = standby_pools(snap);
        let served: u64 = standby
            .iter()
            .map(|&i| snap.pools[i].requests.load(Relaxed))
            .sum();
        if self.standby_seen.swap(served, Relaxed) != served {
            self.busy_until.store(now_ns + QUIET_NS, Relaxed);
        }
        let mut drill = lock(&self.drill);
        let Some(d) = drill.as_mut().filter(|d| d.state == drill::State::Running) else {
            return false;
        };
        let (req, err): (u64, u64) = standby.iter().fold((0, 0), |(r, e), &i| {
            (
                r + snap.pools[i].requests.load(Relaxed),
                e + snap.pools[i].errors.load(Relaxed),
            )
        });
        let fallbacks = self.drill_fallbacks.swap(0, Relaxed);
        let mut seen = lock(&self.drill_seen);
        let (r0, e0) = seen.unwrap_or((req, err));
        let (dr, de) = (req.saturating_sub(r0), err.saturating_sub(e0));
        *seen = Some((req, err));
        let mut merged = Drained::default();
        standby
            .iter()
            .filter_map(|&i| windows.get(i))
            .for_each(|w| merged.merge(w));
        let w = Window {
            requests: dr + fallbacks,
            errors: de + fallbacks,
            p99_ns: merged.quantile(0.99),
        };
        let ended = d.observe(w, now_ns);
        if ended {
            tracing::warn!(state = ?d.state, share_reached = d.share_reached, reason = ?d.abort_reason, "drill ended");
        }
        ended
    }
}
