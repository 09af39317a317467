//! Health state of one backend: active-check counters, passive ejection, slow-start ramp.
//!
//! Unlike Pingora's load balancer (where backends start healthy), a backend of a pool with
//! active checks starts **down** and goes up on its first passing check (a new backend needs one
//! pass, as in Envoy; a backend that was up before and fell needs `rise` passes). A pool without
//! checks is judged by passive signals alone and its backends start up.
//!
//! Passive signals (connect failures, timeouts, resets seen by real traffic) eject a backend at
//! once, before the next probe: it sits out an exponential backoff (2 s, 4 s, … 60 s, reset by
//! the first good response) and, with active checks, also needs `rise` passing probes; then it
//! comes back half-open. Every up-transition after the first starts a slow-start ramp. A
//! response counts as good only once it has been delivered whole, so a backend that resets
//! mid-body is ejected like one that refuses connections.
//!
//! All fields are atomics so the hot path reads them without locks; writers are the health
//! checker and request completion, whose rare races only delay a transition by one event.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};

/// Weight share a backend gets at the very start of its ramp.
pub const RAMP_FLOOR: f64 = 0.1;
/// Consecutive passive failures (other than connect failures) that eject a backend.
pub const PASSIVE_THRESHOLD: u32 = 3;
const BACKOFF_BASE_NS: u64 = 2_000_000_000;
const BACKOFF_MAX_NS: u64 = 60_000_000_000;

/// What a passive signal was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassiveFailure {
    /// Connection refused or connect timeout: the backend is not there. Ejects at once.
    Connect,
    /// Read timeout or reset: may be the request's fault. Ejects after a few in a row.
    Response,
}

/// The live health of one backend.
#[derive(Debug)]
pub struct HealthState {
    up: AtomicBool,
    ever_up: AtomicBool,
    passes: AtomicU32,
    fails: AtomicU32,
    passive_fails: AtomicU32,
    ejections: AtomicU32,
    ejected_until_ns: AtomicU64,
    /// Start of the current slow-start ramp (0 = no ramp).
    ramp_start_ns: AtomicU64,
    /// Total ejections, for metrics.
    ejections_total: AtomicU64,
}

impl HealthState {
    /// `actively_checked`: the pool has a `health` table (start down), else start up.
    pub fn new(actively_checked: bool) -> Self {
        Self {
            up: AtomicBool::new(!actively_checked),
            ever_up: AtomicBool::new(!actively_checked),
            passes: AtomicU32::new(0),
            fails: AtomicU32::new(0),
            passive_fails: AtomicU32::new(0),
            ejections: AtomicU32::new(0),
            ejected_until_ns: AtomicU64::new(0),
            ramp_start_ns: AtomicU64::new(0),
            ejections_total: AtomicU64::new(0),
        }
    }

    /// Up as far as health goes (ignoring a passive ejection window).
    pub fn is_up(&self) -> bool {
        self.up.load(Relaxed)
    }

    /// May take traffic now: up and not sitting out a passive ejection.
    pub fn is_available(&self, now_ns: u64) -> bool {
        self.is_up() && now_ns >= self.ejected_until_ns.load(Relaxed)
    }

    pub fn ejections_total(&self) -> u64 {
        self.ejections_total.load(Relaxed)
    }

    /// Records an active check. Returns true when the up/down state flipped.
    pub fn record_probe(&self, ok: bool, rise: u32, fall: u32, now_ns: u64) -> bool {
        if ok {
            self.fails.store(0, Relaxed);
            let passes = self.passes.fetch_add(1, Relaxed).saturating_add(1);
            let needed = if self.ever_up.load(Relaxed) { rise } else { 1 };
            if !self.is_up() && passes >= needed.max(1) {
                self.go_up(now_ns);
                return true;
            }
        } else {
            self.passes.store(0, Relaxed);
            let fails = self.fails.fetch_add(1, Relaxed).saturating_add(1);
            if self.is_up() && fails >= fall.max(1) {
                self.up.store(false, Relaxed);
                return true;
            }
        }
        false
    }

