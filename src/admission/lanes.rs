//! The waiting room of a gate: one lane per priority, and a controlled-delay rule so that a
//! burst waits but a standing queue cannot form.
//!
//! A queue that absorbs a burst drains again within moments; a queue that has not been empty
//! for a whole [`INTERVAL_NS`] is a *standing* queue, whose wait is pure added latency (CoDel,
//! Nichols & Jacobson, "Controlling Queue Delay", 2012: act when the delay has stayed above
//! target for an interval). While a lane stands, it switches to Facebook's adaptive LIFO
//! ("Fail at Scale", 2015): the newest waiter is served first (it still has a client waiting
//! and a chance to finish in time), new waiters get a short budget ([`short_wait`]) instead of
//! their class's, and waiters already older than that budget are refused at the next tick.
//! When the lane drains it returns to FIFO with the full budgets. Lanes are judged one by one:
//! a standing queue of normal requests does not shorten the critical lane's wait, and a slot
//! still goes to the highest class first.

use std::collections::VecDeque;
use std::time::Duration;

/// A lane that has not drained for this long holds a standing queue.
pub const INTERVAL_NS: u64 = 100_000_000;
const SHORT_MIN_NS: u64 = 5_000_000;
const SHORT_MAX_NS: u64 = 50_000_000;

/// The wait allowed in a standing lane: half the pool's no-load latency, within 5–50 ms (a
/// request admitted then finishes within about 1.5× that latency plus its own service).
pub fn short_wait(baseline_ns: Option<f64>) -> Duration {
    let half = baseline_ns.map_or(SHORT_MAX_NS, |b| (b / 2.0) as u64);
    Duration::from_nanos(half.clamp(SHORT_MIN_NS, SHORT_MAX_NS))
}

#[derive(Debug)]
struct Waiter<T> {
    at_ns: u64,
    item: T,
}

/// Three lanes (critical, normal, bulk) of waiters `T`.
#[derive(Debug)]
pub struct Lanes<T> {
    lanes: [VecDeque<Waiter<T>>; 3],
    /// Since when each lane has been non-empty without a break.
    busy_since: [Option<u64>; 3],
}

impl<T> Default for Lanes<T> {
    fn default() -> Self {
        Lanes {
            lanes: Default::default(),
            busy_since: [None; 3],
        }
    }
}

impl<T> Lanes<T> {
    /// Lane `i` has held waiters, without draining, for at least [`INTERVAL_NS`].
    pub fn standing(&self, i: usize, now_ns: u64) -> bool {
        self.busy_since[i].is_some_and(|t| now_ns.saturating_sub(t) >= INTERVAL_NS)
    }

    pub fn is_empty(&self, i: usize) -> bool {
        self.lanes[i].is_empty()
    }

    pub fn push(&mut self, i: usize, item: T, now_ns: u64) {
        if self.lanes[i].is_empty() {
            self.busy_since[i] = Some(now_ns);
        }
        self.lanes[i].push_back(Waiter {
            at_ns: now_ns,
            item,
        });
    }

    /// The next waiter of lane `i`: the oldest, or the newest while the lane stands.
    pub fn pop(&mut self, i: usize, now_ns: u64) -> Option<T> {
        let w = if self.standing(i, now_ns) {
            self.lanes[i].pop_back()
        } else {
            self.lanes[i].pop_front()
        };
        self.note_drained(i);
        w.map(|w| w.item)
    }

    /// Removes the waiters of standing lanes that have waited longer than `short` (they get
    /// their refusal now rather than at the end of a budget that can no longer be met).
    pub fn shed_stale(&mut self, now_ns: u64, short: Duration) -> Vec<T> {
        let short = crate::clock::ns(short);
        let mut out = vec![];
        for i in 0..3 {
            if !self.standing(i, now_ns) {
                continue;
            }
            while self.lanes[i]
                .front()
                .is_some_and(|w| now_ns.saturating_sub(w.at_ns) > short)
            {
                out.extend(self.lanes[i].pop_front().map(|w| w.item));
            }
            self.note_drained(i);
        }
        out
    }

    fn note_drained(&mut self, i: usize) {
        if self.lanes[i].is_empty() {
            self.busy_since[i] = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn a_burst_is_served_in_order_and_drains() {
        let mut l = Lanes::default();
        for k in 0..5 {
            l.push(1, k, k * MS);
        }
        assert!(!l.standing(1, 50 * MS));
        let served: Vec<_> = (0..5).filter_map(|_| l.pop(1, 50 * MS)).collect();
        assert_eq!(served, vec![0, 1, 2, 3, 4], "FIFO while the queue is young");
        assert!(!l.standing(1, 500 * MS), "drained: no standing queue");
    }

    #[test]
    fn a_queue_that_never_drains_stands_serves_newest_first_and_sheds_the_old() {
        let mut l = Lanes::default();
        // Arrivals every 5 ms, a slot every 10 ms: the queue never empties.
        let mut served = vec![];
        for t in 0..40u64 {
            l.push(1, t, t * 5 * MS);
            if t % 2 == 1 {
                served.extend(l.pop(1, t * 5 * MS));
            }
        }
        let now = 39 * 5 * MS;
        assert!(l.standing(1, now));
        assert_eq!(
            served.last(),
            Some(&39),
            "the newest is served while the lane stands"
        );
        let stale = l.shed_stale(now, Duration::from_millis(10));
        assert!(!stale.is_empty() && stale.iter().all(|&k| now - k * 5 * MS > 10 * MS));
        assert!(!l.is_empty(1) || !l.standing(1, now));
        // Other lanes are judged on their own.
        assert!(!l.standing(0, now));
    }

    #[test]
    fn short_wait_follows_the_baseline_within_bounds() {
        assert_eq!(
            short_wait(Some(20.0 * MS as f64)),
            Duration::from_millis(10)
        );
        assert_eq!(short_wait(Some(1.0 * MS as f64)), Duration::from_millis(5));
        assert_eq!(
            short_wait(Some(900.0 * MS as f64)),
            Duration::from_millis(50)
        );
        assert_eq!(short_wait(None), Duration::from_millis(50));
    }
}
