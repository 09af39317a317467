//! Config snapshots and the reload path: file → parse → validate → build → `ArcSwap::store`.
//!
//! A [`Snapshot`] is everything a request needs, immutable except for live backend state. It is
//! built completely before it replaces the old one, so a bad file changes nothing; backends that
//! stay (same pool, same address) are the same `Arc` in both, so their health, latency and
//! slow-start survive; removed backends live on in the old snapshot until its last in-flight
//! request drops it. Requests pin one snapshot for their whole life (`load_full`), so a reload
//! never changes the ground under a request.

use crate::clock::{now_ns, unix_now};
use crate::config::{Config, ConfigErrors};
use crate::latency::Drained;
use crate::lock::lock;
use crate::metrics::RequestHandles;
use crate::pool::Pool;
use crate::resolve::{Outcome, Resolved};
use crate::route::RouteTable;
use crate::tier::{plan_tiers, Load, TierPlan};
use arc_swap::ArcSwap;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// One immutable generation of the routing config with its live pools.
#[derive(Debug)]
pub struct Snapshot {
    pub version: u64,
    pub config: Arc<Config>,
    pub routes: RouteTable,
    pub pools: Vec<Arc<Pool>>,
    /// Handles of the per-request metrics for this snapshot's routes and pools.
    pub metrics: RequestHandles,
    tiers: ArcSwap<TierPlan>,
}

impl Snapshot {
    /// Builds a snapshot, carrying backend state over from `previous`.
    pub fn build(
        config: Config,
        previous: Option<&Snapshot>,
        version: u64,
        resolved: &Resolved,
        now_ns: u64,
    ) -> Snapshot {
        let pools: Vec<Arc<Pool>> = config
            .pools
            .iter()
            .map(|pc| {
                let prev = previous.and_then(|s| s.pools.iter().find(|p| p.name() == pc.name));
                let limit = crate::admission::limit::LimiterConf::from(&config.admission);
                Arc::new(Pool::build(
                    pc.clone(),
                    limit,
                    prev.map(|p| p.as_ref()),
                    resolved,
                    now_ns,
                ))
            })
            .collect();
        let tiers = plan_tiers(&pools, Load::default());
        Snapshot {
            version,
            metrics: RequestHandles::new(config.routes.len(), pools.len()),
            routes: RouteTable::new(&config.routes),
            config: Arc::new(config),
            pools,
            tiers: ArcSwap::from_pointee(tiers),
        }
    }

    /// The current split of traffic across tiers.
    pub fn tiers(&self) -> arc_swap::Guard<Arc<TierPlan>> {
        self.tiers.load()
    }

    /// Re-plans every pool and the tiers. `end_window`: a planning tick ended (drain the
    /// latency windows); false for an immediate re-plan after a health flip.
    /// `drill_share` is the share a running drill sends to the standby tier; `load` is what the
    /// planner knows of the traffic and the standby's capacity; `primary_cap` holds the
    /// primary at a fraction of its share (failback).
    /// Returns the drained windows (empty ones for a health-flip replan), by pool.
    pub fn replan(
        &self,
        now_ns: u64,
        end_window: bool,
        drill_share: f64,
        load: Load,
        primary_cap: Option<f64>,
    ) -> Vec<Drained> {
        let mut windows = Vec::with_capacity(self.pools.len());
        for p in &self.pools {
            if end_window {
                let w = p.window.drain();
                p.replan(now_ns, Some(&w));
                windows.push(w);
            } else {
                p.replan(now_ns, None);
                windows.push(Drained::default());
            }
        }
        let mut tiers = plan_tiers(&self.pools, load);
        tiers.apply_drill(drill_share);
        if let Some(cap) = primary_cap {
            tiers.cap_primary(cap);
        }
        self.tiers.store(Arc::new(tiers));
        windows
    }
}

/// The result of the last reload attempt, shown in `/status`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReloadReport {
    pub ok: bool,
    /// The version serving after the attempt.
    pub version: u64,
    /// Unix seconds.
    pub at: u64,
    pub errors: Vec<String>,
    /// Keys that changed but only take effect after a restart.
    pub restart_required: Vec<&'static str>,
    pub trigger: String,
}

/// The (old, new) configs of a successful reload.
pub type Swapped = (Arc<Config>, Arc<Config>);

/// The snapshot store: the current snapshot and how to replace it.
#[derive(Debug)]
pub struct Store {
    current: ArcSwap<Snapshot>,
    path: PathBuf,
    last: Mutex<Option<ReloadReport>>,
    /// Serialises reloads (file watcher, SIGHUP and POST /reload may race).
    reloading: Mutex<()>,
    /// Fingerprint of the file content last loaded or tried (so a watcher does not redo it).
    seen: std::sync::atomic::AtomicU64,
    /// The last known addresses of backend names.
    pub resolved: Resolved,
}

impl Store {
    pub fn new(config: Config, path: &Path) -> Store {
        let resolved = Resolved::default();
        let first = Snapshot::build(config, None, 1, &resolved, now_ns());
        Store {
            resolved,
            current: ArcSwap::from_pointee(first),
            path: path.to_path_buf(),
            last: Mutex::new(None),
            seen: std::sync::atomic::AtomicU64::new(
                std::fs::read(path).map(|b| fingerprint(&b)).unwrap_or(0),
            ),
            reloading: Mutex::new(()),
        }
    }

