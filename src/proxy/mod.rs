//! The only `ProxyHttp` implementation. Each Pingora phase delegates to one step of the
//! request path, and reads top to bottom:
//!
//! route ([`request`]: checks, the status page ([`page`]), route, maintenance, placement's draw) → body ([`body`]: a small
//! body read whole before a backend is involved) → admission ([`admit`])
//! → upstream ([`upstream`]: placement's attempt order, the backend pick) → failures and
//! retries ([`failure`]) → accounting ([`accounting`], in `logging`).
//!
//! Which tier and pool serve a request is decided by [`crate::placement`] alone; every own
//! answer is mapped and written by [`refuse`], through [`crate::respond`].

mod accounting;
mod admit;
mod body;
mod ctx;
mod failure;
mod hygiene;
mod page;
mod refuse;
mod request;
mod upstream;

pub use ctx::Ctx;

use crate::app::App;
use crate::clock::now_ns;
use crate::respond::Refusal;
use async_trait::async_trait;
use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::upstreams::peer::HttpPeer;
use std::sync::Arc;

/// Seconds an idle client keep-alive connection is kept.
pub const KEEPALIVE_SECS: u64 = 60;

/// firebreak's proxy logic.
#[derive(Debug, Clone)]
pub struct Proxy {
    app: Arc<App>,
}

impl Proxy {
    pub fn new(app: Arc<App>) -> Self {
        Self { app }
    }
}

#[async_trait]
impl ProxyHttp for Proxy {
    type CTX = Ctx;

    fn new_ctx(&self) -> Ctx {
        Ctx {
            start_ns: now_ns(),
            _guard: Some(self.app.track()),
            ..Default::default()
        }
    }

    /// No downstream modules. Pingora's default adds a response-compression module switched
    /// off (level 0), which still builds a module context and runs its filters on every
    /// request; firebreak passes bodies through as the backends encoded them.
    fn init_downstream_modules(&self, _modules: &mut pingora::modules::http::HttpModules) {}

    async fn early_request_filter(&self, session: &mut Session, _ctx: &mut Ctx) -> Result<()> {
        let guarded = crate::conn::head_done(session);
        // Pingora's request parser decides whether the connection stays open, from the
        // version and `Connection` (`Connection: close` and plain HTTP/1.0 close it after the
        // answer, RFC 9112 §9.3 and §9.6), with no idle timeout (pingora #540). A guarded
        // connection's stream keeps `limits.keepalive_timeout` itself with its one timer
        // (`Some(0)`: no Pingora timer per idle wait); any other gets Pingora's.
        if session.get_keepalive().is_some() {
            session.set_keepalive(Some(if guarded { 0 } else { KEEPALIVE_SECS }));
        }
        // HTTP/1.1 pipelining (RFC 9112 §9.3.2): requests a client sends before reading the
        // previous answer are served in order. Pingora's default drops them and closes the
        // connection after the first answer, leaving the client to notice and resend.
        session.set_pipelining_enabled(true);
        Ok(())
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut Ctx) -> Result<bool> {
        let admitted = match request::route(&self.app, session, ctx) {
            Ok(request::Step::Page(form)) => {
                Box::pin(page::serve(&self.app, session, ctx, form)).await?;
                return Ok(true);
            }
            Ok(request::Step::Proxy(routed)) => {
                match body::buffer(session, ctx, &routed.snap.config.limits).await {
                    Ok(()) => admit::admit(&self.app, session, ctx, routed).await,
                    Err(body::Stop::Refuse(refusal)) => Err(refusal),
                    Err(body::Stop::Gone(e)) => return Err(e),
                }
            }
            Err(refusal) => Err(refusal),
        };
        match admitted {
            Ok(()) => Ok(false),
            Err(refusal) => {
                // Boxed: the answer's future is ~1 KB, and inline it would be part of (and
                // copied with) every request's `request_filter` future, refused or not.
                Box::pin(refuse::send(&self.app, session, ctx, refusal)).await?;
                Ok(true)
            }
        }
    }

    async fn request_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        _eos: bool,
        ctx: &mut Ctx,
    ) -> Result<()> {
        if !body::on_piece(body, ctx) {
            return Ok(()); // counted and checked as it was read ahead
        }
        request::count_body(body.as_ref().map_or(0, |b| b.len()), ctx)
    }

    async fn upstream_peer(&self, session: &mut Session, ctx: &mut Ctx) -> Result<Box<HttpPeer>> {
        upstream::peer(&self.app, session, ctx)
    }

    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        req: &mut pingora::http::RequestHeader,
        ctx: &mut Ctx,
    ) -> Result<()> {
        request::forward_headers(session, req, ctx)
    }

    async fn upstream_response_filter(
        &self,
        _session: &mut Session,
        resp: &mut ResponseHeader,
        ctx: &mut Ctx,
    ) -> Result<()> {
        accounting::response_arrived(ctx, resp.status.as_u16());
        Ok(())
    }

    async fn response_filter(
        &self,
        _session: &mut Session,
        resp: &mut ResponseHeader,
        ctx: &mut Ctx,
    ) -> Result<()> {
        resp.insert_header("X-Request-Id", ctx.request_id.header())?;
        page::mode_header(resp, page::mode_of(&self.app, ctx))
    }

    fn fail_to_connect(
        &self,
        session: &mut Session,
        _peer: &HttpPeer,
        ctx: &mut Ctx,
        e: Box<Error>,
    ) -> Box<Error> {
        failure::on_connect_failure(&self.app, session, ctx, e)
    }

    fn error_while_proxy(
        &self,
        _peer: &HttpPeer,
        session: &mut Session,
        e: Box<Error>,
        ctx: &mut Ctx,
        reused: bool,
    ) -> Box<Error> {
        failure::on_exchange_failure(&self.app, session, ctx, e, reused)
    }

    async fn fail_to_proxy(&self, session: &mut Session, e: &Error, ctx: &mut Ctx) -> FailToProxy {
        failure::answer(&self.app, session, e, ctx).await
    }

    async fn logging(&self, session: &mut Session, e: Option<&Error>, ctx: &mut Ctx) {
        accounting::finish(&self.app, session, e, ctx);
        crate::conn::request_done(session);
    }

    fn suppress_error_log(&self, _session: &Session, ctx: &Ctx, error: &Error) -> bool {
        // Maintenance and shedding are expected outcomes, logged once in the access log; so is
        // a client that went away (status 0 there). Upstream failures (502/504) keep Pingora's
        // error line with its cause.
        let client_gone = *error.esource() == pingora::ErrorSource::Downstream
            && matches!(
                error.etype(),
                ErrorType::ConnectionClosed | ErrorType::ReadError | ErrorType::WriteError
            );
        client_gone
            || matches!(
                ctx.refusal,
                Some(Refusal::Maintenance { .. } | Refusal::Shed { .. })
            )
    }
}
