//! The public status page on the proxy listeners ([`crate::status_page`]): answered here,
//! right after the request's hygiene checks and before any route is looked up, so it is never
//! proxied and needs no backend.
//!
//! `GET` and `HEAD` get the page (or `PATH.json`) from memory, cacheable for a few seconds;
//! other methods `405` with `Allow`; beyond `status_page.max_rps` a `429` with `Retry-After`.
//! Every answer of the proxy, this one included, carries `Firebreak-Mode` while the mode is
//! not normal ([`mode_header`]).

use super::Ctx;
use crate::app::App;
use crate::clock::unix_now;
use crate::status_page::{Form, Mode, Public, Source};
use http::Method;
use pingora::http::ResponseHeader;
use pingora::prelude::*;
use pingora::proxy::Session;

/// The header that tells the application the service is not in its normal state.
pub const MODE_HEADER: &str = "Firebreak-Mode";

/// Prepared for the lookup on every normal answer: a `&str` name is parsed on each lookup.
static MODE_NAME: http::HeaderName = http::HeaderName::from_static("firebreak-mode");

/// The mode of this request: as the route step read it, else now.
pub fn mode_of(app: &App, ctx: &Ctx) -> Mode {
    ctx.mode
        .unwrap_or_else(|| app.status_page.mode(app.maintenance.get().enabled))
}

/// Sets (or, while normal, removes) `Firebreak-Mode` on an answer.
pub fn mode_header(resp: &mut ResponseHeader, mode: Mode) -> Result<()> {
    match mode.header() {
        Some(v) => resp.insert_header(MODE_HEADER, v)?,
        None => {
            resp.remove_header(&MODE_NAME);
        }
    }
    Ok(())
}

/// Answers a request for the status page.
pub async fn serve(app: &App, session: &mut Session, ctx: &mut Ctx, form: Form) -> Result<()> {
    ctx.page = true;
    let Some(snap) = ctx.snap.clone() else {
        return Error::e_explain(InternalError, "status page without a snapshot");
    };
    let Some(conf) = snap.config.status_page.as_ref() else {
        return Error::e_explain(InternalError, "status page without [status_page]");
    };
    let maintenance = app.maintenance.get();
    let mode = app.status_page.mode(maintenance.enabled);
    ctx.mode = Some(mode);
    let method = session.req_header().method.clone();
    if method != Method::GET && method != Method::HEAD {
        // Never read a body for the page: the connection closes after the answer.
        session.set_keepalive(None);
        let body = "Only GET and HEAD are allowed here.\n";
        let h = head(
            405,
            "text/plain; charset=utf-8",
            body.len(),
            "no-store",
            mode,
            ctx,
            &[("Allow", "GET, HEAD"), ("Connection", "close")],
        )?;
        return send(session, h, body.into(), false).await;
    }
    let is_head = method == Method::HEAD;
    if let Err(secs) = app.status_page.cap.take(conf.max_rps, ctx.start_ns) {
        let body = "Too many requests for the status page; please try again in a moment.\n";
        let retry = secs.to_string();
        let h = head(
            429,
            "text/plain; charset=utf-8",
            body.len(),
            "no-store",
            mode,
            ctx,
            &[("Retry-After", retry.as_str())],
        )?;
        return send(session, h, body.into(), is_head).await;
    }
    let rendered = app
        .status_page
        .page(mode, snap.version, ctx.start_ns, unix_now(), |since| {
            let plan = snap.tiers();
            let notes = app.ledger.view().notes;
            Public::build(&Source {
                conf,
                routes: &snap.config.routes,
                mode,
                since,
                maintenance: &maintenance,
                plan: &plan,
                drill: app.standby.drill_share() > 0.0,
                failback_pending: app.failback.pending(),
                notes: &notes,
                now: unix_now(),
            })
        });
    let (ctype, body, extra): (_, _, &[(&'static str, &str)]) = match form {
        Form::Html => ("text/html; charset=utf-8", rendered.html.clone(), &[]),
        // The application may read it from its own origin's pages.
        Form::Json => (
            "application/json",
            rendered.json.clone(),
            &[("Access-Control-Allow-Origin", "*")],
        ),
    };
    let cache = format!("public, max-age={}", crate::status_page::MAX_AGE_SECS);
    let h = head(200, ctype, body.len(), &cache, mode, ctx, extra)?;
    send(session, h, body, is_head).await
}

/// The head of a status page answer.
fn head(
    status: u16,
    ctype: &str,
    len: usize,
    cache: &str,
    mode: Mode,
    ctx: &Ctx,
    extra: &[(&'static str, &str)],
) -> Result<Box<ResponseHeader>> {
    let mut h = ResponseHeader::build(status, Some(8 + extra.len()))?;
    h.insert_header("Content-Type", ctype)?;
    h.insert_header("Content-Length", len.to_string())?;
    h.insert_header("Cache-Control", cache)?;
    h.insert_header("X-Content-Type-Options", "nosniff")?;
    // No script, no frame, no request to anywhere: only the inline style is allowed.
    h.insert_header(
        "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    )?;
    h.insert_header("X-Request-Id", ctx.request_id.header())?;
    for (k, v) in extra {
        h.insert_header(*k, *v)?;
    }
    mode_header(&mut h, mode)?;
    Ok(Box::new(h))
}

async fn send(
    session: &mut Session,
    h: Box<ResponseHeader>,
    body: bytes::Bytes,
    is_head: bool,
) -> Result<()> {
    session.write_response_header(h, is_head).await?;
    if is_head {
        return Ok(());
    }
    session.write_response_body(Some(body), true).await
}
