//! What a gate's pool looks like to its customers, for the operator's first glance during an
//! incident (`/status`, the admin page): the end-to-end latency of the requests it admitted
//! (p50/p99 over the last [`HORIZON`] windows, gate wait included) and the share of each
//! priority it refused over about a second (smoothed as the gate's own share,
//! [`super::limit::smooth_refused`]). Read-only for admission: nothing decides on it.

use crate::config::Priority;
use crate::latency::{Drained, LatencyWindow};
use crate::lock::lock;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// Planning windows (100 ms each) the latency quantiles cover: ten seconds.
pub const HORIZON: usize = 100;

#[derive(Debug, Default)]
pub struct Observed {
    current: LatencyWindow,
    recent: Mutex<VecDeque<Drained>>,
    /// This window's admitted and refused requests per priority (critical, normal, bulk).
    admitted: [AtomicU64; 3],
    refused: [AtomicU64; 3],
    /// Smoothed refused share per priority (f64 bits).
    shed: [AtomicU64; 3],
}

/// A snapshot for `/status`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Seen {
    pub admitted_p50_ms: Option<f64>,
    pub admitted_p99_ms: Option<f64>,
    /// Share refused per priority: critical, normal, bulk (0..1).
    pub shed_critical: f64,
    pub shed_normal: f64,
    pub shed_bulk: f64,
}

impl Observed {
    /// An admitted request ended after `ns` (from its arrival at firebreak).
    pub fn served(&self, ns: u64) {
        self.current.record(ns);
    }

    /// One admission decision for a request of priority `p`.
    pub fn decided(&self, p: Priority, admitted: bool) {
        let c = if admitted {
            &self.admitted
        } else {
            &self.refused
        };
        c[super::gate::lane(p)].fetch_add(1, Relaxed);
    }

    /// Ends a planning window; returns its admitted and refused decisions, all priorities.
    pub fn tick(&self) -> (u64, u64) {
        let mut recent = lock(&self.recent);
        if recent.len() >= HORIZON {
            recent.pop_front();
        }
        recent.push_back(self.current.drain());
        drop(recent);
        let mut total = (0, 0);
        for i in 0..3 {
            let (ok, no) = (
                self.admitted[i].swap(0, Relaxed),
                self.refused[i].swap(0, Relaxed),
            );
            total = (total.0 + ok, total.1 + no);
            let old = f64::from_bits(self.shed[i].load(Relaxed));
            let new = super::limit::smooth_refused(old, ok, no);
            self.shed[i].store(new.to_bits(), Relaxed);
        }
        total
    }

    pub fn seen(&self) -> Seen {
        let mut all = Drained::default();
        lock(&self.recent).iter().for_each(|w| all.merge(w));
        let ms = |q: f64| all.quantile(q).map(|ns| (ns / 1e4).round() / 100.0);
        let shed = |i: usize| (f64::from_bits(self.shed[i].load(Relaxed)) * 1e3).round() / 1e3;
        Seen {
            admitted_p50_ms: ms(0.5),
            admitted_p99_ms: ms(0.99),
            shed_critical: shed(0),
            shed_normal: shed(1),
            shed_bulk: shed(2),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_covers_the_horizon_and_shed_shares_follow_each_priority() {
        let o = Observed::default();
        for _ in 0..10 {
            for _ in 0..99 {
                o.served(20_000_000);
            }
            o.served(200_000_000);
            (0..10).for_each(|_| o.decided(Priority::Critical, true));
            (0..10).for_each(|_| o.decided(Priority::Bulk, false));
            o.tick();
        }
        let s = o.seen();
        let p50 = s.admitted_p50_ms.unwrap();
        let p99 = s.admitted_p99_ms.unwrap();
        assert!((18.0..23.0).contains(&p50), "{p50}");
        assert!(
            (18.0..23.0).contains(&p99),
            "one slow request in a hundred is the p100: {p99}"
        );
        assert_eq!(s.shed_critical, 0.0);
        assert!(s.shed_bulk > 0.6, "{}", s.shed_bulk);
        assert_eq!(s.shed_normal, 0.0, "no normal requests: nothing shed");
        for _ in 0..HORIZON {
            o.tick();
        }
        assert_eq!(
            o.seen().admitted_p50_ms,
            None,
            "ten quiet seconds forget the latency"
        );
    }
}
