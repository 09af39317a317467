//! Overload protection: adaptive, priority-aware, fair admission.
//!
//! Per pool, a [`gate::Gate`] holds an adaptive concurrency limit ([`limit`]) learnt from
//! latency alone: no capacity number is configured. A request is admitted by its pool's gate;
//! when that pool is full, another pool that placement names may take it at once (spill, see
//! [`crate::placement`]); otherwise it waits a short, priority-dependent time and is
//! then refused at once with `503` and `Retry-After`. Clients are held to their fair share
//! while shedding ([`tenant`]); a light client's normal request (it has nothing in flight
//! while others do) waits in the critical lane, so a flood cannot time it out (the sparse-flow
//! priority of FQ-CoDel, RFC 8290); and a process-wide cap protects firebreak itself.
//!
//! The order of checks: process cap → client fair share → own pool → spill → wait → refuse.

pub mod gate;
pub mod lanes;
pub mod limit;
pub mod observed;
#[cfg(test)]
pub mod sim;
pub mod tenant;

use crate::config::{AdmissionConf, Priority};
use crate::respond::Reason;
use gate::{Gate, Refused};
use std::sync::Arc;
use std::time::Duration;
use tenant::{TenantGuard, Tenants};

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
    pub priority: Priority,
    /// The client's tenant bucket.
    pub bucket: usize,
    /// Requests in flight in the process, this one included.
    pub process_inflight: usize,
    /// When the request began, on [`crate::clock::now_ns`]'s clock.
    pub now_ns: u64,
}

/// Admits a request to the pool placement drew (`drawn`: its index and gate). When that gate
/// is full, `spill` gives the other pools that may take the request at once, in the order
/// placement chose (it is only called then); when none has a slot, the request waits at the
/// drawn gate for its priority's time. On success: the pool that admitted it and the permit to
/// hold until the request ends.
pub async fn acquire(
    conf: &AdmissionConf,
    tenants: &Arc<Tenants>,
    ask: Ask,
    drawn: (usize, &Arc<Gate>),
    spill: impl FnOnce() -> Vec<(usize, Arc<Gate>)>,
) -> Result<(usize, Permit), Reason> {
    if ask.process_inflight > conf.max_inflight {
        return Err(Reason::ProxyOverloaded);
    }
    let (pool, gate) = drawn;
    if !conf.enabled {
        return Ok((
            pool,
            Permit {
                gate: None,
                _tenant: None,
            },
        ));
    }
    let tenant = tenants
        .enter(
            ask.bucket,
            gate.limit(),
            ask.priority == Priority::Critical,
            gate.congested() && gate.inflight() as f64 >= gate.limit() / 2.0,
            ask.now_ns,
        )
        .ok_or(Reason::ClientFairShare)?;
    let permit = |gate: &Arc<Gate>, tenant| Permit {
        gate: Some(gate.clone()),
        _tenant: Some(tenant),
    };
    if gate.try_acquire(ask.priority) {
        gate.count(ask.priority, true);
        return Ok((pool, permit(gate, tenant)));
    }
    if let Some((i, other)) = spill()
        .into_iter()
        .find(|(_, g)| g.try_acquire(ask.priority))
    {
        other.count(ask.priority, true);
        return Ok((i, permit(&other, tenant)));
    }
    // A light client (nothing in flight while others are active) waits like critical work:
    // a flooder's backlog must not time out everyone else's occasional request.
    let (wait, boost) = if tenant.light && ask.priority == Priority::Normal {
        (conf.critical_wait.max(wait_for(conf, ask.priority)), true)
    } else {
        (wait_for(conf, ask.priority), false)
    };
    let outcome = gate.acquire(ask.priority, wait, boost).await;
    gate.count(ask.priority, outcome.is_ok());
    match outcome {
        Ok(()) => Ok((pool, permit(gate, tenant))),
        Err(Refused::Full) => Err(Reason::Overloaded),
        Err(Refused::QueueTimeout) => Err(Reason::QueueTimeout),
    }
}
