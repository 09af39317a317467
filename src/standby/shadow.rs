//! Requests firebreak itself sends to the standby: mirrored (shadow) copies of live GETs, and
//! the capacity probe's concurrency ramp. Both go out through [`crate::outbound`], the way
//! proxied requests do (TLS, SNI, `host_header` included), over pooled connections, with a hard
//! timeout; answers are read and discarded.

use super::estimate::{keep_ramping, Level};
use crate::outbound::{Client, Get, PeerTemplate};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Longest a shadow or probe request may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// Response bytes read at most (the rest is dropped with the connection).
const MAX_READ: usize = 1 << 20;

/// Where firebreak's own standby requests go: the client, the pool's way there, one address.
#[derive(Debug, Clone)]
pub struct Target {
    pub client: Arc<Client>,
    pub peer: PeerTemplate,
    pub addr: SocketAddr,
    /// The host name `addr` was resolved from, if any.
    pub host: Option<String>,
}

/// Sends `GET path` and returns the status and the time to the end of the answer.
pub async fn fetch(to: &Target, host: &str, path: &str) -> Option<(u16, Duration)> {
    let t = Instant::now();
    let host = to.peer.host_header().unwrap_or(host);
    let peer = to.peer.peer(to.addr, to.host.as_deref());
    let headers = [
        ("User-Agent", "firebreak-shadow"),
        ("X-Firebreak-Shadow", "1"),
    ];
    let get = Get {
        host,
        path,
        headers: &headers,
        timeout: TIMEOUT,
        keep: MAX_READ,
        reuse: true,
    };
    let answer = to.client.get(&peer, get).await.ok()?;
    Some((answer.status, t.elapsed()))
}

/// Runs one ramp level: `c` concurrent loops sending requests back to back for `level`.
async fn level(to: &Target, host: &str, paths: &[String], c: u32, level: Duration) -> Level {
    let deadline = Instant::now() + level;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..c {
        let (to, paths, host) = (to.clone(), paths.to_vec(), host.to_string());
        set.spawn(async move {
            let (mut lat, mut errors, mut k) = (Vec::new(), 0u32, i as usize);
            while Instant::now() < deadline {
                let path = paths
                    .get(k % paths.len().max(1))
                    .map(String::as_str)
                    .unwrap_or("/");
                k += 1;
                match fetch(&to, &host, path).await {
                    Some((code, d)) if code < 500 => lat.push(d.as_secs_f64()),
                    _ => errors += 1,
                }
            }
            (lat, errors)
        });
    }
    let (mut lat, mut errors) = (Vec::new(), 0);
    while let Some(r) = set.join_next().await {
        if let Ok((l, e)) = r {
            lat.extend(l);
            errors += e;
        }
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    let p50 = lat.get(lat.len() / 2).copied().unwrap_or(f64::INFINITY);
    Level {
        concurrency: c,
        throughput: lat.len() as f64 / level.as_secs_f64(),
        p50,
        errors,
    }
}

/// The concurrency ramp: 1, 2, 4, … up to `max_c`, stopping at the first overloaded level
/// (latency above `tolerance` × the first level's, see [`super::estimate`]).
pub async fn ramp(
    to: &Target,
    host: &str,
    paths: &[String],
    max_c: u32,
    per_level: Duration,
    tolerance: f64,
) -> Vec<Level> {
    let mut levels = Vec::new();
    let mut c = 1;
    while c <= max_c.max(1) && keep_ramping(&levels, tolerance) {
        levels.push(level(to, host, paths, c, per_level).await);
        c *= 2;
    }
    levels
}
