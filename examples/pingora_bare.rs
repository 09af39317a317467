//! The "bare Pingora" proxy of issue #5: Pingora's own load-balancer example reduced to one
//! round-robin upstream over plain HTTP, one worker thread, nothing else (no routing,
//! admission, metrics, headers or logs). `benches/proxy` runs it next to firebreak, nginx and
//! HAProxy, so firebreak's cost is measured against the framework it is built on.
//!
//! With `PINGORA_BARE_SAME_JOB=1` it also does the plain proxying work firebreak always does,
//! through the same Pingora calls: the request id (made by firebreak's own `new_request_id`)
//! and forwarding headers, connect, read and idle timeouts, and the keep-alive timeout on every
//! request. `benches/proxy/run.sh --same-job on` compares the four proxies doing that same job.
//!
//! With `PINGORA_BARE_TLS="CERT KEY"` it listens with TLS instead (Pingora's TLS settings at
//! their defaults), for `benches/proxy/run.sh --tls on`; `PINGORA_BARE_H2=1` also offers
//! HTTP/2 by ALPN, as firebreak does (`--h2 on`).
//!
//! It is built with the same release profile (fat LTO) and global allocator (mimalloc) as
//! firebreak, so the difference between the two is firebreak's own work:
//!
//! ```sh
//! cargo build --release --example pingora_bare --features bench-bare
//! target/release/examples/pingora_bare 127.0.0.1:8080 127.0.0.1:9000
//! ```

use async_trait::async_trait;
use http::HeaderValue;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::listeners::tls::TlsSettings;
use pingora::prelude::*;
use pingora::server::configuration::ServerConf;
use std::sync::Arc;
use std::time::Duration;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Bare {
    upstreams: Arc<LoadBalancer<RoundRobin>>,
    /// PINGORA_BARE_SAME_JOB=1: also add the four headers firebreak adds and keep the
    /// timeouts it keeps, the same way.
    same_job: bool,
    /// `X-Forwarded-Proto`, with `same_job`: "https" on a TLS listener.
    proto: &'static str,
}

#[async_trait]
impl ProxyHttp for Bare {
    /// The request id, with `same_job`.
    type CTX = Option<HeaderValue>;
    fn new_ctx(&self) -> Self::CTX {
        None
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        _ctx: &mut Self::CTX,
    ) -> Result<Box<HttpPeer>> {
        let upstream = self
            .upstreams
            .select(b"", 256)
            .ok_or_else(|| Error::explain(InternalError, "no upstream"))?;
        let mut peer = HttpPeer::new(upstream, false, String::new());
        if self.same_job {
            // firebreak's (and the nginx/HAProxy configs') connect and read timeouts, and
            // its idle time for pooled upstream connections.
            let o = &mut peer.options;
            o.connection_timeout = Some(Duration::from_secs(1));
            o.total_connection_timeout = Some(Duration::from_secs(1));
            o.read_timeout = Some(Duration::from_secs(30));
            o.write_timeout = Some(Duration::from_secs(30));
            o.idle_timeout = Some(Duration::from_secs(60));
        }
        Ok(Box::new(peer))
    }

    async fn early_request_filter(&self, session: &mut Session, _id: &mut Self::CTX) -> Result<()> {
        if self.same_job {
            // Pingora keeps the idle keep-alive timeout only for a connection's first request
            // (pingora #540); firebreak sets it on every request.
            session.set_keepalive(Some(60));
        }
        Ok(())
    }

    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        req: &mut RequestHeader,
        id: &mut Self::CTX,
    ) -> Result<()> {
        if self.same_job {
            // firebreak's id, kept as one header value for both directions, as firebreak does.
            let value = firebreak::request_id::new_request_id();
            req.insert_header("X-Request-Id", value.clone())?;
            *id = Some(value);
            if let Some(ip) = session.client_addr().and_then(|a| a.as_inet()) {
                req.insert_header("X-Forwarded-For", ip.ip().to_string())?;
            }
            req.insert_header("X-Forwarded-Proto", self.proto)?;
        }
        Ok(())
    }

    async fn response_filter(
        &self,
        _session: &mut Session,
        resp: &mut ResponseHeader,
        id: &mut Self::CTX,
    ) -> Result<()> {
        if let Some(value) = id {
            resp.insert_header("X-Request-Id", value.clone())?;
        }
        Ok(())
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [listen, origin] = args.as_slice() else {
        eprintln!("usage: pingora_bare LISTEN_ADDR ORIGIN_ADDR");
        std::process::exit(2);
    };
    let conf = ServerConf {
        threads: 1,
        // Stop at once on SIGTERM: nothing here needs draining in a benchmark.
        grace_period_seconds: Some(0),
        graceful_shutdown_timeout_seconds: Some(1),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let upstreams = match LoadBalancer::try_from_iter([origin.as_str()]) {
        Ok(u) => u,
        Err(e) => {
            eprintln!("pingora_bare: bad origin {origin}: {e}");
            std::process::exit(2);
        }
    };
    let tls = std::env::var("PINGORA_BARE_TLS").ok();
    let bare = Bare {
        upstreams: Arc::new(upstreams),
        same_job: std::env::var("PINGORA_BARE_SAME_JOB").is_ok_and(|v| v == "1"),
        proto: if tls.is_some() { "https" } else { "http" },
    };
    let mut proxy = http_proxy_service(&server.configuration, bare);
    match tls.as_deref().map(|t| t.split_once(' ')) {
        None => proxy.add_tcp(listen),
        Some(Some((cert, key))) => match TlsSettings::intermediate(cert, key) {
            Ok(mut settings) => {
                if std::env::var("PINGORA_BARE_H2").is_ok_and(|v| v == "1") {
                    settings.enable_h2();
                }
                proxy.add_tls_with_settings(listen, None, settings);
            }
            Err(e) => {
                eprintln!("pingora_bare: TLS listener: {e}");
                std::process::exit(2);
            }
        },
        Some(None) => {
            eprintln!("pingora_bare: PINGORA_BARE_TLS must be \"CERT_PATH KEY_PATH\"");
            std::process::exit(2);
        }
    }
    server.add_service(proxy);
    server.run_forever();
}
