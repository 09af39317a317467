//! The limiter's dynamics against a simulated app server ([`crate::admission::sim`]).

use super::*;
use crate::admission::sim::{conf, Sim, MS};
use crate::latency::LatencyWindow;

#[test]
fn calm_load_is_never_shed() {
    // 20 workers x 20 ms = 1000 req/s of capacity, offered 40 % of it for two minutes.
    let mut s = Sim::new(20, 20);
    s.run(120_000, 400.0);
    assert_eq!(s.rejected, [0, 0, 0], "limit {}", s.ctrl().limit);
}

#[test]
fn a_standby_at_three_times_its_capacity_stays_fast_and_busy() {
    // The drill's standby: 2 workers x 20 ms = 100 req/s; offered 300 req/s from cold.
    let mut s = Sim::new(2, 20);
    s.run(1_000, 300.0);
    assert!(
        s.p(1.0) < 1_000,
        "cold start flooded the standby: max latency {} ms",
        s.p(1.0)
    );
    s.reset_counts();
    s.run(20_000, 300.0);
    let served: u64 = s.admitted.iter().sum();
    let goodput = served as f64 / 20.0;
    assert!(goodput >= 90.0, "goodput {goodput} req/s");
    assert!(
        s.p(0.5) <= 60,
        "admitted p50 {} ms (service time 20 ms)",
        s.p(0.5)
    );
    assert!(s.p(0.99) <= 150, "admitted p99 {} ms", s.p(0.99));
    // Bulk is refused first, critical last.
    let rate = |c: usize| s.rejected[c] as f64 / (s.admitted[c] + s.rejected[c]) as f64;
    assert!(
        rate(2) > rate(1) && rate(1) >= rate(0),
        "reject rates {:?}",
        [rate(0), rate(1), rate(2)]
    );
}

#[test]
fn capacity_restored_brings_the_limit_back_and_shedding_stops() {
    let mut s = Sim::new(2, 20);
    s.run(10_000, 300.0);
    let low = s.ctrl().limit;
    s.workers = 40; // the primary is back: 2000 req/s
    s.run(5_000, 300.0);
    s.reset_counts();
    s.run(10_000, 300.0);
    assert_eq!(
        s.rejected,
        [0, 0, 0],
        "limit {} (was {low})",
        s.ctrl().limit
    );
}

#[test]
fn ten_minutes_of_overload_do_not_drift_the_baseline() {
    let mut s = Sim::new(2, 20);
    s.run(5_000, 300.0);
    let base = s.ctrl().baseline_ns.unwrap();
    s.run(600_000, 300.0);
    let after = s.ctrl().baseline_ns.unwrap();
    assert!(
        after < base * 1.2,
        "baseline drifted from {base} to {after}"
    );
}

#[test]
fn errors_shrink_the_limit_and_are_not_read_as_fast() {
    let mut g = GradientLimit::new(&conf());
    let before = g.limit;
    let fast_failures = WindowStats {
        latency: Drained::default(),
        drops: 50,
        peak_inflight: 20,
    };
    for _ in 0..5 {
        assert!(g.update(&fast_failures, &conf()));
    }
    assert!(g.limit < before * 0.7, "{} vs {before}", g.limit);
    assert!(g.congested);
    assert_eq!(g.baseline_ns, None, "failures gave no latency samples");
}

#[test]
fn empty_and_tiny_windows_change_nothing() {
    let mut g = GradientLimit::new(&conf());
    for _ in 0..1000 {
        assert!(!g.update(&WindowStats::default(), &conf()));
    }
    assert_eq!(g.limit, 20.0);
    let w = LatencyWindow::default();
    w.record(5 * MS);
    let one = WindowStats {
        latency: w.drain(),
        drops: 0,
        peak_inflight: 1,
    };
    for _ in 0..15 {
        g.update(&one, &conf());
    }
    assert_eq!(g.baseline_ns, None);
    assert!(g.update(&one, &conf()), "16 pooled samples are evaluated");
    assert!(g.baseline_ns.is_some());
}

#[test]
fn a_backend_that_really_got_slower_is_relearnt() {
    let mut s = Sim::new(4, 10);
    s.run(5_000, 300.0);
    s.service_ms = 40; // a slower release: capacity 100 req/s, baseline must follow
    s.run(30_000, 300.0);
    let base = s.ctrl().baseline_ns.unwrap() / MS as f64;
    assert!(base >= 30.0, "baseline stuck at {base} ms");
    s.reset_counts();
    s.run(10_000, 300.0);
    assert!(
        s.admitted.iter().sum::<u64>() as f64 / 10.0 >= 90.0,
        "goodput collapsed"
    );
}
