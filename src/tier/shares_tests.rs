//! Unit tests of the tier planner's shares (seeded RNG, hand-driven clock).

use super::*;
use crate::latency::LatencyWindow;
use crate::pool::PassiveFailure;
use crate::testkit::{self, MS};
use std::time::Duration;

fn pool(name: &str, tier: u32, spill: Spill, n: usize) -> Arc<Pool> {
    Arc::new(testkit::pool(
        name,
        tier,
        spill,
        &vec![1; n],
        Duration::ZERO,
    ))
}

/// The usual pair: a gradual primary of two backends and a gradual standby of one.
fn primary_and_standby() -> [Arc<Pool>; 2] {
    [
        pool("primary", 0, Spill::Gradual, 2),
        pool("standby", 1, Spill::Gradual, 1),
    ]
}

fn eject(p: &Pool, i: usize, now: u64) {
    p.backends[i].record_failure(PassiveFailure::Connect, false, now);
    p.replan(now, None);
}

fn shares(plan: &TierPlan) -> Vec<f64> {
    plan.tiers
        .iter()
        .map(|t| (t.share * 1000.0).round() / 1000.0)
        .collect()
}

#[test]
fn a_healthy_primary_keeps_everything() {
    let pools = primary_and_standby();
    let plan = plan_tiers(&pools, Load::default());
    assert_eq!(shares(&plan), vec![1.0, 0.0]);
    assert_eq!(plan.tiers[0].state, TierState::Up);
    let mut rng = fastrand::Rng::with_seed(1);
    assert!((0..1000).all(|_| plan.draw(&mut rng) == Some(0)));
}

#[test]
fn a_half_failed_primary_spills_part_gradually() {
    let pools = primary_and_standby();
    eject(&pools[0], 0, 10);
    let plan = plan_tiers(&pools, Load::default());
    assert_eq!(shares(&plan), vec![0.7, 0.3]);
    assert_eq!(plan.tiers[0].state, TierState::Degraded);
    let mut rng = fastrand::Rng::with_seed(2);
    let to_standby = (0..20_000)
        .filter(|_| plan.draw(&mut rng) == Some(1))
        .count();
    assert!(
        (to_standby as f64 / 20_000.0 - 0.3).abs() < 0.02,
        "{to_standby}"
    );
}

#[test]
fn a_dead_primary_moves_everything_and_a_dead_standby_stops_serving() {
    let pools = primary_and_standby();
    eject(&pools[0], 0, 10);
    eject(&pools[0], 1, 10);
    let plan = plan_tiers(&pools, Load::default());
    assert_eq!(shares(&plan), vec![0.0, 1.0]);
    assert_eq!(plan.tiers[0].state, TierState::Down);
    assert!(plan.serving());
    eject(&pools[1], 0, 10);
    let plan = plan_tiers(&pools, Load::default());
    assert!(!plan.serving());
    assert_eq!(plan.draw(&mut fastrand::Rng::with_seed(3)), None);
}

#[test]
fn failover_only_takes_nothing_until_every_lower_tier_is_down() {
    let pools = [
        pool("primary", 0, Spill::Gradual, 2),
        pool("standby", 1, Spill::FailoverOnly, 1),
    ];
    eject(&pools[0], 0, 10);
    assert_eq!(
        shares(&plan_tiers(&pools, Load::default())),
        vec![1.0, 0.0],
        "partial failure: normalised onto the primary"
    );
    eject(&pools[0], 1, 10);
    assert_eq!(shares(&plan_tiers(&pools, Load::default())), vec![0.0, 1.0]);
}

#[test]
fn a_badly_slowed_primary_spills_part_of_its_traffic() {
    let pools = primary_and_standby();
    let feed = |ms: u64, now: u64| {
        let w = LatencyWindow::default();
        (0..50).for_each(|_| w.record(ms * MS));
        pools[0].replan(now, Some(&w.drain()));
    };
    let mut now = 0;
    for _ in 0..20 {
        now += 100 * MS;
        feed(10, now);
    }
    assert_eq!(shares(&plan_tiers(&pools, Load::default())), vec![1.0, 0.0]);
    for _ in 0..crate::pool::SLOW_WINDOWS {
        now += 100 * MS;
        feed(200, now); // 20x its baseline: (2 x 10 + 10) / 200 is under the floor
    }
    let plan = plan_tiers(&pools, Load::default());
    // At the latency floor (a quarter of its speed) it keeps a quarter: overprovisioning
    // makes up for lost backends, not for slowness.
    assert_eq!(shares(&plan), vec![0.25, 0.75]);
    assert_eq!(plan.tiers[0].state, TierState::Degraded);
}

#[test]
fn three_tiers_cascade() {
    let pools = [
        pool("a", 0, Spill::Gradual, 4),
        pool("b", 1, Spill::Gradual, 2),
        pool("c", 2, Spill::Gradual, 1),
    ];
    for i in 0..3 {
        eject(&pools[0], i, 10); // a at 25 %: takes 0.35
    }
    eject(&pools[1], 0, 10); // b at 50 %: takes 0.7 of what reaches it
    let plan = plan_tiers(&pools, Load::default());
    assert_eq!(shares(&plan), vec![0.35, 0.65, 0.0]);
}

