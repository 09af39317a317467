//! Answers to requests firebreak never got to see: a head Pingora's parser refused (bad
//! `Host`, a NUL byte, a URI or head over Pingora's own limits) and a head that took longer
//! than `limits.header_read_timeout`.
//!
//! Pingora answers a head it cannot parse itself, before any proxy hook runs, with a bare
//! `400` (`Server: Pingora`, empty body), and logs and counts nothing. The connection's stream
//! wrapper ([`super::deadline`]) sees that answer go out while the head is still being read,
//! and writes firebreak's own instead: the same JSON body and request id as every other
//! refusal (no `Accept` was parsed to negotiate by). Both kinds are counted in
//! `firebreak_requests_total{route="-",pool="none"}` — `-`: no request was parsed, where
//! `none` means a parsed request matched no route — and logged on the `access` target, at most
//! one line a second with the number left out since the last.

use crate::respond::{render, Refusal};
use prometheus::IntCounter;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// What a connection needs to count and log its unparsed refusals.
#[derive(Debug, Clone)]
pub struct Unparsed {
    /// `firebreak_requests_total{route="-",pool="none",code="400"}`.
    pub bad_request: IntCounter,
    /// The same with `code="408"`.
    pub timeout: IntCounter,
}

/// The second of the last log line, and the lines left out since.
static LAST_LOGGED: AtomicU64 = AtomicU64::new(0);
static LEFT_OUT: AtomicU64 = AtomicU64::new(0);

impl Unparsed {
    /// Counts and logs one refusal; returns the answer to write.
    pub fn refuse(&self, refusal: &Refusal, peer: Option<String>) -> Vec<u8> {
        match refusal {
            Refusal::RequestTimeout => self.timeout.inc(),
            _ => self.bad_request.inc(),
        }
        let id = crate::request_id::new_request_id();
        let id = id.to_str().unwrap_or("");
        log(refusal, peer, id);
        render(refusal, None, id, None).to_http1()
    }
}

/// The connection guard's log budget: `Some(lines left out since the last)` at most once a
/// second, `None` (counted as left out) otherwise.
pub fn once_a_second() -> Option<u64> {
    let now = crate::clock::unix_now();
    let last = LAST_LOGGED.load(Relaxed);
    if now <= last
        || LAST_LOGGED
            .compare_exchange(last, now, Relaxed, Relaxed)
            .is_err()
    {
        LEFT_OUT.fetch_add(1, Relaxed);
        return None;
    }
    Some(LEFT_OUT.swap(0, Relaxed))
}

fn log(refusal: &Refusal, peer: Option<String>, id: &str) {
    let Some(left_out) = once_a_second() else {
        return;
    };
    tracing::info!(
        target: "access",
        status = refusal.status(),
        refusal = refusal.kind(),
        route = "-",
        client = peer.as_deref().unwrap_or("-"),
        request_id = id,
        left_out,
        "request head refused before it was parsed"
    );
}

/// Whether bytes written while a head is being read are Pingora's parser refusal.
pub fn is_parser_refusal(buf: &[u8]) -> bool {
    buf.starts_with(b"HTTP/1.1 400 ") || buf.starts_with(b"HTTP/1.0 400 ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_400_head_is_the_parser_refusal() {
        assert!(is_parser_refusal(
            b"HTTP/1.1 400 Bad Request\r\nServer: Pingora\r\n"
        ));
        assert!(!is_parser_refusal(b"HTTP/1.1 200 OK\r\n"));
        assert!(!is_parser_refusal(b"HTTP/1.1 408 Request Timeout\r\n"));
        assert!(!is_parser_refusal(b""));
    }

    #[test]
    fn each_refusal_is_counted_under_its_code_and_answered_in_firebreaks_form() {
        let u = Unparsed {
            bad_request: IntCounter::new("b", "b").unwrap(),
            timeout: IntCounter::new("t", "t").unwrap(),
        };
        let a = String::from_utf8(u.refuse(&Refusal::BadRequest("bad_request"), None)).unwrap();
        u.refuse(&Refusal::RequestTimeout, None);
        u.refuse(&Refusal::BadRequest("bad_request"), None);
        assert_eq!((u.bad_request.get(), u.timeout.get()), (2, 1));
        assert!(a.starts_with("HTTP/1.1 400 "), "{a}");
        assert!(
            a.contains("application/json") && a.contains("\"bad_request\""),
            "{a}"
        );
        assert!(!a.contains("Pingora"));
    }
}
