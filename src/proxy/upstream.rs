//! The upstream step: for each attempt, placement gives the order of pools (the pool that
//! admitted the request first; on a retry the other candidates), and the pool's plan picks an
//! untried backend. When none is left, placement says why.

use super::{refuse, Ctx};
use crate::app::App;
use crate::clock::now_ns;
use crate::placement::Placement;
use crate::pool::select::pick;
use crate::respond::Reason;
use pingora::prelude::*;
use pingora::proxy::Session;
use pingora::upstreams::peer::HttpPeer;

pub fn peer(app: &App, _session: &mut Session, ctx: &mut Ctx) -> Result<Box<HttpPeer>> {
    // Fail closed: a request that reaches here was routed and admitted, which sets all three.
    let (Some(snap), Some(current), Some((route, _))) =
        (ctx.snap.clone(), ctx.pool.or(ctx.first_pool), ctx.route)
    else {
        return Error::e_explain(InternalError, "request was not placed");
    };
    let Some(route) = snap.config.routes.get(route) else {
        return Error::e_explain(InternalError, "route outside the pinned snapshot");
    };
    ctx.attempts += 1;
    ctx.backend = None; // the previous attempt is over
    let now = now_ns();
    let mut rng = fastrand::Rng::new();
    let placement = Placement::new(&snap).keyed(ctx.keyed);
    for pi in placement.attempts(current, route, now) {
        let pool = &snap.pools[pi];
        let plan = pool.plan();
        if let Some(bi) = pick(&pool.backends, &plan, &ctx.tried, &mut rng, now) {
            let backend = pool.backends[bi].clone();
            let peer = pool.peer.peer(backend.addr, backend.host.as_deref());
            ctx.backend = Some(backend.start());
            ctx.tried.push(backend);
            ctx.pool = Some(pi);
            ctx.attempt_start_ns = now;
            return Ok(Box::new(peer));
        }
    }
    let reason = placement.exhausted(current, route, ctx.attempts, now);
    if reason == Reason::OffOnStandby {
        ctx.refusal = Some(refuse::refusal(app, &snap, reason));
        return Error::e_explain(HTTPStatus(503), "route is off while the primary is down");
    }
    if let Some(last) = ctx.last_failure.take() {
        // Retries ran out of backends: answer with what the last attempt met.
        ctx.refusal = Some(last);
        return Error::e_explain(HTTPStatus(502), "no untried backend left");
    }
    ctx.refusal = Some(refuse::refusal(app, &snap, reason));
    Error::e_explain(HTTPStatus(503), "no backend can take the request")
}

/// True when some candidate pool still has an available backend this request has not tried.
pub fn has_alternative(ctx: &Ctx, now: u64) -> bool {
    let (Some(snap), Some(current)) = (&ctx.snap, ctx.pool.or(ctx.first_pool)) else {
        return false;
    };
    Placement::new(snap)
        .keyed(ctx.keyed)
        .has_alternative(current, &ctx.tried, now)
}
