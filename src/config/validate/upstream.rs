//! Validation of the two sites' plumbing: how a pool reaches its backends at another site
//! (`tls`, with its files read and checked here, so `check` refuses what `run` would;
//! `host_header`; the health check's `host`, `expect_status` and `expect_body`), and who the
//! client is behind a load balancer (`[clients] trusted_proxies`).
//!
//! The rule that matters most: a pool with `tls` always has a non-empty SNI. Pingora 0.9 turns
//! off every certificate check for a peer with an empty SNI, so an IP backend with `tls` and no
//! `sni` is an error, never a silently unverified connection.

use super::super::raw::{RawClients, RawHealth, RawUpstreamTls, S};
use super::super::{BackendConf, ClientsConf, UpstreamTlsConf};
use super::sections::readable_file;
use super::Checker;
use crate::identity::Cidr;

/// `pool.host_header`: a host, optionally with a port.
pub(super) fn host_header(cx: &mut Checker, v: Option<&S<String>>) -> Option<Option<String>> {
    let Some(v) = v else { return Some(None) };
    if !valid_authority(v.get_ref()) {
        let msg = format!("pool.host_header {:?} is not a host[:port]", v.get_ref());
        cx.error(v.span(), msg);
        return None;
    }
    Some(Some(v.get_ref().to_ascii_lowercase()))
}

/// `pool.tls`. `None` when anything is invalid.
pub(super) fn tls(
    cx: &mut Checker,
    raw: Option<&S<RawUpstreamTls>>,
    backends: Option<&[BackendConf]>,
    label: &str,
) -> Option<Option<UpstreamTlsConf>> {
    let Some(raw) = raw else { return Some(None) };
    let t = raw.get_ref();
    let mut ok = true;
    let sni = match &t.sni {
        Some(v) if !valid_dns_name(v.get_ref()) => {
            let msg = format!("pool.tls.sni {:?} is not a DNS name", v.get_ref());
            cx.error(v.span(), msg);
            ok = false;
            None
        }
        Some(v) => Some(v.get_ref().to_ascii_lowercase()),
        None => {
            // An IP backend has no name to send or verify; a named one sends its own.
            if backends.is_some_and(|b| !b.is_empty()) {
                let msg = format!(
                    "pool {label:?} has tls and IP backends but no tls.sni: set the name the \
                     backends' certificate is for (without it nothing would be verified)"
                );
                cx.error(raw.span(), msg);
                ok = false;
            }
            None
        }
    };
    let verify = t.verify.as_ref().map_or(true, |v| *v.get_ref());
    let skip = t
        .insecure_skip_verify
        .as_ref()
        .is_some_and(|v| *v.get_ref());
    if !verify && !skip {
        let span = t.verify.as_ref().map_or(raw.span(), |v| v.span());
        cx.error(
            span,
            "pool.tls.verify = false needs insecure_skip_verify = true as well: it accepts any \
             certificate, so anyone on the path can read and change the traffic",
        );
        ok = false;
    } else if !verify {
        let msg =
            format!("pool {label:?}: backend certificates are not verified (tls.verify = false)");
        cx.warn(raw.span(), msg);
    } else if skip {
        let span = t
            .insecure_skip_verify
            .as_ref()
            .map_or(raw.span(), |v| v.span());
        cx.warn(
            span,
            "pool.tls.insecure_skip_verify has no effect while verify = true",
        );
    }
    let ca = match &t.ca {
        Some(v) => match readable_file(cx, v, "pool.tls.ca").map(|p| crate::pem::load_ca(&p)) {
            Some(Ok(certs)) => Some(certs),
            Some(Err(e)) => {
                cx.error(v.span(), format!("pool.tls.ca: {e}"));
                ok = false;
                None
            }
            None => {
                ok = false;
                None
            }
        },
        None => None,
    };
    let client = match (&t.client_cert, &t.client_key) {
        (None, None) => None,
        (Some(c), Some(k)) => {
            let cert = readable_file(cx, c, "pool.tls.client_cert");
            let key = readable_file(cx, k, "pool.tls.client_key");
            match (cert, key) {
                (Some(cert), Some(key)) => match crate::pem::load_client(&cert, &key) {
                    Ok(pair) => Some(pair),
                    Err(e) => {
                        cx.error(c.span(), format!("pool.tls.client_cert: {e}"));
                        ok = false;
                        None
                    }
                },
                _ => {
                    ok = false;
                    None
                }
            }
        }
        (Some(v), None) | (None, Some(v)) => {
            cx.error(v.span(), "pool.tls: client_cert and client_key go together");
            ok = false;
            None
        }
    };
    if !ok {
        return None;
    }
    Some(Some(UpstreamTlsConf {
        sni,
        verify,
        ca,
        client,
    }))
}

