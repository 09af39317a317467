//! Validation of `[[route]]` tables: names, host and path matching, priority, standby policy and
//! the feature's public title.
//!
//! Routes are matched by longest `path_prefix` (host must match if given), so nested prefixes
//! are fine but two routes with the same (host, prefix) would be ambiguous: that is an error.
//! Hosts are normalised here (lower-cased) so matching can compare bytes.

use super::super::raw::{RawRoute, S};
use super::super::{OnStandby, PoolConf, Priority, RouteConf};
use super::pools::{name, valid_path};
use super::Checker;
use std::collections::{HashMap, HashSet};
use std::net::Ipv6Addr;
use std::ops::Range;

pub(super) fn routes(
    cx: &mut Checker,
    raw: Option<&S<Vec<S<RawRoute>>>>,
    pools: &[PoolConf],
) -> Vec<RouteConf> {
    let list = raw.map_or(&[][..], |v| v.get_ref().as_slice());
    if list.is_empty() {
        let msg =
            "no route: at least one [[route]] is required (path_prefix = \"/\" matches everything)";
        match raw {
            Some(v) => cx.error(v.span(), msg),
            None => cx.error_unplaced(msg),
        }
        return Vec::new();
    }
    let tiers: HashSet<u32> = pools.iter().map(|p| p.tier).collect();
    let mut names: HashMap<String, Range<usize>> = HashMap::new();
    let mut matches: HashMap<(Option<String>, String), (String, Range<usize>)> = HashMap::new();
    let mut out = Vec::new();
    for r in list {
        let name = name(cx, r.get_ref().name.as_ref(), r.span(), "route");
        if let Some((n, span)) = &name {
            if let Some(first) = names.get(n) {
                let line = cx.line(first.clone());
                cx.error(
                    span.clone(),
                    format!("duplicate route name {n:?} (first at line {line})"),
                );
            } else {
                names.insert(n.clone(), span.clone());
            }
        }
        let label = r
            .get_ref()
            .name
            .as_ref()
            .map_or("?", |n| n.get_ref().as_str())
            .to_string();
        let Some(route) = route(cx, r.get_ref(), r.span(), tiers.len()) else {
            continue;
        };
        let key = (route.host.clone(), route.path_prefix.clone());
        let span = r
            .get_ref()
            .path_prefix
            .as_ref()
            .map_or(r.span(), |v| v.span());
        if let Some((other, first)) = matches.get(&key) {
            let line = cx.line(first.clone());
            let on = route
                .host
                .as_deref()
                .map_or("any host".to_string(), |h| format!("host {h:?}"));
            let prefix = &route.path_prefix;
            let msg = format!(
                "overlapping routes: {label:?} and {other:?} (line {line}) both match \
                 path_prefix {prefix:?} on {on}"
            );
            cx.error(span, msg);
        } else {
            matches.insert(key, (label, span));
        }
        if let Some((name, _)) = name {
            out.push(RouteConf { name, ..route });
        }
    }
    out
}

