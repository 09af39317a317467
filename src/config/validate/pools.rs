//! Validation of `[[pool]]` tables: names, tiers, timeouts, health checks and backends (how
//! they are reached, TLS and `Host`, is in `upstream`).
//!
//! Besides the shape of each value, this checks what would make a pool silently useless or
//! ambiguous at run time: duplicate names, no backends, a backend listed twice, every weight
//! zero, a health timeout that can never fire before the next check. Nothing here is checked
//! again downstream.

use super::super::raw::{RawBackend, RawHealth, RawPool, S};
use super::super::{BackendConf, HealthConf, NamedBackend, PoolConf, Spill};
use super::{upstream, Checker};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::ops::Range;

const MAX_TIER: i64 = 16;
const MAX_WEIGHT: i64 = 1000;

pub(super) fn pools(cx: &mut Checker, raw: Option<&S<Vec<S<RawPool>>>>) -> Vec<PoolConf> {
    let list = raw.map_or(&[][..], |v| v.get_ref().as_slice());
    if list.is_empty() {
        let msg = "no pool: at least one [[pool]] with backends is required";
        match raw {
            Some(v) => cx.error(v.span(), msg),
            None => cx.error_unplaced(msg),
        }
        return Vec::new();
    }
    let mut names: HashMap<String, Range<usize>> = HashMap::new();
    let mut seen_backends: HashMap<SocketAddr, String> = HashMap::new();
    let mut out = Vec::new();
    for p in list {
        let name = name(cx, p.get_ref().name.as_ref(), p.span(), "pool");
        if let Some((n, span)) = &name {
            if let Some(first) = names.get(n) {
                let line = cx.line(first.clone());
                cx.error(
                    span.clone(),
                    format!("duplicate pool name {n:?} (first at line {line})"),
                );
            } else {
                names.insert(n.clone(), span.clone());
            }
        }
        let label = p
            .get_ref()
            .name
            .as_ref()
            .map_or("?", |n| n.get_ref().as_str())
            .to_string();
        let conf = pool(cx, p.get_ref(), p.span(), &label);
        for b in conf.as_ref().map_or(&[][..], |c| c.backends.as_slice()) {
            if let Some(other) = seen_backends.insert(b.addr, label.clone()) {
                if other != label {
                    let msg = format!(
                        "backend {} is in pools {other:?} and {label:?}; its load is counted twice",
                        b.addr
                    );
                    cx.warn(p.span(), msg);
                }
            }
        }
        if let (Some((name, _)), Some(conf)) = (name, conf) {
            out.push(PoolConf { name, ..conf });
        }
    }
    if out.len() == list.len() && out.iter().all(|p| p.spill == Spill::FailoverOnly) {
        let span = raw.map_or(0..0, |v| v.span());
        let msg = "every pool is spill = \"failover_only\": the lowest tier still takes all \
                   traffic, so the setting has no effect";
        cx.warn(span, msg);
    }
    out
}

/// A required name for a pool or route: non-empty, short, and safe in metric labels and URLs.
pub(super) fn name(
    cx: &mut Checker,
    v: Option<&S<String>>,
    table: Range<usize>,
    what: &str,
) -> Option<(String, Range<usize>)> {
    let Some(v) = v else {
        cx.error(table, format!("{what} needs a name"));
        return None;
    };
    let n = v.get_ref();
    let ok_chars = n
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if n.is_empty() || n.chars().count() > 64 || !ok_chars {
        cx.error(
            v.span(),
            format!(
                "{what}.name {n:?} must be 1 to 64 characters of letters, digits, '-', '_' or '.'"
            ),
        );
        return None;
    }
    Some((n.clone(), v.span()))
}

/// One pool, without its name (filled in by the caller). `None` if anything is invalid.
fn pool(cx: &mut Checker, p: &RawPool, span: Range<usize>, label: &str) -> Option<PoolConf> {
    let tier = cx.int(p.tier.as_ref(), "pool.tier", 0, 0..=MAX_TIER);
    let spill = cx.choice(
        p.spill.as_ref(),
        "pool.spill",
        Spill::Gradual,
        &[
            ("gradual", Spill::Gradual),
            ("failover_only", Spill::FailoverOnly),
        ],
    );
    let connect = cx.positive_duration(p.connect_timeout.as_ref(), "pool.connect_timeout", "1s");
    let read = cx.positive_duration(p.read_timeout.as_ref(), "pool.read_timeout", "30s");
    let idle = cx.positive_duration(p.idle_timeout.as_ref(), "pool.idle_timeout", "1s");
    let slow_start = cx.duration(p.slow_start.as_ref(), "pool.slow_start", "10s");
    let health = match &p.health {
        Some(h) => health(cx, h.get_ref()).map(Some),
        None => Some(None),
    };
    let backends = backends(cx, p.backends.as_ref(), span, label);
    let host_header = upstream::host_header(cx, p.host_header.as_ref());
    let ips = backends.as_ref().map(|(ips, _)| ips.as_slice());
    let tls = upstream::tls(cx, p.tls.as_ref(), ips, label);
    let resolve_every = upstream::resolve_every(cx, p.resolve_every.as_ref());
    let (backends, names) = backends?;
    Some(PoolConf {
        name: String::new(),
        tier: u32::try_from(tier?).ok()?,
        spill: spill?,
        connect_timeout: connect?,
        read_timeout: read?,
        idle_timeout: idle?,
        slow_start: slow_start?,
        health: health?,
        backends,
        names,
        resolve_every: resolve_every?,
        host_header: host_header?,
        tls: tls?,
    })
}

