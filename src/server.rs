//! Wires the Pingora server: the proxy service on the `listen` addresses, the admin service on
//! `admin.listen`, and the background service. Pingora's defaults that bite are set here:
//! worker threads (default 1), grace period (default 300 s), retries (default 16 attempts).

use crate::admin::Admin;
use crate::app::App;
use crate::background::Background;
use crate::config::Config;
use crate::conn::Guarded;
use crate::proxy::Proxy;
use pingora::apps::HttpServerOptions;
use pingora::listeners::tls::TlsSettings;
use pingora::listeners::{L4BufferSettings, ListenerConfig};
use pingora::proxy::HttpProxy;
use pingora::server::configuration::{Opt, ServerConf};
use pingora::server::{RunArgs, Server};
use pingora::services::background::background_service;
use pingora::services::listening::Service;
use std::path::Path;
use std::time::Duration;

/// Hard cap on attempts per request; the config's `retry.max_attempts` (≤ 10) is the real bound.
const MAX_ATTEMPTS: usize = 10;

/// Opens and closes every listening address once before anything starts, so a port that is
/// taken (or an address this host does not have) ends the process at once with a clear error
/// and a non-zero exit, before it tells a supervisor it is ready. Pingora itself retries a
/// failed bind for about 30 s and then panics in the service's thread, leaving a process that
/// answers `/healthz` and `/readyz` and serves nothing. (With `--upgrade` the sockets come
/// from the running process instead.)
fn check_listeners(config: &Config) -> Result<(), String> {
    let public = config.listen.http.iter().map(|a| (*a, "listen.http"));
    let tls = config.listen.https.iter().map(|t| (t.addr, "listen.https"));
    let admin = std::iter::once((config.admin.listen, "admin.listen"));
    for (addr, key) in public.chain(tls).chain(admin) {
        // std sets SO_REUSEADDR on Unix, as Pingora does: a port in TIME_WAIT is not "taken".
        std::net::TcpListener::bind(addr)
            .map_err(|e| format!("cannot listen on {addr} ({key}): {e}"))?;
    }
    Ok(())
}

/// Loads the config and serves until shutdown.
pub fn run(config_path: &Path, upgrade: bool) -> Result<(), String> {
    let config = Config::load(config_path).map_err(|e| e.to_string())?;
    for w in &config.warnings {
        tracing::warn!(
            "{}:{}:{}: {}",
            config_path.display(),
            w.line,
            w.col,
            w.message
        );
    }
    if !upgrade {
        check_listeners(&config)?;
    }
    let app = App::new(config.clone(), config_path);

    let upgrade_sock = std::env::var("FIREBREAK_UPGRADE_SOCK")
        .unwrap_or_else(|_| "/tmp/firebreak_upgrade.sock".into());
    let conf = ServerConf {
        threads: config.server.threads.max(1),
        // Our background service exits as soon as the drain is done; Pingora's own timer is
        // only the backstop.
        grace_period_seconds: Some(config.server.grace.as_secs() + 2),
        graceful_shutdown_timeout_seconds: Some(1),
        max_retries: MAX_ATTEMPTS,
        upgrade_sock: upgrade_sock.clone(),
        pid_file: std::env::var("FIREBREAK_PID_FILE")
            .unwrap_or_else(|_| "/tmp/firebreak.pid".into()),
        ..ServerConf::default()
    };
    let opt = Opt {
        upgrade,
        ..Default::default()
    };
    // Backends start down; learn which answer before taking (or taking over) the sockets.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("startup runtime: {e}"))?
        .block_on(crate::health::first_round(&app));
    // The fleet's operator state (a maintenance set on any replica) before the first request.
    app.clock
        .set_identity(&crate::fleet::identity(config.admin.listen));
    if let Some(fleet) = &config.fleet {
        let pulled = crate::fleet::pull(&app, fleet, Some(config.admin.listen), true);
        if pulled.reached == 0 {
            tracing::warn!(
                peers = pulled.peers,
                "fleet: no peer reachable; starting from the config"
            );
        } else {
            tracing::info!(
                peers = pulled.peers,
                reached = pulled.reached,
                adopted = pulled.adopted.len(),
                "fleet: operator state taken from the peers"
            );
        }
    }
    let mut server = Server::new_with_opt_and_conf(opt, conf);
    server.bootstrap();

    let mut http = HttpProxy::new(Proxy::new(app.clone()), server.configuration.clone());
    http.handle_init_modules();
    let mut options = HttpServerOptions::default();
    options.h2_idle_timeout = Some(Duration::from_secs(crate::proxy::KEEPALIVE_SECS));
    http.server_options = Some(options);
    let limits = &config.limits;
    let proxy_protocol = crate::conn::ProxyProtocol::new(
        config.listen.proxy_protocol.clone(),
        limits.header_read_timeout,
    );
    let guarded = Guarded::new(
        http,
        limits.max_connections,
        limits.header_read_timeout,
        limits.keepalive_timeout,
        crate::conn::Unparsed {
            bad_request: app
                .metrics
                .requests
                .with_label_values(&["-", "none", "400"]),
            timeout: app
                .metrics
                .requests
                .with_label_values(&["-", "none", "408"]),
        },
        proxy_protocol.clone(),
    );
    let mut proxy = Service::new("firebreak proxy".to_string(), guarded);
    // Every listener reads straight from the socket, without Pingora's default 64 KB L4 read
    // buffer per connection. Pingora reads a request head into its own buffer and a body into
    // its own chunks, and rustls reads into its own record buffer, so that buffer only adds a
    // copy of every byte, and 64 KB to every idle keep-alive connection. Measured with
    // benches/proxy (README "Performance"): idle memory per connection 103 -> 40 KB (plain
    // HTTP) and 115 -> 50 KB (TLS), with the same throughput for GETs and 64 KB uploads.
    let unbuffered = L4BufferSettings::default().read(0);
    // TLS listeners read a PROXY header (where required) before the handshake.
    proxy
        .endpoints()
        .set_pre_tls_callback(std::sync::Arc::new(proxy_protocol));
    for addr in &config.listen.http {
        proxy.add_listener(ListenerConfig::tcp(addr.to_string()).l4_buffer(unbuffered));
    }
    for tls in &config.listen.https {
        let (cert, key) = (
            tls.cert.display().to_string(),
            tls.key.display().to_string(),
        );
        let mut settings = TlsSettings::intermediate(&cert, &key)
            .map_err(|e| format!("TLS listener {}: {e}", tls.addr))?;
        let resolver = app.certs.register(tls.addr, &tls.cert, &tls.key)?;
        settings.set_cert_resolver(resolver);
        settings.enable_h2(); // HTTP/2 by ALPN, HTTP/1.1 otherwise
        let endpoint = ListenerConfig::tcp(tls.addr.to_string())
            .tls(settings)
            .l4_buffer(unbuffered);
        proxy.add_listener(endpoint);
    }
    let mut admin = Service::new("firebreak admin".to_string(), Admin::new(app.clone()));
    admin.add_tcp(&config.admin.listen.to_string());
    admin.threads = Some(1);

    server.add_service(proxy);
    server.add_service(admin);
    server.add_service(background_service(
        "firebreak background",
        Background::new(app, upgrade_sock.into()),
    ));
    tracing::info!(
        http = ?config.listen.http,
        https = ?config.listen.https.iter().map(|t| t.addr).collect::<Vec<_>>(),
        admin = %config.admin.listen,
        threads = config.server.threads,
        "firebreak starting"
    );
    server.run(RunArgs::default());
    Ok(())
}
