//! Validation of `[status_page]`: the public page's path, its optional host, its title and its
//! request-rate cap, checked against the routes.
//!
//! The page is answered before any route is looked up, so it can take requests a route was
//! written for. Two cases, two answers:
//!
//! * `host` equal to a route's `host` is an **error**: every path of that host is the page,
//!   so the route could never be reached.
//! * `path` (or `PATH.json`) inside a route's `path_prefix` (other than the catch-all `/`), or
//!   a route's `path_prefix` inside `path`, is a **warning**: the page takes only its two exact
//!   paths and the route keeps every other one, which may be what the operator wants.

use super::super::raw::{RawStatusPage, S};
use super::super::{RouteConf, StatusPageConf};
use super::pools::valid_path;
use super::routes::{normalize_host, public_text};
use super::Checker;

const DEFAULT_PATH: &str = "/_status";
const DEFAULT_TITLE: &str = "fireTMS";
const DEFAULT_MAX_RPS: i64 = 2000;
const MAX_PATH_CHARS: usize = 200;

pub(super) fn status_page(
    cx: &mut Checker,
    raw: Option<&S<RawStatusPage>>,
    routes: &[RouteConf],
) -> Option<StatusPageConf> {
    let table = raw?;
    let r = table.get_ref();
    let path = match &r.path {
        None => Some(DEFAULT_PATH.to_string()),
        Some(p) => match path_problem(p.get_ref()) {
            Some(why) => {
                cx.error(
                    p.span(),
                    format!("status_page.path {:?} {why}", p.get_ref()),
                );
                None
            }
            None => Some(p.get_ref().clone()),
        },
    };
    let host = match &r.host {
        None => Some(None),
        Some(h) => match normalize_host(h.get_ref()) {
            Ok(host) => {
                collides(cx, h, &host, routes);
                Some(Some(host))
            }
            Err(e) => {
                cx.error(h.span(), format!("status_page.host {:?}: {e}", h.get_ref()));
                None
            }
        },
    };
    let title = match &r.title {
        None => Some(DEFAULT_TITLE.to_string()),
        Some(t) => public_text(cx, t, "status_page.title", 80),
    };
    let max_rps = cx.int_u32(
        r.max_rps.as_ref(),
        "status_page.max_rps",
        DEFAULT_MAX_RPS as u32,
        1..=1_000_000,
    );
    if let Some(p) = &path {
        let span = r.path.as_ref().map_or(table.span(), |p| p.span());
        shadows(cx, span, p, routes);
    }
    Some(StatusPageConf {
        path: path?,
        host: host?,
        title: title?,
        max_rps: max_rps?,
    })
}

/// Why `p` cannot be the page's path, if it cannot.
fn path_problem(p: &str) -> Option<String> {
    if !valid_path(p) {
        return Some("must start with '/' and contain no spaces, '?' or '#'".into());
    }
    if p == "/" {
        return Some(
            "would replace the home page of every host; pick a path like \"/_status\"".into(),
        );
    }
    if p.ends_with('/') {
        return Some(
            "must not end with '/' (it is matched exactly, and PATH.json is its JSON form)".into(),
        );
    }
    let chars = p.chars().count();
    (chars > MAX_PATH_CHARS).then(|| format!("is at most {MAX_PATH_CHARS} characters, not {chars}"))
}

/// A route on the page's own host could never be reached: an error.
fn collides(cx: &mut Checker, at: &S<String>, host: &str, routes: &[RouteConf]) {
    for r in routes.iter().filter(|r| r.host.as_deref() == Some(host)) {
        let msg = format!(
            "status_page.host {host:?} is also the host of route {:?}: every path of that host \
             is the status page, so the route could never be reached (use another host for \
             the page, or remove the route's host)",
            r.name
        );
        cx.error(at.span(), msg);
    }
}

/// Routes whose paths the page takes, or whose prefix lies under the page's path: a warning.
fn shadows(cx: &mut Checker, span: std::ops::Range<usize>, path: &str, routes: &[RouteConf]) {
    let json = format!("{path}.json");
    for r in routes {
        let prefix = r.path_prefix.as_str();
        let msg = if prefix != "/" && (path.starts_with(prefix) || json.starts_with(prefix)) {
            format!(
                "status_page.path {path:?} shadows route {:?} (path_prefix {prefix:?}): \
                 requests for {path} and {json} get the status page, never the route",
                r.name
            )
        } else if prefix.starts_with(path) && prefix != path {
            format!(
                "route {:?} (path_prefix {prefix:?}) lies under status_page.path {path:?}: \
                 only {path} and {json} are the page, the rest goes to the route",
                r.name
            )
        } else {
            continue;
        };
        cx.warn(span.clone(), msg);
    }
}

#[cfg(test)]
mod tests {
    use super::path_problem;

    #[test]
    fn paths() {
        assert_eq!(path_problem("/_status"), None);
        assert_eq!(path_problem("/help/status"), None);
        for bad in ["", "_status", "/", "/status/", "/a b", "/a?b", "/a#b"] {
            assert!(path_problem(bad).is_some(), "{bad:?}");
        }
        assert!(path_problem(&format!("/{}", "a".repeat(300))).is_some());
    }
}