fn health(cx: &mut Checker, h: &RawHealth) -> Option<HealthConf> {
    let path = match &h.path {
        Some(p) if !valid_path(p.get_ref()) => {
            cx.error(
                p.span(),
                format!(
                    "pool.health.path {:?} must start with '/' and contain no spaces, '?' or '#'",
                    p.get_ref()
                ),
            );
            None
        }
        Some(p) => Some(p.get_ref().clone()),
        None => Some("/health".to_string()),
    };
    let interval = cx.positive_duration(h.interval.as_ref(), "pool.health.interval", "1s");
    let timeout = cx.positive_duration(h.timeout.as_ref(), "pool.health.timeout", "500ms");
    if let (Some(i), Some(t)) = (interval, timeout) {
        if t >= i {
            let span = h
                .timeout
                .as_ref()
                .or(h.interval.as_ref())
                .map_or(0..0, |v| v.span());
            cx.error(
                span,
                format!(
                    "pool.health.timeout ({t:?}) must be shorter than pool.health.interval ({i:?})"
                ),
            );
        }
    }
    let rise = cx.int(h.rise.as_ref(), "pool.health.rise", 2, 1..=100);
    let fall = cx.int(h.fall.as_ref(), "pool.health.fall", 3, 1..=100);
    let extras = upstream::health_extras(cx, h);
    let (interval, timeout) = (interval?, timeout?);
    if timeout >= interval {
        return None;
    }
    let (host, expect_status, expect_body) = extras?;
    Some(HealthConf {
        path: path?,
        interval,
        timeout,
        rise: u32::try_from(rise?).ok()?,
        fall: u32::try_from(fall?).ok()?,
        host,
        expect_status,
        expect_body,
    })
}

/// A path that can be sent as-is in a request line and compared as a prefix.
pub(super) fn valid_path(p: &str) -> bool {
    p.starts_with('/')
        && !p
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '?' || c == '#')
}

fn backends(
    cx: &mut Checker,
    raw: Option<&S<Vec<S<RawBackend>>>>,
    pool_span: Range<usize>,
    label: &str,
) -> Option<(Vec<BackendConf>, Vec<NamedBackend>)> {
    let list = raw.map_or(&[][..], |v| v.get_ref().as_slice());
    let mut names: Vec<NamedBackend> = Vec::new();
    if list.is_empty() {
        let span = raw.map_or(pool_span, |v| v.span());
        cx.error(span, format!("pool {label:?} has no backends"));
        return None;
    }
    let mut out = Vec::new();
    let mut seen: HashMap<SocketAddr, Range<usize>> = HashMap::new();
    let mut valid = true;
    for b in list {
        let Some(addr_v) = &b.get_ref().addr else {
            cx.error(b.span(), "backend needs an addr");
            valid = false;
            continue;
        };
        let weight = cx.int(
            b.get_ref().weight.as_ref(),
            "pool.backends.weight",
            1,
            0..=MAX_WEIGHT,
        );
        if let Some((host, port)) = upstream::host_port(addr_v.get_ref()) {
            let weight = weight.and_then(|w| u32::try_from(w).ok());
            if names.iter().any(|n| n.host == host && n.port == port) {
                let msg = format!("duplicate backend {host}:{port} in pool {label:?}");
                cx.error(addr_v.span(), msg);
                valid = false;
            } else if let Some(weight) = weight {
                names.push(NamedBackend { host, port, weight });
            } else {
                valid = false;
            }
            continue;
        }
        let Some(addr) = cx.socket_addr(addr_v, "pool.backends.addr") else {
            valid = false;
            continue;
        };
        if addr.port() == 0 || addr.ip().is_unspecified() || addr.ip().is_multicast() {
            cx.error(
                addr_v.span(),
                format!("pool.backends.addr {addr} is not an address a backend can listen on"),
            );
            valid = false;
        } else if let Some(first) = seen.get(&addr) {
            let line = cx.line(first.clone());
            cx.error(
                addr_v.span(),
                format!("duplicate backend {addr} in pool {label:?} (first at line {line})"),
            );
            valid = false;
        } else {
            seen.insert(addr, addr_v.span());
        }
        match weight.and_then(|w| u32::try_from(w).ok()) {
            Some(weight) => out.push(BackendConf { addr, weight }),
            None => valid = false,
        }
    }
    let weights = out
        .iter()
        .map(|b| b.weight)
        .chain(names.iter().map(|n| n.weight));
    if valid && weights.clone().all(|w| w == 0) {
        let span = raw.map_or(pool_span, |v| v.span());
        cx.error(
            span,
            format!("pool {label:?}: every backend has weight 0, so the pool can take no traffic"),
        );
        return None;
    }
    valid.then_some((out, names))
}
