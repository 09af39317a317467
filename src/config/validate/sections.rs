//! Validation of the small top-level tables: `[server]`, `[listen]`, `[admin]`,
//! `[maintenance]` and `[retry]` (`[limits]` has its own file).
//!
//! Beyond value shapes, this catches listeners that could not bind together, an admin API that
//! would share a proxy listener, unreadable TLS files and maintenance pages (read once, here, at
//! load time), and warns about an admin API reachable from the network without a token.

use super::super::raw::{
    RawAdmin, RawHttpListener, RawListen, RawMaintenance, RawRetry, RawServer, S,
};
use super::super::{
    AdminConf, ListenConf, MaintenanceConf, RetryConf, ServerConf, TlsListenerConf,
};
use super::Checker;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::PathBuf;

const DEFAULT_MESSAGE: &str = "fireTMS is temporarily unavailable. Your data is safe.";
const MAX_PAGE_BYTES: u64 = 1 << 20;

/// Whether two listening sockets would fail to bind together.
fn clash(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() != 0
        && a.port() == b.port()
        && a.is_ipv4() == b.is_ipv4()
        && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}

pub(super) fn server(cx: &mut Checker, raw: Option<&RawServer>) -> ServerConf {
    let threads = cx.int(
        raw.and_then(|r| r.threads.as_ref()),
        "server.threads",
        0,
        0..=1024,
    );
    let threads = match threads {
        Some(0) | None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        Some(n) => usize::try_from(n).unwrap_or(1),
    };
    let grace = cx.duration(raw.and_then(|r| r.grace.as_ref()), "server.grace", "30s");
    ServerConf {
        threads,
        grace: grace.unwrap_or_default(),
    }
}

/// Every address the proxy listeners bind, each with the span of its value (`None` for the
/// default listener, which is not written in the file).
pub(super) type Bound = Vec<(SocketAddr, Option<Range<usize>>)>;

/// The proxy listeners, and every address they bind for the admin clash check.
pub(super) fn listen(cx: &mut Checker, raw: Option<&RawListen>) -> (ListenConf, Bound) {
    let mut bound: Bound = Vec::new();
    let mut add = |cx: &mut Checker, addr: SocketAddr, span: Range<usize>| {
        if let Some((other, at)) = bound.iter().find(|(b, _)| clash(*b, addr)) {
            let at = origin(cx, at.as_ref());
            cx.error(
                span.clone(),
                format!("listener {addr} clashes with listener {other} ({at})"),
            );
        }
        bound.push((addr, Some(span)));
    };
    let mut https = Vec::new();
    let mut proxy_protocol = Vec::new();
    let raw_https = raw.and_then(|r| r.https.as_ref());
    for t in raw_https.map_or(&[][..], |v| v.get_ref()) {
        let (Some(addr), Some(cert), Some(key)) =
            (&t.get_ref().addr, &t.get_ref().cert, &t.get_ref().key)
        else {
            cx.error(t.span(), "listen.https entries need addr, cert and key");
            continue;
        };
        let addr = cx.socket_addr(addr, "listen.https.addr");
        let cert = readable_file(cx, cert, "listen.https.cert");
        let key = readable_file(cx, key, "listen.https.key");
        if let Some(a) = addr {
            add(cx, a, t.span());
        }
        if let (Some(a), Some(true)) = (
            addr,
            t.get_ref().proxy_protocol.as_ref().map(|p| *p.get_ref()),
        ) {
            proxy_protocol.push(a);
        }
        if let (Some(addr), Some(cert), Some(key)) = (addr, cert, key) {
            // The same loading the listener does: a key that does not match is found here.
            match crate::pem::load(&cert, &key) {
                Ok(_) => https.push(TlsListenerConf { addr, cert, key }),
                Err(e) => cx.error(t.span(), format!("listen.https: {e}")),
            }
        }
    }
    let mut http = Vec::new();
    match raw.and_then(|r| r.http.as_ref()) {
        Some(list) => {
            for a in list.get_ref() {
                let (text, pp) = match a.get_ref() {
                    RawHttpListener::Addr(s) => (s, false),
                    RawHttpListener::Table {
                        addr,
                        proxy_protocol,
                    } => (addr, *proxy_protocol),
                };
                let text = S::new(a.span(), text.clone());
                if let Some(addr) = cx.socket_addr(&text, "listen.http") {
                    add(cx, addr, a.span());
                    http.push(addr);
                    if pp {
                        proxy_protocol.push(addr);
                    }
                }
            }
            if list.get_ref().is_empty() && raw_https.map_or(true, |h| h.get_ref().is_empty()) {
                cx.error(
                    list.span(),
                    "no listener: listen.http and listen.https are both empty",
                );
            }
        }
        // No `http` key: the default plain listener, unless HTTPS listeners are configured.
        None if raw_https.map_or(true, |h| h.get_ref().is_empty()) => {
            let addr = SocketAddr::from(([0, 0, 0, 0], 8080));
            bound.push((addr, None));
            http.push(addr);
        }
        None => {}
    }
    (
        ListenConf {
            http,
            https,
            proxy_protocol,
        },
        bound,
    )
}

/// Where a bound address comes from, for error messages.
fn origin(cx: &Checker, span: Option<&Range<usize>>) -> String {
    span.map_or("the default listen.http".to_string(), |s| {
        format!("line {}", cx.line(s.clone()))
    })
}

