//! Retry policy: when a failed upstream attempt may be tried again, and a budget that keeps a
//! dying tier from doubling the load.
//!
//! * Connect failures never reached a backend: any method may be retried.
//! * After a connection exists, only idempotent methods whose body is still fully buffered, and
//!   only while nothing was sent to the client, may be retried: a request is never applied
//!   twice.
//! * The budget is Finagle's retry budget: retries may add at most `budget_ratio` of the recent
//!   request rate, plus `min_per_sec` always allowed, over a sliding second.

use crate::config::RetryConf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Which stage failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Could not connect: the request never left firebreak.
    Connect,
    /// The connection existed (request possibly sent, response possibly partial).
    Exchange,
}

/// Facts about the request at the moment of failure.
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    pub stage: Stage,
    pub idempotent: bool,
    /// The whole request body is still in the retry buffer (or there is none).
    pub body_replayable: bool,
    /// A response header was already sent downstream.
    pub response_started: bool,
    /// Attempts made so far, this one included.
    pub attempts: u32,
}

/// Whether the request itself allows another attempt (the budget is checked separately).
pub fn may_retry(a: &Attempt, conf: &RetryConf) -> bool {
    if a.attempts >= conf.max_attempts || a.response_started {
        return false;
    }
    match a.stage {
        Stage::Connect => true,
        Stage::Exchange => a.idempotent && a.body_replayable,
    }
}

/// A sliding one-second retry budget (two half-second buckets), lock-free.
#[derive(Debug, Default)]
pub struct RetryBudget {
    /// Current bucket index (time / 500 ms).
    epoch: AtomicU64,
    requests: [AtomicU64; 2],
    retries: [AtomicU64; 2],
}

const BUCKET_NS: u64 = 500_000_000;

impl RetryBudget {
    fn roll(&self, now_ns: u64) -> usize {
        let e = now_ns / BUCKET_NS;
        let old = self.epoch.load(Relaxed);
        if e != old
            && self
                .epoch
                .compare_exchange(old, e, Relaxed, Relaxed)
                .is_ok()
        {
            let cur = (e % 2) as usize;
            if e > old + 1 {
                self.requests[1 - cur].store(0, Relaxed);
                self.retries[1 - cur].store(0, Relaxed);
            }
            self.requests[cur].store(0, Relaxed);
            self.retries[cur].store(0, Relaxed);
        }
        (e % 2) as usize
    }

    /// Counts a new request (a deposit).
    pub fn on_request(&self, now_ns: u64) {
        let i = self.roll(now_ns);
        self.requests[i].fetch_add(1, Relaxed);
    }

    /// Takes one retry from the budget if there is room.
    pub fn try_withdraw(&self, conf: &RetryConf, now_ns: u64) -> bool {
        let i = self.roll(now_ns);
        let reqs: u64 = self.requests.iter().map(|a| a.load(Relaxed)).sum();
        let used: u64 = self.retries.iter().map(|a| a.load(Relaxed)).sum();
        let allowed = conf.min_per_sec as f64 + conf.budget_ratio * reqs as f64;
        if (used as f64) < allowed {
            self.retries[i].fetch_add(1, Relaxed);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf() -> RetryConf {
        RetryConf {
            max_attempts: 3,
            budget_ratio: 0.2,
            min_per_sec: 10,
        }
    }

    fn attempt(stage: Stage, idempotent: bool) -> Attempt {
        Attempt {
            stage,
            idempotent,
            body_replayable: true,
            response_started: false,
            attempts: 1,
        }
    }

    #[test]
    fn connect_failures_retry_any_method_exchange_failures_only_idempotent_ones() {
        assert!(may_retry(&attempt(Stage::Connect, false), &conf()));
        assert!(may_retry(&attempt(Stage::Exchange, true), &conf()));
        assert!(
            !may_retry(&attempt(Stage::Exchange, false), &conf()),
            "a POST may have been applied"
        );
        let truncated = Attempt {
            body_replayable: false,
            ..attempt(Stage::Exchange, true)
        };
        assert!(!may_retry(&truncated, &conf()));
        let started = Attempt {
            response_started: true,
            ..attempt(Stage::Connect, true)
        };
        assert!(!may_retry(&started, &conf()));
        let last = Attempt {
            attempts: 3,
            ..attempt(Stage::Connect, true)
        };
        assert!(!may_retry(&last, &conf()));
    }

    #[test]
    fn budget_allows_min_plus_ratio_and_refills_with_time() {
        let b = RetryBudget::default();
        let c = conf();
        let t0 = 10 * BUCKET_NS;
        for _ in 0..100 {
            b.on_request(t0);
        }
        let granted = (0..100).filter(|_| b.try_withdraw(&c, t0)).count();
        assert_eq!(granted, 30, "10 + 0.2 x 100");
        let later = t0 + 3 * BUCKET_NS;
        assert!(b.try_withdraw(&c, later), "old buckets expire");
        assert!(!RetryBudget::default().try_withdraw(
            &RetryConf {
                min_per_sec: 0,
                ..c
            },
            0
        ));
    }
}
