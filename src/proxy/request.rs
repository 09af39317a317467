//! The route step: identity, hygiene checks, limits, routing, maintenance, the draw.
//!
//! Everything that can refuse a request before admission happens here, in the
//! order of the request path: bad input → the status page → route → maintenance → the pool
//! placement draws.

use super::{hygiene, refuse, Ctx};
use crate::app::App;
use crate::config::Priority;
use crate::placement::{Keyed, Placement};
use crate::reload::Snapshot;
use crate::request_id::RequestId;
use crate::respond::{Reason, Refusal};
use http::header::{HeaderValue, HOST};
use pingora::http::RequestHeader;
use pingora::prelude::*;
use pingora::proxy::Session;
use std::sync::Arc;

/// What the route step hands to admission: the request's snapshot, route, priority and the
/// pool placement drew for it.
pub struct Routed {
    pub snap: Arc<Snapshot>,
    pub route: usize,
    pub priority: Priority,
    pub pool: usize,
}

/// Where the route step sends a request it does not refuse.
pub enum Step {
    /// To a backend, through admission.
    Proxy(Routed),
    /// To the public status page, answered by firebreak itself.
    Page(crate::status_page::Form),
}

/// The request-phase checks, the status page, routing, maintenance and the draw. `Err` means
/// answer it now.
pub fn route(app: &App, session: &mut Session, ctx: &mut Ctx) -> Result<Step, Refusal> {
    let req = session.req_header();
    ctx.request_id = RequestId::from_client(req);
    let snap = app.store.load();
    ctx.identity = session.client_addr().and_then(|a| a.as_inet()).map(|a| {
        let lines = req.headers.get_all(&X_FORWARDED_FOR).into_iter();
        let lines = lines.filter_map(|v| v.to_str().ok());
        crate::identity::resolve(a.ip(), lines, &snap.config.clients.trusted_proxies)
    });
    ctx.snap = Some(snap.clone());
    let maintenance_on = app.maintenance.get().enabled;
    ctx.mode = Some(app.status_page.mode(maintenance_on));
    // The request began when its context was made, a moment ago: one clock read serves both.
    app.retry_budget.on_request(ctx.start_ns);

    let limits = &snap.config.limits;
    // HTTP/1: the head as it came from the client; Pingora drops a Content-Length that came
    // with Transfer-Encoding (pingora #945), so only the raw bytes still show it.
    let raw = session
        .as_downstream()
        .as_http1()
        .map(|h1| h1.get_headers_raw_bytes());
    if let Some(r) = hygiene::check(req, raw.as_deref(), limits) {
        return Err(r);
    }
    let host = req
        .headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri.authority().map(|a| a.as_str()));
    let page = snap.config.status_page.as_ref();
    if let Some(form) = page.and_then(|c| crate::status_page::wanted(c, host, req.uri.path())) {
        return Ok(Step::Page(form));
    }
    let Some(route) = snap.routes.find(host, req.uri.path()) else {
        return Err(Refusal::NoRoute);
    };
    ctx.route = Some((route.index, route.priority));
    let (index, priority) = (route.index, route.priority);

    if maintenance_on {
        return Err(refuse::refusal(app, &snap, Reason::Maintenance));
    }
    let client = ctx.identity.as_ref().map(|id| id.client);
    let key = (snap.config.affinity.as_ref()).and_then(|a| {
        let key = crate::affinity::key_of(session.req_header(), &a.key, client)?;
        Some(Keyed {
            key,
            holds: &app.holds,
            hold_ns: crate::clock::ns(a.hold),
        })
    });
    ctx.keyed = key.is_some();
    let placement = Placement::new(&snap);
    let drawn = match key {
        Some(k) => placement.draw_keyed(k, ctx.start_ns),
        None => placement.draw(&mut fastrand::Rng::new()),
    };
    let pool = drawn.map_err(|reason| refuse::refusal(app, &snap, reason))?;
    ctx.first_pool = Some(pool);
    Ok(Step::Proxy(Routed {
        snap,
        route: index,
        priority,
        pool,
    }))
}

/// Counts request body bytes; past the limit the request fails with 413.
pub fn count_body(n: usize, ctx: &mut Ctx) -> Result<()> {
    ctx.body_bytes += n as u64;
    let max = ctx
        .snap
        .as_ref()
        .map_or(u64::MAX, |s| s.config.limits.max_body_bytes);
    if ctx.body_bytes > max {
        ctx.refusal = Some(Refusal::PayloadTooLarge);
        return Error::e_explain(HTTPStatus(413), "request body over limits.max_body_bytes");
    }
    Ok(())
}

/// Headers for the upstream request: request id and forwarding headers.
///
/// Names are given as static strings in their usual case: Pingora keeps a case-preserving
/// copy of every name, and a `&'static str` becomes that copy without an allocation (a
/// `HeaderName` would be re-titled into a new buffer first).
pub fn forward_headers(session: &Session, req: &mut RequestHeader, ctx: &Ctx) -> Result<()> {
    origin_form(req);
    if let Some(host) = ctx.pool_conf().and_then(|p| p.host_header.as_deref()) {
        req.insert_header(HOST, host)?;
    }
    if super::body::drop_expect(ctx) {
        req.remove_header(&http::header::EXPECT);
    }
    req.insert_header("X-Request-Id", ctx.request_id.header())?;
    // The peer alone, or (from a trusted proxy) the list it sent extended with it.
    match &ctx.identity {
        Some(id) => req.insert_header("X-Forwarded-For", id.forwarded_for.as_str())?,
        None => {
            req.remove_header(&X_FORWARDED_FOR);
        }
    }
    let tls = session
        .digest()
        .and_then(|d| d.ssl_digest.as_ref())
        .is_some();
    let proto = HeaderValue::from_static(if tls { "https" } else { "http" });
    req.insert_header("X-Forwarded-Proto", proto)?;
    Ok(())
}

/// An absolute-form target (`GET http://host/path`, RFC 9112 §3.2.2, meant for proxies) goes
/// upstream in origin-form (`GET /path`), as an origin server expects; `Host` already names
/// the authority. Origin-form and `*` targets keep their bytes as received.
fn origin_form(req: &mut RequestHeader) {
    let raw = req.raw_path();
    if raw.starts_with(b"/") || raw == b"*" {
        return;
    }
    let target = req.uri.path_and_query().map_or("/", |pq| pq.as_str());
    if let Ok(uri) = http::Uri::try_from(target) {
        req.set_uri(uri);
    }
}

// Lookups by a prepared name: a `&str` name is parsed again on every lookup.
static X_FORWARDED_FOR: http::HeaderName = http::HeaderName::from_static("x-forwarded-for");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_form_targets_go_upstream_in_origin_form() {
        let head = |target: &[u8]| RequestHeader::build("GET", target, None).unwrap();
        for (target, upstream) in [
            (&b"http://t/abs?x=1"[..], &b"/abs?x=1"[..]),
            (b"https://t:8443", b"/"),
            (b"/plain?y", b"/plain?y"),
            (b"/%ZZ/raw", b"/%ZZ/raw"),
            (b"*", b"*"),
        ] {
            let mut req = head(target);
            origin_form(&mut req);
            assert_eq!(
                req.raw_path(),
                upstream,
                "{}",
                String::from_utf8_lossy(target)
            );
        }
    }
}
