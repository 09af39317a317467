//! Requests firebreak itself sends to the standby: mirrored (shadow) copies of live GETs, and
//! the capacity probe's concurrency ramp. Both use a plain HTTP/1.1 client over a fresh
//! connection with a hard timeout; answers are read and discarded.

use super::estimate::{keep_ramping, Level};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Longest a shadow or probe request may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// Response bytes read at most (the rest is dropped with the connection).
const MAX_READ: usize = 1 << 20;

/// Sends `GET path` and returns the status and the time to the end of the answer.
pub async fn fetch(addr: SocketAddr, host: &str, path: &str) -> Option<(u16, Duration)> {
    let t = Instant::now();
    let run = async {
        let mut s = TcpStream::connect(addr).await.ok()?;
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: firebreak-shadow\r\nX-Firebreak-Shadow: 1\r\nConnection: close\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.ok()?;
        let mut buf = Vec::with_capacity(4096);
        let mut chunk = [0u8; 8192];
        loop {
            match s.read(&mut chunk).await {
                Ok(0) => break,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    if buf.len() > MAX_READ {
                        break;
                    }
                }
                Err(_) if buf.len() >= 12 => break,
                Err(_) => return None,
            }
        }
        let code = std::str::from_utf8(buf.get(9..12)?).ok()?.parse().ok()?;
        Some((code, t.elapsed()))
    };
    tokio::time::timeout(TIMEOUT, run).await.ok().flatten()
}

/// Runs one ramp level: `c` concurrent loops sending requests back to back for `level`.
async fn level(addr: SocketAddr, host: &str, paths: &[String], c: u32, level: Duration) -> Level {
    let deadline = Instant::now() + level;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..c {
        let (paths, host) = (paths.to_vec(), host.to_string());
        set.spawn(async move {
            let (mut lat, mut errors, mut k) = (Vec::new(), 0u32, i as usize);
            while Instant::now() < deadline {
                let path = paths
                    .get(k % paths.len().max(1))
                    .map(String::as_str)
                    .unwrap_or("/");
                k += 1;
                match fetch(addr, &host, path).await {
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
    addr: SocketAddr,
    host: &str,
    paths: &[String],
    max_c: u32,
    per_level: Duration,
    tolerance: f64,
) -> Vec<Level> {
    let mut levels = Vec::new();
    let mut c = 1;
    while c <= max_c.max(1) && keep_ramping(&levels, tolerance) {
        levels.push(level(addr, host, paths, c, per_level).await);
        c *= 2;
    }
    levels
}
