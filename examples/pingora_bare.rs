//! The "bare Pingora" proxy of issue #5: Pingora's own load-balancer example reduced to one
//! round-robin upstream over plain HTTP, one worker thread, nothing else (no routing,
//! admission, metrics, headers or logs). `benches/proxy` runs it next to firebreak, nginx and
//! HAProxy, so firebreak's cost is measured against the framework it is built on.
//!
//! It is built with the same release profile (fat LTO) and global allocator (mimalloc) as
//! firebreak, so the difference between the two is firebreak's own work:
//!
//! ```sh
//! cargo build --release --example pingora_bare --features bench-bare
//! target/release/examples/pingora_bare 127.0.0.1:8080 127.0.0.1:9000
//! ```

use async_trait::async_trait;
use pingora::prelude::*;
use pingora::server::configuration::ServerConf;
use std::sync::Arc;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Bare(Arc<LoadBalancer<RoundRobin>>);

#[async_trait]
impl ProxyHttp for Bare {
    type CTX = ();
    fn new_ctx(&self) -> Self::CTX {}

    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut ()) -> Result<Box<HttpPeer>> {
        let upstream = self
            .0
            .select(b"", 256)
            .ok_or_else(|| Error::explain(InternalError, "no upstream"))?;
        Ok(Box::new(HttpPeer::new(upstream, false, String::new())))
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
    let mut proxy = http_proxy_service(&server.configuration, Bare(Arc::new(upstreams)));
    proxy.add_tcp(listen);
    server.add_service(proxy);
    server.run_forever();
}
