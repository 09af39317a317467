//! Client connections: a process-wide cap, and a deadline for reading each request head.
//!
//! Pingora has neither (its header read timeout applies to each read, not to the head, so a client
//! trickling one byte a minute holds a connection forever — slowloris, pingora #447). We wrap
//! its `HttpProxy` in our own `ServerApp`:
//! * **Cap**: a connection beyond `limits.max_connections` waits, unread, until another closes.
//! * **Header deadline**: each HTTP/1 connection's stream is wrapped; once the first byte of a
//!   request head arrives, the whole head must arrive within `limits.header_read_timeout`, or
//!   the client gets `408` and the connection is closed. The proxy's first hook marks the head
//!   complete ([`head_done`]); the end of the request re-arms the watch ([`request_done`]).
//!   HTTP/2 connections are left to h2's own limits.
//! * **PROXY protocol** ([`ProxyProtocol`]): on listeners that require it, the header is read
//!   first and its source becomes the connection's peer address.
//! * **Unparsed refusals** ([`Unparsed`]): a head Pingora's parser refuses, and the 408, get
//!   firebreak's own answer, a count and a log line, though no proxy hook ever saw them.

mod deadline;
mod proxy_protocol;
mod unparsed;

pub use deadline::{head_done, request_done};
pub use proxy_protocol::ProxyProtocol;
pub use unparsed::Unparsed;

use async_trait::async_trait;
use deadline::DeadlineStream;
use pingora::apps::ServerApp;
use pingora::protocols::l4::stream::Stream as L4Stream;
use pingora::protocols::{Stream, ALPN};
use pingora::server::ShutdownWatch;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Wraps a `ServerApp` (Pingora's `HttpProxy`) with the cap and the header deadline.
pub struct Guarded<A> {
    inner: Arc<A>,
    slots: Arc<Semaphore>,
    header_timeout: Duration,
    keepalive_timeout: Duration,
    unparsed: Arc<Unparsed>,
    proxy_protocol: ProxyProtocol,
}

impl<A> Guarded<A> {
    pub fn new(
        inner: A,
        max_connections: usize,
        header_timeout: Duration,
        keepalive_timeout: Duration,
        unparsed: Unparsed,
        proxy_protocol: ProxyProtocol,
    ) -> Self {
        Self {
            inner: Arc::new(inner),
            slots: Arc::new(Semaphore::new(max_connections.max(1))),
            header_timeout,
            keepalive_timeout,
            unparsed: Arc::new(unparsed),
            proxy_protocol,
        }
    }
}

impl<A> Guarded<A> {
    /// A new plain connection to a PROXY-protocol listener gives its header first (TLS
    /// listeners have read it before the handshake). `None`: closed, the header was bad.
    async fn proxy_header(&self, stream: Stream) -> Option<Stream> {
        let local = stream
            .get_socket_digest()
            .and_then(|d| d.local_addr().and_then(|a| a.as_inet()).copied());
        if stream.get_ssl().is_some() || !self.proxy_protocol.required_at(local) {
            return Some(stream);
        }
        // A plain listener hands Pingora's own TCP stream over as it was accepted.
        let mut l4 = stream.into_any().downcast::<L4Stream>().ok()?;
        match self.proxy_protocol.accept(&mut l4).await {
            Ok(()) => Some(l4),
            Err(e) => {
                proxy_protocol::refused(&e);
                None
            }
        }
    }
}

#[async_trait]
impl<A: ServerApp + Send + Sync + 'static> ServerApp for Guarded<A> {
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        // A reused keep-alive connection comes back already wrapped, holding its slot.
        let stream: Stream = if stream.as_any().downcast_ref::<DeadlineStream>().is_some() {
            stream
        } else {
            let permit = self.slots.clone().acquire_owned().await.ok()?;
            let stream = self.proxy_header(stream).await?;
            if matches!(stream.selected_alpn_proto(), Some(ALPN::H2)) {
                let out = self.inner.process_new(stream, shutdown).await;
                drop(permit);
                return out;
            }
            Box::new(DeadlineStream::new(
                stream,
                self.header_timeout,
                self.keepalive_timeout,
                self.unparsed.clone(),
                permit,
            ))
        };
        self.inner.process_new(stream, shutdown).await
    }

    async fn cleanup(&self) {
        self.inner.cleanup().await
    }
}
