//! The fleet: the replicas of one deployment, found by `[fleet] peers` or `dns` (every address
//! of a name, such as a Kubernetes headless Service), agreeing on operator state without a
//! consensus protocol of their own.
//!
//! Each replica serves its operator state at `GET /fleet/state` ([`exchange`]): maintenance
//! and the [ledger](crate::ledger) (drains, failback releases, notes), each stamped by a
//! Lamport clock, plus its failback phase and its primary load. It pulls its peers' every
//! `sync_every` and adopts whatever is newer (the counter decides, not the clocks). An
//! operator change made on any one replica therefore reaches the whole fleet within
//! `sync_every`, a replica that starts (before it opens its public listeners) or comes back
//! from a network cut takes the fleet's state, and two replicas never disagree for longer
//! than one exchange. `firebreak ctl` applies an action on every replica at once.
//!
//! Each replica names itself with a random id, so it finds itself among the fleet's
//! addresses even when it listens on `0.0.0.0`. The ids seen in the last exchange give each
//! replica a **slot** ([`crate::slot`]): the standby capacity probes of replicas run at distinct
//! offsets of `probe_interval`, never at the same time on the standby.
//!
//! A replica that reaches no peer keeps its own state (at start: the config's) and says so.
//! The exchange is idempotent: adopting a state twice changes nothing.

pub mod exchange;

pub use exchange::{pull, state_json, Pulled};

use crate::config::FleetConf;
use std::net::{SocketAddr, ToSocketAddrs};

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

/// This replica's name in the stamps it makes: its admin address, or, when that is the
/// unspecified address (`0.0.0.0:9901` in a pod), the host name (the pod's name) and port, so
/// that two replicas never sign alike.
pub fn identity(admin: SocketAddr) -> String {
    if !admin.ip().is_unspecified() {
        return admin.to_string();
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| admin.ip().to_string());
    format!("{host}:{}", admin.port())
}
