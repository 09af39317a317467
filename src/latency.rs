//! A lock-free latency histogram over one planning window (log-scale buckets).
//!
//! Requests add one sample with a single atomic increment; the planner drains the window every
//! tick and reads percentiles from it. Percentiles of a window, rather than a mean or a peak,
//! keep a few naturally slow requests (a big report) from being read as a slowed backend.
//! Buckets: four per power of two from 1 µs to ~1 h, so a percentile is within ±10 %.

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// Fewer samples than this in a window say nothing about latency: the pool planner and the
/// admission limiter both pool quieter windows until they reach it.
pub const MIN_SAMPLES: u64 = 16;

const SUB: u32 = 4;
const MIN_OCTAVE: u32 = 10; // 2^10 ns ~ 1 µs
const OCTAVES: u32 = 32;
const BUCKETS: usize = (OCTAVES * SUB) as usize;

/// Samples of the current window.
#[derive(Debug)]
pub struct LatencyWindow {
    buckets: Box<[AtomicU32]>,
}

impl Default for LatencyWindow {
    fn default() -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| AtomicU32::new(0)).collect(),
        }
    }
}

fn bucket_of(ns: u64) -> usize {
    let ns = ns.max(1);
    let octave = 63 - ns.leading_zeros();
    if octave < MIN_OCTAVE {
        return 0;
    }
    let sub = ((ns >> (octave - 2)) & 3) as u32;
    (((octave - MIN_OCTAVE) * SUB + sub) as usize).min(BUCKETS - 1)
}

/// The middle of a bucket's range, in ns.
fn bucket_value(i: usize) -> f64 {
    let octave = MIN_OCTAVE + i as u32 / SUB;
    let sub = (i as u32 % SUB) as f64;
    let base = (1u64 << octave) as f64;
    base * (1.0 + (sub + 0.5) / SUB as f64)
}

/// A drained window: counts per bucket.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Drained {
    counts: Vec<u32>,
    total: u64,
}

impl Drained {
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Adds another window's samples to this one.
    pub fn merge(&mut self, other: &Drained) {
        if self.counts.len() < other.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a = a.saturating_add(*b);
        }
        self.total += other.total;
    }

    /// The `q`-quantile (0..=1) in ns, or None for an empty window.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((self.total as f64) * q.clamp(0.0, 1.0)).ceil().max(1.0) as u64;
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c as u64;
            if seen >= rank {
                return Some(bucket_value(i));
            }
        }
        None
    }
}

impl LatencyWindow {
    pub fn record(&self, ns: u64) {
        self.buckets[bucket_of(ns)].fetch_add(1, Relaxed);
    }

    /// Takes the window's samples and starts a new one.
    pub fn drain(&self) -> Drained {
        let counts: Vec<u32> = self.buckets.iter().map(|b| b.swap(0, Relaxed)).collect();
        let total = counts.iter().map(|&c| c as u64).sum();
        Drained { counts, total }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const MS: u64 = 1_000_000;

    #[test]
    fn quantiles_are_within_the_bucket_error() {
        let w = LatencyWindow::default();
        for _ in 0..90 {
            w.record(10 * MS);
        }
        for _ in 0..10 {
            w.record(5_000 * MS);
        }
        let d = w.drain();
        assert_eq!(d.total(), 100);
        let p50 = d.quantile(0.5).unwrap() / MS as f64;
        assert!((p50 - 10.0).abs() / 10.0 < 0.15, "{p50}");
        let p99 = d.quantile(0.99).unwrap() / MS as f64;
        assert!((p99 - 5000.0).abs() / 5000.0 < 0.15, "{p99}");
        assert_eq!(w.drain().total(), 0, "drain starts a new window");
    }

    #[test]
    fn extremes_do_not_panic() {
        let w = LatencyWindow::default();
        for ns in [0, 1, 1023, u64::MAX] {
            w.record(ns);
        }
        let d = w.drain();
        assert!(d.quantile(0.0).is_some() && d.quantile(1.0).is_some());
        assert_eq!(Drained::default().quantile(0.5), None);
    }
}
