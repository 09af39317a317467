//! RFC 9112 framing and size checks that Pingora leaves to us: one Host, at most one
//! Content-Length, never Content-Length with Transfer-Encoding (request smuggling,
//! RFC 9112 §6.1, §6.3), chunked last, and the configured header and body limits.
//!
//! The checks read the parsed head; the raw HTTP/1 head is only scanned when the request
//! carries Transfer-Encoding, because Pingora drops a Content-Length that came with it
//! (pingora #945) and the raw bytes are then the only place that still shows it.

use crate::config::LimitsConf;
use crate::respond::Refusal;
use http::header::{CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use http::Version;
use pingora::http::RequestHeader;

/// `Some(refusal)` when the request head is malformed or over a limit. `raw` is the client's
/// HTTP/1 head as received (None for HTTP/2).
pub fn check(req: &RequestHeader, raw: Option<&[u8]>, limits: &LimitsConf) -> Option<Refusal> {
    let h = &req.headers;
    if req.version == Version::HTTP_11 && h.get_all(HOST).iter().count() != 1 {
        return Some(Refusal::BadRequest("host_header_missing_or_repeated"));
    }
    if h.get(HOST).is_some_and(|v| !valid_host(v.as_bytes())) {
        return Some(Refusal::BadRequest("bad_host"));
    }
    let mut cls = h.get_all(CONTENT_LENGTH).iter();
    let cl = cls.next();
    if cls.next().is_some() {
        return Some(Refusal::BadRequest("duplicate_content_length"));
    }
    let mut tes = h.get_all(TRANSFER_ENCODING).iter();
    if let Some(te) = tes.next() {
        if cl.is_some() || raw.is_some_and(has_content_length) {
            return Some(Refusal::BadRequest("content_length_with_transfer_encoding"));
        }
        let chunked_last = tes
            .next_back()
            .unwrap_or(te)
            .to_str()
            .ok()
            .and_then(|v| v.rsplit(',').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("chunked"));
        if h.get_all(TRANSFER_ENCODING).iter().count() > 1 || !chunked_last {
            return Some(Refusal::BadRequest("bad_transfer_encoding"));
        }
    }
    if head_size(req, raw) > limits.max_header_bytes {
        return Some(Refusal::HeaderTooLarge);
    }
    if let Some(cl) = cl {
        match cl
            .to_str()
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u64>().ok())
        {
            None => return Some(Refusal::BadRequest("bad_content_length")),
            Some(n) if n > limits.max_body_bytes => return Some(Refusal::PayloadTooLarge),
            Some(_) => {}
        }
    }
    None
}

/// A `Host` value is `host [":" port]` (RFC 9112 §3.2, RFC 3986 §3.2.2): a registered name,
/// an IPv4 address or a bracketed IPv6 literal, and a port of at most 65535. The authority
/// grammar is checked by the `http` crate's parser; userinfo (`a@b`) is not allowed in `Host`.
fn valid_host(v: &[u8]) -> bool {
    if v.is_empty() || v.contains(&b'@') {
        return false;
    }
    let Ok(a) = http::uri::Authority::try_from(v) else {
        return false;
    };
    let host = a.host();
    // What follows the host: nothing, or ":" and a port (RFC 3986 allows an empty one).
    let port = a.as_str().get(host.len()..).unwrap_or("");
    !host.is_empty()
        && match port.strip_prefix(':') {
            None => port.is_empty(),
            Some("") => true,
            Some(p) => p.parse::<u16>().is_ok(),
        }
}

/// Bytes of the request head: exact for HTTP/1 (the raw head), else the request line and
/// header lines it would take in HTTP/1 form.
fn head_size(req: &RequestHeader, raw: Option<&[u8]>) -> usize {
    match raw {
        Some(raw) => raw.len(),
        None => {
            req.method.as_str().len()
                + req.raw_path().len()
                + 12
                + req
                    .headers
                    .iter()
                    .map(|(k, v)| k.as_str().len() + v.len() + 4)
                    .sum::<usize>()
                + 2
        }
    }
}

