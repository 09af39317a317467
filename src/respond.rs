//! The one place a refusal becomes a status, headers and a body.
//!
//! Every answer firebreak writes itself (maintenance, shedding, 502/504, bad requests, limits)
//! goes through [`render`], in the form the client asked for: an HTML page for browsers, JSON
//! for API clients, chosen by `Accept` (JSON when in doubt). No answer ever names a backend.

use crate::maintenance::{escape_html, render_page, BUILT_IN_PAGE};
use bytes::Bytes;
use std::time::Duration;

/// Why a request was refused for availability or capacity: the `reason` of a `503` answer,
/// its access-log line and the `reason` label of `firebreak_shed_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The operator switched maintenance on.
    Maintenance,
    /// No tier has a backend that can take the request.
    NoTierCanServe,
    /// The route is switched off (`on_standby = "refuse"`) while a standby tier would serve it.
    OffOnStandby,
    /// The whole process is at `admission.max_inflight`.
    ProxyOverloaded,
    /// This client already holds its fair share of a congested pool.
    ClientFairShare,
    /// The pool is at its limit and this priority does not wait.
    Overloaded,
    /// Waited its priority's budget without getting a slot.
    QueueTimeout,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Maintenance => "maintenance",
            Reason::NoTierCanServe => "no_tier_can_serve",
            Reason::OffOnStandby => "off_on_standby",
            Reason::ProxyOverloaded => "proxy_overloaded",
            Reason::ClientFairShare => "client_fair_share",
            Reason::Overloaded => "overloaded",
            Reason::QueueTimeout => "queue_timeout",
        }
    }
}

/// Why firebreak answers instead of a backend.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// Maintenance is on, or no tier can serve.
    Maintenance {
        reason: Reason,
        message: String,
        retry_after: Duration,
    },
    /// Overload: refused to keep what is admitted fast.
    Shed {
        reason: Reason,
        message: String,
        retry_after: Duration,
    },
    NoRoute,
    BadGateway,
    GatewayTimeout,
    BadRequest(&'static str),
    PayloadTooLarge,
    HeaderTooLarge,
    RequestTimeout,
    /// A chunked body firebreak could not hand on; the client should send a length.
    LengthRequired,
}

impl Refusal {
    pub fn status(&self) -> u16 {
        match self {
            Refusal::Maintenance { .. } | Refusal::Shed { .. } => 503,
            Refusal::NoRoute => 404,
            Refusal::BadGateway => 502,
            Refusal::GatewayTimeout => 504,
            Refusal::BadRequest(_) => 400,
            Refusal::PayloadTooLarge => 413,
            Refusal::HeaderTooLarge => 431,
            Refusal::RequestTimeout => 408,
            Refusal::LengthRequired => 411,
        }
    }

    /// Short machine-readable kind, used in JSON, logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Refusal::Maintenance { .. } => "maintenance",
            Refusal::Shed { .. } => "overloaded",
            Refusal::NoRoute => "not_found",
            Refusal::BadGateway => "bad_gateway",
            Refusal::GatewayTimeout => "gateway_timeout",
            Refusal::BadRequest(_) => "bad_request",
            Refusal::PayloadTooLarge => "payload_too_large",
            Refusal::HeaderTooLarge => "header_too_large",
            Refusal::RequestTimeout => "request_timeout",
            Refusal::LengthRequired => "length_required",
        }
    }

    fn reason(&self) -> &'static str {
        match self {
            Refusal::Maintenance { reason, .. } | Refusal::Shed { reason, .. } => reason.as_str(),
            Refusal::BadRequest(r) => r,
            other => other.kind(),
        }
    }

    fn message(&self) -> String {
        match self {
            Refusal::Maintenance { message, .. } | Refusal::Shed { message, .. } => message.clone(),
            Refusal::NoRoute => "No service is configured for this address.".into(),
            Refusal::BadGateway => {
                "fireTMS could not be reached. Please try again in a moment.".into()
            }
            Refusal::GatewayTimeout => {
                "fireTMS took too long to answer. Please try again in a moment.".into()
            }
            Refusal::BadRequest(_) => "The request was malformed.".into(),
            Refusal::PayloadTooLarge => "The request body is too large.".into(),
            Refusal::HeaderTooLarge => "The request headers are too large.".into(),
            Refusal::RequestTimeout => "The request took too long to arrive.".into(),
            Refusal::LengthRequired => {
                "Chunked request bodies over 64 KiB need a Content-Length.".into()
            }
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Refusal::Maintenance { retry_after, .. } | Refusal::Shed { retry_after, .. } => {
                Some(*retry_after)
            }
            _ => None,
        }
    }

    /// The connection should be closed after this answer (the request stream can't be trusted).
    pub fn closes_connection(&self) -> bool {
        matches!(
            self,
            Refusal::BadRequest(_)
                | Refusal::PayloadTooLarge
                | Refusal::HeaderTooLarge
                | Refusal::RequestTimeout
                | Refusal::LengthRequired
        )
    }
}

