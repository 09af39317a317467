//! Fairness between clients (tenants) while shedding, in O(1) and bounded memory.
//!
//! Clients are hashed into 1024 buckets of in-flight counters (hashed fair queueing, as in
//! FQ-CoDel: colliding clients share a bucket). While a pool is congested, a client may hold at
//! most its fair share, `max(1, ⌈L / active buckets⌉)`, of the pool's limit `L` in flight or
//! waiting, so one customer's export burst cannot take the slots everyone else's order entry
//! needs. Under calm load the caps do not apply.

use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU32, Ordering::*};
use std::sync::Arc;

const BUCKETS: usize = 1024;

#[derive(Debug)]
pub struct Tenants {
    buckets: Box<[AtomicU32]>,
    active: AtomicU32,
    hasher: std::collections::hash_map::RandomState,
}

impl Default for Tenants {
    fn default() -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| AtomicU32::new(0)).collect(),
            active: AtomicU32::new(0),
            hasher: Default::default(),
        }
    }
}

impl Tenants {
    /// The bucket of a client key.
    pub fn bucket(&self, key: impl Hash) -> usize {
        (self.hasher.hash_one(key) as usize) % BUCKETS
    }

    /// Buckets with at least one request in flight or waiting.
    pub fn active(&self) -> u32 {
        self.active.load(Relaxed)
    }

    /// Counts a request for `bucket`; refuses when `enforce` and the bucket already holds its
    /// fair share of `limit`.
    pub fn enter(
        self: &Arc<Self>,
        bucket: usize,
        limit: f64,
        enforce: bool,
    ) -> Option<TenantGuard> {
        let b = &self.buckets[bucket % BUCKETS];
        let prev = b.fetch_add(1, AcqRel);
        if prev == 0 {
            self.active.fetch_add(1, AcqRel);
        }
        let guard = TenantGuard {
            tenants: self.clone(),
            bucket: bucket % BUCKETS,
        };
        if enforce {
            let active = self.active().max(1) as f64;
            let share = (limit / active).ceil().max(1.0) as u32;
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
        let (flood, other) = (t.bucket("tenant-flood"), t.bucket("tenant-9"));
        assert_ne!(flood, other);
        let mut held = vec![];
        // Alone, the flooder may take the whole limit of 4.
        for _ in 0..4 {
            held.push(t.enter(flood, 4.0, true).unwrap());
        }
        assert!(t.enter(flood, 4.0, true).is_none());
        // Another client arrives: it gets in, and its share is 2 of 4.
        let o = t.enter(other, 4.0, true).unwrap();
        assert!(t.enter(other, 4.0, true).is_some());
        assert!(t.enter(flood, 4.0, true).is_none());
        drop(o);
        assert_eq!(t.in_bucket(flood), 4);
        drop(held);
        assert_eq!(t.active(), 0);
    }

    #[test]
    fn calm_load_is_not_capped_and_memory_is_bounded() {
        let t = Arc::new(Tenants::default());
        let b = t.bucket("one");
        let guards: Vec<_> = (0..100).map(|_| t.enter(b, 4.0, false).unwrap()).collect();
        assert_eq!(t.in_bucket(b), 100);
        drop(guards);
        for i in 0..1_000_000u32 {
            let _ = t.bucket(i);
        }
        assert_eq!(t.buckets.len(), BUCKETS);
    }
}
