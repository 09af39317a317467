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
//! * **Unparsed refusals** ([`Unparsed`]): a head Pingora's parser refuses, and the 408, get
//!   firebreak's own answer, a count and a log line, though no proxy hook ever saw them.

mod deadline;
mod unparsed;

pub use deadline::{head_done, request_done};
pub use unparsed::Unparsed;

use async_trait::async_trait;
use deadline::DeadlineStream;
use pingora::apps::ServerApp;
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
}

impl<A> Guarded<A> {
    pub fn new(
        inner: A,
        max_connections: usize,
        header_timeout: Duration,
        keepalive_timeout: Duration,
        unparsed: Unparsed,
    ) -> Self {
        Self {
            inner: Arc::new(inner),
            slots: Arc::new(Semaphore::new(max_connections.max(1))),
            header_timeout,
            keepalive_timeout,
            unparsed: Arc::new(unparsed),
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
