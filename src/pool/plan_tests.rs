//! Unit tests of pool planning: the latency factor and its long-memory baseline (hand-driven
//! clock, synthetic windows).

use super::*;
use crate::latency::LatencyWindow;
use crate::testkit::MS;

fn window(p50_ms: u64, n: u64) -> Drained {
    let w = LatencyWindow::default();
    for _ in 0..n {
        w.record(p50_ms * MS);
    }
    w.drain()
}

#[test]
fn latency_factor_falls_when_far_above_baseline_and_recovers_gradually() {
    let mut t = LatencyTrack::default();
    let mut now = 0;
    for _ in 0..10 {
        now += 100 * MS;
        update_latency(&mut t, &window(10, 50), now);
    }
    assert_eq!(t.factor, 1.0);
    now += 100 * MS;
    update_latency(&mut t, &window(15, 50), now);
    assert_eq!(t.factor, 1.0, "within 2x of baseline: no spill");
    for _ in 1..SLOW_WINDOWS {
        now += 100 * MS;
        update_latency(&mut t, &window(200, 50), now);
        assert_eq!(t.factor, 1.0, "a slow window or two is a hiccup");
    }
    now += 100 * MS;
    update_latency(&mut t, &window(200, 50), now);
    assert!(
        t.factor < 0.3,
        "20x slower for three windows: falls ({})",
        t.factor
    );
    now += 100 * MS;
    update_latency(&mut t, &window(10, 50), now);
    assert!(t.factor < 0.4, "recovers gradually ({})", t.factor);
    for _ in 0..30 {
        now += 100 * MS;
        update_latency(&mut t, &window(10, 50), now);
    }
    assert_eq!(t.factor, 1.0);
}

#[test]
fn small_windows_and_clock_jumps_change_nothing_harmful() {
    let mut t = LatencyTrack::default();
    update_latency(&mut t, &window(500, 3), 100 * MS);
    assert_eq!(t.baseline_ns, None);
    assert_eq!(t.factor, 1.0);
    update_latency(&mut t, &window(10, 50), 200 * MS);
    update_latency(&mut t, &window(10, 50), 0); // clock went back
    update_latency(&mut t, &window(10, 50), u64::MAX);
    assert!(t.factor.is_finite() && t.baseline_ns.unwrap().is_finite());
}

#[test]
fn quiet_windows_are_pooled_until_they_say_something() {
    let mut t = LatencyTrack::default();
    let mut now = 0;
    for _ in 0..20 {
        now += 100 * MS;
        update_latency(&mut t, &window(10, 50), now);
    }
    // A slow pool under light load: 2 samples per window, 16 make one evaluation.
    for _ in 0..8 * SLOW_WINDOWS {
        now += 100 * MS;
        update_latency(&mut t, &window(200, 2), now);
    }
    assert!(
        t.factor < 0.3,
        "pooled samples show the slowdown ({})",
        t.factor
    );
    // Trickles that never add up within 5 s are forgotten.
    let mut u = LatencyTrack::default();
    for i in 0..200 {
        update_latency(
            &mut u,
            &window(10, if i % 60 == 0 { 1 } else { 0 }),
            i * 100 * MS,
        );
    }
    assert_eq!(u.baseline_ns, None);
}

#[test]
fn baseline_follows_a_sustained_rise_only_slowly() {
    let mut t = LatencyTrack::default();
    update_latency(&mut t, &window(10, 50), 100 * MS);
    let mut now = 100 * MS;
    for _ in 0..600 {
        now += 100 * MS; // one minute of 40 ms windows
        update_latency(&mut t, &window(40, 50), now);
    }
    let base = t.baseline_ns.unwrap() / MS as f64;
    assert!(base < 25.0, "baseline rose to {base} ms within a minute");
}

const SECOND: u64 = 1_000 * MS;

/// Feeds `windows` windows of `p50_ms`, one every `every` ns, from `now`; returns the new now.
fn hold(t: &mut LatencyTrack, p50_ms: u64, windows: u64, every: u64, mut now: u64) -> u64 {
    for _ in 0..windows {
        now += every;
        update_latency(t, &window(p50_ms, 50), now);
    }
    now
}

