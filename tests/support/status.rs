//! The status page's test setup (`tests/status_page.rs`, `tests/status_notes.rs`): origins and
//! a proxy with `[status_page]` on two plain listeners (and optionally HTTPS), and readers of
//! the page.

use super::conf::{two_tier, with_https, TOKEN};
use super::proxy::free_addr;
use super::{get, wait_until, Behaviour, Origin, Proxy, Resp};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

pub const HOST: &str = "status.example.net";

/// The page's table and a route switched off on the standby.
pub fn tail(max_rps: u32) -> String {
    format!(
        r#"
[status_page]
path = "/_status"
host = "{HOST}"
max_rps = {max_rps}

[[route]]
name = "exports"
path_prefix = "/exports"
on_standby = "refuse"
title = "Exports & <reports>"
"#
    )
}

/// Origins and a proxy listening on `{HTTP}`, a second plain address (returned) and, if
/// given, HTTPS at `tls.0` with the certificate in the directory `tls.1`.
pub fn start(
    max_rps: u32,
    tls: Option<(SocketAddr, &Path)>,
) -> (Origin, Origin, Proxy, SocketAddr) {
    let a = Origin::start("a", Behaviour::Normal);
    let s = Origin::start("standby", Behaviour::Normal);
    let mut cfg = two_tier(&[(&a, 1)], &[&s], "", &tail(max_rps));
    if let Some((addr, dir)) = tls {
        cfg = with_https(&cfg, addr, &dir.join("cert.pem"), &dir.join("key.pem"));
    }
    let second = free_addr();
    let both = format!(r#"http = ["{{HTTP}}", "{second}"]"#);
    let p = Proxy::start_with_env(&cfg.replace(r#"http = ["{HTTP}"]"#, &both), &[TOKEN]);
    assert!(p.wait_ready());
    (a, s, p, second)
}

pub fn page_json(p: &Proxy) -> serde_json::Value {
    get(p.http_addr(), "/_status.json").unwrap().json()
}

pub fn wait_mode(p: &Proxy, mode: &str) {
    let ok = wait_until(Duration::from_secs(10), || page_json(p)["mode"] == mode);
    assert!(ok, "the page never said {mode}: {}", page_json(p));
}

/// The page over HTTPS with curl: (status line and headers, body).
pub fn assert_page(r: &Resp, mode: &str) {
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(r.header("cache-control"), Some("public, max-age=5"));
    assert!(
        r.text().contains(&format!(r#"data-mode="{mode}""#)),
        "{}",
        r.text()
    );
    let header = (mode != "normal").then_some(mode);
    assert_eq!(r.header("firebreak-mode"), header, "{:?}", r.headers);
}

/// No request whose line contains one of `paths` ever reached `origins`: the page and its
/// refusals are firebreak's own answers.
pub fn never_proxied(origins: &[&Origin], paths: &[&str]) {
    for o in origins {
        let seen = o.requests();
        assert!(
            seen.iter().all(|r| paths.iter().all(|p| !r.contains(p))),
            "{seen:?}"
        );
    }
}
