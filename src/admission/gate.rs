//! The admission gate of one pool: an in-flight counter against the adaptive limit, priority
//! reservations, and a short priority queue bounded by time.
//!
//! * While the pool is **congested** (or cold), a request of class c is admitted only while
//!   in-flight < `L × {1.0, 0.9, 0.7}[c]` (trunk reservation: bulk is refused first, critical
//!   last). While it is not, up to `2L` are admitted, so a healthy primary absorbs bursts and
//!   the limit grows to follow them: no shedding without evidence of queueing.
//! * A request that does not fit waits for a slot up to its class's budget (critical longest,
//!   bulk not at all). A finishing request hands its slot straight to the oldest waiter of the
//!   highest class, so the queue is served in priority order and nobody waits past its budget.
//!   A lane that stops draining becomes a standing queue and is served newest-first with short
//!   budgets ([`super::lanes`]): a burst waits, a standing queue cannot form.
//! * After congestion the pool is *held* to `L` (no `2L`) until it has been clean for a while,
//!   and a seeded or fleet-shared limit comes from a [`Hint`] (see [`super::limit`]).
//! * Admission is one CAS; the queue lock is taken only when a request must wait or when
//!   somebody is waiting.

use super::lanes::{short_wait, Lanes};
use super::limit::{GradientLimit, Hint, LimiterConf, WindowStats};
use crate::config::Priority;
use crate::lock::lock;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::*};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::oneshot;

/// Waiters per pool beyond which requests are refused at once.
const MAX_QUEUE: usize = 4096;

/// Share of the limit each class may fill while congested.
pub fn class_share(p: Priority) -> f64 {
    match p {
        Priority::Critical => 1.0,
        Priority::Normal => 0.9,
        Priority::Bulk => 0.7,
    }
}

/// The lane (and counter) index of a priority: critical 0, normal 1, bulk 2.
pub(super) fn lane(p: Priority) -> usize {
    match p {
        Priority::Critical => 0,
        Priority::Normal => 1,
        Priority::Bulk => 2,
    }
}

pub use super::limit::SHEDDING;

/// Why a request was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Over the limit, and its class does not wait.
    Full,
    /// Waited its whole budget.
    QueueTimeout,
}

#[derive(Debug)]
pub struct Gate {
    inflight: AtomicU32,
    limit_bits: AtomicU64,
    congested: AtomicBool,
    held: AtomicBool,
    /// The short wait of a standing lane (ns), from the baseline.
    short_ns: AtomicU64,
    peak: AtomicU32,
    drops: AtomicU64,
    /// Smoothed fraction of requests refused (f64 bits): the pool is shedding above
    /// [`SHEDDING`].
    refused_share: AtomicU64,
    queued: AtomicU32,
    lanes: Mutex<Lanes<oneshot::Sender<()>>>,
    ctrl: Mutex<GradientLimit>,
    /// What the pool's customers saw recently (for the operator).
    pub observed: super::observed::Observed,
}

impl Gate {
    pub fn new(conf: &LimiterConf) -> Self {
        let ctrl = GradientLimit::new(conf);
        Self {
            inflight: AtomicU32::new(0),
            limit_bits: AtomicU64::new(ctrl.limit.to_bits()),
            congested: AtomicBool::new(ctrl.congested),
            held: AtomicBool::new(ctrl.held()),
            short_ns: AtomicU64::new(crate::clock::ns(short_wait(None))),
            peak: AtomicU32::new(0),
            drops: AtomicU64::new(0),
            refused_share: AtomicU64::new(0f64.to_bits()),
            queued: AtomicU32::new(0),
            lanes: Mutex::new(Default::default()),
            ctrl: Mutex::new(ctrl),
            observed: Default::default(),
        }
    }

    pub fn limit(&self) -> f64 {
        f64::from_bits(self.limit_bits.load(Relaxed))
    }

    pub fn inflight(&self) -> u32 {
        self.inflight.load(Relaxed)
    }

    pub fn queued(&self) -> u32 {
        self.queued.load(Relaxed)
    }

    pub fn congested(&self) -> bool {
        self.congested.load(Relaxed)
    }

    /// Held to `L` after congestion or while seeded (no `2L` burst allowance).
    pub fn held(&self) -> bool {
        self.held.load(Relaxed)
    }

    pub fn baseline_ns(&self) -> Option<f64> {
        lock(&self.ctrl).baseline_ns
    }

    /// Tells the controller this replica's fleet share and the pool's measured seed.
    pub fn set_hint(&self, hint: Hint) {
        lock(&self.ctrl).hint = hint;
    }

    /// How many may be in flight for class `p` right now.
    pub fn cap(&self, p: Priority) -> u32 {
        super::limit::cap(self.limit(), self.congested(), self.held(), class_share(p))
    }

    /// Takes a slot if one is free for class `p`.
    pub fn try_acquire(&self, p: Priority) -> bool {
        let cap = self.cap(p);
        let got = self
            .inflight
            .fetch_update(AcqRel, Acquire, |n| (n < cap).then_some(n + 1))
            .map(|prev| prev + 1);
        match got {
            Ok(n) => {
                self.peak.fetch_max(n, Relaxed);
                true
            }
            Err(_) => false,
        }
    }

