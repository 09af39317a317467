//! Backend choice for each attempt: the first attempt uses the pool the tier plan drew; a retry
//! prefers an untried backend of the same pool, then the other pools in tier order.
//! `failover_only` pools are used only while no lower tier has a live backend, so a retry never
//! breaks an operator's "one writable side" rule.

use super::Ctx;
use crate::app::App;
use crate::clock::now_ns;
use crate::config::{OnStandby, Spill};
use crate::pool::select::pick;
use crate::reload::Snapshot;
use crate::respond::Refusal;
use pingora::prelude::*;
use pingora::proxy::Session;
use pingora::upstreams::peer::HttpPeer;
use std::time::Duration;

/// How long an idle upstream connection stays in Pingora's pool.
const UPSTREAM_IDLE: Duration = Duration::from_secs(60);

pub fn peer(app: &App, _session: &mut Session, ctx: &mut Ctx) -> Result<Box<HttpPeer>> {
    let Some(snap) = ctx.snap.clone() else {
        return Error::e_explain(InternalError, "no snapshot pinned");
    };
    ctx.attempts += 1;
    ctx.backend = None; // the previous attempt is over
    let now = now_ns();
    let mut rng = fastrand::Rng::new();
    let first = ctx.pool.or(ctx.first_pool);
    // The common case, the drawn pool has a backend, needs no candidate list.
    // A route switched off on the standby never moves there on a retry either.
    let primary_only = ctx
        .route_conf()
        .is_some_and(|r| r.on_standby == OnStandby::Refuse);
    let primary = snap.pools.iter().map(|p| p.tier()).min();
    let s = &snap;
    let fallback = || {
        candidate_pools(s, first, now)
            .into_iter()
            .filter(move |&pi| {
                Some(pi) != first && (!primary_only || Some(s.pools[pi].tier()) == primary)
            })
    };
    // `flat_map` builds the fallback list only once the drawn pool had nothing to offer.
    let fallback = std::iter::once(()).flat_map(|()| fallback());
    for pi in first.into_iter().chain(fallback) {
        let pool = &snap.pools[pi];
        let plan = pool.plan();
        if let Some(bi) = pick(&pool.backends, &plan, &ctx.tried, &mut rng, now) {
            let backend = pool.backends[bi].clone();
            let mut peer = HttpPeer::new(backend.addr, false, String::new());
            let o = &mut peer.options;
            o.connection_timeout = Some(pool.conf.connect_timeout);
            o.total_connection_timeout = Some(pool.conf.connect_timeout);
            o.read_timeout = Some(pool.conf.read_timeout);
            o.write_timeout = Some(pool.conf.read_timeout);
            o.idle_timeout = Some(UPSTREAM_IDLE);
            ctx.backend = Some(backend.start());
            ctx.tried.push(backend);
            ctx.pool = Some(pi);
            ctx.attempt_start_ns = now;
            return Ok(Box::new(peer));
        }
    }
    // A route switched off on the standby, and the primary has nothing left for it: that is
    // "off on standby" when the standby could have served it (also on a first attempt drawn
    // from a tier plan the primary's failure has not reached yet), not "no tier can serve".
    let standby_could_serve = || {
        candidate_pools(s, first, now)
            .into_iter()
            .any(|pi| Some(s.pools[pi].tier()) != primary && s.pools[pi].has_available(now))
    };
    if primary_only && (ctx.attempts > 1 || standby_could_serve()) {
        let m = app.maintenance.get();
        ctx.refusal = Some(Refusal::Shed {
            reason: "off_on_standby",
            message: format!(
                "{} This feature is switched off until fireTMS is back on its main servers.",
                m.message
            ),
            retry_after: m.retry_after,
        });
        return Error::e_explain(HTTPStatus(503), "route is off while the primary is down");
    }
    if let Some(last) = ctx.last_failure.take() {
        // Retries ran out of backends: answer with what the last attempt met.
        ctx.refusal = Some(last);
        return Error::e_explain(HTTPStatus(502), "no untried backend left");
    }
    let m = app.maintenance.get();
    ctx.refusal = Some(Refusal::Maintenance {
        reason: "no_tier_can_serve",
        message: m.message.clone(),
        retry_after: m.retry_after,
    });
    Error::e_explain(HTTPStatus(503), "no backend can take the request")
}

/// True when some eligible pool still has an available backend this request has not tried.
pub fn has_alternative(ctx: &Ctx, now: u64) -> bool {
    let Some(snap) = &ctx.snap else { return false };
    candidate_pools(snap, ctx.pool.or(ctx.first_pool), now)
        .into_iter()
        .any(|pi| {
            snap.pools[pi].backends.iter().any(|b| {
                b.is_available(now) && !ctx.tried.iter().any(|t| std::sync::Arc::ptr_eq(t, b))
            })
        })
}

/// Pools to try, in order: the chosen one first, then, when it has no untried backend left,
/// every other eligible pool by ascending tier.
fn candidate_pools(snap: &Snapshot, first: Option<usize>, now: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..snap.pools.len()).collect();
    order.sort_by_key(|&i| (Some(i) != first, snap.pools[i].tier(), i));
    order
        .into_iter()
        .filter(|&i| {
            let p = &snap.pools[i];
            Some(i) == first
                || p.conf.spill == Spill::Gradual
                || lower_tiers_dead(snap, p.tier(), now)
        })
        .collect()
}

/// True when no pool below `tier` has an available backend.
fn lower_tiers_dead(snap: &Snapshot, tier: u32, now: u64) -> bool {
    snap.pools
        .iter()
        .filter(|p| p.tier() < tier)
        .all(|p| !p.has_available(now))
}