/// Reads at most `max` bytes of a regular file (never a FIFO, device or directory, which could
/// block or never end).
pub(super) fn read_regular(path: &std::path::Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    if !std::fs::metadata(path)?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut buf = Vec::new();
    std::fs::File::open(path)?
        .take(max + 1)
        .read_to_end(&mut buf)?;
    if buf.len() as u64 > max {
        return Err(std::io::Error::other(format!("larger than {max} bytes")));
    }
    Ok(buf)
}

/// Largest certificate or key file accepted.
const MAX_PEM_BYTES: u64 = 1 << 20;

/// Resolves a path against the config directory and checks it is a readable regular file.
pub(super) fn readable_file(cx: &mut Checker, v: &S<String>, key: &str) -> Option<PathBuf> {
    let path = cx.dir.join(v.get_ref());
    match read_regular(&path, MAX_PEM_BYTES) {
        Ok(_) => Some(path),
        Err(e) => {
            cx.error(
                v.span(),
                format!("{key}: cannot read {}: {e}", path.display()),
            );
            None
        }
    }
}

pub(super) fn admin(
    cx: &mut Checker,
    raw: Option<&RawAdmin>,
    bound: &[(SocketAddr, Option<Range<usize>>)],
) -> AdminConf {
    let token_env = raw.and_then(|r| r.token_env.as_ref());
    if let Some(t) = token_env {
        let name = t.get_ref();
        let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            let msg = format!("admin.token_env: {name:?} is not an environment variable name");
            cx.error(t.span(), msg);
        }
    }
    let default = AdminConf {
        listen: SocketAddr::from(([127, 0, 0, 1], 9901)),
        token_env: token_env.map(|t| t.get_ref().clone()),
    };
    let Some(v) = raw.and_then(|r| r.listen.as_ref()) else {
        return default;
    };
    let Some(addr) = cx.socket_addr(v, "admin.listen") else {
        return default;
    };
    if let Some((other, at)) = bound.iter().find(|(b, _)| clash(*b, addr)) {
        let at = origin(cx, at.as_ref());
        let msg = format!(
            "admin.listen {addr} clashes with proxy listener {other} ({at}); \
             the admin API must never share a proxy listener"
        );
        cx.error(v.span(), msg);
    }
    let token_set =
        token_env.is_some_and(|t| std::env::var_os(t.get_ref()).is_some_and(|val| !val.is_empty()));
    let exposed = "anyone who can reach it can read status and metrics";
    match token_env {
        _ if token_set => {}
        None if !addr.ip().is_loopback() => {
            let msg = format!(
                "admin.listen {addr} is not a loopback address and no token_env is set: {exposed}"
            );
            cx.warn(v.span(), msg);
        }
        Some(t) if !addr.ip().is_loopback() => {
            let msg = format!(
                "admin.listen {addr} is not a loopback address and ${} is not set: {exposed} \
                 (POST endpoints answer 403)",
                t.get_ref()
            );
            cx.warn(t.span(), msg);
        }
        Some(t) => {
            let msg = format!(
                "${} is not set: admin POST endpoints will answer 403",
                t.get_ref()
            );
            cx.warn(t.span(), msg);
        }
        None => {}
    }
    AdminConf {
        listen: addr,
        ..default
    }
}

pub(super) fn maintenance(cx: &mut Checker, raw: Option<&RawMaintenance>) -> MaintenanceConf {
    let message = match raw.and_then(|r| r.message.as_ref()) {
        Some(m) if m.get_ref().trim().is_empty() => {
            cx.error(m.span(), "maintenance.message must not be empty");
            String::new()
        }
        Some(m) => m.get_ref().clone(),
        None => DEFAULT_MESSAGE.to_string(),
    };
    let retry_after = cx.duration(
        raw.and_then(|r| r.retry_after.as_ref()),
        "maintenance.retry_after",
        "2m",
    );
    let page = raw.and_then(|r| r.page.as_ref()).and_then(|p| {
        let path = cx.dir.join(p.get_ref());
        let read = read_regular(&path, MAX_PAGE_BYTES)
            .and_then(|b| String::from_utf8(b).map_err(|_| std::io::Error::other("not UTF-8")));
        read.map_err(|e| {
            cx.error(
                p.span(),
                format!("maintenance.page: cannot read {}: {e}", path.display()),
            )
        })
        .ok()
    });
    MaintenanceConf {
        enabled: raw.and_then(|r| r.enabled).unwrap_or(false),
        message,
        retry_after: retry_after.unwrap_or_default(),
        page,
    }
}

pub(super) fn retry(cx: &mut Checker, raw: Option<&RawRetry>) -> RetryConf {
    let attempts = cx.int(
        raw.and_then(|r| r.max_attempts.as_ref()),
        "retry.max_attempts",
        3,
        1..=10,
    );
    let ratio = cx.fraction(
        raw.and_then(|r| r.budget_ratio.as_ref()),
        "retry.budget_ratio",
        0.2,
    );
    let per_sec = cx.int(
        raw.and_then(|r| r.min_per_sec.as_ref()),
        "retry.min_per_sec",
        10,
        0..=1_000_000,
    );
    RetryConf {
        max_attempts: attempts.and_then(|n| u32::try_from(n).ok()).unwrap_or(1),
        budget_ratio: ratio.unwrap_or(0.0),
        min_per_sec: per_sec.and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
    }
}
