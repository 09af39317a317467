//! The fleet: the replicas of one deployment, found by `[fleet] peers` or `dns` (every address
//! of a name, such as a Kubernetes headless Service), agreeing on operator state without a
//! consensus protocol of their own.
//!
//! Each replica serves its operator state at `GET /fleet/state` (maintenance with its
//! [`Stamp`](crate::maintenance::Stamp)) and pulls its peers' every `sync_every`, adopting any
//! state newer than its own (a Lamport counter decides, not the clocks). An operator change
//! made on any one replica therefore reaches the whole fleet within `sync_every`, a replica
//! that starts (before it opens its public listeners) or comes back from a network cut takes
//! the fleet's state, and two replicas never disagree for longer than one exchange.
//! `firebreak ctl` applies an action on every replica at once and says which did.
//!
//! A replica that reaches no peer keeps its own state (at start: the config's) and says so.
//! The exchange is idempotent: adopting a state twice changes nothing.

use crate::app::App;
use crate::config::FleetConf;
use crate::maintenance::Stamp;
use serde_json::{json, Value};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// A peer's answer has this long; an unreachable one costs at most this.
const PEER_TIMEOUT: Duration = Duration::from_secs(1);

/// The admin addresses of the fleet's replicas (peers, or every address of `dns`).
pub fn targets(conf: &FleetConf) -> Result<Vec<SocketAddr>, String> {
    match &conf.dns {
        Some((host, port)) => {
            let mut found: Vec<SocketAddr> = (host.as_str(), *port)
                .to_socket_addrs()
                .map_err(|e| format!("fleet dns {host}: {e}"))?
                .collect();
            found.sort();
            found.dedup();
            if found.is_empty() {
                return Err(format!("fleet dns {host}: no address"));
            }
            Ok(found)
        }
        None => Ok(conf.peers.clone()),
    }
}

/// This replica's operator state, as `GET /fleet/state` serves it.
pub fn state_json(app: &App) -> Value {
    let m = app.maintenance.get();
    json!({
        "maintenance": {
            "enabled": m.enabled,
            "message": m.message,
            "retry_after_seconds": m.retry_after.as_secs(),
            "stamp": m.stamp,
        },
    })
}

/// What one exchange found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pulled {
    pub peers: usize,
    pub reached: usize,
    /// Peers whose (newer) state was adopted.
    pub adopted: Vec<SocketAddr>,
}

/// Pulls every peer's state and adopts what is newer (blocking: at most one second a peer,
/// peers asked one after another).
pub fn pull(app: &App, conf: &FleetConf, me: Option<SocketAddr>) -> Pulled {
    let peers = match targets(conf) {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "fleet: cannot find the peers");
            return Pulled::default();
        }
    };
    let mut out = Pulled::default();
    for peer in peers.into_iter().filter(|p| Some(*p) != me) {
        out.peers += 1;
        let answer =
            crate::operator::call_within(peer, "GET", "/fleet/state", None, "", PEER_TIMEOUT);
        let Ok((200, state)) = answer else {
            tracing::debug!(%peer, ?answer, "fleet: peer did not answer");
            continue;
        };
        out.reached += 1;
        let m = &state["maintenance"];
        let stamp: Option<Stamp> = serde_json::from_value(m["stamp"].clone()).ok();
        let (Some(enabled), Some(message), Some(retry), Some(stamp)) = (
            m["enabled"].as_bool(),
            m["message"].as_str(),
            m["retry_after_seconds"].as_u64(),
            stamp,
        ) else {
            tracing::warn!(%peer, "fleet: peer answered a state firebreak cannot read");
            continue;
        };
        let retry = Duration::from_secs(retry);
        let message = message.to_string();
        if app
            .maintenance
            .adopt(&peer.to_string(), enabled, message, retry, stamp)
        {
            tracing::warn!(%peer, enabled, "maintenance changed by a peer");
            out.adopted.push(peer);
        }
    }
    out
}