/// Feeds pool `p` one window of 50 samples at `ms`, ending a planning tick at `now`.
fn feed(p: &Pool, ms: u64, now: u64) {
    let w = LatencyWindow::default();
    (0..50).for_each(|_| w.record(ms * MS));
    p.replan(now, Some(&w.drain()));
}

/// A primary of two that ran at 5 ms, then `slow_ms` for a while; a standby measured at
/// `standby_ms` (`None`: never measured).
fn slowed(slow_ms: u64, standby_ms: Option<u64>) -> [Arc<Pool>; 2] {
    let pools = primary_and_standby();
    let mut now = 0;
    for _ in 0..20 {
        now += 100 * MS;
        feed(&pools[0], 5, now);
    }
    for _ in 0..10 {
        now += 100 * MS;
        feed(&pools[0], slow_ms, now);
        if let Some(ms) = standby_ms {
            feed(&pools[1], ms, now);
        }
    }
    pools
}

#[test]
fn a_slow_primary_gives_a_faster_standby_traffic_in_proportion_to_the_difference() {
    // 500 ms against a standby measured at 60 ms: the primary keeps 60/500.
    let plan = plan_tiers(&slowed(500, Some(60)), Load::default());
    let primary = plan.tiers[0].share;
    assert!(
        (primary - 60.0 / 500.0).abs() < 0.02,
        "primary keeps {primary}"
    );
    let versus = plan.tiers[0].why.versus_faster_tier.unwrap();
    assert!((versus - 0.12).abs() < 0.02, "{versus}");
    // Never measured, the standby is no reference: the own-baseline floor alone.
    let plan = plan_tiers(&slowed(500, None), Load::default());
    assert_eq!(shares(&plan), vec![0.25, 0.75]);
    assert_eq!(plan.tiers[0].why.versus_faster_tier, None);
}

#[test]
fn a_primary_normal_by_its_own_baseline_is_never_compared() {
    // Both at their normal; the standby looks faster (it only sees light mirrored reads).
    let plan = plan_tiers(&slowed(5, Some(1)), Load::default());
    assert_eq!(shares(&plan), vec![1.0, 0.0]);
    assert_eq!(plan.tiers[0].why.versus_faster_tier, None);
    assert_eq!(plan.tiers[0].why.latency_factor, 1.0);
}

#[test]
fn a_flapping_primary_does_not_move_the_split() {
    let pools = primary_and_standby();
    let mut now = 0;
    for i in 0..200 {
        now += 100 * MS;
        feed(&pools[0], if i > 20 && i % 2 == 0 { 500 } else { 5 }, now);
        feed(&pools[1], 60, now);
        assert_eq!(
            shares(&plan_tiers(&pools, Load::default())),
            vec![1.0, 0.0],
            "window {i}"
        );
    }
}

#[test]
fn a_weak_standby_is_capped_at_its_capacity_and_a_half_primary_takes_the_rest() {
    let pools = primary_and_standby();
    eject(&pools[0], 0, 10);
    assert_eq!(shares(&plan_tiers(&pools, Load::default())), vec![0.7, 0.3]);
    let load = Load {
        offered_rps: 450.0,
        standby_capacity_rps: Some(100.0),
    };
    let plan = plan_tiers(&pools, load);
    let cap = 100.0 / 450.0;
    assert!(
        (plan.tiers[1].share - cap).abs() < 1e-9,
        "{:?}",
        shares(&plan)
    );
    assert!((plan.tiers[0].share - (1.0 - cap)).abs() < 1e-9);
    assert_eq!(plan.tiers[1].why.capacity_cap, Some(cap));
    // More load: the standby receives no more, in requests per second.
    let plan = plan_tiers(
        &pools,
        Load {
            offered_rps: 900.0,
            ..load
        },
    );
    assert!((plan.tiers[1].share * 900.0 - 100.0).abs() < 1e-6);
    // Under its cap, nothing changes.
    let plan = plan_tiers(
        &pools,
        Load {
            offered_rps: 200.0,
            ..load
        },
    );
    assert_eq!(shares(&plan), vec![0.7, 0.3]);
}

#[test]
fn a_capped_standby_that_is_all_there_is_still_takes_everything() {
    let pools = primary_and_standby();
    eject(&pools[0], 0, 10);
    eject(&pools[0], 1, 10);
    let load = Load {
        offered_rps: 450.0,
        standby_capacity_rps: Some(100.0),
    };
    assert_eq!(shares(&plan_tiers(&pools, load)), vec![0.0, 1.0]);
}

#[test]
fn a_tier_that_refuses_much_of_its_traffic_is_degraded() {
    let pools = primary_and_standby();
    let conf = crate::admission::limit::LimiterConf::from(&crate::config::AdmissionConf::default());
    assert_eq!(
        plan_tiers(&pools, Load::default()).tiers[1].state,
        TierState::Up
    );
    let mut now = 0;
    for _ in 0..10 {
        (0..30).for_each(|_| pools[1].gate.count(crate::config::Priority::Normal, true));
        (0..70).for_each(|_| pools[1].gate.count(crate::config::Priority::Normal, false));
        pools[1].gate.tick(&Default::default(), &conf);
        now += 100 * MS;
        pools[1].replan(now, None);
    }
    let plan = plan_tiers(&pools, Load::default());
    assert_eq!(plan.tiers[1].state, TierState::Degraded);
    assert_eq!(plan.tiers[0].state, TierState::Up);
}
