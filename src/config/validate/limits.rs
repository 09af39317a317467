//! Validation of `[limits]`: what one client may send and how slowly.

use super::super::raw::RawLimits;
use super::super::{LimitsConf, MAX_REQUEST_BUFFER};
use super::Checker;

/// Pingora reads at most 1 MiB of request head, whatever we allow.
const MAX_HEADER_LIMIT: u64 = 1 << 20;

pub(super) fn limits(cx: &mut Checker, raw: Option<&RawLimits>) -> LimitsConf {
    let max_connections = cx.int(
        raw.and_then(|r| r.max_connections.as_ref()),
        "limits.max_connections",
        10_000,
        1..=10_000_000,
    );
    let header_key = raw.and_then(|r| r.max_header_bytes.as_ref());
    let mut max_header = cx.size(header_key, "limits.max_header_bytes", 64 << 10);
    if let (Some(n), Some(v)) = (max_header, header_key) {
        if n > MAX_HEADER_LIMIT {
            let msg = format!(
                "limits.max_header_bytes must be at most 1MiB (Pingora's own limit), not {n} bytes"
            );
            cx.error(v.span(), msg);
            max_header = None;
        }
    }
    let max_body = cx.size(
        raw.and_then(|r| r.max_body_bytes.as_ref()),
        "limits.max_body_bytes",
        100 << 20,
    );
    let timeout = cx.positive_duration(
        raw.and_then(|r| r.header_read_timeout.as_ref()),
        "limits.header_read_timeout",
        "10s",
    );
    let keepalive = cx.positive_duration(
        raw.and_then(|r| r.keepalive_timeout.as_ref()),
        "limits.keepalive_timeout",
        "60s",
    );
    let buffer_key = raw.and_then(|r| r.request_buffer_bytes.as_ref());
    let mut buffer = cx.size(
        buffer_key,
        "limits.request_buffer_bytes",
        MAX_REQUEST_BUFFER,
    );
    if let (Some(n), Some(v)) = (buffer, buffer_key) {
        if n > MAX_REQUEST_BUFFER {
            let msg = format!(
                "limits.request_buffer_bytes must be at most 64KiB (the request body Pingora can \
                 replay), not {n} bytes; larger bodies are streamed"
            );
            cx.error(v.span(), msg);
            buffer = None;
        }
    }
    let body_timeout = cx.positive_duration(
        raw.and_then(|r| r.body_read_timeout.as_ref()),
        "limits.body_read_timeout",
        "10s",
    );
    LimitsConf {
        max_connections: max_connections
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(1),
        max_header_bytes: max_header
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(1),
        max_body_bytes: max_body.unwrap_or(1),
        header_read_timeout: timeout.unwrap_or_default(),
        keepalive_timeout: keepalive.unwrap_or_default(),
        request_buffer_bytes: buffer.unwrap_or(0),
        body_read_timeout: body_timeout.unwrap_or_default(),
    }
}
