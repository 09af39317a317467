//! The status page's request-rate cap: a token bucket of `rate` tokens per second holding at
//! most one second's worth, kept as one atomic "theoretical arrival time" (the generic cell
//! rate algorithm, GCRA), so a stampede of customers reloading the page costs one
//! compare-and-swap per request and never a lock.
//!
//! Above the cap the proxy answers `429` with the `Retry-After` this gives, from memory.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

const SECOND_NS: u64 = 1_000_000_000;

/// The bucket (one per process, kept across reloads; the rate comes with each call).
#[derive(Debug, Default)]
pub struct Cap {
    /// When the bucket would be full again, in `now_ns` time (0: full).
    tat: AtomicU64,
}

impl Cap {
    /// Takes one token at `now_ns` from a bucket of `rate` per second. `Err` holds the seconds
    /// until one is free again (at least 1).
    pub fn take(&self, rate: u32, now_ns: u64) -> Result<(), u64> {
        let interval = SECOND_NS / u64::from(rate.max(1));
        let mut tat = self.tat.load(Relaxed);
        loop {
            let next = tat.max(now_ns).saturating_add(interval);
            let ahead = next - now_ns;
            if ahead > SECOND_NS + interval {
                return Err((ahead - SECOND_NS).div_ceil(SECOND_NS).max(1));
            }
            match self.tat.compare_exchange_weak(tat, next, Relaxed, Relaxed) {
                Ok(_) => return Ok(()),
                Err(seen) => tat = seen,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_one_second_then_the_rate() {
        let cap = Cap::default();
        let t0 = 5 * SECOND_NS;
        let burst = (0..100).filter(|_| cap.take(10, t0).is_ok()).count();
        assert_eq!(
            burst, 11,
            "one second's worth (10) plus the one being served"
        );
        assert_eq!(cap.take(10, t0), Err(1));
        // Over the next 10 s, 10 per second get through.
        let mut ok = 0;
        for ms in (0..10_000).step_by(10) {
            ok += usize::from(cap.take(10, t0 + ms * 1_000_000).is_ok());
        }
        assert!((99..=101).contains(&ok), "{ok}");
    }

    #[test]
    fn an_idle_bucket_refills_and_a_huge_rate_never_refuses() {
        let cap = Cap::default();
        let t0 = SECOND_NS;
        while cap.take(2, t0).is_ok() {}
        assert!(cap.take(2, t0 + 10 * SECOND_NS).is_ok());
        let big = Cap::default();
        assert!((0..10_000).all(|_| big.take(1_000_000, t0).is_ok()));
    }
}
