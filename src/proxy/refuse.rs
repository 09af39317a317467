//! Refusals: every [`Reason`] becomes its answer here, and every own answer is written here.
//!
//! Availability reasons (maintenance, no tier can serve) get the maintenance answer with the
//! operator's message and `retry_after`. Capacity reasons (shedding, a route switched off on
//! the standby) get the reduced-capacity answer with a `Retry-After` jittered by 0–50 %, so
//! refused clients do not return in lockstep; when every tier is degraded, that too becomes the
//! maintenance answer (with the shed reason), never a bare error.

use super::Ctx;
use crate::app::App;
use crate::reload::Snapshot;
use crate::respond::{render_linked, Reason, Refusal};
use pingora::http::ResponseHeader;
use pingora::prelude::*;
use pingora::proxy::Session;

/// The answer to a request refused for `reason`.
pub fn refusal(app: &App, snap: &Snapshot, reason: Reason) -> Refusal {
    let m = app.maintenance.get();
    let (message, retry_after) = match reason {
        Reason::Maintenance | Reason::NoTierCanServe => {
            return Refusal::Maintenance {
                reason,
                message: m.message.clone(),
                retry_after: m.retry_after,
            }
        }
        Reason::OffOnStandby => (
            format!(
                "{} This feature is switched off until fireTMS is back on its main servers.",
                m.message
            ),
            m.retry_after,
        ),
        Reason::ProxyOverloaded
        | Reason::ClientFairShare
        | Reason::Overloaded
        | Reason::QueueTimeout => {
            let conf = &snap.config.admission;
            (conf.message.clone(), conf.retry_after)
        }
    };
    let retry_after = retry_after + retry_after.mul_f64(fastrand::f64() * 0.5);
    if snap.tiers().all_degraded() {
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

/// Writes a refusal in the client's negotiated form and records it in the context.
/// Maintenance and shedding answers use the operator's page template when there is one, and
/// link to the status page when one is configured; every answer carries `Firebreak-Mode`
/// while the mode is not normal.
pub async fn send(app: &App, session: &mut Session, ctx: &mut Ctx, refusal: Refusal) -> Result<()> {
    let maintenance = app.maintenance.get();
    let template = match &refusal {
        Refusal::Maintenance { .. } | Refusal::Shed { .. } => maintenance.page.as_deref(),
        _ => None,
    };
    // Read here rather than kept per request: only a refusal needs it.
    let accept = session
        .req_header()
        .headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let snap = ctx.snap.as_ref();
    let status_page = snap.and_then(|s| s.config.status_page.as_ref().map(|c| c.path.as_str()));
    let ans = render_linked(
        &refusal,
        accept,
        ctx.request_id.as_str(),
        template,
        status_page,
    );
    let mut h = ResponseHeader::build(ans.status, Some(ans.headers.len() + 1))?;
    for (k, v) in &ans.headers {
        h.insert_header(*k, v.as_str())?;
    }
    super::page::mode_header(&mut h, super::page::mode_of(app, ctx))?;
    if refusal.closes_connection() {
        session.set_keepalive(None);
    }
    ctx.refusal = Some(refusal);
    session.write_response_header(Box::new(h), false).await?;
    session.write_response_body(Some(ans.body), true).await
}