/// A rendered answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
}

impl Answer {
    /// The answer as HTTP/1.1 bytes, for the few answers written on a raw connection before
    /// Pingora parsed a request (the `408` of a trickled head).
    pub fn to_http1(&self) -> Vec<u8> {
        let reason = http::StatusCode::from_u16(self.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        let mut out = format!("HTTP/1.1 {} {reason}\r\n", self.status);
        for (k, v) in &self.headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("\r\n");
        let mut out = out.into_bytes();
        out.extend_from_slice(&self.body);
        out
    }
}

/// Which representation the client prefers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Json,
}

/// Picks HTML or JSON from an `Accept` header: HTML only when `text/html` is acceptable with a
/// higher quality than JSON (browsers), JSON otherwise (API clients, curl, no header).
pub fn negotiate(accept: Option<&str>) -> Format {
    let Some(accept) = accept else {
        return Format::Json;
    };
    let (mut html, mut json) = (0.0f32, 0.0f32);
    let (mut html_explicit, mut json_explicit) = (false, false);
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|v| v.trim().parse::<f32>().ok())
            .unwrap_or(1.0)
            .clamp(0.0, 1.0);
        match media.as_str() {
            "text/html" | "application/xhtml+xml" => (html, html_explicit) = (html.max(q), true),
            "application/json" => (json, json_explicit) = (json.max(q), true),
            m if m.ends_with("+json") => (json, json_explicit) = (json.max(q), true),
            "text/*" if !html_explicit => html = html.max(q),
            "application/*" if !json_explicit => json = json.max(q),
            "*/*" => {
                if !html_explicit {
                    html = html.max(q * 0.5);
                }
                if !json_explicit {
                    json = json.max(q);
                }
            }
            _ => {}
        }
    }
    if html > json {
        Format::Html
    } else {
        Format::Json
    }
}

/// Renders `refusal` for a client whose `Accept` is `accept`. `page` is the operator's HTML
/// template (None = the built-in page).
pub fn render(
    refusal: &Refusal,
    accept: Option<&str>,
    request_id: &str,
    page: Option<&str>,
) -> Answer {
    render_linked(refusal, accept, request_id, page, None)
}

/// [`render`], linking a maintenance or shedding answer to the public status page at
/// `status_page` (its path): `{{status_link}}` in the page, `status_page` in the JSON.
pub fn render_linked(
    refusal: &Refusal,
    accept: Option<&str>,
    request_id: &str,
    page: Option<&str>,
    status_page: Option<&str>,
) -> Answer {
    let linked = matches!(refusal, Refusal::Maintenance { .. } | Refusal::Shed { .. });
    let status_page = status_page.filter(|_| linked);
    let status = refusal.status();
    let message = refusal.message();
    let retry = refusal.retry_after().map(|d| d.as_secs().max(1));
    let (ctype, body) = match negotiate(accept) {
        Format::Json => {
            let mut v = serde_json::json!({
                "error": refusal.kind(),
                "status": status,
                "reason": refusal.reason(),
                "message": message,
                "retry_after_seconds": retry,
                "request_id": request_id,
            });
            if let Some(p) = status_page {
                v["status_page"] = p.into();
            }
            ("application/json", v.to_string())
        }
        Format::Html => {
            let title = match refusal {
                Refusal::Maintenance { .. } => "fireTMS maintenance",
                Refusal::Shed { .. } => "fireTMS is busy",
                _ => "fireTMS",
            };
            let retry_text = retry.map(|s| s.to_string()).unwrap_or_default();
            let link = status_page.map_or(String::new(), |p| {
                let href = escape_html(p);
                format!("<p><a href=\"{href}\">Current status and updates</a></p>")
            });
            let template = page
                .unwrap_or(BUILT_IN_PAGE)
                .replace("{{status_link}}", &link);
            let html = render_page(
                Some(&template),
                title,
                &escape_html(&message),
                refusal.reason(),
                &retry_text,
                request_id,
                status,
            );
            ("text/html; charset=utf-8", html)
        }
    };
    let mut headers = vec![
        ("Content-Type", ctype.to_string()),
        ("Content-Length", body.len().to_string()),
        ("Cache-Control", "no-store".to_string()),
        ("X-Request-Id", request_id.to_string()),
    ];
    if let Some(s) = retry {
        headers.push(("Retry-After", s.to_string()));
    }
    if refusal.closes_connection() {
        headers.push(("Connection", "close".to_string()));
    }
    Answer {
        status,
        headers,
        body: Bytes::from(body),
    }
}

#[cfg(test)]
#[path = "respond_tests.rs"]
mod tests;
