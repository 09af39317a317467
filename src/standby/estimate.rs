//! The standby's sustainable throughput, from a concurrency ramp.
//!
//! Little's law says throughput X = concurrency / latency. Driving the standby at rising
//! concurrency c = 1, 2, 4, … shows X(c) growing while workers are free, then flattening once
//! requests queue, while latency R(c) starts to climb. The sustainable capacity is the best
//! throughput seen at a level whose latency is still within `tolerance` × the no-load latency;
//! the ramp stops at the first level past it, so the standby is never pushed far into overload.
//! `tolerance` is `admission.latency_tolerance`, the factor by which the adaptive limiter lets
//! latency exceed its baseline before it calls a pool congested: the estimate and the limiter
//! agree on where "sustainable" ends.
//!
//! The same law run backwards gives the admission limiter its starting point ([`seed`]):
//! the concurrency a pool sustains is its capacity × its no-load latency.

/// One ramp level's measurement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    pub concurrency: u32,
    /// Completed requests per second at this level.
    pub throughput: f64,
    /// Median latency in seconds.
    pub p50: f64,
    /// Requests that failed (errors, timeouts).
    pub errors: u32,
}

/// Should the ramp continue after `levels`? (False once latency or errors show overload.)
pub fn keep_ramping(levels: &[Level], tolerance: f64) -> bool {
    let (Some(first), Some(last)) = (levels.first(), levels.last()) else {
        return true;
    };
    last.errors == 0 && last.p50 <= tolerance * first.p50
}

/// Sustainable requests per second, or None without a clean measurement.
pub fn capacity(levels: &[Level], tolerance: f64) -> Option<f64> {
    let base = levels.first()?.p50;
    if !(base.is_finite() && base > 0.0) {
        return None;
    }
    let ok = |l: &&Level| l.errors == 0 && l.p50 <= tolerance * base && l.throughput.is_finite();
    let best_ok = levels
        .iter()
        .filter(ok)
        .map(|l| l.throughput)
        .fold(0.0, f64::max);
    // Past the knee, throughput that was still achieved (while queueing) is real capacity too.
    let best_over = levels
        .iter()
        .filter(|l| l.errors == 0)
        .map(|l| l.throughput)
        .fold(0.0, f64::max);
    let est = if best_over > best_ok * 1.1 && !levels.iter().all(|l| ok(&l)) {
        best_over
    } else {
        best_ok
    };
    (est > 0.0).then_some(est)
}

/// A standby pool's seed from the capacity estimate (Little's law: the concurrency it
/// sustains is its capacity × its no-load latency), for `available` backends of the pool.
/// None without a usable measurement.
pub fn seed(e: &super::Estimate, available: usize) -> Option<crate::admission::limit::Seed> {
    let &(_, _, p50_ms) = e.levels.first()?;
    let per_backend = e.capacity_rps / e.backends.max(1) as f64;
    let limit = per_backend * available as f64 * p50_ms / 1e3;
    (limit.is_finite() && limit > 0.0 && p50_ms > 0.0).then_some(crate::admission::limit::Seed {
        limit,
        baseline_ns: p50_ms * 1e6,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `admission.latency_tolerance`'s default.
    const TOL: f64 = 1.5;

    /// A simulated app server: `workers` × `service` seconds, measured at concurrency c.
    fn level(workers: u32, service: f64, c: u32) -> Level {
        let busy = c.min(workers) as f64;
        let throughput = busy / service;
        let p50 = service * (c as f64 / workers as f64).max(1.0);
        Level {
            concurrency: c,
            throughput,
            p50,
            errors: 0,
        }
    }

    fn ramp(workers: u32, service: f64) -> Vec<Level> {
        let mut levels = vec![];
        let mut c = 1;
        while c <= 64 && keep_ramping(&levels, TOL) {
            levels.push(level(workers, service, c));
            c *= 2;
        }
        levels
    }

    #[test]
    fn two_workers_at_20ms_is_100_per_second() {
        let levels = ramp(2, 0.020);
        let est = capacity(&levels, TOL).unwrap();
        assert!((est - 100.0).abs() / 100.0 <= 0.25, "{est}");
        assert!(
            levels.len() <= 3,
            "the ramp went on past the knee: {levels:?}"
        );
    }

    #[test]
    fn the_seed_is_littles_law_on_the_measurement_per_available_backend() {
        let e = super::super::Estimate {
            capacity_rps: 200.0, // two backends of 2 workers x 20 ms
            measured_at: 1,
            backends: 2,
            levels: vec![(1, 50.0, 20.0), (2, 100.0, 20.0), (4, 100.0, 40.0)],
        };
        let s = seed(&e, 2).unwrap();
        assert!((s.limit - 4.0).abs() < 1e-9, "{s:?}");
        assert_eq!(s.baseline_ns, 20e6);
        assert!(
            (seed(&e, 1).unwrap().limit - 2.0).abs() < 1e-9,
            "one backend left"
        );
        assert_eq!(seed(&e, 0), None, "no backend available: no seed");
        let empty = super::super::Estimate {
            levels: vec![],
            ..e
        };
        assert_eq!(seed(&empty, 2), None);
    }

    #[test]
    fn a_bigger_standby_is_measured_as_bigger() {
        let est = capacity(&ramp(12, 0.010), TOL).unwrap();
        assert!((est - 1200.0).abs() / 1200.0 <= 0.25, "{est}");
    }

    #[test]
    fn errors_and_empty_ramps_give_nothing_or_stop() {
        assert_eq!(capacity(&[], TOL), None);
        let mut bad = level(2, 0.02, 1);
        bad.errors = 3;
        assert_eq!(capacity(&[bad], TOL), None);
        assert!(!keep_ramping(&[level(2, 0.02, 1), bad], TOL));
        let zero = Level {
            concurrency: 1,
            throughput: 0.0,
            p50: 0.0,
            errors: 0,
        };
        assert_eq!(capacity(&[zero], TOL), None);
    }
}