#[test]
fn a_hundredfold_slowdown_held_for_six_hours_keeps_the_spill() {
    let mut t = LatencyTrack::default();
    let now = hold(&mut t, 5, 100, 100 * MS, 0);
    assert_eq!(t.factor, 1.0);
    // 500 ms instead of 5 ms, one evaluated window every 10 s for six hours.
    let mut now = now;
    for hour in 1..=6 {
        now = hold(&mut t, 500, 360, 10 * SECOND, now);
        assert_eq!(
            t.factor, LATENCY_FLOOR,
            "hour {hour}: the primary won its traffic back"
        );
    }
    let base = t.baseline_ns.unwrap() / MS as f64;
    let bound = 5.0 * BASELINE_RISE_PER_HOUR.powi(6);
    assert!(
        base <= bound * 1.01,
        "baseline {base} ms after six hours (bound {bound})"
    );
}

#[test]
fn a_release_twenty_percent_slower_becomes_normal_within_the_hour() {
    let mut t = LatencyTrack::default();
    // 46 → 55 ms (the window histogram reads them as 46.1 and 54.5 ms: 18 % slower).
    let now = hold(&mut t, 46, 100, 100 * MS, 0);
    let now = hold(&mut t, 55, 6 * 60, 10 * SECOND, now); // one hour
                                                          // (Window percentiles are bucket midpoints: compare with what the window said.)
    assert_eq!(t.baseline_ns, t.last_p50_ns, "not learned in an hour");
    assert_eq!(t.factor, 1.0, "within tolerance all along");
    // A few minutes are not enough: the baseline is still on its way.
    let mut u = LatencyTrack::default();
    let now = hold(&mut u, 46, 100, 100 * MS, now);
    hold(&mut u, 55, 20, 10 * SECOND, now);
    let (half, p50) = (u.baseline_ns.unwrap(), u.last_p50_ns.unwrap());
    assert!(
        half < p50,
        "after 200 s the baseline is still below: {half} vs {p50}"
    );
    assert!(
        half > window(46, 50).quantile(0.5).unwrap(),
        "and on its way up"
    );
}

#[test]
fn an_accepted_slowdown_is_the_new_normal_at_once() {
    let mut t = LatencyTrack::default();
    let now = hold(&mut t, 5, 100, 100 * MS, 0);
    let now = hold(&mut t, 200, 10, 100 * MS, now);
    assert_eq!(t.factor, LATENCY_FLOOR);
    t.accept();
    let now = hold(&mut t, 200, 1, 100 * MS, now);
    assert_eq!(t.baseline_ns, t.last_p50_ns);
    hold(&mut t, 200, 30, 100 * MS, now);
    assert_eq!(t.factor, 1.0, "recovered over the usual ramp");
}

#[test]
fn a_slow_pool_on_a_trickle_of_traffic_still_shows_it_is_fast_again() {
    let mut t = LatencyTrack::default();
    let now = hold(&mut t, 1, 100, 100 * MS, 0);
    let mut now = hold(&mut t, 500, 10, 100 * MS, now);
    assert_eq!(t.factor, LATENCY_FLOOR);
    // The planner moved its traffic away: one fast answer every 800 ms (never 16 in 5 s).
    let mut back_after = None;
    for tick in 1..=100 {
        now += 100 * MS;
        update_latency(&mut t, &window(1, (tick % 8 == 0) as u64), now);
        if t.factor == 1.0 {
            back_after = Some(tick);
            break;
        }
    }
    let ticks = back_after.expect("never recovered");
    assert!(ticks <= 60, "recovered after {ticks} ticks");
    // A trickle of slow answers proves nothing: it does not lift a slow factor.
    let mut u = LatencyTrack::default();
    let now = hold(&mut u, 1, 100, 100 * MS, 0);
    let mut now = hold(&mut u, 500, 10, 100 * MS, now);
    for tick in 1..=100 {
        now += 100 * MS;
        update_latency(&mut u, &window(500, (tick % 8 == 0) as u64), now);
    }
    assert_eq!(u.factor, LATENCY_FLOOR);
}