    /// Records a failure seen by real traffic. Returns true when the backend was ejected.
    pub fn record_passive_failure(
        &self,
        kind: PassiveFailure,
        actively_checked: bool,
        now_ns: u64,
    ) -> bool {
        let n = self.passive_fails.fetch_add(1, Relaxed).saturating_add(1);
        // Half-open: a backend back from an ejection with no good response since goes out again
        // on its first failure.
        let on_probation = self.ejections.load(Relaxed) > 0;
        if kind == PassiveFailure::Response && n < PASSIVE_THRESHOLD && !on_probation {
            return false;
        }
        if !self.is_available(now_ns) {
            return false; // already out
        }
        self.passive_fails.store(0, Relaxed);
        self.ejections_total.fetch_add(1, Relaxed);
        // Sit out a backoff that doubles with each ejection not followed by a good response:
        // a backend that passes its probes but fails real traffic (hung, resetting) must not
        // be back after two probes.
        let k = self.ejections.fetch_add(1, Relaxed).min(16);
        let backoff = BACKOFF_BASE_NS.saturating_mul(1 << k).min(BACKOFF_MAX_NS);
        let until = now_ns.saturating_add(backoff);
        self.ejected_until_ns.store(until, Relaxed);
        // Coming back ramps up like any recovery.
        self.ramp_start_ns.store(until, Relaxed);
        if actively_checked {
            // And it needs `rise` passing probes.
            self.passes.store(0, Relaxed);
            self.up.store(false, Relaxed);
        }
        true
    }

    /// Records a response that proves the backend works.
    pub fn record_success(&self) {
        if self.passive_fails.load(Relaxed) != 0 {
            self.passive_fails.store(0, Relaxed);
        }
        if self.ejections.load(Relaxed) != 0 {
            self.ejections.store(0, Relaxed);
        }
    }

    /// Ramp factor in [RAMP_FLOOR, 1]: the share of its weight a recovering backend gets.
    pub fn ramp(&self, slow_start_ns: u64, now_ns: u64) -> f64 {
        let start = self.ramp_start_ns.load(Relaxed);
        if slow_start_ns == 0 || start == 0 || now_ns >= start.saturating_add(slow_start_ns) {
            return 1.0;
        }
        let done = now_ns.saturating_sub(start) as f64 / slow_start_ns as f64;
        done.clamp(RAMP_FLOOR, 1.0)
    }

    /// Marks the backend as not new, so a later recovery ramps (used for backends added by a
    /// reload into a serving pool, which should ramp from their first pass).
    pub fn expect_ramp(&self) {
        self.ever_up.store(true, Relaxed);
    }