    /// Takes a slot, waiting up to `wait` for one. `boost` queues the request in the critical
    /// lane (a light client's request, see [`super::tenant`]).
    pub async fn acquire(&self, p: Priority, wait: Duration, boost: bool) -> Result<(), Refused> {
        if self.try_acquire(p) {
            return Ok(());
        }
        if wait.is_zero() {
            return Err(Refused::Full);
        }
        let now = crate::clock::now_ns();
        let (mut rx, wait) = {
            let mut lanes = lock(&self.lanes);
            if self.try_acquire(p) {
                return Ok(());
            }
            if self.queued.load(Acquire) as usize >= MAX_QUEUE {
                return Err(Refused::Full);
            }
            let (tx, rx) = oneshot::channel();
            let i = if boost { 0 } else { lane(p) };
            let wait = if lanes.standing(i, now) {
                wait.min(Duration::from_nanos(self.short_ns.load(Relaxed)))
            } else {
                wait
            };
            lanes.push(i, tx, now);
            self.queued.fetch_add(1, AcqRel);
            (rx, wait)
        };
        tokio::select! {
            r = &mut rx => r.map_err(|_| Refused::QueueTimeout),
            _ = tokio::time::sleep(wait) => {
                rx.close();
                // A slot handed over just as the budget ran out is ours: keep it.
                rx.try_recv().map_err(|_| Refused::QueueTimeout)
            }
        }
    }

    /// Gives a slot back: to the best waiter if one fits, else to the pool.
    pub fn release(&self) {
        if self.queued.load(Acquire) > 0 && self.hand_over() {
            return;
        }
        self.inflight.fetch_sub(1, AcqRel);
    }

    /// Hands the releasing slot to the oldest waiter of the highest class whose cap allows it.
    fn hand_over(&self) -> bool {
        let mut lanes = lock(&self.lanes);
        let n = self.inflight.load(Acquire);
        let now = crate::clock::now_ns();
        for (i, p) in [Priority::Critical, Priority::Normal, Priority::Bulk]
            .into_iter()
            .enumerate()
        {
            if n > self.cap(p) {
                continue;
            }
            while let Some(tx) = lanes.pop(i, now) {
                self.queued.fetch_sub(1, AcqRel);
                if tx.send(()).is_ok() {
                    return true;
                }
            }
        }
        false
    }

    /// Admits waiters while there is room (after the limit grew); called every tick.
    pub fn pump(&self) {
        while self.queued.load(Acquire) > 0 {
            let mut lanes = lock(&self.lanes);
            let Some((i, p)) = [Priority::Critical, Priority::Normal, Priority::Bulk]
                .into_iter()
                .enumerate()
                .find(|(i, _)| !lanes.is_empty(*i))
            else {
                return;
            };
            if !self.try_acquire(p) {
                return;
            }
            let handed = lanes.pop(i, crate::clock::now_ns()).is_some_and(|tx| {
                self.queued.fetch_sub(1, AcqRel);
                tx.send(()).is_ok()
            });
            if !handed {
                self.inflight.fetch_sub(1, AcqRel);
            }
        }
    }

    /// Counts one admission decision of this gate (for [`Gate::shedding`] and
    /// [`Gate::observed`]).
    pub fn count(&self, p: Priority, admitted: bool) {
        self.observed.decided(p, admitted);
    }

    /// The pool refuses a noticeable share of its requests (smoothed over about a second).
    pub fn shedding(&self) -> bool {
        f64::from_bits(self.refused_share.load(Relaxed)) > SHEDDING
    }

    /// A request through this pool failed (5xx, timeout, reset).
    pub fn record_drop(&self) {
        self.drops.fetch_add(1, Relaxed);
    }

    /// One planning tick: feed the window to the controller and publish the new limit.
    pub fn tick(&self, latency: &crate::latency::Drained, conf: &LimiterConf) {
        let stats = WindowStats {
            latency: latency.clone(),
            drops: self.drops.swap(0, Relaxed),
            peak_inflight: self.peak.swap(self.inflight(), Relaxed),
        };
        // A window without requests refuses nothing: a pool that shed once does not read
        // as shedding for ever.
        let (ok, no) = self.observed.tick();
        let old = f64::from_bits(self.refused_share.load(Relaxed));
        let new = super::limit::smooth_refused(old, ok, no);
        self.refused_share.store(new.to_bits(), Relaxed);
        let mut ctrl = lock(&self.ctrl);
        ctrl.shedding = new > SHEDDING;
        ctrl.update(&stats, conf);
        self.limit_bits.store(ctrl.limit.to_bits(), Relaxed);
        self.congested.store(ctrl.congested, Relaxed);
        self.held.store(ctrl.held(), Relaxed);
        let short = short_wait(ctrl.baseline_ns);
        drop(ctrl);
        self.short_ns.store(crate::clock::ns(short), Relaxed);
        // Waiters of a standing queue older than the short wait are refused now (dropping
        // their sender wakes them with a refusal).
        if self.queued() > 0 {
            let stale = lock(&self.lanes).shed_stale(crate::clock::now_ns(), short);
            self.queued.fetch_sub(stale.len() as u32, AcqRel);
        }
        self.pump();
    }
}

#[cfg(test)]
#[path = "gate_tests.rs"]
mod tests;
