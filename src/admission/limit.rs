//! The adaptive concurrency limit of one pool: a gradient controller that needs no capacity
//! number.
//!
//! Ideas from Envoy's adaptive-concurrency filter and Netflix's concurrency-limits (Gradient2),
//! with the fixes their issue trackers ask for (docs/design.md, "Admission: adaptive concurrency and priorities"):
//! * **Baseline** = the 10th percentile of a window, tracked as a minimum. It may only rise
//!   while the pool is app-limited (few requests in flight, so samples show the no-load
//!   latency), never under sustained overload; after 5 updates stuck at the minimum limit it is
//!   re-learnt from the current window (the backend really got slower). No probe windows.
//! * **Gradient** every window: `g = clamp((tolerance × baseline + 5 ms) / p50, 0.5, 1)`,
//!   `L ← L·g` when congested (p50 above tolerance × baseline); `L ← L + √L` when not
//!   congested and not app-limited (`peak in-flight ≥ L/2`); unchanged when app-limited.
//!   Unlike Envoy's `L·g + √L`, the queue allowance is only added while latency is clean: at
//!   small limits (a 2-worker standby) `+√L` alone would hold ~2 extra requests queued in the
//!   backend and double the latency of everything admitted.
//! * **Cold start**: a pool without a baseline starts at `initial_limit` and doubles each clean
//!   window (slow start) until the first sign of queueing; so a standby that suddenly receives
//!   everything is never flooded at once.
//! * **Errors are drops**: a window with ≥ 5 % failed requests (5xx, timeouts, resets) cuts the
//!   limit by 10 % and contributes no latency: fast failures never raise the limit.
//! * Small windows (< 16 samples) are pooled until they say something.

use crate::config::AdmissionConf;
use crate::latency::{Drained, MIN_SAMPLES};

/// Latency growth smaller than this is noise, not queueing (a 0.5 ms backend at 2 ms is idle).
pub const SLACK_NS: f64 = 5e6;
const STUCK_WINDOWS: u32 = 5;

/// The limiter's tuning, taken from `[admission]` (not to be confused with `[limits]`, the
/// request size and time limits).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LimiterConf {
    pub initial: f64,
    pub min: f64,
    pub max: f64,
    pub tolerance: f64,
}

impl From<&AdmissionConf> for LimiterConf {
    fn from(c: &AdmissionConf) -> Self {
        LimiterConf {
            initial: c.initial_limit as f64,
            min: c.min_limit as f64,
            max: c.max_limit as f64,
            tolerance: c.latency_tolerance,
        }
    }
}

/// What one window of traffic showed.
#[derive(Debug, Clone, Default)]
pub struct WindowStats {
    /// Latencies of successful responses.
    pub latency: Drained,
    /// Failed requests (5xx, timeouts, resets).
    pub drops: u64,
    /// Highest in-flight count seen during the window.
    pub peak_inflight: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    SlowStart,
    Gradient,
}

/// The controller's state.
#[derive(Debug, Clone)]
pub struct GradientLimit {
    pub limit: f64,
    pub baseline_ns: Option<f64>,
    pub last_p50_ns: Option<f64>,
    /// The last evaluated window showed queueing (or there is no baseline yet).
    pub congested: bool,
    mode: Mode,
    pending: Drained,
    pending_peak: u32,
    at_min: u32,
}

impl GradientLimit {
    pub fn new(conf: &LimiterConf) -> Self {
        Self {
            limit: conf.initial.clamp(conf.min, conf.max),
            baseline_ns: None,
            last_p50_ns: None,
            congested: true,
            mode: Mode::SlowStart,
            pending: Drained::default(),
            pending_peak: 0,
            at_min: 0,
        }
    }

    /// Folds one window in. Returns true when the window was evaluated.
    pub fn update(&mut self, w: &WindowStats, conf: &LimiterConf) -> bool {
        let total = w.latency.total() + w.drops;
        if w.drops > 0 && w.drops * 20 >= total {
            self.limit = (self.limit * 0.9).max(conf.min);
            self.congested = true;
            self.mode = Mode::Gradient;
            return true;
        }
        self.pending.merge(&w.latency);
        self.pending_peak = self.pending_peak.max(w.peak_inflight);
        if self.pending.total() < MIN_SAMPLES {
            return false;
        }
        let window = std::mem::take(&mut self.pending);
        let peak = std::mem::take(&mut self.pending_peak) as f64;
        let (Some(p10), Some(p50)) = (window.quantile(0.1), window.quantile(0.5)) else {
            return false;
        };
        self.last_p50_ns = Some(p50);
        let app_limited = peak < self.limit / 2.0;
        let base = match self.baseline_ns {
            None => p10,
            Some(b) if p10 < b => p10,
            Some(b) if app_limited => b + (p10 - b) * 0.1,
            Some(b) if self.at_min >= STUCK_WINDOWS => {
                self.at_min = 0;
                p10.max(b)
            }
            Some(b) => b,
        };
        self.baseline_ns = Some(base);
        let gradient = ((conf.tolerance * base + SLACK_NS) / p50).clamp(0.5, 1.0);
        self.congested = gradient < 1.0;
        let next = match (self.mode, self.congested, app_limited) {
            (_, true, _) => {
                self.mode = Mode::Gradient;
                self.limit * gradient
            }
            (_, false, true) => self.limit,
            (Mode::SlowStart, false, false) => self.limit * 2.0,
            (Mode::Gradient, false, false) => self.limit + self.limit.sqrt(),
        };
        self.limit = next.clamp(conf.min, conf.max);
        // `L·g + √L` only approaches the floor, so "stuck" means within one request of it.
        self.at_min = if self.congested && self.limit < conf.min + 1.0 {
            self.at_min + 1
        } else {
            0
        };
        true
    }
}

#[cfg(test)]
#[path = "limit_tests.rs"]
mod tests;