/// One route, without its name (filled in by the caller). `None` if anything is invalid.
fn route(cx: &mut Checker, r: &RawRoute, span: Range<usize>, tiers: usize) -> Option<RouteConf> {
    let prefix = match &r.path_prefix {
        None => {
            cx.error(span, "route needs a path_prefix (\"/\" matches everything)");
            None
        }
        Some(p) if !valid_path(p.get_ref()) => {
            cx.error(
                p.span(),
                format!(
                    "route.path_prefix {:?} must start with '/' and contain no spaces, '?' or '#'",
                    p.get_ref()
                ),
            );
            None
        }
        Some(p) => Some(p.get_ref().clone()),
    };
    let host = match &r.host {
        None => Some(None),
        Some(h) => normalize_host(h.get_ref())
            .map(Some)
            .map_err(|e| cx.error(h.span(), format!("route.host {:?}: {e}", h.get_ref())))
            .ok(),
    };
    let priority = cx.choice(
        r.priority.as_ref(),
        "route.priority",
        Priority::Normal,
        &[
            ("critical", Priority::Critical),
            ("normal", Priority::Normal),
            ("bulk", Priority::Bulk),
        ],
    );
    let on_standby = cx.choice(
        r.on_standby.as_ref(),
        "route.on_standby",
        OnStandby::Serve,
        &[("serve", OnStandby::Serve), ("refuse", OnStandby::Refuse)],
    );
    let shadow = cx.fraction(r.shadow.as_ref(), "route.shadow", 0.0);
    let title = match &r.title {
        None => Some(None),
        Some(t) => public_text(cx, t, "route.title", 80).map(Some),
    };
    if let (Some(s), Some(v)) = (shadow, &r.shadow) {
        if s > 0.0 && tiers < 2 {
            let msg = "route.shadow has no effect: every pool is in the same tier, so there is \
                       no standby to mirror to";
            cx.warn(v.span(), msg);
        }
    }
    Some(RouteConf {
        name: String::new(),
        host: host?,
        path_prefix: prefix?,
        priority: priority?,
        on_standby: on_standby?,
        shadow: shadow?,
        title: title?,
    })
}

/// Text shown to customers: not blank, one line, at most `max` characters (trimmed).
pub(super) fn public_text(
    cx: &mut Checker,
    v: &S<String>,
    key: &str,
    max: usize,
) -> Option<String> {
    let text = v.get_ref().trim();
    let chars = text.chars().count();
    let why = if text.is_empty() {
        "must not be empty".to_string()
    } else if text.chars().any(char::is_control) {
        "must be one line of text".to_string()
    } else if chars > max {
        format!("is at most {max} characters, not {chars}")
    } else {
        return Some(text.to_string());
    };
    cx.error(v.span(), format!("{key} {why}"));
    None
}

/// Lower-cases a host name or IP literal; rejects ports, schemes, paths and wildcards.
pub(super) fn normalize_host(host: &str) -> Result<String, String> {
    if host.is_empty() {
        return Err("must not be empty (leave host out to match any host)".into());
    }
    if host.contains("://") || host.contains('/') {
        return Err("must be a bare host name, without scheme or path".into());
    }
    if let Some(rest) = host.strip_prefix('[') {
        let Some((ip, after)) = rest.split_once(']') else {
            return Err("unterminated IPv6 literal".into());
        };
        if !after.is_empty() {
            return Err("must not include a port (the host is matched without it)".into());
        }
        return match ip.parse::<Ipv6Addr>() {
            Ok(_) => Ok(format!("[{}]", ip.to_ascii_lowercase())),
            Err(_) => Err("invalid IPv6 address".into()),
        };
    }
    match host.matches(':').count() {
        0 => {}
        1 => return Err("must not include a port (the host is matched without it)".into()),
        _ => return Err("IPv6 addresses must be written in brackets, like [2001:db8::1]".into()),
    }
    if host.contains('*') {
        return Err("wildcards are not supported; list each host".into());
    }
    let lower = host.to_ascii_lowercase();
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if lower.len() > 253 || !lower.split('.').all(label_ok) {
        return Err("not a valid host name (letters, digits, '-' and '.' only)".into());
    }
    Ok(lower)
}

#[cfg(test)]
mod tests {
    use super::normalize_host;

    #[test]
    fn hosts() {
        assert_eq!(
            normalize_host("TMS.Example.com"),
            Ok("tms.example.com".into())
        );
        assert_eq!(normalize_host("10.0.1.10"), Ok("10.0.1.10".into()));
        assert_eq!(normalize_host("[2001:DB8::1]"), Ok("[2001:db8::1]".into()));
        for bad in [
            "",
            "a.com:443",
            "[::1]:80",
            "https://a.com",
            "a.com/x",
            "*.a.com",
            "a..com",
            "a.com.",
            "-a.com",
            "a b",
            "::1",
            "[::1",
            "[zz]",
            "é.com",
        ] {
            assert!(normalize_host(bad).is_err(), "{bad:?}");
        }
        assert!(normalize_host("a.com:443").is_err_and(|e| e.contains("port")));
    }
}
