//! Unit tests of the tier planner (seeded RNG, hand-driven clock).

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
    let pools = [
        pool("primary", 0, Spill::Gradual, 2),
        pool("standby", 1, Spill::Gradual, 1),
    ];
    let plan = plan_tiers(&pools);
    assert_eq!(shares(&plan), vec![1.0, 0.0]);
    assert_eq!(plan.tiers[0].state, TierState::Up);
    let mut rng = fastrand::Rng::with_seed(1);
    assert!((0..1000).all(|_| plan.draw(&mut rng) == Some(0)));
}

#[test]
fn a_half_failed_primary_spills_part_gradually() {
    let pools = [
        pool("primary", 0, Spill::Gradual, 2),
        pool("standby", 1, Spill::Gradual, 1),
    ];
    eject(&pools[0], 0, 10);
    let plan = plan_tiers(&pools);
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
    let pools = [
        pool("primary", 0, Spill::Gradual, 2),
        pool("standby", 1, Spill::Gradual, 1),
    ];
    eject(&pools[0], 0, 10);
    eject(&pools[0], 1, 10);
    let plan = plan_tiers(&pools);
    assert_eq!(shares(&plan), vec![0.0, 1.0]);
    assert_eq!(plan.tiers[0].state, TierState::Down);
    assert!(plan.serving());
    eject(&pools[1], 0, 10);
    let plan = plan_tiers(&pools);
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
        shares(&plan_tiers(&pools)),
        vec![1.0, 0.0],
        "partial failure: normalised onto the primary"
    );
    eject(&pools[0], 1, 10);
    assert_eq!(shares(&plan_tiers(&pools)), vec![0.0, 1.0]);
}

#[test]
fn a_badly_slowed_primary_spills_part_of_its_traffic() {
    let pools = [
        pool("primary", 0, Spill::Gradual, 2),
        pool("standby", 1, Spill::Gradual, 1),
    ];
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
    assert_eq!(shares(&plan_tiers(&pools)), vec![1.0, 0.0]);
    for _ in 0..crate::pool::SLOW_WINDOWS {
        now += 100 * MS;
        feed(200, now); // 20x its baseline: (2 x 10 + 10) / 200 is under the floor
    }
    let plan = plan_tiers(&pools);
    assert_eq!(shares(&plan), vec![0.35, 0.65]);
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
    let plan = plan_tiers(&pools);
    assert_eq!(shares(&plan), vec![0.35, 0.65, 0.0]);
}
