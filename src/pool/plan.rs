//! Per-tick pool planning: effective weights, healthy fraction, latency against baseline.
//!
//! * **Effective weight** of a backend = configured weight × slow-start ramp × speed factor, or
//!   0 when unavailable. The speed factor, `clamp((1.5 × fastest + 5 ms) / own, 0.05, 1)` over
//!   the smooth latency estimates, lowers the share of a backend that is much slower than its
//!   peers; within 1.5× (+5 ms) of the fastest it is 1, so noise never skews the configured
//!   weights (3:1 stays 75/25).
//! * **Health** = Σ available weight × ramp ÷ Σ configured weight: the tier planner's capacity
//!   signal (Envoy's priority-load model uses the same healthy fraction).
//! * **Latency factor**: the window's p50 against the pool's own baseline (a minimum with a long
//!   memory: it rises at most 30 % an hour, see [`BASELINE_RISE_PER_HOUR`]),
//!   `clamp((2 × baseline + 10 ms) / p50, 0.25, 1)`, falling once three windows in a row are
//!   slow (one slow window is a hiccup) and recovering over ≥ 2 s. It is how a badly slowed
//!   primary spills part of its traffic; the tier planner may lower it further when another
//!   tier is measurably faster (see `tier`).
//!   Quiet windows are pooled until they hold [`MIN_SAMPLES`] samples (at most
//!   [`MAX_POOLING_NS`] worth), so a slow, lightly loaded pool is still measured.

use super::{AliasTable, Backend};
use crate::latency::{Drained, MIN_SAMPLES};
use std::sync::Arc;

/// Consecutive slow windows before the factor falls (a single slow window is noise).
pub const SLOW_WINDOWS: u32 = 3;
/// Pooled samples that show a slow pool fast again (all of them within tolerance).
const RECOVERY_SAMPLES: u64 = 4;
/// Samples older than this that never reached `MIN_SAMPLES` are dropped.
pub const MAX_POOLING_NS: u64 = 5_000_000_000;
/// A pool up to this many times slower than its baseline keeps its full share.
pub const LATENCY_TOLERANCE: f64 = 2.0;
/// A slow pool keeps at least this factor (it is slow, not dead).
pub const LATENCY_FLOOR: f64 = 0.25;
/// Slowdowns smaller than this are noise whatever the ratio (a 0.5 ms backend at 1.2 ms is fine).
pub const LATENCY_SLACK_NS: f64 = 10e6;
/// The baseline follows a sustained higher latency by at most this factor per hour (it follows
/// lower ones at once). A release 20 % slower becomes the new normal within the hour; a
/// provider that degrades 100× still reads as slow six hours later (1.3^6 ≈ 5), long after an
/// operator has acted, and an operator who deliberately accepts a slower normal says so
/// (`POST /baseline`, [`LatencyTrack::accept`]).
pub const BASELINE_RISE_PER_HOUR: f64 = 1.3;
const HOUR_NS: f64 = 3600e9;
/// Time for the latency factor to recover from its floor to 1.
const RECOVER_NS: f64 = 2e9;
const SPEED_TOLERANCE: f64 = 1.5;
const SPEED_FLOOR: f64 = 0.05;
/// Latency differences below this are noise, not a slower backend.
const SPEED_SLACK_NS: f64 = 5e6;

/// Latency memory of a pool, carried across ticks and reloads.
#[derive(Debug, Clone)]
pub struct LatencyTrack {
    pub baseline_ns: Option<f64>,
    pub last_p50_ns: Option<f64>,
    pub factor: f64,
    last_ns: u64,
    /// Samples of quiet windows, pooled until there are enough.
    pending: Drained,
    pending_since: u64,
    /// Consecutive evaluated windows slower than tolerated.
    slow_windows: u32,
}

impl LatencyTrack {
    /// The operator accepts the current latency as normal: the next evaluated window becomes
    /// the baseline, and the factor recovers from there as it does after any slowdown.
    pub fn accept(&mut self) {
        self.baseline_ns = None;
        self.slow_windows = 0;
    }
}

impl Default for LatencyTrack {
    fn default() -> Self {
        Self {
            baseline_ns: None,
            last_p50_ns: None,
            factor: 1.0,
            last_ns: 0,
            pending: Drained::default(),
            pending_since: 0,
            slow_windows: 0,
        }
    }
}

