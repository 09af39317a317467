//! Unit tests of placement: every rule, with a seeded RNG and a hand-driven clock.

use super::*;
use crate::pool::PassiveFailure;
use crate::testkit::{snapshot, MS};
use crate::tier::Load;

/// A primary of two backends, a standby (`spill` given) of one, and two routes: `orders`
/// (normal) and `exports` (switched off on the standby).
fn two_tiers(standby_spill: &str) -> Snapshot {
    snapshot(&format!(
        r#"
[[pool]]
name = "primary"
tier = 0
backends = [{{ addr = "127.0.0.1:1001" }}, {{ addr = "127.0.0.1:1002" }}]
[[pool]]
name = "standby"
tier = 1
spill = "{standby_spill}"
backends = [{{ addr = "127.0.1.1:1001" }}]
[[route]]
name = "orders"
path_prefix = "/"
[[route]]
name = "exports"
path_prefix = "/exports"
priority = "bulk"
on_standby = "refuse"
"#
    ))
}

const PRIMARY: usize = 0;
const STANDBY: usize = 1;

fn route<'a>(snap: &'a Snapshot, name: &str) -> &'a RouteConf {
    snap.config.routes.iter().find(|r| r.name == name).unwrap()
}

/// Ejects every backend of `pool` at `now` (a connect failure each) and re-plans.
fn kill(snap: &Snapshot, pool: usize, now: u64) {
    for b in &snap.pools[pool].backends {
        b.record_failure(PassiveFailure::Connect, false, now);
    }
    snap.replan(now, false, 0.0, Load::default(), None);
}

fn pools(spill: Vec<(usize, Arc<Gate>)>) -> Vec<usize> {
    spill.into_iter().map(|(i, _)| i).collect()
}

#[test]
fn the_draw_follows_the_tier_plan() {
    let snap = two_tiers("gradual");
    let mut rng = fastrand::Rng::with_seed(7);
    let p = Placement::new(&snap);
    assert!((0..1000).all(|_| p.draw(&mut rng) == Ok(PRIMARY)));
    kill(&snap, PRIMARY, 10 * MS);
    let p = Placement::new(&snap);
    assert!((0..1000).all(|_| p.draw(&mut rng) == Ok(STANDBY)));
    kill(&snap, STANDBY, 20 * MS);
    assert_eq!(
        Placement::new(&snap).draw(&mut rng),
        Err(Reason::NoTierCanServe)
    );
}

#[test]
fn the_primary_and_standby_tiers_are_named_by_the_plan() {
    let snap = two_tiers("gradual");
    let p = Placement::new(&snap);
    assert_eq!(p.plan().primary(), Some(0));
    assert_eq!(p.plan().standby(), Some(1));
    assert!(p.plan().eligible(PRIMARY));
    // A healthy gradual standby is a member even while its share is 0: it takes spill.
    assert!(p.plan().eligible(STANDBY));
    let snap = two_tiers("failover_only");
    let p = Placement::new(&snap);
    assert!(
        !p.plan().eligible(STANDBY),
        "failover_only while the primary lives"
    );
    kill(&snap, PRIMARY, MS);
    assert!(Placement::new(&snap).plan().eligible(STANDBY));
}

#[test]
fn a_full_primary_spills_to_a_gradual_standby_only() {
    let snap = two_tiers("gradual");
    // The standby has no share of the draw, but a full primary's excess spills to it.
    let p = Placement::new(&snap);
    assert_eq!(p.plan().tiers[1].share, 0.0);
    assert_eq!(pools(p.spill(PRIMARY, false)), [STANDBY]);
    assert_eq!(
        pools(p.spill(STANDBY, false)),
        [PRIMARY],
        "a full standby sends the request back to a primary with room"
    );
    // A dead standby takes nothing.
    kill(&snap, STANDBY, MS);
    assert!(pools(Placement::new(&snap).spill(PRIMARY, false)).is_empty());

    let snap = two_tiers("failover_only");
    snap.pools[PRIMARY].backends[0].record_failure(PassiveFailure::Connect, false, MS);
    snap.replan(MS, false, 0.0, Load::default(), None);
    assert!(
        pools(Placement::new(&snap).spill(PRIMARY, false)).is_empty(),
        "a failover_only standby takes no spill while the primary lives"
    );
}

