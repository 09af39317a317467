//! Stamps for operator state: when, where and in which logical order a change was made.
//!
//! Replicas of a fleet exchange operator state (maintenance, drains, failback releases,
//! notes) and must agree on the newest without trusting their clocks, which may be off by
//! minutes. Each change carries a [`Stamp`] from this replica's Lamport [`Clock`] (Lamport,
//! "Time, Clocks, and the Ordering of Events in a Distributed System", 1978): a counter one
//! above the highest this replica has made or seen, then the wall time and the setting
//! replica's name, which only break ties. Seeing a peer's stamp moves the counter up, so a
//! change made after adopting a peer's state always orders after it, whatever the clocks say.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// When and where an operator state was set. Ordered by counter, then time, then origin.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, serde::Serialize, serde::Deserialize,
)]
pub struct Stamp {
    /// Logical clock: one more than the highest counter the setting replica had seen.
    pub counter: u64,
    /// Unix seconds on the setting replica.
    pub at: u64,
    /// The replica that set it (its admin address).
    pub origin: String,
}

/// This replica's Lamport clock and its name in the stamps it makes.
#[derive(Debug)]
pub struct Clock {
    counter: AtomicU64,
    me: Mutex<String>,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            counter: AtomicU64::new(0),
            me: Mutex::new("this replica".into()),
        }
    }
}

impl Clock {
    /// Names this replica in the stamps it makes (its admin address).
    pub fn set_identity(&self, me: &str) {
        *crate::lock::lock(&self.me) = me.to_string();
    }

    /// A stamp for a change made now, ordered after everything made or seen before.
    pub fn next(&self) -> Stamp {
        Stamp {
            counter: self.counter.fetch_add(1, Relaxed) + 1,
            at: crate::clock::unix_now(),
            origin: crate::lock::lock(&self.me).clone(),
        }
    }

    /// Records a stamp seen from a peer, so that later changes order after it.
    pub fn observe(&self, stamp: &Stamp) {
        self.counter.fetch_max(stamp.counter, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counter_decides_before_the_wall_time() {
        let old_but_late_clock = Stamp {
            counter: 1,
            at: 9_999_999_999,
            origin: "b".into(),
        };
        let c = Clock::default();
        c.observe(&old_but_late_clock);
        let mine = c.next();
        assert_eq!(mine.counter, 2);
        assert!(mine > old_but_late_clock, "seen first, so ordered first");
        c.observe(&Stamp {
            counter: 1,
            ..Default::default()
        });
        assert_eq!(c.next().counter, 3, "an older stamp never moves it back");
    }
}
