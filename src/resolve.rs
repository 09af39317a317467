//! Host names of backends: `addr = "tms-standby.example.net:443"` is resolved through the
//! system resolver (glibc's `getaddrinfo`: `/etc/hosts`, `/etc/resolv.conf` and
//! `nsswitch.conf`, exactly as every other program on the host resolves), never on the request
//! path: once when a config is loaded (start-up, reload), then in the background every pool's
//! `resolve_every` (the loop is `background::resolve_names`; a change swaps in a new snapshot
//! through `reload::Store::resolved`).
//!
//! Every address a name resolves to is its own endpoint (own health, latency, in-flight
//! count), the endpoints sharing the backend's weight. A new address is a new endpoint that
//! starts unhealthy when the pool has `health` (it must pass its checks first); an address
//! that disappears is dropped from the next snapshot, so it gets no new requests while those
//! in flight finish (they hold it). A failed or empty resolution keeps the last known
//! addresses: DNS trouble is logged and counted (`firebreak_dns_resolutions_total{pool,
//! result}`), never turned into "no backend". At most [`MAX_ADDRESSES`] addresses per name are
//! used (the lowest, so the choice is stable), with a warning.
//!
//! The resolver is the system's, not a DNS client of firebreak's own: it honours whatever the
//! host is configured with (search domains, `/etc/hosts` overrides, systemd-resolved), and
//! re-reads those files as they change. It gives no TTLs, hence `resolve_every`.

use crate::config::{Config, NamedBackend};
use crate::lock::lock;
use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Mutex;

/// Addresses used per name at most (a DNS answer can carry hundreds).
pub const MAX_ADDRESSES: usize = 32;

/// The last known addresses of every backend name, by (host, port).
#[derive(Debug, Default)]
pub struct Resolved {
    known: Mutex<HashMap<(String, u16), Vec<SocketAddr>>>,
}

/// What one resolution of a name gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The addresses changed (or were learnt).
    Changed,
    Unchanged,
    /// Failed or empty: the last known addresses stay.
    Failed(String),
}

impl Resolved {
    /// The addresses of `name` for a snapshot being built: the last known ones, or, for a
    /// name not resolved before, a resolution now (on the thread loading the config).
    pub fn addresses(&self, pool: &str, name: &NamedBackend) -> Vec<SocketAddr> {
        let key = (name.host.clone(), name.port);
        if let Some(known) = lock(&self.known).get(&key) {
            return known.clone();
        }
        match self.refresh(pool, &name.host, name.port, lookup(&name.host, name.port)) {
            Outcome::Failed(_) => Vec::new(),
            _ => lock(&self.known).get(&key).cloned().unwrap_or_default(),
        }
    }

    /// Records a lookup's result for `host:port`; logs failures and caps.
    pub fn refresh(
        &self,
        pool: &str,
        host: &str,
        port: u16,
        result: Result<Vec<SocketAddr>, String>,
    ) -> Outcome {
        let mut addrs = match result {
            Ok(a) if a.is_empty() => Err("no address".to_string()),
            other => other,
        };
        if let Ok(a) = &mut addrs {
            a.sort();
            a.dedup();
            if a.len() > MAX_ADDRESSES {
                tracing::warn!(
                    pool,
                    host,
                    found = a.len(),
                    used = MAX_ADDRESSES,
                    "backend name has too many addresses; using the lowest"
                );
                a.truncate(MAX_ADDRESSES);
            }
        }
        let mut known = lock(&self.known);
        let key = (host.to_string(), port);
        match addrs {
            Err(e) => {
                let kept = known.get(&key).map_or(0, Vec::len);
                tracing::warn!(pool, host, error = %e, kept, "backend name did not resolve; keeping the last known addresses");
                Outcome::Failed(e)
            }
            Ok(a) if known.get(&key) == Some(&a) => Outcome::Unchanged,
            Ok(a) => {
                tracing::info!(pool, host, addresses = ?a, "backend name resolved");
                known.insert(key, a);
                Outcome::Changed
            }
        }
    }

    /// Forgets names no pool of `config` uses any more.
    pub fn retain(&self, config: &Config) {
        let used: Vec<(&str, u16)> = config
            .pools
            .iter()
            .flat_map(|p| p.names.iter().map(|n| (n.host.as_str(), n.port)))
            .collect();
        lock(&self.known).retain(|(h, p), _| used.contains(&(h.as_str(), *p)));
    }
}

/// Resolves `host` through the system resolver (blocking: call it off the request path).
pub fn lookup(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    (host, port)
        .to_socket_addrs()
        .map(|a| a.collect())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn failures_and_empty_answers_keep_the_last_addresses() {
        let r = Resolved::default();
        let name = NamedBackend {
            host: "b.test".into(),
            port: 80,
            weight: 1,
        };
        let ok = Ok(vec![a("10.0.0.2:80"), a("10.0.0.1:80"), a("10.0.0.1:80")]);
        assert_eq!(r.refresh("p", "b.test", 80, ok), Outcome::Changed);
        assert_eq!(
            r.addresses("p", &name),
            vec![a("10.0.0.1:80"), a("10.0.0.2:80")]
        );
        let again = Ok(vec![a("10.0.0.1:80"), a("10.0.0.2:80")]);
        assert_eq!(r.refresh("p", "b.test", 80, again), Outcome::Unchanged);
        assert!(matches!(
            r.refresh("p", "b.test", 80, Ok(vec![])),
            Outcome::Failed(_)
        ));
        let err = Err("timed out".to_string());
        assert!(matches!(
            r.refresh("p", "b.test", 80, err),
            Outcome::Failed(_)
        ));
        assert_eq!(r.addresses("p", &name).len(), 2, "kept");
    }

    #[test]
    fn a_thousand_addresses_are_capped_without_a_panic() {
        let r = Resolved::default();
        let many: Vec<SocketAddr> = (0..1000u32)
            .map(|i| SocketAddr::from(([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], 443)))
            .collect();
        assert_eq!(r.refresh("p", "big.test", 443, Ok(many)), Outcome::Changed);
        let name = NamedBackend {
            host: "big.test".into(),
            port: 443,
            weight: 1,
        };
        let used = r.addresses("p", &name);
        assert_eq!(used.len(), MAX_ADDRESSES);
        assert_eq!(used[0], a("10.0.0.0:443"));
    }

    #[test]
    fn the_system_resolver_answers_for_localhost() {
        let got = lookup("localhost", 8080).unwrap();
        assert!(
            got.iter().all(|s| s.ip().is_loopback() && s.port() == 8080),
            "{got:?}"
        );
    }
}
