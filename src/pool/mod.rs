//! Pools of backends: live state, per-tick plans, and the per-request pick.
//!
//! A [`Pool`] holds its backends (whose state survives reloads) and a [`PoolPlan`] that the
//! planner rebuilds every tick (100 ms) and on every health flip: effective weights (configured
//! weight × slow-start ramp × speed factor, zero when unavailable) in an alias table, the pool's
//! healthy fraction, and its latency against its own baseline. Requests only read the plan, so
//! the per-request pick is O(1) (see [`select`]).

mod alias;
mod backend;
mod ewma;
mod plan;
pub mod select;
mod state;

pub use alias::AliasTable;
pub use backend::{Backend, InflightGuard};
pub use ewma::PeakEwma;
pub use plan::{LatencyTrack, PoolPlan, SLOW_WINDOWS};
pub use state::{HealthState, PassiveFailure, RAMP_FLOOR};

use crate::admission::gate::Gate;
use crate::admission::limit::LimiterConf;
use crate::clock::ns;
use crate::config::PoolConf;
use crate::latency::{Drained, LatencyWindow};
use crate::lock::lock;
use crate::outbound::PeerTemplate;
use crate::resolve::Resolved;
use arc_swap::ArcSwap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// A pool of backends at one tier.
#[derive(Debug)]
pub struct Pool {
    pub conf: PoolConf,
    pub backends: Vec<Arc<Backend>>,
    /// How its backends are reached (TLS, SNI, timeouts, `Host`), built once per snapshot.
    pub peer: PeerTemplate,
    plan: ArcSwap<PoolPlan>,
    /// Latency samples of the current planning window.
    pub window: Arc<LatencyWindow>,
    track: Mutex<LatencyTrack>,
    /// Admission: the adaptive concurrency limit of this pool.
    pub gate: Arc<Gate>,
    limit: LimiterConf,
    /// Requests answered through this pool, and those that failed (5xx or no answer).
    pub requests: Arc<std::sync::atomic::AtomicU64>,
    pub errors: Arc<std::sync::atomic::AtomicU64>,
}

impl Pool {
    /// Builds a pool, reusing backends from `previous` (same pool name, same address).
    /// Its admission gate, latency window and latency memory carry over the same way. The
    /// endpoints of named backends are their addresses in `resolved`.
    pub fn build(
        conf: PoolConf,
        limit: LimiterConf,
        previous: Option<&Pool>,
        resolved: &Resolved,
        now_ns: u64,
    ) -> Pool {
        let active = conf.health.is_some();
        let serving_before = previous.is_some_and(|p| p.backends.iter().any(|b| b.health.is_up()));
        let endpoint = |addr: SocketAddr, weight: u32, host: Option<&str>, siblings: usize| {
            let kept = previous.and_then(|p| {
                p.backends
                    .iter()
                    .find(|b| b.addr == addr && b.host.as_deref() == host)
            });
            let b = match kept {
                Some(b) => b.clone(),
                None => {
                    let mut b = Backend::new(addr, weight, active, now_ns);
                    if let Some(h) = host {
                        b = b.with_host(h);
                    }
                    if serving_before {
                        // Joining a pool that already serves: ramp from its first pass.
                        b.health.expect_ramp();
                    }
                    Arc::new(b)
                }
            };
            b.set_weight(weight);
            b.set_siblings(u32::try_from(siblings).unwrap_or(u32::MAX));
            b
        };
        let mut backends: Vec<Arc<Backend>> = conf
            .backends
            .iter()
            .map(|bc| endpoint(bc.addr, bc.weight, None, 1))
            .collect();
        for name in &conf.names {
            let addrs = resolved.addresses(&conf.name, name);
            for addr in &addrs {
                if !backends.iter().any(|b| b.addr == *addr) {
                    backends.push(endpoint(*addr, name.weight, Some(&name.host), addrs.len()));
                }
            }
        }
        let track = previous.map(|p| lock(&p.track).clone()).unwrap_or_default();
        let pool = Pool {
            peer: PeerTemplate::new(&conf),
            conf,
            backends,
            plan: ArcSwap::from_pointee(PoolPlan::default()),
            window: previous.map(|p| p.window.clone()).unwrap_or_default(),
            track: Mutex::new(track),
            gate: previous
                .map(|p| p.gate.clone())
                .unwrap_or_else(|| Arc::new(Gate::new(&limit))),
            limit,
            requests: previous.map(|p| p.requests.clone()).unwrap_or_default(),
            errors: previous.map(|p| p.errors.clone()).unwrap_or_default(),
        };
        pool.replan(now_ns, None);
        pool
    }

    pub fn name(&self) -> &str {
        &self.conf.name
    }

    pub fn tier(&self) -> u32 {
        self.conf.tier
    }

    /// Some backend of the pool may take a request now.
    pub fn has_available(&self, now_ns: u64) -> bool {
        self.backends.iter().any(|b| b.is_available(now_ns))
    }

    pub fn actively_checked(&self) -> bool {
        self.conf.health.is_some()
    }

    pub fn plan(&self) -> arc_swap::Guard<Arc<PoolPlan>> {
        self.plan.load()
    }

    /// The operator accepts the pool's current latency as its normal (`POST /baseline`).
    pub fn accept_latency(&self) {
        lock(&self.track).accept();
    }

    /// Recomputes the plan. `window` is the drained latency window when a tick ended one
    /// (None for a health-flip replan, which keeps latency as it was).
    pub fn replan(&self, now_ns: u64, window: Option<&Drained>) {
        let mut track = lock(&self.track);
        let mut plan = plan::plan_pool(
            &self.backends,
            ns(self.conf.slow_start),
            &mut track,
            window,
            now_ns,
        );
        plan.shedding = self.gate.shedding();
        self.plan.store(Arc::new(plan));
        drop(track);
        if let Some(w) = window {
            self.gate.tick(w, &self.limit);
        }
    }
}