/// True when a raw head has a `Content-Length` header line (any case, optional space before
/// the colon); the request line is skipped.
fn has_content_length(head: &[u8]) -> bool {
    head.split(|&b| b == b'\n').skip(1).any(|line| {
        let name = line.split(|&b| b == b':').next().unwrap_or_default();
        let name = name.strip_suffix(b" ").unwrap_or(name);
        name.eq_ignore_ascii_case(b"content-length")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use crate::testkit::request_head as req;

    #[test]
    fn host_values_follow_the_authority_grammar() {
        for good in [
            "a.example",
            "A.Example:8080",
            "10.0.0.1:80",
            "[::1]",
            "[2001:db8::1]:443",
            "x:",
            "x:65535",
        ] {
            assert!(valid_host(good.as_bytes()), "{good}");
        }
        for bad in [
            "", "a b", "x/../y", "x:99999", "x:65536", "user@x", "x:y", "[::1", "::1", ":80",
            "a\tb", "x?y", "x#y",
        ] {
            assert!(!valid_host(bad.as_bytes()), "{bad}");
        }
    }

    fn limits(max_header_bytes: usize, max_body_bytes: u64) -> LimitsConf {
        LimitsConf {
            max_connections: 10,
            max_header_bytes,
            max_body_bytes,
            header_read_timeout: Duration::from_secs(1),
            keepalive_timeout: Duration::from_secs(60),
            request_buffer_bytes: 64 << 10,
            body_read_timeout: Duration::from_secs(10),
        }
    }

    #[test]
    fn smuggling_shapes_are_refused() {
        let bad = |h: &[(&str, &str)]| check(&req(h), None, &limits(65536, 1 << 20));
        assert_eq!(
            bad(&[]),
            Some(Refusal::BadRequest("host_header_missing_or_repeated"))
        );
        assert_eq!(
            bad(&[("host", "a"), ("host", "b")]),
            Some(Refusal::BadRequest("host_header_missing_or_repeated"))
        );
        assert_eq!(
            bad(&[
                ("host", "a"),
                ("content-length", "1"),
                ("content-length", "1")
            ]),
            Some(Refusal::BadRequest("duplicate_content_length"))
        );
        assert_eq!(
            bad(&[
                ("host", "a"),
                ("content-length", "1"),
                ("transfer-encoding", "chunked")
            ]),
            Some(Refusal::BadRequest("content_length_with_transfer_encoding"))
        );
        assert_eq!(
            bad(&[("host", "a"), ("transfer-encoding", "gzip")]),
            Some(Refusal::BadRequest("bad_transfer_encoding"))
        );
        assert_eq!(
            bad(&[
                ("host", "a"),
                ("transfer-encoding", "chunked"),
                ("transfer-encoding", "chunked")
            ]),
            Some(Refusal::BadRequest("bad_transfer_encoding"))
        );
        assert_eq!(
            bad(&[("host", "a"), ("content-length", "+5")]),
            Some(Refusal::BadRequest("bad_content_length"))
        );
        assert_eq!(
            bad(&[("host", "a"), ("transfer-encoding", "gzip, chunked")]),
            None
        );
        assert_eq!(bad(&[("host", "a"), ("content-length", "5")]), None);
    }

    #[test]
    fn a_content_length_only_the_raw_head_shows_is_refused_with_chunked() {
        // What Pingora leaves after parsing `Content-Length` + `Transfer-Encoding`.
        let parsed = req(&[("host", "t"), ("transfer-encoding", "chunked")]);
        let raw = b"POST / HTTP/1.1\r\nHost: t\r\ncontent-LENGTH : 4\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(
            check(&parsed, Some(raw), &limits(65536, 1 << 20)),
            Some(Refusal::BadRequest("content_length_with_transfer_encoding"))
        );
        let raw = b"POST /content-length: HTTP/1.1\r\nHost: t\r\nX-Note: content-length: 4\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(check(&parsed, Some(raw), &limits(65536, 1 << 20)), None);
    }

    #[test]
    fn limits_give_413_and_431() {
        let big = "x".repeat(2000);
        let l = limits(1024, 10);
        assert_eq!(
            check(&req(&[("host", "a"), ("x-big", &big)]), None, &l),
            Some(Refusal::HeaderTooLarge)
        );
        assert_eq!(
            check(&req(&[("host", "a")]), Some(big.as_bytes()), &l),
            Some(Refusal::HeaderTooLarge)
        );
        assert_eq!(
            check(&req(&[("host", "a")]), Some(b"GET / HTTP/1.1\r\n"), &l),
            None
        );
        assert_eq!(
            check(&req(&[("host", "a"), ("content-length", "11")]), None, &l),
            Some(Refusal::PayloadTooLarge)
        );
    }
}
