//! The per-connection request-head deadline and keep-alive idle timeout: a stream wrapper, and
//! the calls through which the proxy's hooks tell it where a request head starts and ends.

use super::unparsed::{is_parser_refusal, Unparsed};
use crate::respond::Refusal;
use pingora::protocols::http::ServerSession;
use pingora::protocols::raw_connect::ProxyDigest;
use pingora::protocols::tls::{SslDigest, TlsRef};
use pingora::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, SocketDigest, Ssl, Stream,
    TimingDigest, UniqueID, UniqueIDType, ALPN,
};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{Instant, Sleep};

const IDLE: u8 = 0;
const READING_HEAD: u8 = 1;
const IN_REQUEST: u8 = 2;

/// The session's client stream, when it is a guarded HTTP/1 connection.
fn guarded(session: &ServerSession) -> Option<&DeadlineStream> {
    session.stream()?.as_any().downcast_ref::<DeadlineStream>()
}

/// Called by the proxy when a request head has been read completely. True when the
/// connection is guarded by a [`DeadlineStream`], which then also keeps its idle timeout.
pub fn head_done(session: &ServerSession) -> bool {
    guarded(session)
        .map(|d| d.state.store(IN_REQUEST, Relaxed))
        .is_some()
}

/// Called by the proxy when a request is over: the next head gets a fresh deadline.
pub fn request_done(session: &ServerSession) {
    if let Some(d) = guarded(session) {
        d.state.store(IDLE, Relaxed);
    }
}

/// A client stream that fails reads once a request head takes longer than the timeout, and
/// reads as closed once the connection has waited idle for a next request longer than the
/// keep-alive timeout.
///
/// One timer per connection serves both. Creating a tokio `Sleep` per request costs an
/// allocation and, as the only timer, wakes the runtime's driver through its eventfd (one
/// extra `write` system call per request, measured with strace in benches/proxy); Pingora's
/// own keep-alive timeout registers a timer for every idle wait. Here the timer is only ever
/// moved later on the hot path, which merely extends its registered entry: it is set to the
/// head deadline when a head starts, and the idle deadline is kept as a plain `Instant` that
/// the timer is moved to if it fires first.
pub struct DeadlineStream {
    inner: Stream,
    /// Where the connection is in its current request (the proxy's hooks move it on).
    state: AtomicU8,
    timeout: Duration,
    idle: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
    /// The timer is watching the current head.
    armed: bool,
    /// The current idle wait ends here (set while the connection waits for a request).
    idle_until: Option<Instant>,
    /// Firebreak's own answer to a head it never saw (the `408` once the head deadline
    /// passed, or the `400` in place of Pingora's parser refusal), and how much was written.
    answer: Option<Vec<u8>>,
    told: usize,
    unparsed: Arc<Unparsed>,
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
    pub fn new(
        inner: Stream,
        timeout: Duration,
        idle: Duration,
        unparsed: Arc<Unparsed>,
        slot: OwnedSemaphorePermit,
    ) -> Self {
        Self {
            inner,
            state: AtomicU8::new(IDLE),
            timeout,
            idle,
            sleep: None,
            armed: false,
            idle_until: None,
            told: 0,
            answer: None,
            unparsed,
            _slot: slot,
        }
    }

    /// Starts the deadline of a new head.
    fn arm(&mut self, cx: &mut Context<'_>) {
        self.set_timer(Instant::now() + self.timeout, cx);
        self.armed = true;
    }

    /// Starts an idle wait; the timer must fire by its end.
    fn start_idle(&mut self, cx: &mut Context<'_>) {
        let now = Instant::now();
        // A new connection gets `header_read_timeout` for its first byte, like any head, not
        // the keep-alive time earned by a request already served: a client that connects and
        // sends nothing is the simplest slowloris.
        let wait = match &self.sleep {
            None => self.idle.min(self.timeout),
            Some(_) => self.idle,
        };
        let until = now + wait;
        self.idle_until = Some(until);
        match &self.sleep {
            // A new connection: the first head most likely follows at once, and its deadline
            // (later than this one) then only extends the timer.
            None => self.set_timer(until, cx),
            Some(sleep) if !sleep.is_elapsed() && sleep.deadline() <= until => {}
            Some(_) => self.set_timer(until, cx),
        }
    }

    /// Firebreak's own answer for a head it never saw, counted and logged once.
    fn own_answer(&mut self, refusal: Refusal) -> &[u8] {
        if self.answer.is_none() {
            let peer = self.inner.get_socket_digest();
            let peer = peer
                .as_ref()
                .and_then(|d| d.peer_addr())
                .map(|a| a.to_string());
            self.answer = Some(self.unparsed.refuse(&refusal, peer));
        }
        self.answer.as_deref().unwrap_or_default()
    }

    /// Writes what is left of the own answer.
    fn poll_tell(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let Some(answer) = self.answer.as_ref() else {
            return Poll::Ready(Ok(()));
        };
        while self.told < answer.len() {
            match Pin::new(&mut self.inner).poll_write(cx, &answer[self.told..]) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()))
                }
                Poll::Ready(Ok(n)) => self.told += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Moves the timer to `deadline` and registers this task's wake-up.
    fn set_timer(&mut self, deadline: Instant, cx: &mut Context<'_>) {
        let sleep = match self.sleep.as_mut() {
            Some(sleep) => {
                sleep.as_mut().reset(deadline);
                sleep
            }
            None => self
                .sleep
                .insert(Box::pin(tokio::time::sleep_until(deadline))),
        };
        let _ = sleep.as_mut().poll(cx);
    }
}

impl AsyncRead for DeadlineStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        let state = this.state.load(Relaxed);
        if state != READING_HEAD {
            this.armed = false; // the head is done (or not begun): no deadline
        }
        if state != IDLE {
            this.idle_until = None;
        } else if this.idle_until.is_none() {
            this.start_idle(cx);
        }
        if let Some(until) = this.idle_until {
            let fired = this
                .sleep
                .as_mut()
                .is_some_and(|s| s.as_mut().poll(cx).is_ready());
            if fired {
                if Instant::now() >= until {
                    // Idle too long: read as closed, so Pingora drops the connection.
                    return Poll::Ready(Ok(()));
                }
                this.set_timer(until, cx);
            }
        }
        if let (true, Some(sleep)) = (this.armed, this.sleep.as_mut()) {
            if sleep.as_mut().poll(cx).is_ready() {
                // Best effort: tell the client why, then fail the read (Pingora closes).
                this.own_answer(Refusal::RequestTimeout);
                let _ = this.poll_tell(cx);
                return Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "request head too slow",
                )));
            }
        }
        let before = buf.filled().len();
        let res = Pin::new(&mut this.inner).poll_read(cx, buf);
        if state == IDLE && matches!(res, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.state.store(READING_HEAD, Relaxed);
            this.idle_until = None;
            this.arm(cx);
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
        let this = &mut *self;
        // An answer while the head is still being read is Pingora's to a head it could not
        // parse (`unparsed` says why firebreak writes its own instead); Pingora's bytes, and
        // whatever it writes after them on this connection, are dropped.
        if this.state.load(Relaxed) == READING_HEAD
            && (this.answer.is_some() || is_parser_refusal(buf))
        {
            this.own_answer(Refusal::BadRequest("bad_request"));
            return this.poll_tell(cx).map_ok(|()| buf.len());
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
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
        if self.state.load(Relaxed) == READING_HEAD {
            // Rare (an answer before a head was parsed): through `poll_write`'s check.
            let first = bufs.iter().find(|b| !b.is_empty());
            return self.poll_write(cx, first.map_or(&[][..], |b| &b[..]));
        }
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
