//! Request → route: the longest matching `path_prefix` wins; a route with `host` matches only
//! that host, and beats a host-less route of the same prefix length.
//!
//! Routes are sorted once when a snapshot is built, so a match is one scan that stops at the
//! first hit. Prefixes match as plain string prefixes, as nginx's prefix locations and Envoy's
//! `prefix` do (`/login` matches `/login`, `/login/x` and `/loginx`).

use crate::config::{OnStandby, Priority, RouteConf};

#[derive(Debug, Clone)]
pub struct Route {
    pub name: String,
    pub host: Option<String>,
    pub prefix: String,
    pub priority: Priority,
    pub on_standby: OnStandby,
    pub shadow: f64,
    /// Position in the config file (stable index for per-route state and metrics).
    pub index: usize,
}

#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    /// Sorted: longest prefix first, host-specific before host-less.
    sorted: Vec<Route>,
}

impl RouteTable {
    pub fn new(confs: &[RouteConf]) -> Self {
        let mut sorted: Vec<Route> = confs
            .iter()
            .enumerate()
            .map(|(index, c)| Route {
                name: c.name.clone(),
                host: c.host.clone(),
                prefix: c.path_prefix.clone(),
                priority: c.priority,
                on_standby: c.on_standby,
                shadow: c.shadow,
                index,
            })
            .collect();
        sorted.sort_by(|a, b| {
            b.prefix
                .len()
                .cmp(&a.prefix.len())
                .then(b.host.is_some().cmp(&a.host.is_some()))
                .then(a.index.cmp(&b.index))
        });
        Self { sorted }
    }

    /// Routes in config order.
    pub fn routes(&self) -> Vec<&Route> {
        let mut v: Vec<&Route> = self.sorted.iter().collect();
        v.sort_by_key(|r| r.index);
        v
    }

    /// Finds the route for a request. `host` may carry a port; it is compared without it,
    /// case-insensitively.
    pub fn find(&self, host: Option<&str>, path: &str) -> Option<&Route> {
        let host = host.map(strip_port);
        self.sorted.iter().find(|r| {
            path.starts_with(r.prefix.as_str())
                && match (&r.host, host) {
                    (None, _) => true,
                    (Some(want), Some(got)) => want.eq_ignore_ascii_case(got),
                    (Some(_), None) => false,
                }
        })
    }
}

/// `host` without its port (IPv6 literals keep their brackets).
pub fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        // [v6] or [v6]:port: keep the brackets, as route hosts are written with them.
        return match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        };
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(name: &str, host: Option<&str>, prefix: &str) -> RouteConf {
        RouteConf {
            name: name.into(),
            host: host.map(String::from),
            path_prefix: prefix.into(),
            priority: Priority::Normal,
            on_standby: OnStandby::Serve,
            shadow: 0.0,
            title: None,
        }
    }

    fn table() -> RouteTable {
        RouteTable::new(&[
            conf("default", None, "/"),
            conf("login", None, "/login"),
            conf("api-login", Some("api.example.com"), "/login"),
            conf("reports", None, "/reports"),
            conf("report-exports", None, "/reports/export"),
        ])
    }

    fn name(t: &RouteTable, host: Option<&str>, path: &str) -> Option<String> {
        t.find(host, path).map(|r| r.name.clone())
    }

    #[test]
    fn longest_prefix_wins() {
        let t = table();
        assert_eq!(
            name(&t, None, "/reports/export/1").as_deref(),
            Some("report-exports")
        );
        assert_eq!(name(&t, None, "/reports/2").as_deref(), Some("reports"));
        assert_eq!(name(&t, None, "/login").as_deref(), Some("login"));
        assert_eq!(name(&t, None, "/x").as_deref(), Some("default"));
        assert_eq!(name(&t, None, "").as_deref(), None);
    }

    #[test]
    fn host_routes_match_only_their_host_ignoring_port_and_case() {
        let t = table();
        assert_eq!(
            name(&t, Some("API.example.com:8080"), "/login").as_deref(),
            Some("api-login")
        );
        assert_eq!(
            name(&t, Some("app.example.com"), "/login").as_deref(),
            Some("login")
        );
        assert_eq!(name(&t, None, "/login").as_deref(), Some("login"));
        assert_eq!(strip_port("[::1]:80"), "[::1]");
        assert_eq!(strip_port("[::1]"), "[::1]");
        assert_eq!(strip_port("[::1"), "[::1");
        assert_eq!(strip_port("h:x"), "h:x");
    }

    #[test]
    fn no_default_route_means_no_match() {
        let t = RouteTable::new(&[conf("login", None, "/login")]);
        assert!(t.find(None, "/other").is_none());
        assert_eq!(t.routes().len(), 1);
    }
}
