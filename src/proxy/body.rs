//! The body step, between the route step and admission: a request body is read before any
//! backend is chosen or connected, so a slow or broken upload costs firebreak a buffer and
//! never a backend worker (the idea of nginx's `proxy_request_buffering`, on by default).
//!
//! - **Buffered**: a body that ends within `limits.request_buffer_bytes` (declared by
//!   `Content-Length` or HTTP/2 `content-length`, or chunked and ending there) is read whole
//!   within `limits.body_read_timeout` (else 408), checked (malformed: 400; over
//!   `limits.max_body_bytes`: 413), and only then admitted and sent upstream in one piece. No
//!   backend sees any part of a request whose body fails, and a trickling client never holds
//!   an admission slot.
//! - **Streamed**: a declared length over the buffer goes upstream as it arrives, once
//!   admitted; so does a chunked body that goes on past the buffer, after the part read ahead.
//!   Every read waits at most `limits.body_read_timeout`. A backend can then see the head and
//!   part of a body that later turns out malformed, too slow or too large: firebreak ends the
//!   upstream request and the backend sees its connection closed mid-body.
//! - **411**: a chunked body that ends in a read which also carries it past 64 KiB. Pingora
//!   0.9 hands a read-ahead body on only from its own 64 KiB replay buffer; past it, a body that
//!   has already ended cannot be sent on, so the client is told to send a `Content-Length`
//!   (RFC 9110 §15.5.12) rather than have its request lost. Bodies with a declared length never
//!   meet this.
//!
//! `Expect: 100-continue` (HTTP/1.1): firebreak answers `100 Continue` itself before it reads
//! (buffered or streamed), and the backend gets the body without the expectation.

use super::Ctx;
use crate::config::LimitsConf;
use crate::respond::Refusal;
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, EXPECT, TRANSFER_ENCODING};
use pingora::prelude::*;
use pingora::proxy::Session;

/// What the body step did with a request's body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum BodyMode {
    /// No body, or an empty one.
    #[default]
    None,
    /// Read whole before admission (its bytes are counted in `Ctx::body_bytes`).
    Buffered,
    /// Forwarded as it arrives. `prefix`: what was read ahead and must go first, when Pingora's
    /// replay buffer could not keep it.
    Streamed { prefix: Option<Bytes> },
}

/// Why the body step stopped a request.
#[derive(Debug)]
pub enum Stop {
    /// Answer the client with this.
    Refuse(Refusal),
    /// The client closed or reset its connection mid-body: nobody to answer.
    Gone(Box<Error>),
}

impl From<Refusal> for Stop {
    fn from(r: Refusal) -> Self {
        Stop::Refuse(r)
    }
}

/// Reads a body ahead, up to the buffer; see the module docs.
pub async fn buffer(session: &mut Session, ctx: &mut Ctx, limits: &LimitsConf) -> Result<(), Stop> {
    if session.is_body_done() {
        return Ok(());
    }
    let deadline = tokio::time::Instant::now() + limits.body_read_timeout;
    if expects_continue(session) {
        // Without it the client waits (curl: 1 s) before sending what firebreak waits for.
        // Pingora counts any answer written before the body ends, the interim 100 included,
        // as a reason to close the connection afterwards: not this one.
        session.set_close_on_response_before_downstream_finish(false);
        let sent = tokio::time::timeout_at(deadline, session.write_continue_response()).await;
        session.set_close_on_response_before_downstream_finish(true);
        sent.map_err(|_| Refusal::RequestTimeout)?
            .map_err(Stop::Gone)?;
    }
    // A declared length over `limits.max_body_bytes` was refused by hygiene already.
    if declared_length(session.req_header()).is_some_and(|n| n > limits.request_buffer_bytes) {
        stream(session, ctx, limits, None);
        return Ok(());
    }
    session.enable_retry_buffering();
    let mut ahead: Vec<Bytes> = Vec::new();
    let mut total = 0u64;
    while !session.is_body_done() {
        let chunk = match tokio::time::timeout_at(deadline, session.read_request_body()).await {
            Err(_) => return Err(Refusal::RequestTimeout.into()),
            Ok(Err(mut e)) if is_client_gone(&e) => {
                // The client's side: no backend is involved, and nobody waits for an answer.
                e.as_down();
                return Err(Stop::Gone(e));
            }
            Ok(Err(_)) => return Err(Refusal::BadRequest("bad_body").into()),
            Ok(Ok(None)) => break,
            Ok(Ok(Some(chunk))) => chunk,
        };
        total += chunk.len() as u64;
        if total > limits.max_body_bytes {
            return Err(Refusal::PayloadTooLarge.into());
        }
        ahead.push(chunk);
        if total >= limits.request_buffer_bytes && !session.is_body_done() {
            // A chunked body going on past the buffer (a declared one cannot).
            let prefix = session
                .retry_buffer_truncated()
                .then(|| ahead.concat().into());
            stream(session, ctx, limits, prefix);
            return Ok(());
        }
    }
    if session.retry_buffer_truncated() {
        return Err(Refusal::LengthRequired.into());
    }
    ctx.body_bytes = total;
    ctx.body = BodyMode::Buffered;
    Ok(())
}

