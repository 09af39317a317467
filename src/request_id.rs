//! Request ids: every request and every answer carries `X-Request-Id`. A client's own id is
//! kept when it is sane (visible ASCII from a small alphabet, at most 128 bytes); otherwise, and
//! for answers written before a request was parsed (the `408` of a trickled head), firebreak
//! makes one: 32 random hex digits.

use http::HeaderValue;
use pingora::http::RequestHeader;

const MAX_REQUEST_ID: usize = 128;

// A lookup by a prepared name: a `&str` name is parsed again on every lookup.
static X_REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-request-id");

/// The request's id, kept as the header value it is sent as: one buffer, shared by the
/// upstream and the downstream `X-Request-Id` (a client-given id shares the request's own).
#[derive(Debug, Clone)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// Only ids made of visible ASCII reach here (the request phase checks or makes them).
    pub fn new(value: HeaderValue) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or("")
    }

    pub fn header(&self) -> HeaderValue {
        self.0.clone()
    }
}

impl Default for RequestId {
    fn default() -> Self {
        Self(HeaderValue::from_static(""))
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl RequestId {
    /// The client's `X-Request-Id` when it is sane (sharing its bytes), else a new one.
    pub fn from_client(req: &RequestHeader) -> RequestId {
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
}

/// 32 random hex digits, without the formatting machinery (it is on every request). Also used
/// by `examples/pingora_bare.rs`, which makes its ids the same way.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::request_head;

    #[test]
    fn request_ids_are_kept_when_sane_and_made_otherwise() {
        assert_eq!(
            RequestId::from_client(&request_head(&[("x-request-id", "abc-1")])).as_str(),
            "abc-1"
        );
        let made = RequestId::from_client(&request_head(&[("x-request-id", "bad id<script>")]));
        assert_eq!(made.as_str().len(), 32);
        assert!(made.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(
            made.as_str(),
            RequestId::from_client(&request_head(&[])).as_str()
        );
        // Too long, empty, and non-ASCII ids are replaced too.
        let long = "a".repeat(MAX_REQUEST_ID + 1);
        for bad in [long.as_str(), "", "id-é"] {
            let id = RequestId::from_client(&request_head(&[("x-request-id", bad)]));
            assert_eq!(id.as_str().len(), 32, "{bad:?}");
        }
        let at_limit = "a".repeat(MAX_REQUEST_ID);
        assert_eq!(
            RequestId::from_client(&request_head(&[("x-request-id", at_limit.as_str())])).as_str(),
            at_limit
        );
        // The id goes out as the same header value both ways.
        assert_eq!(made.header().as_bytes(), made.as_str().as_bytes());
    }
}
