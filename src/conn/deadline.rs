//! The per-connection request-head deadline: a stream wrapper and the task-local that lets the
//! proxy's hooks tell it where a request head ends.

use pingora::protocols::raw_connect::ProxyDigest;
use pingora::protocols::tls::{SslDigest, TlsRef};
use pingora::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, SocketDigest, Ssl, Stream,
    TimingDigest, UniqueID, UniqueIDType, ALPN,
};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Sleep;

const IDLE: u8 = 0;
const READING_HEAD: u8 = 1;
const IN_REQUEST: u8 = 2;

const RESPONSE_408: &[u8] = b"HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\nContent-Length: 76\r\nConnection: close\r\n\r\n{\"error\":\"request_timeout\",\"status\":408,\"message\":\"request head too slow\"}\n";

/// Where the connection is in its current request, and what its raw head showed.
#[derive(Debug, Default)]
pub struct HeadState(AtomicU8, AtomicBool);

tokio::task_local! {
    pub(super) static HEAD: Arc<HeadState>;
}

/// Called by the proxy when a request head has been read completely.
pub fn head_done() {
    let _ = HEAD.try_with(|s| s.0.store(IN_REQUEST, Relaxed));
}

/// True when the current request's raw head carried both `Content-Length` and
/// `Transfer-Encoding` (Pingora silently drops the former, pingora #945, so the parsed request
/// no longer shows it; RFC 9112 §6.1 lets a server reject such a request).
pub fn content_length_with_transfer_encoding() -> bool {
    HEAD.try_with(|s| s.1.load(Relaxed)).unwrap_or(false)
}

/// Largest request head scanned for framing headers (Pingora's own limit).
const MAX_SCAN: usize = 1 << 20;

/// Scans a complete raw head for both framing headers.
fn has_cl_and_te(head: &[u8]) -> bool {
    let (mut cl, mut te) = (false, false);
    for line in head.split(|&b| b == b'\n').skip(1) {
        let name = line.split(|&b| b == b':').next().unwrap_or_default();
        let name = name.strip_suffix(b" ").unwrap_or(name);
        cl |= name.eq_ignore_ascii_case(b"content-length");
        te |= name.eq_ignore_ascii_case(b"transfer-encoding");
    }
    cl && te
}

/// Called by the proxy when a request is over: the next head gets a fresh deadline.
pub fn request_done() {
    let _ = HEAD.try_with(|s| s.0.store(IDLE, Relaxed));
}

/// A client stream that fails reads once a request head takes longer than the timeout.
pub struct DeadlineStream {
    inner: Stream,
    state: Arc<HeadState>,
    timeout: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
    told: usize,
    /// Raw bytes of the head being read (until its end is seen).
    head: Vec<u8>,
    scanned: bool,
    _slot: OwnedSemaphorePermit,
}

impl std::fmt::Debug for DeadlineStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadlineStream")
            .field("inner", &self.inner)
            .finish()
    }
}

impl DeadlineStream {
    pub fn new(inner: Stream, timeout: Duration, slot: OwnedSemaphorePermit) -> Self {
        Self {
            inner,
            state: Arc::default(),
            timeout,
            sleep: None,
            told: 0,
            head: Vec::new(),
            scanned: false,
            _slot: slot,
        }
    }

    pub fn state(&self) -> Arc<HeadState> {
        self.state.clone()
    }
}