/// What the planner decided for one pool, read by every request.
#[derive(Debug, Clone, Default)]
pub struct PoolPlan {
    pub table: AliasTable,
    /// Effective weight per backend (same order as the pool's backends).
    pub effective: Vec<f64>,
    /// Healthy fraction of configured weight, ramp included, in [0, 1].
    pub health: f64,
    /// Latency factor in [LATENCY_FLOOR, 1].
    pub latency_factor: f64,
    /// Σ configured weight (backends with weight > 0).
    pub total_weight: f64,
    pub p50_ns: Option<f64>,
    pub baseline_ns: Option<f64>,
    /// Some backends configured but not available.
    pub some_down: bool,
    /// The pool's admission gate refuses a noticeable share of its requests.
    pub shedding: bool,
}

impl PoolPlan {
    /// Effective share of the pool's traffic per backend, in [0, 1].
    pub fn share(&self, i: usize) -> f64 {
        let sum: f64 = self.effective.iter().sum();
        if sum > 0.0 {
            self.effective.get(i).copied().unwrap_or(0.0) / sum
        } else {
            0.0
        }
    }
}

pub(super) fn plan_pool(
    backends: &[Arc<Backend>],
    slow_start_ns: u64,
    track: &mut LatencyTrack,
    window: Option<&Drained>,
    now_ns: u64,
) -> PoolPlan {
    let fastest = backends
        .iter()
        .filter(|b| b.is_available(now_ns) && b.samples() > 0)
        .map(|b| b.ewma.smooth())
        .fold(f64::INFINITY, f64::min);
    let mut total = 0.0;
    let mut healthy = 0.0;
    let mut some_down = false;
    let effective: Vec<f64> = backends
        .iter()
        .map(|b| {
            let w = b.share();
            total += w;
            if w == 0.0 {
                return 0.0;
            }
            if !b.is_available(now_ns) {
                some_down = true;
                return 0.0;
            }
            let ramp = b.health.ramp(slow_start_ns, now_ns);
            healthy += w * ramp;
            let speed = if b.samples() > 0 && fastest.is_finite() {
                ((SPEED_TOLERANCE * fastest + SPEED_SLACK_NS) / b.ewma.smooth().max(1.0))
                    .clamp(SPEED_FLOOR, 1.0)
            } else {
                1.0
            };
            w * ramp * speed
        })
        .collect();
    if let Some(w) = window {
        update_latency(track, w, now_ns);
    }
    PoolPlan {
        table: AliasTable::new(effective.iter().enumerate().map(|(i, &w)| (i as u32, w))),
        health: if total > 0.0 { healthy / total } else { 0.0 },
        latency_factor: track.factor,
        total_weight: total,
        p50_ns: track.last_p50_ns,
        baseline_ns: track.baseline_ns,
        some_down,
        shedding: false,
        effective,
    }
}

/// A pool marked slow that now receives little traffic (the planner moved it away) must still
/// be able to show that it is fast again: a few pooled samples, all within tolerance of the
/// baseline, are enough to evaluate (falling still takes [`MIN_SAMPLES`] and three windows).
fn shows_recovery(track: &LatencyTrack) -> bool {
    let (Some(base), true) = (track.baseline_ns, track.factor < 1.0) else {
        return false;
    };
    track.pending.total() >= RECOVERY_SAMPLES
        && track
            .pending
            .quantile(1.0)
            .is_some_and(|max| max <= LATENCY_TOLERANCE * base + LATENCY_SLACK_NS)
}

/// Folds one drained window into the pool's latency memory.
pub(super) fn update_latency(track: &mut LatencyTrack, window: &Drained, now_ns: u64) {
    if track.pending.total() == 0 {
        track.pending_since = now_ns;
    }
    track.pending.merge(window);
    if track.pending.total() < MIN_SAMPLES && !shows_recovery(track) {
        if now_ns.saturating_sub(track.pending_since) > MAX_POOLING_NS {
            track.pending = Drained::default();
        }
        return;
    }
    let window = std::mem::take(&mut track.pending);
    let dt = now_ns.saturating_sub(track.last_ns) as f64;
    track.last_ns = now_ns;
    let Some(p50) = window.quantile(0.5) else {
        return;
    };
    track.last_p50_ns = Some(p50);
    let base = match track.baseline_ns {
        Some(b) if p50 >= b => (b * BASELINE_RISE_PER_HOUR.powf(dt / HOUR_NS)).min(p50),
        _ => p50,
    };
    track.baseline_ns = Some(base);
    let target = ((LATENCY_TOLERANCE * base + LATENCY_SLACK_NS) / p50).clamp(LATENCY_FLOOR, 1.0);
    // One slow window is a hiccup (a GC pause, a busy CPU); a slowdown lasts.
    track.slow_windows = if target < 1.0 {
        track.slow_windows + 1
    } else {
        0
    };
    track.factor = if target < track.factor {
        if track.slow_windows >= SLOW_WINDOWS {
            target
        } else {
            track.factor
        }
    } else {
        (track.factor + dt / RECOVER_NS).min(target)
    };
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
