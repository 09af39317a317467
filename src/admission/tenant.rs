//! Fairness between clients (tenants) while shedding, in O(1) and bounded memory.
//!
//! Clients are hashed into 1024 buckets of in-flight counters (hashed fair queueing, as in
//! FQ-CoDel: colliding clients share a bucket). While a pool is congested, a client may hold at
//! most its fair share, `max(1, ⌈L / active buckets⌉)`, of the pool's limit `L` in flight or
//! waiting, so one customer's export burst cannot take the slots everyone else's order entry
//! needs. Critical requests may use twice the share (logins must get through a flood of a
//! client's own reports). Under calm load, or with a single active client, the caps do not
//! apply: fairness between one is moot, and priorities decide alone.
//!
//! "Active" counts clients seen in the last second, not only those with a request in flight
//! this instant: a client sending a request every 300 ms is active, and must not find a
//! flooder holding the whole pool because it happened to have nothing in flight.

use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU32, Ordering::*};
use std::sync::Arc;

const BUCKETS: usize = 1024;

#[derive(Debug)]
pub struct Tenants {
    buckets: Box<[AtomicU32]>,
    active: AtomicU32,
    /// Per bucket: the planning tick (100 ms) it was last seen in.
    seen: Box<[AtomicU32]>,
    /// Buckets seen within the last second (refreshed every tick).
    recent: AtomicU32,
    hasher: std::collections::hash_map::RandomState,
}

/// Seen within this many 100 ms ticks counts as active.
const RECENT_TICKS: u32 = 10;

fn tick(now_ns: u64) -> u32 {
    (now_ns / 100_000_000) as u32 + 1
}

impl Default for Tenants {
    fn default() -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| AtomicU32::new(0)).collect(),
            active: AtomicU32::new(0),
            seen: (0..BUCKETS).map(|_| AtomicU32::new(0)).collect(),
            recent: AtomicU32::new(0),
            hasher: Default::default(),
        }
    }
}

impl Tenants {
    /// The bucket of a client key.
    pub fn bucket(&self, key: impl Hash) -> usize {
        (self.hasher.hash_one(key) as usize) % BUCKETS
    }

    /// Clients active now: with a request in flight or waiting, or seen in the last second.
    pub fn active(&self) -> u32 {
        self.active.load(Relaxed).max(self.recent.load(Relaxed))
    }

    /// Recounts the clients seen in the last second (called every planning tick).
    pub fn refresh(&self, now_ns: u64) {
        let now = tick(now_ns);
        let n = self.seen.iter().filter(|s| {
            let t = s.load(Relaxed);
            t != 0 && now.saturating_sub(t) <= RECENT_TICKS
        });
        self.recent.store(n.count() as u32, Relaxed);
    }

    /// Counts a request for `bucket`; refuses when `enforce` and the bucket already holds its
    /// fair share of `limit` (twice that for a `critical` request).
    pub fn enter(
        self: &Arc<Self>,
        bucket: usize,
        limit: f64,
        critical: bool,
        enforce: bool,
        now_ns: u64,
    ) -> Option<TenantGuard> {
        self.seen[bucket % BUCKETS].store(tick(now_ns), Relaxed);
        let b = &self.buckets[bucket % BUCKETS];
        let prev = b.fetch_add(1, AcqRel);
        if prev == 0 {
            self.active.fetch_add(1, AcqRel);
        }
        let active = self.active();
        let guard = TenantGuard {
            tenants: self.clone(),
            bucket: bucket % BUCKETS,
            light: prev == 0 && active > 1,
        };
        if enforce && active > 1 {
            let share = (limit / active as f64).ceil().max(1.0) as u32;
            let share = if critical { share * 2 } else { share };
            if prev >= share {
                return None; // the guard drops and undoes the count
            }
        }
        Some(guard)
    }

    pub fn in_bucket(&self, bucket: usize) -> u32 {
        self.buckets[bucket % BUCKETS].load(Relaxed)
    }
}

/// Holds one request's place in its bucket.
#[derive(Debug)]
pub struct TenantGuard {
    tenants: Arc<Tenants>,
    bucket: usize,
    /// This client had nothing in flight or waiting while others were active: a light
    /// client, whose request may jump ahead of heavy ones (FQ-CoDel's sparse-flow priority).
    pub light: bool,
}

impl Drop for TenantGuard {
    fn drop(&mut self) {
        if self.tenants.buckets[self.bucket].fetch_sub(1, AcqRel) == 1 {
            self.tenants.active.fetch_sub(1, AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flooding_client_is_capped_at_its_share_while_others_get_in() {
        let t = Arc::new(Tenants::default());
        // Fixed buckets: two hashed names collide once in a thousand runs.
        let (flood, other) = (1, 2);
        assert_ne!(flood, other);
        // Alone, the flooder is not capped by fairness (the pool's own limit applies).
        let held: Vec<_> = (0..6)
            .map(|_| t.enter(flood, 4.0, false, true, 1).unwrap())
            .collect();
        // Another client arrives: it gets in, and its share is 2 of 4.
        let o1 = t.enter(other, 4.0, false, true, 1).unwrap();
        let o2 = t.enter(other, 4.0, false, true, 1).unwrap();
        assert!(
            t.enter(other, 4.0, false, true, 1).is_none(),
            "over its share of 2"
        );
        let o3 = t
            .enter(other, 4.0, true, true, 1)
            .expect("critical may use twice the share");
        assert!(t.enter(flood, 4.0, false, true, 1).is_none());
        drop((o1, o2, o3));
        assert_eq!(t.in_bucket(flood), 6);
        drop(held);
        assert_eq!(t.active(), 0);
    }

    #[test]
    fn clients_seen_in_the_last_second_count_as_active() {
        let t = Arc::new(Tenants::default());
        let s = 1_000_000_000;
        let flood = 4; // fixed buckets: hashed names may collide
        for b in 1..=3 {
            drop(t.enter(b, 4.0, false, true, s));
        }
        t.refresh(s + s / 2);
        assert_eq!(
            t.active(),
            3,
            "nothing in flight, but three clients seen recently"
        );
        // The flooder's share of 4 among 4 recent clients is 1.
        let held = t.enter(flood, 4.0, false, true, 2 * s).unwrap();
        assert!(
            held.light,
            "it had nothing in flight while others were active"
        );
        t.refresh(2 * s);
        assert_eq!(t.active(), 4);
        let second = t.enter(flood, 4.0, false, true, 2 * s);
        assert!(second.is_none(), "its share is 1 of 4");
        drop(held);
        t.refresh(10 * s);
        assert_eq!(t.active(), 0, "a second later they are forgotten");
    }

    #[test]
    fn calm_load_is_not_capped_and_memory_is_bounded() {
        let t = Arc::new(Tenants::default());
        let b = t.bucket("one");
        let guards: Vec<_> = (0..100)
            .map(|_| t.enter(b, 4.0, false, false, 1).unwrap())
            .collect();
        assert_eq!(t.in_bucket(b), 100);
        drop(guards);
        for i in 0..1_000_000u32 {
            let _ = t.bucket(i);
        }
        assert_eq!(t.buckets.len(), BUCKETS);
    }
}
