//! The capacity probe loop: every `probe_interval`, while the standby has carried no real
//! traffic for 30 s and no drill runs, ramp concurrency against one standby backend with recently mirrored
//! paths (or `/`), and scale the result by the number of healthy standby backends. In a fleet
//! each replica probes in its own [slot](crate::slot) of the interval, never two at once.

use super::estimate::capacity;
use super::shadow::ramp;
use super::{standby_pools, Estimate, Standby};
use crate::clock::{now_ns, unix_now, unix_now_ns};
use crate::reload::Snapshot;
use std::sync::Arc;
use std::time::Duration;

/// The first probe runs this soon after start (or after `probe_interval` if shorter).
const FIRST_PROBE: Duration = Duration::from_secs(3);

/// The longest a ramp can take (levels 1, 2, 4, … up to the maximum concurrency, one
/// `probe_level` each), plus one level of margin.
fn longest_ramp(conf: &crate::config::StandbyConf) -> Duration {
    let levels = 32 - conf.probe_max_concurrency.max(1).leading_zeros(); // 16 -> 1,2,4,8,16
    conf.probe_level * (levels + 1)
}

/// Runs probes until the task is dropped. `current` gives the snapshot serving now; `slot`
/// this replica's turn in its fleet (None: alone, so the first probe runs soon after start).
pub async fn run_probes(
    standby: Arc<Standby>,
    current: impl Fn() -> Arc<Snapshot>,
    slot: impl Fn() -> Option<(usize, usize)>,
) {
    let conf = current().config.standby.clone();
    let every = conf.probe_interval;
    let mut wait = match slot() {
        // A fleet without a measurement yet (all started together): slot i ramps after the
        // ramps of slots 0..i, so the first estimate is there within seconds, not at a turn
        // minutes away. Otherwise wait for the turn (a peer's estimate is adopted meanwhile).
        Some((i, _)) if standby.estimate().is_none() => {
            FIRST_PROBE.min(every) + longest_ramp(&conf) * i as u32
        }
        Some(turn) => crate::slot::until_turn(unix_now_ns(), every, turn),
        None => FIRST_PROBE.min(every),
    };
    loop {
        tokio::time::sleep(wait.max(Duration::from_millis(100))).await;
        let snap = current();
        let conf = snap.config.standby.clone();
        let tolerance = snap.config.admission.latency_tolerance;
        wait = match slot() {
            // The next turn, at least a second on (this turn has just begun).
            Some(turn) => {
                let at = unix_now_ns() + 1_000_000_000;
                Duration::from_secs(1) + crate::slot::until_turn(at, conf.probe_interval, turn)
            }
            None => conf.probe_interval,
        };
        if conf.probe_interval.is_zero() {
            wait = Duration::from_secs(10); // off: look again later in case a reload turns it on
            continue;
        }
        if standby.drill_share() > 0.0 {
            continue;
        }
        let now = now_ns();
        let pools = standby_pools(&snap);
        let busy = standby.recently_busy(now)
            || pools.iter().any(|&i| snap.pools[i].gate.inflight() > 0)
            || snap.tiers().tiers.iter().skip(1).any(|t| t.share > 0.0);
        let backends: Vec<_> = pools
            .iter()
            .flat_map(|&i| snap.pools[i].backends.iter())
            .filter(|b| b.is_available(now))
            .cloned()
            .collect();
        let Some(target) = backends.first() else {
            continue;
        };
        if busy {
            tracing::info!("capacity probe skipped: the standby is carrying traffic");
            continue;
        }
        let recent = standby.recent();
        let host = recent
            .last()
            .map(|r| r.0.clone())
            .unwrap_or_else(|| target.addr.to_string());
        let mut paths: Vec<String> = recent.into_iter().map(|r| r.1).collect();
        if paths.is_empty() {
            paths.push("/".into());
        }
        let pool = pools
            .iter()
            .map(|&i| &snap.pools[i])
            .find(|p| p.backends.iter().any(|b| b.addr == target.addr));
        let Some(pool) = pool else { continue };
        let to = super::shadow::Target {
            client: standby.client.clone(),
            peer: pool.peer.clone(),
            addr: target.addr,
            host: target.host.clone(),
        };
        let levels = ramp(
            &to,
            &host,
            &paths,
            conf.probe_max_concurrency,
            conf.probe_level,
            tolerance,
        )
        .await;
        let Some(one) = capacity(&levels, tolerance) else {
            tracing::warn!(?levels, "capacity probe gave no clean measurement");
            continue;
        };
        let est = Estimate {
            capacity_rps: one * backends.len() as f64,
            measured_at: unix_now(),
            backends: backends.len(),
            levels: levels
                .iter()
                .map(|l| (l.concurrency, l.throughput, l.p50 * 1e3))
                .collect(),
        };
        tracing::info!(
            capacity_rps = est.capacity_rps,
            backends = est.backends,
            "standby capacity measured"
        );
        standby.set_estimate(est);
    }
}
