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
//! * **A band, not a line** (TCP Vegas' alpha/beta): a busy pool grows only while its p50
//!   is within [`ROOM`] × baseline (+ half the slack); between that and `tolerance` it holds,
//!   or drifts down slowly while it sheds. A growth after which the tail (p90) rises is undone
//!   and not tried again for [`HOLD_WINDOWS`]. An overloaded small backend then settles at its
//!   worker count instead of at the edge of congestion (at 2 workers `+√L` is a whole extra
//!   request queued in each).
//! * **Held**: the `2L` burst allowance of a clean pool (see [`super::gate`]) returns only
//!   after [`HOLD_WINDOWS`] evaluated windows without congestion, and never while the pool
//!   sheds; until then the pool is held to `L` with the class shares, so one clean window
//!   cannot double the queue inside a small backend.
//! * **Hints** from outside ([`Hint`]): a pool's share of a fleet (`1 / replicas`: each of N
//!   replicas admits its share of what the backend sustains, and the floor shrinks with it),
//!   and a **seed** from the standby's measured capacity ([`Seed`], Little's law: sustainable
//!   concurrency = capacity × no-load latency). While a seeded pool is idle its limit sits at
//!   the seed and its baseline at the measured no-load latency, so the first second of a
//!   failover starts where the measurement says, not at `initial` with slow start. A seed is
//!   only a start: the gradient corrects a wrong one within a few windows (2× too high: the
//!   first congested window halves it; 2× too low: `+√L` per clean window).

use crate::config::AdmissionConf;
use crate::latency::{Drained, MIN_SAMPLES};

/// Latency growth smaller than this is noise, not queueing (a 0.5 ms backend at 2 ms is idle).
pub const SLACK_NS: f64 = 5e6;
const STUCK_WINDOWS: u32 = 5;
/// Below this multiple of the baseline (plus half the slack) a busy pool has room to grow.
pub const ROOM: f64 = 1.1;
/// Per evaluated window, a shedding pool whose latency is in the band (above the room to
/// grow, below congestion) gives back this factor of its limit.
const BAND_DECAY: f64 = 0.95;
/// A growth after which the p90 latency rose by more than this factor is undone.
const GROWTH_COST: f64 = 1.2;
/// The smallest growth step, as a share of `√L`.
const MIN_STEP: f64 = 0.125;
/// Clean windows in a row before a pool that showed queueing gets its `2L` allowance back.
pub const HOLD_WINDOWS: u32 = 20;

/// A pool that refuses more than this share of its requests is shedding: it is held to `L`,
/// its tier reads `degraded` (and when every tier is degraded, refusals carry the maintenance
/// answer).
pub const SHEDDING: f64 = 0.05;
/// Weight of one planning window (100 ms) in the smoothed refused share: about a second.
const SHEDDING_WEIGHT: f64 = 0.1;

/// The smoothed refused share after a window with `admitted` and `refused` decisions. A
/// window without requests refuses nothing: a pool that shed once does not read as shedding
/// for ever.
pub fn smooth_refused(old: f64, admitted: u64, refused: u64) -> f64 {
    let share = refused as f64 / (admitted + refused).max(1) as f64;
    old + (share - old) * SHEDDING_WEIGHT
}

/// What the controller is told from outside each tick (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hint {
    /// This replica's share of the backends: `1 / replicas` in a fleet, 1 alone.
    pub share: f64,
    /// The pool's measured sustainable concurrency, when there is a measurement.
    pub seed: Option<Seed>,
}

impl Default for Hint {
    fn default() -> Self {
        Hint {
            share: 1.0,
            seed: None,
        }
    }
}

/// A measured starting point for a pool's limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seed {
    /// Requests the whole pool sustains in flight (all replicas together).
    pub limit: f64,
    /// Its no-load latency.
    pub baseline_ns: f64,
}

/// How many requests of a class with `class_share` may be in flight: `L × share` while
/// congested or held, `2L` otherwise. One rule for the gate and the simulations.
pub fn cap(limit: f64, congested: bool, held: bool, class_share: f64) -> u32 {
    if congested || held {
        (limit * class_share).round().max(1.0) as u32
    } else {
        (2.0 * limit).ceil() as u32
    }
}

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
    /// Clean windows since the last congested one (the `2L` allowance needs [`HOLD_WINDOWS`]).
    clean_run: u32,
    /// The last hint given.
    pub hint: Hint,
    /// The pool refuses more than [`SHEDDING`] of its requests (set by the gate each tick).
    pub shedding: bool,
    mode: Mode,
    pending: Drained,
    pending_peak: u32,
    at_min: u32,
    /// The limit and p90 latency before the last window's growth (None: it did not grow).
    grown_from: Option<(f64, f64)>,
    /// Evaluated windows to wait before growing again after a growth was undone.
    no_grow: u32,
    /// The next growth's size as a share of `√L`: halved by each undone growth (so the
    /// limit can land between two integers), back to 1 after one that held.
    step: f64,
}

impl GradientLimit {
    pub fn new(conf: &LimiterConf) -> Self {
        Self {
            limit: conf.initial.clamp(conf.min, conf.max),
            baseline_ns: None,
            last_p50_ns: None,
            congested: true,
            clean_run: 0,
            hint: Hint::default(),
            shedding: false,
            mode: Mode::SlowStart,
            pending: Drained::default(),
            pending_peak: 0,
            at_min: 0,
            grown_from: None,
            no_grow: 0,
            step: 1.0,
        }
    }