fn stream(session: &mut Session, ctx: &mut Ctx, limits: &LimitsConf, prefix: Option<Bytes>) {
    ctx.body = BodyMode::Streamed { prefix };
    session.set_read_timeout(Some(limits.body_read_timeout));
}

/// A streamed body's first piece gets what was read ahead in front, when Pingora did not
/// keep it; a buffered body is not counted again.
pub fn on_piece(body: &mut Option<Bytes>, ctx: &mut Ctx) -> bool {
    match &mut ctx.body {
        BodyMode::Buffered => return false,
        BodyMode::Streamed { prefix } => {
            if let Some(p) = prefix.take() {
                *body = Some(match body.take() {
                    Some(rest) => [p, rest].concat().into(),
                    None => p,
                });
            }
        }
        BodyMode::None => {}
    }
    true
}

/// Whether the upstream request should drop `Expect`: firebreak already answered it.
pub fn drop_expect(ctx: &Ctx) -> bool {
    ctx.body != BodyMode::None
}

/// The declared body length: `Content-Length` unless `Transfer-Encoding` is present (then
/// the length is not declared, RFC 9112 §6.3; hygiene refuses a message with both).
fn declared_length(req: &pingora::http::RequestHeader) -> Option<u64> {
    if req.headers.contains_key(TRANSFER_ENCODING) {
        return None;
    }
    req.headers
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn expects_continue(session: &Session) -> bool {
    let req = session.req_header();
    req.version == http::Version::HTTP_11
        && req
            .headers
            .get(EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

/// End of stream (`ConnectionClosed`) or a failed socket read (`ReadError`, a reset); every
/// malformed body is another error type.
fn is_client_gone(e: &Error) -> bool {
    matches!(
        e.etype(),
        ErrorType::ConnectionClosed | ErrorType::ReadError
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(headers: &[(&str, &str)]) -> pingora::http::RequestHeader {
        let mut h = pingora::http::RequestHeader::build("POST", b"/", None).unwrap();
        for (k, v) in headers {
            h.append_header(k.to_string(), *v).unwrap();
        }
        h
    }

    #[test]
    fn only_a_length_without_transfer_encoding_is_declared() {
        assert_eq!(
            declared_length(&head(&[("Content-Length", "12")])),
            Some(12)
        );
        assert_eq!(
            declared_length(&head(&[("Content-Length", " 7 ")])),
            Some(7)
        );
        assert_eq!(declared_length(&head(&[])), None);
        assert_eq!(declared_length(&head(&[("Content-Length", "x")])), None);
        let both = head(&[("Transfer-Encoding", "chunked"), ("Content-Length", "3")]);
        assert_eq!(declared_length(&both), None);
    }
}
