//! Peak-EWMA latency estimate of one backend, lock-free.
//!
//! The idea is Finagle's and tower's (`tower::load::PeakEwma`): an exponentially weighted moving
//! average of response times that jumps *up* to a new peak at once and decays *down* slowly, so
//! a backend that just got slow shows at once and is trusted again only gradually. firebreak
//! shows the peak estimate (`/status`, `firebreak_backend_latency_seconds`); it does not choose
//! backends by it.
//!
//! Beside the peak estimate it keeps a plain (symmetric) EWMA with a longer time constant: the
//! planner's speed factor, which lowers a slow backend's effective weight, uses that one, so a
//! single scheduling hiccup on a sub-millisecond backend does not cut its share for seconds,
//! while sustained slowness still does.
//!
//! Time is passed in (`now_ns`), never read here, so the decay is unit-testable.

use std::sync::atomic::{AtomicU64, Ordering};

/// Decay time constant: after `TAU_NS` without new samples an old peak has fallen to ~37 %.
pub const TAU_NS: f64 = 2_000_000_000.0;

/// Time constant of the smooth estimate.
pub const SMOOTH_TAU_NS: f64 = 5_000_000_000.0;
/// Weight of one sample in the smooth estimate when samples arrive back to back.
const SMOOTH_MIN_WEIGHT: f64 = 0.05;

/// The estimate a backend starts with before any sample: 1 ms, i.e. assume it is fast, so a
/// new backend is not held back by a guess (tower's `PeakEwma` has no default: its caller
/// chooses this value).
pub const DEFAULT_RTT_NS: f64 = 1_000_000.0;

/// A peak-EWMA of round-trip times in nanoseconds.
#[derive(Debug)]
pub struct PeakEwma {
    /// f64 bits of the estimate.
    rtt: AtomicU64,
    /// f64 bits of the smooth estimate.
    smooth: AtomicU64,
    /// Timestamp (ns, caller's clock) of the last update.
    stamp: AtomicU64,
}

impl PeakEwma {
    pub fn new(now_ns: u64) -> Self {
        Self {
            rtt: AtomicU64::new(DEFAULT_RTT_NS.to_bits()),
            smooth: AtomicU64::new(DEFAULT_RTT_NS.to_bits()),
            stamp: AtomicU64::new(now_ns),
        }
    }

    /// Records one observed round trip.
    pub fn observe(&self, rtt_ns: u64, now_ns: u64) {
        let sample = rtt_ns as f64;
        let prev_stamp = self.stamp.swap(now_ns, Ordering::Relaxed);
        let elapsed = now_ns.saturating_sub(prev_stamp) as f64;
        // A racing update may be lost; the estimate stays a valid recent value either way.
        let _ = self
            .rtt
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                let cur = f64::from_bits(bits);
                let next = if sample > cur {
                    sample
                } else {
                    let w = (-elapsed / TAU_NS).exp();
                    cur * w + sample * (1.0 - w)
                };
                Some(next.to_bits())
            });
        let w = (1.0 - (-elapsed / SMOOTH_TAU_NS).exp()).clamp(SMOOTH_MIN_WEIGHT, 1.0);
        let _ = self
            .smooth
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                let cur = f64::from_bits(bits);
                Some((cur * (1.0 - w) + sample * w).to_bits())
            });
    }

    /// The smooth (non-peak) estimate in ns.
    pub fn smooth(&self) -> f64 {
        f64::from_bits(self.smooth.load(Ordering::Relaxed))
    }

    /// The current estimate (ns). Only new samples move it (as in tower).
    pub fn get(&self) -> f64 {
        f64::from_bits(self.rtt.load(Ordering::Relaxed))
    }

    /// Resets to the default (a backend coming back from the dead starts fresh).
    pub fn reset(&self, now_ns: u64) {
        self.rtt.store(DEFAULT_RTT_NS.to_bits(), Ordering::Relaxed);
        self.smooth
            .store(DEFAULT_RTT_NS.to_bits(), Ordering::Relaxed);
        self.stamp.store(now_ns, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn jumps_to_peaks_at_once() {
        let e = PeakEwma::new(0);
        e.observe(50 * MS, 10 * MS);
        assert_eq!(e.get(), (50 * MS) as f64);
    }

    #[test]
    fn decays_slowly_toward_lower_samples() {
        let e = PeakEwma::new(0);
        e.observe(100 * MS, 0);
        e.observe(10 * MS, 100 * MS); // 100 ms later: w = exp(-0.05) ~ 0.95
        let v = e.get() / MS as f64;
        assert!(v > 90.0 && v < 97.0, "{v}");
        // Long quiet period then a low sample: almost all weight on the sample.
        e.observe(10 * MS, 100 * MS + 20_000 * MS);
        let v = e.get() / MS as f64;
        assert!(v < 10.1, "{v}");
    }

    #[test]
    fn the_smooth_estimate_shrugs_off_one_spike_but_follows_a_trend() {
        let e = PeakEwma::new(0);
        let mut now = 0;
        for _ in 0..100 {
            now += MS;
            e.observe(MS / 2, now);
        }
        now += MS;
        e.observe(20 * MS, now);
        assert!(e.get() >= 20.0 * MS as f64, "the peak jumps");
        assert!(
            e.smooth() < 2.0 * MS as f64,
            "one spike barely moves the smooth estimate: {}",
            e.smooth()
        );
        for _ in 0..200 {
            now += MS;
            e.observe(20 * MS, now);
        }
        assert!(e.smooth() > 15.0 * MS as f64, "{}", e.smooth());
    }

    #[test]
    fn clock_going_backwards_does_not_panic_or_explode() {
        let e = PeakEwma::new(1_000 * MS);
        e.observe(5 * MS, 10 * MS);
        e.observe(MS, 0);
        assert!(e.get().is_finite());
    }
}
