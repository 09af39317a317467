//! Overload protection: adaptive, priority-aware, fair admission.
//!
//! Per pool, a [`gate::Gate`] holds an adaptive concurrency limit ([`limit`]) learnt from
//! latency alone: no capacity number is configured. A request is admitted by its pool's gate;
//! when that pool is full, a `gradual` pool of a higher tier may take it (the share the lower
//! tier cannot carry spills over); otherwise it waits a short, priority-dependent time and is
//! then refused at once with `503` and `Retry-After`. Clients are held to their fair share
//! while shedding ([`tenant`]); a light client's normal request (it has nothing in flight
//! while others do) waits in the critical lane, so a flood cannot time it out (the sparse-flow
//! priority of FQ-CoDel, RFC 8290); and a process-wide cap protects firebreak itself.
//!
//! The order of checks: process cap → client fair share → own pool → spill → wait → refuse.

pub mod gate;
pub mod limit;
pub mod tenant;

use crate::config::{AdmissionConf, Priority, Spill};
use crate::reload::Snapshot;
use gate::{Gate, Refused};
use limit::LimitConf;
use std::sync::Arc;
use std::time::Duration;
use tenant::{TenantGuard, Tenants};

/// The limiter tuning of `[admission]`.
pub fn limit_conf(c: &AdmissionConf) -> LimitConf {
    LimitConf {
        initial: c.initial_limit as f64,
        min: c.min_limit as f64,
        max: c.max_limit as f64,
        tolerance: c.latency_tolerance,
    }
}

/// Why a request was shed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShedReason {
    /// The whole process is at `max_inflight`.
    ProxyOverloaded,
    /// This client already holds its fair share of a congested pool.
    ClientFairShare,
    /// The pool is at its limit and this class does not wait.
    Overloaded,
    /// Waited its class's budget without getting a slot.
    QueueTimeout,
}

impl ShedReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ShedReason::ProxyOverloaded => "proxy_overloaded",
            ShedReason::ClientFairShare => "client_fair_share",
            ShedReason::Overloaded => "overloaded",
            ShedReason::QueueTimeout => "queue_timeout",
        }
    }
}

/// An admitted request's slot; released when dropped.
#[derive(Debug)]
pub struct Permit {
    gate: Option<Arc<Gate>>,
    _tenant: Option<TenantGuard>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(g) = self.gate.take() {
            g.release();
        }
    }
}

fn wait_for(c: &AdmissionConf, p: Priority) -> Duration {
    match p {
        Priority::Critical => c.critical_wait,
        Priority::Normal => c.normal_wait,
        Priority::Bulk => c.bulk_wait,
    }
}

/// What admission needs to know about the request.
#[derive(Debug, Clone, Copy)]
pub struct Ask {
    /// The pool the tier plan drew.
    pub pool: usize,
    pub priority: Priority,
    /// The client's tenant bucket.
    pub bucket: usize,
    /// Requests in flight in the process, this one included.
    pub process_inflight: usize,
    /// A failover rehearsal runs: a standby that cannot admit falls back to the primary
    /// (a rehearsal never sheds a customer).
    pub rehearsal: bool,
    /// When the request began, on [`crate::clock::now_ns`]'s clock.
    pub now_ns: u64,
}

/// Admits a request. On success returns the pool that admitted it (the drawn one, or a
/// higher-tier pool it spilled to) and the permit to hold until the request ends.
pub async fn admit(
    snap: &Snapshot,
    tenants: &Arc<Tenants>,
    ask: Ask,
) -> Result<(usize, Permit), ShedReason> {
    let conf = &snap.config.admission;
    if ask.process_inflight > conf.max_inflight {
        return Err(ShedReason::ProxyOverloaded);
    }
    if !conf.enabled {
        return Ok((
            ask.pool,
            Permit {
                gate: None,
                _tenant: None,
            },
        ));
    }
    let pool = &snap.pools[ask.pool];
    let gate = pool.gate.clone();
    let tenant = tenants
        .enter(
            ask.bucket,
            gate.limit(),
            ask.priority == Priority::Critical,
            gate.congested() && gate.inflight() as f64 >= gate.limit() / 2.0,
            ask.now_ns,
        )
        .ok_or(ShedReason::ClientFairShare)?;
    if gate.try_acquire(ask.priority) {
        return Ok((
            ask.pool,
            Permit {
                gate: Some(gate),
                _tenant: Some(tenant),
            },
        ));
    }
    // During a rehearsal a standby that is full sends the request back down to the primary;
    // otherwise a gradual pool of a higher tier takes what this one cannot carry (spill).
    let below = |p: &crate::pool::Pool| ask.rehearsal && p.tier() < pool.tier();
    let above = |p: &crate::pool::Pool| {
        p.tier() > pool.tier() && p.conf.spill == Spill::Gradual && p.plan().health > 0.0
    };
    let mut others: Vec<usize> = (0..snap.pools.len())
        .filter(|&i| below(&snap.pools[i]) || above(&snap.pools[i]))
        .collect();
    others.sort_by_key(|&i| (snap.pools[i].tier() > pool.tier(), snap.pools[i].tier()));
    if let Some(i) = others
        .into_iter()
        .find(|&i| snap.pools[i].gate.try_acquire(ask.priority))
    {
        let gate = Some(snap.pools[i].gate.clone());
        return Ok((
            i,
            Permit {
                gate,
                _tenant: Some(tenant),
            },
        ));
    }
    // A light client (nothing in flight while others are active) waits like critical work:
    // a flooder's backlog must not time out everyone else's occasional request.
    let (wait, boost) = if tenant.light && ask.priority == Priority::Normal {
        (conf.critical_wait.max(wait_for(conf, ask.priority)), true)
    } else {
        (wait_for(conf, ask.priority), false)
    };
    match gate.acquire(ask.priority, wait, boost).await {
        Ok(()) => Ok((
            ask.pool,
            Permit {
                gate: Some(gate),
                _tenant: Some(tenant),
            },
        )),
        Err(Refused::Full) => Err(ShedReason::Overloaded),
        Err(Refused::QueueTimeout) => Err(ShedReason::QueueTimeout),
    }
}
