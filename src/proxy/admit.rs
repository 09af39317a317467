//! The admission phase: after routing and the tier draw, ask the pool's gate for a slot, then
//! apply the route's standby policy to the pool that finally admitted the request.
//!
//! A shed request gets `503` + `Retry-After` (with 0–50 % jitter, so refused clients do not
//! return in lockstep). When every tier is degraded, the refusal is the maintenance answer with
//! the shed reason, as the SPEC asks; otherwise it is the reduced-capacity answer.

use super::Ctx;
use crate::admission::{admit, Ask};
use crate::app::App;
use crate::config::{ClientKey, OnStandby};
use crate::respond::Refusal;
use pingora::proxy::Session;
use std::time::Duration;

/// Admits the request or says why not.
pub async fn admission(app: &App, session: &Session, ctx: &mut Ctx) -> Option<Refusal> {
    let (Some(snap), Some(pool), Some((_, priority))) =
        (ctx.snap.clone(), ctx.first_pool, ctx.route)
    else {
        return None;
    };
    let conf = &snap.config.admission;
    let bucket = match &conf.client_key {
        ClientKey::Header(h) => match session.req_header().headers.get(h.as_str()) {
            Some(v) => app.tenants.bucket(v.as_bytes()),
            None => app.tenants.bucket(client_ip(session)),
        },
        ClientKey::Addr => app.tenants.bucket(client_ip(session)),
    };
    let rehearsal = app.standby.drill_share() > 0.0;
    let drawn_tier = snap.pools[pool].tier();
    let ask = Ask {
        pool,
        priority,
        bucket,
        process_inflight: app.inflight(),
        rehearsal,
        now_ns: ctx.start_ns,
    };
    let (pool, permit) = match admit(&snap, &app.tenants, ask).await {
        Ok(ok) => ok,
        Err(reason) => {
            return Some(shed(
                app,
                ctx,
                reason.as_str(),
                conf.message.clone(),
                conf.retry_after,
            ))
        }
    };
    let route_refuses = ctx
        .route_conf()
        .is_some_and(|r| r.on_standby == OnStandby::Refuse);
    if route_refuses && Some(snap.pools[pool].tier()) != snap.tiers().primary_tier() {
        let m = app.maintenance.get();
        let msg = format!(
            "{} This feature is switched off until fireTMS is back on its main servers.",
            m.message
        );
        return Some(shed(app, ctx, "off_on_standby", msg, m.retry_after));
    }
    if rehearsal && snap.pools[pool].tier() < drawn_tier {
        // The standby could not take its rehearsal share: a failure for the drill's SLO.
        app.standby
            .drill_fallbacks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    ctx.first_pool = Some(pool);
    ctx.permit = Some(permit);
    if snap.pools[pool].tier() == snap.tiers().primary_tier().unwrap_or(0) {
        mirror(app, session, ctx, &snap);
    }
    None
}

/// Mirrors the request to the standby when its route asks for shadow traffic (GET/HEAD only).
fn mirror(app: &App, session: &Session, ctx: &Ctx, snap: &std::sync::Arc<crate::reload::Snapshot>) {
    let req = session.req_header();
    if !matches!(req.method, http::Method::GET | http::Method::HEAD) {
        return;
    }
    let Some(route) = ctx.route_conf() else {
        return;
    };
    if route.shadow > 0.0 {
        let host = req
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let path = req.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        app.standby
            .maybe_shadow(snap, route.shadow, host, path, crate::clock::now_ns());
    }
}

fn client_ip(session: &Session) -> Option<std::net::IpAddr> {
    session
        .client_addr()
        .and_then(|a| a.as_inet())
        .map(|a| a.ip())
}

fn shed(
    app: &App,
    ctx: &Ctx,
    reason: &'static str,
    message: String,
    retry_after: Duration,
) -> Refusal {
    let jitter = retry_after.mul_f64(fastrand::f64() * 0.5);
    let retry_after = retry_after + jitter;
    let all_degraded = ctx.snap.as_ref().is_some_and(|s| s.tiers().all_degraded());
    if all_degraded {
        let m = app.maintenance.get();
        Refusal::Maintenance {
            reason,
            message: m.message.clone(),
            retry_after,
        }
    } else {
        Refusal::Shed {
            reason,
            message,
            retry_after,
        }
    }
}
