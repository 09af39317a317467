//! The unit tests' shared kit: pools and snapshots built the way the proxy builds them, from
//! typed config or TOML text, so every module's tests start from the same ground.

use crate::admission::limit::LimiterConf;
use crate::config::{AdmissionConf, BackendConf, Config, PoolConf, Spill};
use crate::pool::Pool;
use crate::reload::Snapshot;
use std::path::Path;
use std::time::Duration;

/// One millisecond on the nanosecond clock the planners use.
pub const MS: u64 = 1_000_000;

/// A pool of backends with `weights`, no active health checks, planned at t = 1 ns.
/// Backend `i` of tier `t` is `127.0.t.(i+1):(1000+i)`.
pub fn pool(name: &str, tier: u32, spill: Spill, weights: &[u32], slow_start: Duration) -> Pool {
    let conf = PoolConf {
        name: name.into(),
        tier,
        spill,
        connect_timeout: Duration::from_secs(1),
        read_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(1),
        slow_start,
        health: None,
        backends: weights
            .iter()
            .enumerate()
            .map(|(i, &weight)| BackendConf {
                addr: format!("127.0.{tier}.{}:{}", i + 1, 1000 + i)
                    .parse()
                    .expect("test address"),
                weight,
            })
            .collect(),
        names: vec![],
        resolve_every: Duration::from_secs(30),
        host_header: None,
        tls: None,
    };
    Pool::build(
        conf,
        LimiterConf::from(&AdmissionConf::default()),
        None,
        &crate::resolve::Resolved::default(),
        1,
    )
}

/// A snapshot of the config in `toml`, as a reload would build it (version 1, at t = 0).
pub fn snapshot(toml: &str) -> Snapshot {
    let config = Config::parse(toml, Path::new("test.toml")).expect("valid test config");
    Snapshot::build(config, None, 1, &crate::resolve::Resolved::default(), 0)
}

/// A POST head for `/x` with these header lines.
pub fn request_head(lines: &[(&str, &str)]) -> pingora::http::RequestHeader {
    let mut r = pingora::http::RequestHeader::build("POST", b"/x", None).expect("test head");
    for (k, v) in lines {
        r.append_header(k.to_string(), *v).expect("test header");
    }
    r
}