impl AsyncRead for DeadlineStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if this.state.0.load(Relaxed) != READING_HEAD {
            this.sleep = None; // the head is done (or not begun): no deadline
        }
        if this.state.0.load(Relaxed) == IDLE && (this.scanned || !this.head.is_empty()) {
            this.head = Vec::new();
            this.scanned = false;
        }
        if let Some(sleep) = this.sleep.as_mut() {
            if sleep.as_mut().poll(cx).is_ready() {
                // Best effort: tell the client why, then fail the read (Pingora closes).
                while this.told < RESPONSE_408.len() {
                    match Pin::new(&mut this.inner).poll_write(cx, &RESPONSE_408[this.told..]) {
                        Poll::Ready(Ok(n)) if n > 0 => this.told += n,
                        _ => break,
                    }
                }
                return Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "request head too slow",
                )));
            }
        }
        let before = buf.filled().len();
        let res = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(res, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            if this.state.0.load(Relaxed) == IDLE {
                this.state.0.store(READING_HEAD, Relaxed);
                this.state.1.store(false, Relaxed);
                let mut sleep = Box::pin(tokio::time::sleep(this.timeout));
                let _ = sleep.as_mut().poll(cx); // register the wake-up at the deadline
                this.sleep = Some(sleep);
            }
            if this.state.0.load(Relaxed) == READING_HEAD && !this.scanned {
                this.head.extend_from_slice(&buf.filled()[before..]);
                if let Some(end) = this.head.windows(4).position(|w| w == b"\r\n\r\n") {
                    this.state
                        .1
                        .store(has_cl_and_te(&this.head[..end]), Relaxed);
                    this.scanned = true;
                    this.head = Vec::new();
                } else if this.head.len() > MAX_SCAN {
                    this.scanned = true;
                    this.head = Vec::new();
                }
            }
        }
        res
    }
}

impl AsyncWrite for DeadlineStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[async_trait::async_trait]
impl Shutdown for DeadlineStream {
    async fn shutdown(&mut self) {
        self.inner.shutdown().await
    }
}

impl UniqueID for DeadlineStream {
    fn id(&self) -> UniqueIDType {
        self.inner.id()
    }
}

impl Ssl for DeadlineStream {
    fn get_ssl(&self) -> Option<&TlsRef> {
        self.inner.get_ssl()
    }
    fn get_ssl_digest(&self) -> Option<Arc<SslDigest>> {
        self.inner.get_ssl_digest()
    }
    fn selected_alpn_proto(&self) -> Option<ALPN> {
        self.inner.selected_alpn_proto()
    }
}

impl GetTimingDigest for DeadlineStream {
    fn get_timing_digest(&self) -> Vec<Option<TimingDigest>> {
        self.inner.get_timing_digest()
    }
    fn get_read_pending_time(&self) -> Duration {
        self.inner.get_read_pending_time()
    }
    fn get_write_pending_time(&self) -> Duration {
        self.inner.get_write_pending_time()
    }
}

impl GetProxyDigest for DeadlineStream {
    fn get_proxy_digest(&self) -> Option<Arc<ProxyDigest>> {
        self.inner.get_proxy_digest()
    }
    fn set_proxy_digest(&mut self, digest: ProxyDigest) {
        self.inner.set_proxy_digest(digest)
    }
}

impl GetSocketDigest for DeadlineStream {
    fn get_socket_digest(&self) -> Option<Arc<SocketDigest>> {
        self.inner.get_socket_digest()
    }
    fn set_socket_digest(&mut self, digest: SocketDigest) {
        self.inner.set_socket_digest(digest)
    }
}

#[async_trait::async_trait]
impl Peek for DeadlineStream {
    async fn try_peek(&mut self, buf: &mut [u8]) -> std::io::Result<bool> {
        self.inner.try_peek(buf).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn framing_headers_are_found_in_any_case_and_only_as_names() {
        let h = b"POST / HTTP/1.1\r\nHost: t\r\ncontent-LENGTH: 4\r\nTransfer-Encoding : chunked\r";
        assert!(super::has_cl_and_te(h));
        assert!(!super::has_cl_and_te(
            b"POST / HTTP/1.1\r\nContent-Length: 4\r\nX-Note: transfer-encoding"
        ));
        assert!(!super::has_cl_and_te(
            b"GET /content-length:transfer-encoding: HTTP/1.1\r\n"
        ));
    }
}
