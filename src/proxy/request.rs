//! The request phase: identity, hygiene checks, limits, routing, maintenance, tier choice.
//!
//! Everything that can refuse a request before it touches a backend happens here, in the
//! order of the request path: bad input → route → maintenance → (admission) → first pool.

use super::ctx::RequestId;
use super::{hygiene, Ctx};
use crate::app::App;
use crate::respond::Refusal;
use http::header::{HeaderValue, HOST};
use pingora::http::RequestHeader;
use pingora::prelude::*;
use pingora::proxy::Session;

const MAX_REQUEST_ID: usize = 128;

/// Runs the request-phase checks. `Some(refusal)` means answer it now.
pub fn admit(app: &App, session: &mut Session, ctx: &mut Ctx) -> Option<Refusal> {
    let req = session.req_header();
    ctx.request_id = request_id(req);
    let snap = app.store.load();
    ctx.snap = Some(snap.clone());
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
        return Some(r);
    }
    let host = req
        .headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri.authority().map(|a| a.as_str()));
    let Some(route) = snap.routes.find(host, req.uri.path()) else {
        return Some(Refusal::NoRoute);
    };
    ctx.route = Some((route.index, route.priority));

    let m = app.maintenance.get();
    if m.enabled {
        return Some(Refusal::Maintenance {
            reason: "maintenance",
            message: m.message.clone(),
            retry_after: m.retry_after,
        });
    }
    let tiers = snap.tiers();
    let mut rng = fastrand::Rng::new();
    let Some(pool) = tiers.draw(&mut rng) else {
        return Some(Refusal::Maintenance {
            reason: "no_tier_can_serve",
            message: m.message.clone(),
            retry_after: m.retry_after,
        });
    };
    ctx.first_pool = Some(pool);
    None
}

/// Uses the client's `X-Request-Id` when it is sane (sharing its bytes), else makes a new one.
fn request_id(req: &RequestHeader) -> RequestId {
    let given = req.headers.get(&X_REQUEST_ID).filter(|v| {
        let s = v.as_bytes();
        !s.is_empty()
            && s.len() <= MAX_REQUEST_ID
            && s.iter()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
    });
    RequestId::new(match given {
        Some(v) => v.clone(),
        None => new_request_id(),
    })
}

/// 32 random hex digits, without the formatting machinery (it is on every request). Public
/// for `examples/pingora_bare.rs`, which makes its ids the same way.
pub fn new_request_id() -> HeaderValue {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(32);
    for mut word in [fastrand::u64(..), fastrand::u64(..)] {
        for _ in 0..16 {
            out.push(HEX[(word & 0xf) as usize]);
            word >>= 4;
        }
    }
    // Hex digits are always a valid value; the fallback only keeps this free of panics.
    HeaderValue::from_maybe_shared(bytes::Bytes::from(out))
        .unwrap_or_else(|_| HeaderValue::from_static("0"))
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
    req.insert_header("X-Request-Id", ctx.request_id.header())?;
    if let Some(ip) = session
        .client_addr()
        .and_then(|a| a.as_inet())
        .map(|a| a.ip())
    {
        let prev = req
            .headers
            .get(&X_FORWARDED_FOR)
            .and_then(|v| v.to_str().ok())
            .map(str::trim);
        let mut xff = String::with_capacity(prev.map_or(0, |p| p.len() + 2) + 39);
        if let Some(prev) = prev.filter(|p| !p.is_empty()) {
            xff.push_str(prev);
            xff.push_str(", ");
        }
        push_ip(&mut xff, ip);
        req.insert_header("X-Forwarded-For", xff)?;
    }
    let tls = session
        .digest()
        .and_then(|d| d.ssl_digest.as_ref())
        .is_some();
    let proto = HeaderValue::from_static(if tls { "https" } else { "http" });
    req.insert_header("X-Forwarded-Proto", proto)?;
    Ok(())
}

// Lookups by a prepared name: a `&str` name is parsed again on every lookup.
static X_FORWARDED_FOR: http::HeaderName = http::HeaderName::from_static("x-forwarded-for");
static X_REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-request-id");

/// Appends an IP address; IPv4 by hand (the common case, on every request), IPv6 via `fmt`.
fn push_ip(out: &mut String, ip: std::net::IpAddr) {
    match ip {
        std::net::IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                if octet >= 100 {
                    out.push((b'0' + octet / 100) as char);
                }
                if octet >= 10 {
                    out.push((b'0' + octet / 10 % 10) as char);
                }
                out.push((b'0' + octet % 10) as char);
            }
        }
        std::net::IpAddr::V6(v6) => {
            use std::fmt::Write;
            let _ = write!(out, "{v6}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::hygiene::tests::req;
    use super::*;

    #[test]
    fn ip_addresses_are_written_like_display() {
        for ip in [
            "0.0.0.0",
            "10.0.1.10",
            "192.168.100.255",
            "255.255.255.255",
            "::1",
            "2001:db8::7",
        ] {
            let ip: std::net::IpAddr = ip.parse().unwrap();
            let mut s = String::new();
            push_ip(&mut s, ip);
            assert_eq!(s, ip.to_string());
        }
    }

    #[test]
    fn request_ids_are_kept_when_sane_and_made_otherwise() {
        assert_eq!(
            request_id(&req(&[("x-request-id", "abc-1")])).as_str(),
            "abc-1"
        );
        let made = request_id(&req(&[("x-request-id", "bad id<script>")]));
        assert_eq!(made.as_str().len(), 32);
        assert!(made.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(made.as_str(), request_id(&req(&[])).as_str());
        // Too long, empty, and non-ASCII ids are replaced too.
        let long = "a".repeat(MAX_REQUEST_ID + 1);
        for bad in [long.as_str(), "", "id-é"] {
            let id = request_id(&req(&[("x-request-id", bad)]));
            assert_eq!(id.as_str().len(), 32, "{bad:?}");
        }
        let at_limit = "a".repeat(MAX_REQUEST_ID);
        assert_eq!(
            request_id(&req(&[("x-request-id", at_limit.as_str())])).as_str(),
            at_limit
        );
        // The id goes out as the same header value both ways.
        assert_eq!(made.header().as_bytes(), made.as_str().as_bytes());
    }
}