    /// Fingerprint of the content last loaded or tried.
    pub fn seen(&self) -> u64 {
        self.seen.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The current snapshot, pinned.
    pub fn load(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// A cheap guard for short reads on the hot path.
    pub fn peek(&self) -> arc_swap::Guard<Arc<Snapshot>> {
        self.current.load()
    }

    pub fn last_report(&self) -> Option<ReloadReport> {
        lock(&self.last).clone()
    }

    /// Re-reads the config file and, if valid, swaps in a new snapshot. On error the old one
    /// keeps serving. Returns the report and, on success, the (old, new) configs.
    pub fn reload(&self, trigger: &str) -> (ReloadReport, Option<Swapped>) {
        let _g = lock(&self.reloading);
        let old = self.load();
        let loaded = match std::fs::read(&self.path) {
            Ok(bytes) => {
                self.seen
                    .store(fingerprint(&bytes), std::sync::atomic::Ordering::Relaxed);
                match String::from_utf8(bytes) {
                    Ok(text) => Config::parse(&text, &self.path),
                    Err(_) => Err(ConfigErrors::single(
                        self.path.display().to_string(),
                        "file is not UTF-8",
                    )),
                }
            }
            Err(e) => Err(ConfigErrors::single(
                self.path.display().to_string(),
                format!("cannot read file: {e}"),
            )),
        };
        let (report, swapped) = match loaded {
            Err(errs) => (self.failure(&old, &errs, trigger), None),
            Ok(cfg) => {
                let restart = restart_required(&old.config, &cfg);
                self.resolved.retain(&cfg);
                let snap =
                    Snapshot::build(cfg, Some(&old), old.version + 1, &self.resolved, now_ns());
                let new_cfg = snap.config.clone();
                let report = ReloadReport {
                    ok: true,
                    version: snap.version,
                    at: unix_now(),
                    errors: vec![],
                    restart_required: restart,
                    trigger: trigger.to_string(),
                };
                self.current.store(Arc::new(snap));
                (report, Some((old.config.clone(), new_cfg)))
            }
        };
        *lock(&self.last) = Some(report.clone());
        (report, swapped)
    }

    /// Records a background resolution of `host:port`; when its addresses changed, a new
    /// snapshot of the same config takes them in (the version moves on, as on a reload).
    pub fn resolved(
        &self,
        pool: &str,
        host: &str,
        port: u16,
        result: Result<Vec<std::net::SocketAddr>, String>,
    ) -> Outcome {
        let _g = lock(&self.reloading);
        let outcome = self.resolved.refresh(pool, host, port, result);
        if outcome == Outcome::Changed {
            let old = self.load();
            let config = Config::clone(&old.config);
            let snap = Snapshot::build(
                config,
                Some(&old),
                old.version + 1,
                &self.resolved,
                now_ns(),
            );
            self.current.store(Arc::new(snap));
        }
        outcome
    }

    fn failure(&self, old: &Snapshot, errs: &ConfigErrors, trigger: &str) -> ReloadReport {
        ReloadReport {
            ok: false,
            version: old.version,
            at: unix_now(),
            errors: errs.to_string().lines().map(String::from).collect(),
            restart_required: vec![],
            trigger: trigger.to_string(),
        }
    }
}

/// A fingerprint of file content (not cryptographic: it only tells "changed").
pub fn fingerprint(bytes: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// Keys whose change needs a restart (or `--upgrade`): listeners, worker threads, the drain
/// time and the connection guard's limits.
pub fn restart_required(old: &Config, new: &Config) -> Vec<&'static str> {
    let mut keys = vec![];
    if old.listen != new.listen {
        keys.push("listen");
    }
    if old.admin.listen != new.admin.listen {
        keys.push("admin.listen");
    }
    if old.server.threads != new.server.threads {
        keys.push("server.threads");
    }
    if old.server.grace != new.server.grace {
        keys.push("server.grace");
    }
    if old.limits.max_connections != new.limits.max_connections {
        keys.push("limits.max_connections");
    }
    // These are fixed in the connection guard when the listener starts.
    if old.limits.header_read_timeout != new.limits.header_read_timeout {
        keys.push("limits.header_read_timeout");
    }
    if old.limits.keepalive_timeout != new.limits.keepalive_timeout {
        keys.push("limits.keepalive_timeout");
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn keys_fixed_at_start_are_named_and_the_rest_are_not() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/firebreak.toml");
        let old = Config::load(&path).expect("shipped config is valid");
        let mut new = old.clone();
        assert!(restart_required(&old, &new).is_empty());
        new.limits.header_read_timeout += Duration::from_secs(1);
        new.limits.keepalive_timeout += Duration::from_secs(1);
        new.limits.max_connections += 1;
        new.server.threads += 1;
        new.limits.max_body_bytes += 1; // applied by a reload
        assert_eq!(
            restart_required(&old, &new),
            [
                "server.threads",
                "limits.max_connections",
                "limits.header_read_timeout",
                "limits.keepalive_timeout"
            ]
        );
    }
}