#[test]
fn during_a_drill_a_full_standby_sends_the_request_back_to_the_primary() {
    let snap = two_tiers("gradual");
    snap.replan(MS, false, 0.3, Load::default(), None);
    let p = Placement::new(&snap);
    assert_eq!(pools(p.spill(STANDBY, true)), [PRIMARY]);
    // Admitted by the primary after the standby was drawn: a drill fallback.
    let r = route(&snap, "orders");
    let settled = p.settle(r, STANDBY, PRIMARY, true).unwrap();
    assert!(settled.drill_fallback && settled.on_primary);
    let settled = p.settle(r, STANDBY, PRIMARY, false).unwrap();
    assert!(!settled.drill_fallback);
    let settled = p.settle(r, STANDBY, STANDBY, true).unwrap();
    assert!(!settled.drill_fallback && !settled.on_primary);
}

#[test]
fn a_route_off_on_the_standby_is_refused_there_and_served_on_the_primary() {
    let snap = two_tiers("gradual");
    let p = Placement::new(&snap);
    let exports = route(&snap, "exports");
    assert_eq!(
        p.settle(exports, PRIMARY, STANDBY, false),
        Err(Reason::OffOnStandby)
    );
    assert_eq!(
        p.settle(exports, PRIMARY, PRIMARY, false),
        Ok(Settled {
            on_primary: true,
            drill_fallback: false
        })
    );
    let orders = route(&snap, "orders");
    assert!(p.settle(orders, PRIMARY, STANDBY, false).is_ok());
}

#[test]
fn attempts_try_the_current_pool_then_gradual_pools_by_tier() {
    let snap = two_tiers("gradual");
    let p = Placement::new(&snap);
    let orders = route(&snap, "orders");
    assert_eq!(
        p.attempts(PRIMARY, orders, MS).collect::<Vec<_>>(),
        [PRIMARY, STANDBY]
    );
    assert_eq!(
        p.attempts(STANDBY, orders, MS).collect::<Vec<_>>(),
        [STANDBY, PRIMARY]
    );
    // A route switched off on the standby never leaves the primary on a retry.
    let exports = route(&snap, "exports");
    assert_eq!(
        p.attempts(PRIMARY, exports, MS).collect::<Vec<_>>(),
        [PRIMARY]
    );
}

#[test]
fn a_failover_only_pool_is_a_candidate_once_every_lower_backend_is_gone_live() {
    let snap = two_tiers("failover_only");
    let orders = route(&snap, "orders");
    let now = 5 * MS;
    assert_eq!(
        Placement::new(&snap)
            .attempts(PRIMARY, orders, now)
            .collect::<Vec<_>>(),
        [PRIMARY]
    );
    // Ejected, not yet re-planned: the retry order already sees it (live state).
    for b in &snap.pools[PRIMARY].backends {
        b.record_failure(PassiveFailure::Connect, false, now);
    }
    let p = Placement::new(&snap);
    assert!(p.plan().eligible(PRIMARY), "the plan has not caught up");
    assert_eq!(
        p.attempts(PRIMARY, orders, now).collect::<Vec<_>>(),
        [PRIMARY, STANDBY]
    );
}

#[test]
fn an_alternative_is_an_untried_available_backend_of_a_candidate() {
    let snap = two_tiers("failover_only");
    let p = Placement::new(&snap);
    let now = 5 * MS;
    let primary = &snap.pools[PRIMARY].backends;
    assert!(p.has_alternative(PRIMARY, &[primary[0].clone()], now));
    assert!(
        !p.has_alternative(PRIMARY, &[primary[0].clone(), primary[1].clone()], now),
        "the failover_only standby is no alternative while the primary lives"
    );
    primary[1].record_failure(PassiveFailure::Connect, false, now);
    assert!(
        !p.has_alternative(PRIMARY, &[primary[0].clone()], now),
        "tried is not gone: the primary still lives"
    );
    primary[0].record_failure(PassiveFailure::Connect, false, now);
    assert!(
        p.has_alternative(PRIMARY, &[primary[0].clone()], now),
        "the primary is gone: the standby is"
    );
}

