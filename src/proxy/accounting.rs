//! Accounting: latency samples when a response head arrives, metrics and the access log when
//! the request ends (Pingora's `logging` runs once per request, errors and own answers included).

use super::Ctx;
use crate::app::App;
use crate::clock::now_ns;
use crate::metrics::{label, Key};
use crate::respond::Refusal;
use pingora::prelude::*;
use pingora::proxy::Session;

/// A response head arrived from the current backend: one latency sample, or, for a 5xx, one
/// drop for the pool's limiter (a fast error must never look like a fast backend).
pub fn response_arrived(ctx: &Ctx, status: u16) {
    let (Some(guard), Some(snap), Some(pi)) = (&ctx.backend, &ctx.snap, ctx.pool) else {
        return;
    };
    let now = now_ns();
    let rtt = now.saturating_sub(ctx.attempt_start_ns);
    guard.backend().record_response(rtt, now);
    if let Some(pool) = snap.pools.get(pi) {
        if status >= 500 {
            pool.gate.record_drop();
        } else {
            pool.window.record(rtt);
        }
    }
}

/// The request is over: metrics and one access-log line.
pub fn finish(app: &App, session: &Session, e: Option<&Error>, ctx: &mut Ctx) {
    let code = session
        .response_written()
        .map(|r| r.status.as_u16())
        .or_else(|| ctx.refusal.as_ref().map(|r| r.status()))
        .unwrap_or(0);
    let elapsed = now_ns().saturating_sub(ctx.start_ns) as f64 / 1e9;
    let route = ctx.route_name();
    let counted_pool = if ctx.refusal.is_some() && ctx.backend.is_none() {
        None
    } else {
        ctx.pool
    };
    let pool = counted_pool.map_or("none", |_| ctx.pool_name());
    // The page has no route index: its own label, never the unrouted requests' handles.
    if let (Some(snap), false) = (&ctx.snap, ctx.page) {
        let key = Key {
            route: ctx.route.map(|(i, _)| i),
            route_name: route,
            pool: counted_pool,
            pool_name: pool,
        };
        snap.metrics.count(&app.metrics.requests, key, code);
        snap.metrics.observe(&app.metrics.duration, key, elapsed);
    } else {
        app.metrics
            .requests
            .with_label_values(&[route, pool, &label(code)])
            .inc();
        app.metrics
            .duration
            .with_label_values(&[route, pool])
            .observe(elapsed);
    }
    if let (Some(snap), Some(pi), true) = (
        &ctx.snap,
        ctx.pool,
        ctx.backend.is_some() || ctx.refusal.is_none(),
    ) {
        if let Some(p) = snap.pools.get(pi) {
            p.requests
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if code == 0 || code >= 500 {
                p.errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            } else if ctx.refusal.is_none() {
                p.gate.observed.served((elapsed * 1e9) as u64);
            }
        }
    }
    let shed_reason = match &ctx.refusal {
        Some(Refusal::Shed { reason, .. }) | Some(Refusal::Maintenance { reason, .. }) => {
            Some(reason.as_str())
        }
        _ => None,
    };
    if let Some(reason) = shed_reason {
        app.metrics.shed.with_label_values(&[route, reason]).inc();
    }
    if let Some(Refusal::Shed { reason, .. } | Refusal::Maintenance { reason, .. }) = &ctx.refusal {
        use crate::respond::Reason as R;
        let capacity = matches!(
            reason,
            R::ProxyOverloaded | R::ClientFairShare | R::Overloaded | R::QueueTimeout
        );
        if capacity {
            app.status_page.record_shed(ctx.start_ns);
        }
    }
    let req = session.req_header();
    tracing::info!(
        target: "access",
        request_id = %ctx.request_id,
        client = ctx.identity.as_ref().map(|id| tracing::field::display(id.client)),
        method = %req.method,
        path = %req.uri.path(),
        route = %route,
        pool,
        backend = ctx.tried.last().map(|b| b.label.as_str()).unwrap_or("-"),
        status = code,
        // Microsecond precision: `0.991` ms, not `0.9912390000000001`.
        duration_ms = (elapsed * 1e6).round() / 1e3,
        attempts = ctx.attempts,
        refusal = ctx.refusal.as_ref().map(|r| r.kind()).unwrap_or("-"),
        shed_reason = shed_reason.unwrap_or("-"),
        error = e.map(|e| e.etype().as_str()).unwrap_or("-"),
    );
    if let (None, Some(guard), 1..=499) = (e, &ctx.backend, code) {
        guard.backend().record_success();
    }
    ctx.backend = None;
}
