//! Per-request backend pick within a pool: weighted power-of-two-choices, O(1).
//!
//! Two candidates are drawn *by effective weight* (alias table) and the one with the lower
//! in-flight load per unit of weight wins; on a tie the first draw wins. This keeps both
//! properties operators expect:
//! * equally fast, idle backends split exactly by weight (3:1 → 75/25), because ties fall to a
//!   weighted draw — unlike plain P2C on cost ÷ weight, where two idle candidates tie on cost and
//!   two distinct uniform draws of two backends give each half, whatever the weights;
//! * a backend whose latency grows gets less twice over: the planner lowers its effective weight
//!   by its speed factor (its smooth latency EWMA against the fastest peer's, see `plan`), and
//!   its in-flight count grows, so it loses the comparison (Mitzenmacher's power of two
//!   choices).
//!
//! Candidates that became unavailable since the last plan (passive ejection) or that this
//! request already tried are redrawn a few times, then found by a scan (rare, O(n)).

use super::{Backend, PoolPlan};
use std::sync::Arc;

const DRAWS: usize = 4;

/// Picks a backend index, avoiding `tried`. None when no backend can take the request.
pub fn pick(
    backends: &[Arc<Backend>],
    plan: &PoolPlan,
    tried: &[Arc<Backend>],
    rng: &mut fastrand::Rng,
    now_ns: u64,
) -> Option<usize> {
    let ok = |i: usize| {
        let b = &backends[i];
        b.is_available(now_ns) && !tried.iter().any(|t| Arc::ptr_eq(t, b))
    };
    let draw = |rng: &mut fastrand::Rng| {
        (0..DRAWS)
            .filter_map(|_| plan.table.draw(rng).map(|i| i as usize))
            .find(|&i| i < backends.len() && ok(i))
    };
    let Some(a) = draw(rng) else {
        return scan(backends.len(), rng, ok);
    };
    let Some(b) = draw(rng) else { return Some(a) };
    let load = |i: usize| {
        let w = plan.effective.get(i).copied().unwrap_or(0.0).max(1e-9);
        backends[i].inflight() as f64 / w
    };
    Some(if load(b) < load(a) { b } else { a })
}

/// Fallback: any acceptable backend, starting at a random offset.
fn scan(n: usize, rng: &mut fastrand::Rng, ok: impl Fn(usize) -> bool) -> Option<usize> {
    if n == 0 {
        return None;
    }
    let start = rng.usize(..n);
    (0..n).map(|k| (start + k) % n).find(|&i| ok(i))
}

#[cfg(test)]
mod tests {
    use super::super::Pool;
    use super::*;
    use crate::config::Spill;
    use crate::testkit::{self, MS};
    use std::time::Duration;

    fn pool(weights: &[u32]) -> Pool {
        testkit::pool("p", 0, Spill::Gradual, weights, Duration::from_secs(10))
    }

    fn counts(p: &Pool, n: usize, seed: u64, now: u64) -> Vec<usize> {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut c = vec![0; p.backends.len()];
        for _ in 0..n {
            let plan = p.plan();
            c[pick(&p.backends, &plan, &[], &mut rng, now).unwrap()] += 1;
        }
        c
    }

    #[test]
    fn idle_equal_backends_split_by_weight() {
        let p = pool(&[3, 1]);
        let c = counts(&p, 40_000, 1, 2);
        let share = c[0] as f64 / 40_000.0;
        assert!((share - 0.75).abs() < 0.01, "{share}");
    }

    #[test]
    fn a_loaded_backend_loses_the_comparison() {
        let p = pool(&[1, 1]);
        let guards: Vec<_> = (0..10).map(|_| p.backends[0].start()).collect();
        let c = counts(&p, 10_000, 5, 2);
        assert!(c[1] > 6_500, "{c:?}");
        drop(guards);
    }

    #[test]
    fn a_slow_backend_gets_less_after_a_replan() {
        let p = pool(&[1, 1]);
        for i in 0..200 {
            p.backends[0].record_response(5 * MS, i * 10 * MS);
            p.backends[1].record_response(100 * MS, i * 10 * MS);
        }
        p.replan(2_000 * MS, None);
        let c = counts(&p, 10_000, 9, 2_000 * MS);
        assert!(c[1] < 1_500, "20x slower backend got {c:?}");
    }

    #[test]
    fn skips_ejected_and_tried_backends_and_returns_none_when_all_gone() {
        let p = pool(&[1, 1, 1]);
        let now = 5;
        p.backends[0].record_failure(crate::pool::PassiveFailure::Connect, false, now);
        let plan = p.plan(); // stale plan still lists backend 0
        let mut rng = fastrand::Rng::with_seed(11);
        for _ in 0..1000 {
            let i = pick(&p.backends, &plan, &[p.backends[1].clone()], &mut rng, now).unwrap();
            assert_eq!(i, 2);
        }
        let all = [p.backends[1].clone(), p.backends[2].clone()];
        assert_eq!(pick(&p.backends, &plan, &all, &mut rng, now), None);
    }

    #[test]
    fn weight_zero_backends_get_nothing_and_ramping_ones_get_little() {
        let p = pool(&[1, 0, 1]);
        // Backend 2 ejected at t=0 comes back at 2 s, ramping over 10 s.
        p.backends[2].record_failure(crate::pool::PassiveFailure::Connect, false, 0);
        let now = 2_000 * MS + 100 * MS;
        p.replan(now, None);
        let c = counts(&p, 20_000, 13, now);
        assert_eq!(c[1], 0);
        let share = c[2] as f64 / 20_000.0;
        assert!(share > 0.05 && share < 0.2, "ramping share {share}");
    }

    #[test]
    fn property_never_picks_an_unavailable_tried_or_removed_backend() {
        let mut rng = fastrand::Rng::with_seed(2026);
        for case in 0..2_000 {
            let n = rng.usize(1..12);
            let weights: Vec<u32> = (0..n).map(|_| rng.u32(0..4)).collect();
            let p = pool(&weights);
            let now = 10_000 * MS;
            // Random health: some ejected, some drained; a stale plan from before.
            let plan = p.plan();
            for b in &p.backends {
                match rng.u8(0..4) {
                    0 => {
                        b.record_failure(crate::pool::PassiveFailure::Connect, false, now);
                    }
                    1 => b.set_drained(true),
                    _ => {}
                }
            }
            let tried: Vec<_> = p.backends.iter().filter(|_| rng.bool()).cloned().collect();
            // "Removed": a reload dropped the last backend; a stale plan still lists it.
            let live = &p.backends[..n - rng.usize(0..=1.min(n - 1))];
            for _ in 0..20 {
                match pick(live, &plan, &tried, &mut rng, now) {
                    Some(i) => {
                        assert!(i < live.len(), "case {case}: picked a removed backend");
                        let b = &live[i];
                        assert!(
                            b.is_available(now),
                            "case {case}: picked an unavailable backend"
                        );
                        assert!(
                            !tried.iter().any(|t| Arc::ptr_eq(t, b)),
                            "case {case}: picked a tried backend"
                        );
                    }
                    None => assert!(
                        live.iter().all(
                            |b| !b.is_available(now) || tried.iter().any(|t| Arc::ptr_eq(t, b))
                        ),
                        "case {case}: nothing picked though a backend was free"
                    ),
                }
            }
        }
    }
}