#[test]
fn exhaustion_says_off_on_standby_only_when_the_standby_could_have_served() {
    let snap = two_tiers("gradual");
    let now = 5 * MS;
    let exports = route(&snap, "exports");
    let orders = route(&snap, "orders");
    let p = Placement::new(&snap);
    assert_eq!(p.exhausted(PRIMARY, exports, 1, now), Reason::OffOnStandby);
    assert_eq!(p.exhausted(PRIMARY, orders, 1, now), Reason::NoTierCanServe);
    for b in &snap.pools[STANDBY].backends {
        b.record_failure(PassiveFailure::Connect, false, now);
    }
    assert_eq!(
        p.exhausted(PRIMARY, exports, 1, now),
        Reason::NoTierCanServe,
        "nothing could serve it at all"
    );
    assert_eq!(
        p.exhausted(PRIMARY, exports, 2, now),
        Reason::OffOnStandby,
        "a retry of an off route ends as off_on_standby"
    );
}

#[test]
fn a_dead_primary_is_no_way_down_except_for_a_drill() {
    let snap = two_tiers("gradual");
    kill(&snap, PRIMARY, 2 * MS);
    let p = Placement::new(&snap);
    assert!(pools(p.spill(STANDBY, false)).is_empty());
    assert_eq!(
        pools(p.spill(STANDBY, true)),
        [PRIMARY],
        "a drill asks it anyway (its gate and backends decide)"
    );
}

#[test]
fn a_keyed_request_keeps_its_tier_and_its_hold() {
    let holds = Holds::default();
    let key = |i: u64| crate::affinity::positions(i).0.to_bits() ^ i; // any spread of keys
    let keyed = |k: u64| Keyed {
        key: k,
        holds: &holds,
        hold_ns: 1_000 * MS,
    };
    // The primary is dead: every key goes to the standby, and is held there.
    let snap = two_tiers("gradual");
    kill(&snap, PRIMARY, 10 * MS);
    let p = Placement::new(&snap).keyed(true);
    for i in 0..100 {
        assert_eq!(p.draw_keyed(keyed(key(i)), 20 * MS), Ok(STANDBY));
    }
    assert_eq!(holds.len(), 100);
    // The primary is back (a fresh plan gives it everything): held keys stay on the standby
    // within `hold`, a new key goes to the primary, and past `hold` the held ones return.
    let healthy = two_tiers("gradual");
    let p = Placement::new(&healthy).keyed(true);
    assert_eq!(p.draw_keyed(keyed(key(7)), 500 * MS), Ok(STANDBY));
    assert_eq!(p.draw_keyed(keyed(key(1_000)), 500 * MS), Ok(PRIMARY));
    assert_eq!(p.draw_keyed(keyed(key(8)), 1_100 * MS), Ok(PRIMARY));
    // Refreshed by its use at 500 ms, key 7 is held until 1 500 ms.
    assert_eq!(p.draw_keyed(keyed(key(7)), 1_400 * MS), Ok(STANDBY));
}

#[test]
fn a_keyed_request_leaves_its_tier_only_when_the_tier_cannot_serve() {
    let snap = two_tiers("gradual");
    let keyed = Placement::new(&snap).keyed(true);
    // A full primary does not spill a keyed request to the standby: it is shed on its tier.
    assert!(pools(keyed.spill(PRIMARY, false)).is_empty());
    assert_eq!(
        pools(Placement::new(&snap).spill(PRIMARY, false)),
        vec![STANDBY]
    );
    // A retry stays on the primary while it has a live backend...
    let orders = route(&snap, "orders");
    let tries: Vec<usize> = keyed.attempts(PRIMARY, orders, MS).collect();
    assert_eq!(tries, vec![PRIMARY]);
    // ...and may go to the standby once none is left.
    kill(&snap, PRIMARY, 10 * MS);
    let keyed = Placement::new(&snap).keyed(true);
    let tries: Vec<usize> = keyed.attempts(PRIMARY, orders, 20 * MS).collect();
    assert_eq!(tries, vec![PRIMARY, STANDBY]);
}
