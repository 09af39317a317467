//! The state exchange: what `GET /fleet/state` serves, and pulling it from every peer.
//!
//! Every peer is asked at once, each within [`PEER_TIMEOUT`], so a hanging or dead peer costs
//! one second per exchange, not one per peer. An answer that is not firebreak's state (a
//! proxy's error page, garbage, a refusal) counts as unreachable and is logged with the
//! reason; nothing of it is applied.

use crate::app::{App, FleetSeen};
use crate::config::FleetConf;
use crate::ledger::View;
use crate::maintenance::Stamp;
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;

/// A peer's answer has this long; an unreachable one costs at most this.
const PEER_TIMEOUT: Duration = Duration::from_secs(1);

/// This replica's operator state, as `GET /fleet/state` serves it.
pub fn state_json(app: &App) -> Value {
    let m = app.maintenance.get();
    let snap = app.store.peek();
    let now = crate::clock::now_ns();
    let (phase, progress) = app.failback.describe(snap.config.failback.as_ref(), now);
    json!({
        "replica": app.replica_id,
        "maintenance": {
            "enabled": m.enabled,
            "message": m.message,
            "retry_after_seconds": m.retry_after.as_secs(),
            "stamp": m.stamp,
        },
        "ledger": app.ledger.view(),
        "failback": { "phase": phase, "progress": progress },
        "primary_load_rps": app.standby.primary_peak_rps(),
        "standby_estimate": app.standby.estimate(),
    })
}

/// A peer's state as read back.
#[derive(Debug, Deserialize)]
struct PeerState {
    replica: String,
    maintenance: PeerMaintenance,
    ledger: View,
    failback: PeerFailback,
    primary_load_rps: f64,
    /// Absent from replicas of an older version.
    #[serde(default)]
    standby_estimate: Option<crate::standby::Estimate>,
}

#[derive(Debug, Deserialize)]
struct PeerMaintenance {
    enabled: bool,
    message: String,
    retry_after_seconds: u64,
    stamp: Stamp,
}

#[derive(Debug, Deserialize)]
struct PeerFailback {
    phase: String,
    progress: f64,
}

/// What one exchange found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pulled {
    /// Other replicas asked (this one excluded once it recognised itself).
    pub peers: usize,
    pub reached: usize,
    /// Peers some of whose (newer) state was adopted.
    pub adopted: Vec<SocketAddr>,
}

/// Pulls every peer's state and adopts what is newer. `starting`: this replica has not
/// served yet, so it also takes a peer's failback episode. Blocking, at most about
/// [`PEER_TIMEOUT`].
pub fn pull(app: &App, conf: &FleetConf, me: Option<SocketAddr>, starting: bool) -> Pulled {
    let peers = match crate::fleet::targets(conf) {
        Ok(t) => t,
        Err(e) => {
            // Said once per change, not every exchange.
            let mut seen = crate::lock::lock(&app.fleet_seen);
            if seen.targets_error.as_ref() != Some(&e) {
                tracing::warn!(error = %e, "fleet: cannot find the peers; keeping this replica's state");
                seen.targets_error = Some(e);
            }
            return Pulled::default();
        }
    };
    let peers: Vec<SocketAddr> = peers.into_iter().filter(|p| Some(*p) != me).collect();
    let answers = ask_all(&peers);
    let mut out = Pulled::default();
    let mut seen = FleetSeen {
        ids: vec![app.replica_id.clone()],
        primary_load_rps: app.standby.primary_peak_rps(),
        at: crate::clock::unix_now(),
        ..FleetSeen::default()
    };
    for (peer, answer) in peers.iter().zip(answers) {
        let mut state = match answer {
            Ok(s) if s.replica == app.replica_id => continue, // this replica, by another name
            Ok(s) => s,
            Err(why) => {
                out.peers += 1;
                tracing::debug!(%peer, why, "fleet: peer not reached");
                continue;
            }
        };
        out.peers += 1;
        out.reached += 1;
        seen.ids.push(state.replica.clone());
        seen.primary_load_rps += state.primary_load_rps.max(0.0);
        if let Some(e) = state.standby_estimate.take() {
            if app.standby.adopt_estimate(e) {
                tracing::info!(%peer, "fleet: took the peer's newer standby capacity estimate");
            }
        }
        if adopt(app, peer, state, starting) {
            out.adopted.push(*peer);
        }
    }
    seen.ids.sort();
    seen.peers = out.peers;
    seen.reached = out.reached;
    *crate::lock::lock(&app.fleet_seen) = seen;
    apply_drains(app);
    out
}

/// Every peer asked at once; a reason per peer that gave no readable state.
fn ask_all(peers: &[SocketAddr]) -> Vec<Result<PeerState, String>> {
    std::thread::scope(|s| {
        let calls: Vec<_> = peers
            .iter()
            .map(|&p| {
                s.spawn(move || {
                    let answer = crate::operator::call_within(
                        p,
                        "GET",
                        "/fleet/state",
                        None,
                        "",
                        PEER_TIMEOUT,
                    );
                    match answer {
                        Ok((200, v)) => serde_json::from_value::<PeerState>(v)
                            .map_err(|e| format!("not a firebreak state: {e}")),
                        Ok((status, _)) => Err(format!("answered {status}")),
                        Err(e) => Err(e),
                    }
                })
            })
            .collect();
        calls
            .into_iter()
            .map(|c| c.join().unwrap_or_else(|_| Err("no answer".into())))
            .collect()
    })
}

/// Adopts what of one peer's state is newer. True when anything was.
fn adopt(app: &App, peer: &SocketAddr, s: PeerState, starting: bool) -> bool {
    let name = peer.to_string();
    let m = s.maintenance;
    let retry = Duration::from_secs(m.retry_after_seconds);
    let maint = app
        .maintenance
        .adopt(&name, m.enabled, m.message, retry, m.stamp);
    if maint {
        let enabled = app.maintenance.get().enabled;
        app.metrics.maintenance_active.set(enabled as i64);
        tracing::warn!(%peer, enabled, "maintenance changed by a peer");
    }
    let merged = app.ledger.merge(s.ledger);
    let now = crate::clock::now_ns();
    if merged.release {
        app.failback.release_from_peer(now);
        app.replan.notify_one();
    }
    if merged.any() {
        tracing::info!(%peer, drains = merged.drains, release = merged.release, notes = merged.notes, "fleet: operator state taken from a peer");
    }
    if starting {
        if let Some(conf) = app.store.peek().config.failback.as_ref() {
            let (phase, progress) = (s.failback.phase.as_str(), s.failback.progress);
            app.failback.adopt_peer(phase, progress, conf, now);
        }
    }
    maint || merged.any()
}

/// Sets every live backend's drain to what the ledger says (idempotent: run after every
/// exchange, it also covers backends that a reload brought back).
pub fn apply_drains(app: &App) {
    let snap = app.store.load();
    let mut changed = false;
    for d in app.ledger.view().drains {
        let backends = snap
            .pools
            .iter()
            .filter(|p| p.name() == d.pool)
            .flat_map(|p| p.backends.iter())
            .filter(|b| b.label == d.backend);
        for b in backends {
            if b.is_drained() != d.drained {
                b.set_drained(d.drained);
                changed = true;
                tracing::warn!(pool = %d.pool, backend = %d.backend, drained = d.drained, origin = %d.stamp.origin, "backend drain taken from the fleet");
            }
        }
    }
    if changed {
        app.replan.notify_one();
    }
}