    /// Held to `L`: recently queueing, shedding (the limit is what demand is measured
    /// against, not a guess to be doubled), or seeded and not yet proven by traffic.
    pub fn held(&self) -> bool {
        self.clean_run < HOLD_WINDOWS || self.shedding
    }

    /// The lowest limit: `min` (lowered to half a measured seed, which is evidence that the
    /// pool sustains less, with room for a seed measured 2× too high) times this replica's
    /// share, and never below one request.
    pub fn floor(&self, conf: &LimiterConf) -> f64 {
        let min = match self.hint.seed {
            Some(s) => conf.min.min(s.limit / 2.0),
            None => conf.min,
        };
        (min * self.hint.share.clamp(0.0, 1.0)).max(1.0)
    }

    /// Folds one window in. Returns true when the window was evaluated.
    pub fn update(&mut self, w: &WindowStats, conf: &LimiterConf) -> bool {
        let floor = self.floor(conf);
        let total = w.latency.total() + w.drops;
        if let (Some(seed), 0, 0) = (self.hint.seed, w.peak_inflight, w.drops) {
            // Idle: sit at the seed (shadow samples may still teach the baseline below).
            self.limit = (seed.limit * self.hint.share).clamp(floor, conf.max);
            self.baseline_ns = Some(
                self.baseline_ns
                    .map_or(seed.baseline_ns, |b| b.min(seed.baseline_ns)),
            );
            self.mode = Mode::Gradient;
            self.congested = false;
            self.clean_run = 0;
            self.pending = Drained::default();
            self.pending_peak = 0;
            return false;
        }
        if self.mode == Mode::SlowStart && w.peak_inflight == 0 && w.drops == 0 {
            // Cold and idle without a measurement: a fleet's replicas start at their share.
            self.limit = (conf.initial * self.hint.share).clamp(floor, conf.max);
        }
        if w.drops > 0 && w.drops * 20 >= total {
            self.limit = (self.limit * 0.9).max(floor);
            self.clean_run = 0;
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
        let (Some(p10), Some(p50), Some(p90)) = (
            window.quantile(0.1),
            window.quantile(0.5),
            window.quantile(0.9),
        ) else {
            return false;
        };
        self.last_p50_ns = Some(p50);
        let app_limited = peak < self.limit / 2.0;
        let (in_fleet, seeded) = (self.hint.share < 1.0, self.hint.seed.is_some());
        let base = match self.baseline_ns {
            None => p10,
            Some(b) if p10 < b => p10,
            Some(b) if app_limited => b + (p10 - b) * 0.1,
            // In a fleet, a seed's baseline was measured at no load: being stuck at the floor
            // then means the other replicas load the backend too, not that it got slower.
            Some(b) if self.at_min >= STUCK_WINDOWS && !(in_fleet && seeded) => {
                self.at_min = 0;
                p10.max(b)
            }
            Some(b) => b,
        };
        self.baseline_ns = Some(base);
        let gradient = ((conf.tolerance * base + SLACK_NS) / p50).clamp(0.5, 1.0);
        self.congested = gradient < 1.0;
        let room = p50 <= ROOM * base + SLACK_NS / 2.0;
        self.clean_run = if self.congested {
            0
        } else {
            self.clean_run.saturating_add(1)
        };
        let grown = self.grown_from.take();
        // The last growth only added queueing: the tail rose at once.
        let queued_more =
            grown.is_some_and(|(_, before)| p90 > GROWTH_COST * before + SLACK_NS / 4.0);
        if grown.is_some() {
            self.step = if queued_more || self.congested {
                (self.step / 2.0).max(MIN_STEP)
            } else {
                1.0
            };
        }
        self.no_grow = self.no_grow.saturating_sub(1);
        let next = match (self.mode, self.congested, app_limited) {
            (_, true, _) => {
                self.mode = Mode::Gradient;
                if grown.is_some() {
                    self.no_grow = HOLD_WINDOWS; // the growth caused it: not again soon
                }
                (self.limit * gradient).min(grown.map_or(f64::INFINITY, |g| g.0))
            }
            (_, false, true) => self.limit,
            (Mode::SlowStart, false, false) => self.limit * 2.0,
            // The last growth only added queueing: undo it and try again later. At 2 workers
            // `+√L` is a whole request queued in the backend, doubling the wait of everything
            // admitted, while p50 may not show it.
            (Mode::Gradient, false, false) if queued_more => {
                self.no_grow = HOLD_WINDOWS;
                grown.map_or(self.limit, |g| g.0)
            }
            // Grow only while latency is close to the baseline (a Vegas-style band).
            (Mode::Gradient, false, false) if room && self.no_grow == 0 => {
                self.grown_from = Some((self.limit, p90));
                self.limit + self.step * self.limit.sqrt()
            }
            // In the band: hold, unless the pool is shedding; then drift down towards the
            // band's floor (Vegas' linear decrease), so an overloaded pool does not settle
            // with a request queued per worker. Without shedding nothing is lost by holding,
            // and a backend whose latencies are naturally spread never shrinks by it.
            (Mode::Gradient, false, false) if room || !self.shedding => self.limit,
            (Mode::Gradient, false, false) => self.limit * BAND_DECAY,
        };
        self.limit = next.clamp(floor, conf.max);
        // `L·g + √L` only approaches the floor, so "stuck" means within one request of it;
        // a seeded pool is stuck too when even the measured concurrency shows queueing.
        let at_seed = self
            .hint
            .seed
            .is_some_and(|s| self.limit <= s.limit * self.hint.share + 0.5);
        self.at_min = if !room && (self.limit < floor + 1.0 || at_seed) {
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

#[cfg(test)]
#[path = "limit_hint_tests.rs"]
mod hint_tests;
