//! Unit tests of affinity: keys from requests, the consistent tier bands, and the bounded
//! table of held keys, with a hand-driven clock.

use super::*;
use crate::testkit::{request_head, MS};
use crate::tier::{TierEntry, TierPlan, TierState, Why};

/// A plan of two tiers (one pool each: 0 and 1) with the primary's share `primary`.
fn plan(primary: f64) -> TierPlan {
    let entry = |tier: u32, share: f64, pool: usize| TierEntry {
        tier,
        share,
        state: TierState::Up,
        pools: vec![(pool, 1.0)],
        why: Why::default(),
    };
    TierPlan {
        tiers: vec![entry(0, primary, 0), entry(1, 1.0 - primary, 1)],
        primary_held: false,
    }
}

fn tier_of(plan: &TierPlan, key: u64) -> usize {
    let (u, v) = positions(key);
    plan.draw_at(u, v).unwrap()
}

fn keys(n: u64) -> Vec<u64> {
    (0..n)
        .map(|i| hash(b"k", format!("session-{i}").as_bytes()))
        .collect()
}

#[test]
fn keys_come_from_the_cookie_the_header_or_the_address() {
    let addr: IpAddr = "198.51.100.4".parse().unwrap();
    let cookie = AffinityKey::Cookie("SESSIONID".into());
    let with = request_head(&[("Cookie", "a=1; SESSIONID=abc; b=2")]);
    let split = request_head(&[("Cookie", "a=1"), ("Cookie", "SESSIONID=abc")]);
    let k = key_of(&with, &cookie, Some(addr)).unwrap();
    assert_eq!(
        key_of(&split, &cookie, None),
        Some(k),
        "a second Cookie line counts"
    );
    let other = request_head(&[("Cookie", "SESSIONID=abd")]);
    assert_ne!(key_of(&other, &cookie, Some(addr)), Some(k));
    // Without the cookie (or with it empty): the client address; without either: none.
    let bare = request_head(&[("Cookie", "SESSIONID=; x=1")]);
    let by_addr = key_of(&bare, &AffinityKey::Addr, Some(addr));
    assert_eq!(key_of(&bare, &cookie, Some(addr)), by_addr);
    assert_eq!(key_of(&bare, &cookie, None), None);
    let tenant = AffinityKey::Header("x-tenant-id".into());
    let t = request_head(&[("X-Tenant-Id", "acme")]);
    assert!(key_of(&t, &tenant, None).is_some());
    // A 10 KB cookie value is just a longer key.
    let big = format!("SESSIONID={}", "z".repeat(10 << 10));
    assert!(key_of(&request_head(&[("Cookie", &big)]), &cookie, None).is_some());
}

#[test]
fn tiers_get_their_shares_of_keys_and_a_share_move_moves_only_its_band() {
    let keys = keys(10_000);
    let at70 = plan(0.7);
    let on_primary = keys.iter().filter(|&&k| tier_of(&at70, k) == 0).count();
    assert!((on_primary as f64 / 1e4 - 0.7).abs() < 0.01, "{on_primary}");
    let at60 = plan(0.6);
    let moved: Vec<u64> = keys
        .iter()
        .copied()
        .filter(|&k| tier_of(&at70, k) != tier_of(&at60, k))
        .collect();
    // Exactly the keys of the moved band [0.6, 0.7), all from the primary to the standby.
    assert!(
        (moved.len() as f64 / 1e4 - 0.1).abs() < 0.01,
        "{}",
        moved.len()
    );
    assert!(moved
        .iter()
        .all(|&k| tier_of(&at70, k) == 0 && tier_of(&at60, k) == 1));
    assert!(moved.iter().all(|&k| (0.6..0.7).contains(&positions(k).0)));
    // Stable: the same plan places every key the same way every time.
    assert!(keys
        .iter()
        .all(|&k| tier_of(&at60, k) == tier_of(&plan(0.6), k)));
}

#[test]
fn the_hold_table_is_bounded_and_forgets_the_least_recently_used_first() {
    let hold = 1_000 * MS;
    let h = Holds::with_capacity(3);
    assert_eq!(h.get(1, 0, hold), None);
    for (k, at) in [(1, 1), (2, 2), (3, 3)] {
        h.hold(k, 1, at * MS);
    }
    h.hold(1, 1, 4 * MS); // key 1 used again: key 2 is now the oldest
    h.hold(4, 1, 5 * MS);
    assert_eq!(h.len(), 3);
    assert_eq!(
        h.get(2, 6 * MS, hold),
        None,
        "the least recently used was forgotten"
    );
    assert_eq!(h.get(1, 6 * MS, hold), Some(1));
    assert_eq!(h.get(4, 6 * MS, hold), Some(1));
    // Past `hold` since its last use, a key is not held (it is forgotten later).
    assert_eq!(h.get(4, 5 * MS + hold, hold), None);
    h.release(1);
    assert_eq!(h.get(1, 6 * MS, hold), None);
}

#[test]
fn a_flood_of_new_keys_keeps_memory_bounded() {
    let h = Holds::with_capacity(1_000);
    for i in 0..1_000_000u64 {
        h.hold(hash(b"k", &i.to_le_bytes()), 1, i);
    }
    assert_eq!(h.len(), 1_000);
    let inner = lock(&h.inner);
    assert!(inner.order.len() <= 2 * 1_000 + 1, "{}", inner.order.len());
}
