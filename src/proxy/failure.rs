//! Upstream failures: passive health signals, retry decisions, and the final error answer.
//!
//! Pingora calls `fail_to_connect` / `error_while_proxy` for every failed attempt and lets the
//! returned error's retry flag decide whether `upstream_peer` runs again. We always set the
//! flag explicitly: Pingora 0.9 panics on an error whose retry flag is left `ReusedOnly` when it
//! decides whether to retry (`RetryType::retry` in `pingora-error`).
//! Exchange failures are retried only for safe methods (GET, HEAD, OPTIONS, TRACE) or requests
//! carrying an `Idempotency-Key`: a request that may have reached a backend is never sent twice
//! unless the client said that is harmless.

use super::{refuse, Ctx};
use crate::app::App;
use crate::clock::now_ns;
use crate::pool::PassiveFailure;
use crate::respond::Refusal;
use crate::retry::{may_retry, Attempt, Stage};
use http::Method;
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, Session};
use pingora::{ErrorSource, ErrorType};

/// Safe to send twice: safe methods, or the client vouched with an `Idempotency-Key`.
fn replay_safe(session: &Session) -> bool {
    let req = session.req_header();
    matches!(
        req.method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) || req.headers.contains_key("idempotency-key")
}

fn is_timeout(e: &Error) -> bool {
    matches!(
        e.etype(),
        ErrorType::ConnectTimedout | ErrorType::ReadTimedout | ErrorType::WriteTimedout
    )
}

/// The answer an upstream failure deserves if it turns out to be the last one.
fn failure_answer(e: &Error) -> Refusal {
    if is_timeout(e) {
        Refusal::GatewayTimeout
    } else {
        Refusal::BadGateway
    }
}

/// Marks the current backend as failed; wakes the planner when that ejected it.
fn blame_backend(app: &App, ctx: &Ctx, kind: PassiveFailure) {
    let (Some(guard), Some(snap), Some(pi)) = (&ctx.backend, &ctx.snap, ctx.pool) else {
        return;
    };
    let active = snap.pools.get(pi).is_some_and(|p| p.actively_checked());
    if kind == PassiveFailure::Response {
        // Timeouts and resets are overload signals for the pool's limiter; a refused connect
        // is a dead backend, which health handles.
        if let Some(p) = snap.pools.get(pi) {
            p.gate.record_drop();
        }
    }
    if guard.backend().record_failure(kind, active, now_ns()) {
        tracing::warn!(pool = ctx.pool_name(), backend = %guard.backend().label, ?kind, "backend ejected by passive health");
        app.replan.notify_one();
    }
}

fn decide(app: &App, session: &Session, ctx: &Ctx, stage: Stage, reason: &str) -> bool {
    let attempt = Attempt {
        stage,
        idempotent: replay_safe(session),
        body_replayable: !session.as_ref().retry_buffer_truncated(),
        response_started: session.response_written().is_some(),
        attempts: ctx.attempts,
    };
    let Some(snap) = &ctx.snap else { return false };
    let now = now_ns();
    let ok = ctx.refusal.is_none()
        && may_retry(&attempt, &snap.config.retry)
        && super::upstream::has_alternative(ctx, now)
        && app.retry_budget.try_withdraw(&snap.config.retry, now);
    if ok {
        app.metrics
            .retries
            .with_label_values(&[ctx.pool_name(), reason])
            .inc();
    }
    ok
}

pub fn on_connect_failure(
    app: &App,
    session: &mut Session,
    ctx: &mut Ctx,
    mut e: Box<Error>,
) -> Box<Error> {
    blame_backend(app, ctx, PassiveFailure::Connect);
    if let (Some(reason), Some(guard)) = (crate::outbound::tls_reason(&e), &ctx.backend) {
        // A backend whose certificate fails verification: counted, and said in `/status`.
        app.metrics
            .tls_errors
            .with_label_values(&[ctx.pool_name(), reason])
            .inc();
        if guard.backend().set_problem(Some(format!("tls: {reason}"))) {
            tracing::warn!(pool = ctx.pool_name(), backend = %guard.backend().label, reason, "TLS handshake with the backend failed");
        }
    }
    ctx.last_failure = Some(failure_answer(&e));
    let retry = decide(app, session, ctx, Stage::Connect, "connect");
    e.set_retry(retry);
    e
}

/// A failed exchange. `reused`: it went out on a pooled connection (counted: a backend that
/// closes idle connections sooner than the pool's `idle_timeout` shows here).
pub fn on_exchange_failure(
    app: &App,
    session: &mut Session,
    ctx: &mut Ctx,
    mut e: Box<Error>,
    reused: bool,
) -> Box<Error> {
    let upstream_fault = *e.esource() == ErrorSource::Upstream && ctx.refusal.is_none();
    if upstream_fault && reused {
        app.metrics
            .reuse_failures
            .with_label_values(&[ctx.pool_name()])
            .inc();
    }
    let retry = if upstream_fault {
        blame_backend(app, ctx, PassiveFailure::Response);
        ctx.last_failure = Some(failure_answer(&e));
        let reason = if is_timeout(&e) { "timeout" } else { "reset" };
        decide(app, session, ctx, Stage::Exchange, reason)
    } else {
        false
    };
    e.set_retry(retry);
    e
}

/// Maps the final error to an answer in the client's form and writes it if still possible.
pub async fn answer(app: &App, session: &mut Session, e: &Error, ctx: &mut Ctx) -> FailToProxy {
    let refusal = match (&ctx.refusal, e.etype()) {
        (Some(r), _) => Some(r.clone()),
        (None, HTTPStatus(413)) => Some(Refusal::PayloadTooLarge),
        (None, HTTPStatus(408)) => Some(Refusal::RequestTimeout),
        (None, HTTPStatus(400)) => Some(Refusal::BadRequest("bad_request")),
        // A streamed body whose next piece did not come within `limits.body_read_timeout`.
        (None, ErrorType::ReadTimedout) if *e.esource() == ErrorSource::Downstream => {
            Some(Refusal::RequestTimeout)
        }
        _ if is_timeout(e) && *e.esource() == ErrorSource::Upstream => {
            Some(Refusal::GatewayTimeout)
        }
        _ => match e.esource() {
            ErrorSource::Downstream => match e.etype() {
                ErrorType::ReadError | ErrorType::WriteError | ErrorType::ConnectionClosed => None,
                _ => Some(Refusal::BadRequest("bad_request")),
            },
            _ => Some(Refusal::BadGateway),
        },
    };
    let Some(refusal) = refusal else {
        return FailToProxy {
            error_code: 0,
            can_reuse_downstream: false,
        };
    };
    let code = refusal.status();
    // The connection is not reused after a failed exchange: say so, so the client does not
    // send its next request into a closing socket.
    session.set_keepalive(None);
    if session.response_written().is_none() {
        // The client never sees a half-written error page: if sending fails, the connection
        // is closed by Pingora anyway.
        let _ = refuse::send(app, session, ctx, refusal).await;
    } else {
        ctx.refusal = Some(refusal);
    }
    FailToProxy {
        error_code: code,
        can_reuse_downstream: false,
    }
}