    fn go_up(&self, now_ns: u64) {
        // The very first up of a backend present since start-up does not ramp: the whole pool
        // comes up together. Every later recovery does.
        if self.ever_up.swap(true, Relaxed) {
            // Ramp from now, or from the end of a passive backoff still running.
            let from = now_ns.max(self.ejected_until_ns.load(Relaxed));
            self.ramp_start_ns.store(from, Relaxed);
        }
        self.passive_fails.store(0, Relaxed);
        self.up.store(true, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const S: u64 = 1_000_000_000;

    #[test]
    fn active_backend_starts_down_and_first_pass_brings_it_up_without_ramp() {
        let h = HealthState::new(true);
        assert!(!h.is_available(0));
        assert!(h.record_probe(true, 2, 3, S));
        assert!(h.is_available(S));
        assert_eq!(h.ramp(10 * S, S), 1.0);
    }

    #[test]
    fn falls_after_fall_failures_and_needs_rise_passes_then_ramps() {
        let h = HealthState::new(true);
        h.record_probe(true, 2, 3, 0);
        assert!(!h.record_probe(false, 2, 3, S));
        assert!(!h.record_probe(false, 2, 3, 2 * S));
        assert!(h.record_probe(false, 2, 3, 3 * S));
        assert!(!h.is_up());
        assert!(!h.record_probe(true, 2, 3, 4 * S));
        assert!(h.record_probe(true, 2, 3, 5 * S));
        assert!((h.ramp(10 * S, 5 * S) - RAMP_FLOOR).abs() < 1e-9);
        assert!((h.ramp(10 * S, 10 * S) - 0.5).abs() < 1e-9);
        assert_eq!(h.ramp(10 * S, 15 * S), 1.0);
        assert_eq!(h.ramp(0, 5 * S), 1.0, "slow_start 0s turns the ramp off");
    }

    #[test]
    fn a_pass_interrupts_a_failure_streak() {
        let h = HealthState::new(true);
        h.record_probe(true, 2, 3, 0);
        h.record_probe(false, 2, 3, 1);
        h.record_probe(false, 2, 3, 2);
        h.record_probe(true, 2, 3, 3);
        h.record_probe(false, 2, 3, 4);
        assert!(h.is_up());
    }

    #[test]
    fn connect_failure_ejects_an_actively_checked_backend_until_probes_pass() {
        let h = HealthState::new(true);
        h.record_probe(true, 2, 3, 0);
        assert!(h.record_passive_failure(PassiveFailure::Connect, true, S));
        assert!(!h.is_available(100 * S), "stays out until probes pass");
        h.record_probe(true, 2, 3, 101 * S);
        assert!(!h.is_up());
        h.record_probe(true, 2, 3, 102 * S);
        assert!(h.is_available(102 * S));
    }

    #[test]
    fn response_failures_eject_only_in_a_row() {
        let h = HealthState::new(false);
        assert!(!h.record_passive_failure(PassiveFailure::Response, false, 0));
        assert!(!h.record_passive_failure(PassiveFailure::Response, false, 0));
        h.record_success();
        assert!(!h.record_passive_failure(PassiveFailure::Response, false, 0));
        assert!(!h.record_passive_failure(PassiveFailure::Response, false, 0));
        assert!(h.record_passive_failure(PassiveFailure::Response, false, 0));
        assert!(!h.is_available(1));
    }

    #[test]
    fn passive_only_backend_backs_off_exponentially_and_returns_ramping() {
        let h = HealthState::new(false);
        assert!(h.is_available(0));
        assert!(h.record_passive_failure(PassiveFailure::Connect, false, 0));
        assert!(!h.is_available(2 * S - 1));
        assert!(h.is_available(2 * S));
        assert!(h.ramp(10 * S, 2 * S) < 0.2);
        assert!(h.record_passive_failure(PassiveFailure::Connect, false, 2 * S));
        assert!(!h.is_available(6 * S - 1), "second ejection lasts 4 s");
        assert!(h.is_available(6 * S));
        for i in 0..40 {
            h.record_passive_failure(PassiveFailure::Connect, false, (100 + i * 100) * S);
        }
        assert!(!h.is_available(4_000 * S + 60 * S - 1));
        assert!(
            h.is_available(4_000 * S + 60 * S),
            "backoff is capped at 60 s"
        );
    }

    #[test]
    fn a_backend_back_from_ejection_goes_out_on_its_first_failure_until_it_proves_itself() {
        let h = HealthState::new(true);
        h.record_probe(true, 2, 3, 0);
        for _ in 0..3 {
            h.record_passive_failure(PassiveFailure::Response, true, S);
        }
        assert!(!h.is_available(S));
        h.record_probe(true, 2, 3, 4 * S);
        h.record_probe(true, 2, 3, 4 * S);
        assert!(
            h.is_available(4 * S),
            "probes pass and the 2 s backoff is over"
        );
        assert!(
            h.record_passive_failure(PassiveFailure::Response, true, 4 * S),
            "half-open: one strike"
        );
        assert!(!h.is_available(8 * S - 1), "and the backoff doubled");
        h.record_success();
        h.record_probe(true, 2, 3, 9 * S);
        h.record_probe(true, 2, 3, 9 * S);
        assert!(
            !h.record_passive_failure(PassiveFailure::Response, true, 9 * S),
            "forgiven after a good response"
        );
    }

    #[test]
    fn the_backoff_also_holds_an_actively_checked_backend_whose_probes_pass() {
        let h = HealthState::new(true);
        h.record_probe(true, 2, 3, 0);
        h.record_passive_failure(PassiveFailure::Connect, true, S);
        h.record_probe(true, 2, 3, S + 1);
        h.record_probe(true, 2, 3, S + 2);
        assert!(h.is_up(), "probes brought it up");
        assert!(!h.is_available(S + 2), "but it sits out its backoff");
        assert!(h.is_available(3 * S));
    }
}
