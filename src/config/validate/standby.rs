//! Validation of `[standby]`, standby readiness (a firebreak extension): shadow traffic, the
//! capacity probe and drills.
//!
//! Every key is optional and defaults to [`StandbyConf::default`]. Beyond each value's range
//! (`probe_interval` may also be zero, which turns the probe off), this warns when a route
//! mirrors traffic (`shadow > 0`) that the shadow caps here forbid altogether.

use super::super::raw::{RawRoute, RawStandby, Scalar, S};
use super::super::{PoolConf, StandbyConf};
use super::Checker;
use std::collections::HashSet;
use std::time::Duration;

/// The probe runs at most this often (more often would be load, not a measurement)...
const MIN_PROBE_INTERVAL: Duration = Duration::from_secs(10);
/// ...and at least this often, unless switched off.
const MAX_PROBE_INTERVAL: Duration = Duration::from_secs(24 * 3600);

pub(super) fn standby(
    cx: &mut Checker,
    raw: Option<&RawStandby>,
    routes: Option<&S<Vec<S<RawRoute>>>>,
    pools: &[PoolConf],
) -> StandbyConf {
    let d = StandbyConf::default();
    let Some(r) = raw else { return d };
    let probe_interval = probe_interval(cx, r.probe_interval.as_ref(), d.probe_interval);
    let probe_level = cx.bounded_duration(
        r.probe_level.as_ref(),
        "standby.probe_level",
        d.probe_level,
        Duration::from_millis(100)..=Duration::from_secs(10),
        "from 100ms to 10s",
    );
    let probe_max_concurrency = cx.int_u32(
        r.probe_max_concurrency.as_ref(),
        "standby.probe_max_concurrency",
        d.probe_max_concurrency,
        1..=256,
    );
    let shadow_max_inflight = cx.int_u32(
        r.shadow_max_inflight.as_ref(),
        "standby.shadow_max_inflight",
        d.shadow_max_inflight,
        0..=1000,
    );
    let shadow_max_rps = cx.int_u32(
        r.shadow_max_rps.as_ref(),
        "standby.shadow_max_rps",
        d.shadow_max_rps,
        0..=100_000,
    );
    let drill_max_error_rate = cx.fraction(
        r.drill_max_error_rate.as_ref(),
        "standby.drill_max_error_rate",
        d.drill_max_error_rate,
    );
    let drill_max_p99 = cx.bounded_duration(
        r.drill_max_p99.as_ref(),
        "standby.drill_max_p99",
        d.drill_max_p99,
        Duration::from_millis(1)..=Duration::from_secs(60),
        "from 1ms to 60s",
    );
    warn_shadow_forbidden(cx, r, routes, pools);
    // On any error the config is rejected, so the fallbacks below are never used.
    StandbyConf {
        probe_interval: probe_interval.unwrap_or(d.probe_interval),
        probe_level: probe_level.unwrap_or(d.probe_level),
        probe_max_concurrency: probe_max_concurrency.unwrap_or(d.probe_max_concurrency),
        shadow_max_inflight: shadow_max_inflight.unwrap_or(d.shadow_max_inflight),
        shadow_max_rps: shadow_max_rps.unwrap_or(d.shadow_max_rps),
        drill_max_error_rate: drill_max_error_rate.unwrap_or(d.drill_max_error_rate),
        drill_max_p99: drill_max_p99.unwrap_or(d.drill_max_p99),
    }
}

/// `"0s"` (the probe is off), or from [`MIN_PROBE_INTERVAL`] to [`MAX_PROBE_INTERVAL`].
fn probe_interval(cx: &mut Checker, v: Option<&S<Scalar>>, default: Duration) -> Option<Duration> {
    let Some(v) = v else { return Some(default) };
    // The key is present, so `duration`'s textual default is never used.
    let d = cx.duration(Some(v), "standby.probe_interval", "0s")?;
    if d.is_zero() || (MIN_PROBE_INTERVAL..=MAX_PROBE_INTERVAL).contains(&d) {
        return Some(d);
    }
    let msg = format!(
        "standby.probe_interval must be \"0s\" (probe off) or from 10s to 24h, not {}",
        super::written(v.get_ref())
    );
    cx.error(v.span(), msg);
    None
}

/// Warns at each route's `shadow` when it is above zero but a shadow cap here is zero, so no
/// request would ever be mirrored. Routes are skipped when every pool is in one tier: `routes`
/// already warns that there is no standby to mirror to.
fn warn_shadow_forbidden(
    cx: &mut Checker,
    r: &RawStandby,
    routes: Option<&S<Vec<S<RawRoute>>>>,
    pools: &[PoolConf],
) {
    let zeros: Vec<String> = [
        ("standby.shadow_max_inflight", &r.shadow_max_inflight),
        ("standby.shadow_max_rps", &r.shadow_max_rps),
    ]
    .into_iter()
    .filter_map(|(key, v)| {
        let v = v.as_ref().filter(|v| *v.get_ref() == 0)?;
        Some(format!("{key} = 0 at line {}", cx.line(v.span())))
    })
    .collect();
    let tiers: HashSet<u32> = pools.iter().map(|p| p.tier).collect();
    if zeros.is_empty() || tiers.len() < 2 {
        return;
    }
    let zeros = zeros.join(", ");
    let list = routes.map_or(&[][..], |v| v.get_ref().as_slice());
    for route in list {
        let route = route.get_ref();
        let Some(shadow) = route.shadow.as_ref().filter(|s| *s.get_ref() > 0.0) else {
            continue;
        };
        let name = route.name.as_ref().map_or("?", |n| n.get_ref().as_str());
        let msg = format!(
            "shadow traffic is configured on route {name:?} but [standby] allows none ({zeros})"
        );
        cx.warn(shadow.span(), msg);
    }
}