/// `[clients]`: every `trusted_proxies` entry a CIDR block or an address.
pub(super) fn clients(cx: &mut Checker, raw: Option<&RawClients>) -> ClientsConf {
    let mut trusted_proxies = Vec::new();
    let list = raw.and_then(|r| r.trusted_proxies.as_ref());
    for v in list.map_or(&[][..], |l| l.get_ref().as_slice()) {
        match Cidr::parse(v.get_ref()) {
            Ok(c) => trusted_proxies.push(c),
            Err(e) => cx.error(v.span(), format!("clients.trusted_proxies: {e}")),
        }
    }
    if trusted_proxies
        .iter()
        .any(|c| c.contains([0, 0, 0, 0].into()) && c.contains([255, 255, 255, 255].into()))
    {
        let span = list.map_or(0..0, |l| l.span());
        cx.warn(span, "clients.trusted_proxies trusts every IPv4 address: any client can choose the address firebreak sees");
    }
    ClientsConf { trusted_proxies }
}

/// The health check's `host`, `expect_status` and `expect_body`; `None` when any is invalid.
pub(super) fn health_extras(
    cx: &mut Checker,
    h: &RawHealth,
) -> Option<(Option<String>, Vec<u16>, Option<String>)> {
    let mut ok = true;
    let host = match &h.host {
        Some(v) if !valid_authority(v.get_ref()) => {
            let msg = format!("pool.health.host {:?} is not a host[:port]", v.get_ref());
            cx.error(v.span(), msg);
            ok = false;
            None
        }
        Some(v) => Some(v.get_ref().to_ascii_lowercase()),
        None => None,
    };
    let mut statuses = Vec::new();
    if let Some(list) = &h.expect_status {
        if list.get_ref().is_empty() {
            cx.error(
                list.span(),
                "pool.health.expect_status must list at least one status",
            );
            ok = false;
        }
        for s in list.get_ref() {
            match u16::try_from(*s.get_ref()) {
                Ok(code) if (100..=599).contains(&code) => statuses.push(code),
                _ => {
                    let msg = format!("pool.health.expect_status: {} is not a status", s.get_ref());
                    cx.error(s.span(), msg);
                    ok = false;
                }
            }
        }
    }
    let body = match &h.expect_body {
        Some(v) if v.get_ref().is_empty() || v.get_ref().len() > 1024 => {
            cx.error(v.span(), "pool.health.expect_body must be 1 to 1024 bytes");
            ok = false;
            None
        }
        Some(v) => Some(v.get_ref().clone()),
        None => None,
    };
    ok.then_some((host, statuses, body))
}

/// `HOST:PORT` with a DNS name (not an IP) and a port above 0.
pub(super) fn host_port(s: &str) -> Option<(String, u16)> {
    let (host, port) = s.trim().rsplit_once(':')?;
    let port = port.parse::<u16>().ok().filter(|p| *p > 0)?;
    valid_dns_name(host).then(|| (host.to_ascii_lowercase(), port))
}

/// `pool.resolve_every`: 1 s to 1 h (default 30 s).
pub(super) fn resolve_every(
    cx: &mut Checker,
    v: Option<&S<super::super::raw::Scalar>>,
) -> Option<std::time::Duration> {
    let d = cx.positive_duration(v, "pool.resolve_every", "30s")?;
    if !(std::time::Duration::from_secs(1)..=std::time::Duration::from_secs(3600)).contains(&d) {
        let span = v.map_or(0..0, |v| v.span());
        cx.error(
            span,
            format!("pool.resolve_every must be between 1s and 1h, not {d:?}"),
        );
        return None;
    }
    Some(d)
}

/// A DNS name (RFC 1123 labels, at most 253 characters) — what SNI carries; not an IP.
pub(super) fn valid_dns_name(s: &str) -> bool {
    // The top label is never all digits (RFC 1123 §2.1), so `10.0.0.300` is a broken IP, not
    // a name.
    let top = s.trim_end_matches('.').rsplit('.').next().unwrap_or("");
    s.len() <= 253
        && !top.chars().all(|c| c.is_ascii_digit())
        && s.parse::<std::net::IpAddr>().is_err()
        && s.trim_end_matches('.').split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

/// `host[:port]` as a `Host` header carries it: a DNS name or an IP (IPv6 in brackets).
fn valid_authority(s: &str) -> bool {
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') || h.ends_with(']') => (h, Some(p)),
        _ => (s, None),
    };
    let port_ok = port.map_or(true, |p| !p.is_empty() && p.parse::<u16>().is_ok());
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
        None => host.parse::<std::net::Ipv4Addr>().is_ok() || valid_dns_name(host),
    };
    port_ok && host_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_authorities() {
        for ok in [
            "tms-standby.example.net",
            "localhost",
            "a.b.c.",
            "x_y.example",
        ] {
            assert!(valid_dns_name(ok), "{ok}");
        }
        for bad in [
            "",
            "10.0.0.1",
            "::1",
            "a..b",
            "-a.b",
            "a b",
            "a/b",
            &"x".repeat(64),
        ] {
            assert!(!valid_dns_name(bad), "{bad}");
        }
        for ok in [
            "t",
            "t:8443",
            "10.0.0.1:80",
            "[::1]:443",
            "[::1]",
            "a.example",
        ] {
            assert!(valid_authority(ok), "{ok}");
        }
        for bad in ["", "a b", "a:99999", "a:", "a/b", "::1", "[::1"] {
            assert!(!valid_authority(bad), "{bad}");
        }
    }
}
