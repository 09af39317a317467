//! The limiter's hints against the simulated server: a seed from the standby's measured
//! capacity (right, 2× too high, 2× too low, with a stale baseline), none at all, and a fleet
//! of replicas sharing one small standby.

use super::*;
use crate::admission::sim::{Sim, MS};

/// The drill's standby: 2 workers × 20 ms, measured right: 2 in flight at 20 ms.
const RIGHT: Seed = Seed {
    limit: 2.0,
    baseline_ns: 20.0 * MS as f64,
};

/// Idle for 2 s (the seed is applied), then 300 req/s (3× capacity) for 2 s: the first two
/// seconds of a failover. Returns the sim for the steady phase.
fn failover(workers: usize, replicas: usize, seed: Option<Seed>) -> Sim {
    let mut s = Sim::fleet(workers, 20, replicas);
    s.seed(seed);
    s.run(2_000, 0.0);
    s.reset_counts();
    s.run(2_000, 300.0);
    s
}

/// The standby's service time: the "unloaded latency" the goals are multiples of.
const SERVICE: u64 = 20;

/// Runs 20 s more at 300 req/s and checks the steady state: busy, and admitted p99 within
/// `times` the service time.
fn steady(s: &mut Sim, what: &str, times: f64) {
    s.reset_counts();
    s.run(20_000, 300.0);
    assert!(
        s.goodput(20.0) >= 90.0,
        "{what}: goodput {}",
        s.goodput(20.0)
    );
    let bound = (times * SERVICE as f64) as u64;
    assert!(
        s.p(0.99) <= bound,
        "{what}: admitted p99 {} ms > {bound}",
        s.p(0.99)
    );
}

/// The first two seconds: nothing admitted waits past 5× the service time, and the standby
/// is kept busy.
fn first_seconds(s: &Sim, what: &str) {
    assert!(
        s.p(1.0) <= 5 * SERVICE,
        "{what}: first 2 s max {} ms",
        s.p(1.0)
    );
    assert!(
        s.goodput(2.0) >= 85.0,
        "{what}: first 2 s goodput {}",
        s.goodput(2.0)
    );
}

#[test]
fn an_idle_seeded_pool_sits_at_the_measured_concurrency_and_baseline() {
    let mut s = Sim::new(2, 20);
    s.seed(Some(RIGHT));
    s.run(1_000, 0.0);
    assert_eq!(
        s.ctrl().limit,
        2.0,
        "seeded, and below min_limit 4: the seed is evidence"
    );
    assert_eq!(s.ctrl().baseline_ns, Some(20.0 * MS as f64));
    assert!(s.ctrl().held(), "no 2L allowance before traffic proves it");
    let mut f = Sim::fleet(2, 20, 3);
    f.seed(Some(RIGHT));
    f.run(1_000, 0.0);
    assert_eq!(
        f.ctrl().limit,
        1.0,
        "a third of 2, but never below one request"
    );
}

/// Seeds measured right, 2× too high, 2× too low, and with a stale baseline (measured when
/// the standby was twice as fast).
fn seeds() -> [(&'static str, Seed); 4] {
    [
        ("right", RIGHT),
        (
            "2x too high",
            Seed {
                limit: 4.0,
                ..RIGHT
            },
        ),
        (
            "2x too low",
            Seed {
                limit: 1.0,
                ..RIGHT
            },
        ),
        (
            "stale baseline",
            Seed {
                baseline_ns: 10.0 * MS as f64,
                ..RIGHT
            },
        ),
    ]
}

#[test]
fn a_seeded_failover_is_fast_from_the_first_second_even_when_the_seed_is_wrong() {
    for (what, seed) in seeds() {
        let mut s = failover(2, 1, Some(seed));
        first_seconds(&s, what);
        steady(&mut s, what, 3.0);
    }
}

#[test]
fn three_seeded_replicas_together_hold_about_what_one_would() {
    for (what, seed) in seeds() {
        let what = format!("{what}, 3 replicas");
        let mut s = failover(2, 3, Some(seed));
        first_seconds(&s, &what);
        // Each replica keeps at least one request in flight: 3 on 2 workers at the floor.
        steady(&mut s, &what, 3.5);
        assert!(
            s.max_in_server <= 5,
            "{what}: {} in the 2-worker server",
            s.max_in_server
        );
    }
}

#[test]
fn without_an_estimate_the_generic_cold_start_still_holds() {
    for n in [1, 3] {
        let mut s = failover(2, n, None);
        assert!(
            s.p(1.0) < 1_000,
            "{n}: cold start flooded the standby: {} ms",
            s.p(1.0)
        );
        if n == 1 {
            // The floor is `min_limit` (4, twice the workers): one request queued per worker.
            steady(&mut s, "no estimate", 4.0);
        }
    }
}

#[test]
fn a_shedding_pool_in_the_band_drifts_down_and_others_hold() {
    // Baseline 20 ms; p50 30 ms is above the room to grow (24.5 ms), below congestion (35 ms).
    let mut g = GradientLimit::new(&crate::admission::sim::conf());
    let window = |ms: u64, peak: u32| {
        let w = crate::latency::LatencyWindow::default();
        (0..20).for_each(|_| w.record(20 * MS));
        (0..30).for_each(|_| w.record(ms * MS));
        WindowStats {
            latency: w.drain(),
            drops: 0,
            peak_inflight: peak,
        }
    };
    let conf = crate::admission::sim::conf();
    g.update(&window(20, 20), &conf); // baseline 20 ms, clean
    g.update(&window(60, 100), &conf); // congested once: out of slow start
    let start = g.limit;
    for _ in 0..10 {
        g.update(&window(30, 100), &conf);
    }
    assert_eq!(
        g.limit, start,
        "busy in the band but refusing nothing: it holds"
    );
    g.shedding = true;
    for _ in 0..10 {
        g.update(&window(30, 100), &conf);
    }
    assert!(
        !g.congested,
        "30 ms on a 20 ms baseline is the band, not congestion"
    );
    assert!(
        g.limit < start * 0.7,
        "shedding in the band: {} from {start}",
        g.limit
    );
    let idle = g.limit;
    for _ in 0..10 {
        g.update(&window(30, 1), &conf);
    }
    assert_eq!(g.limit, idle, "app-limited: nothing to learn");
}
