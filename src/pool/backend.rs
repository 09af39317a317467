//! One upstream endpoint and its live state: health, peak-EWMA latency, in-flight count.
//!
//! A `Backend` outlives config reloads: the snapshot builder looks backends up by pool name and
//! address and reuses the same `Arc`, so health, latency and slow-start state carry over
//! (as `pingora-load-balancing` keeps health by backend hash behind its ArcSwap).

use super::ewma::PeakEwma;
use super::state::{HealthState, PassiveFailure};
use crate::lock::lock;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

#[derive(Debug)]
pub struct Backend {
    pub addr: SocketAddr,
    /// The host name this address was resolved from (None: configured as an IP).
    pub host: Option<String>,
    /// How many addresses share the weight of its configured backend (1 for an IP).
    siblings: AtomicU32,
    /// `addr` as text, for labels and status.
    pub label: String,
    weight: AtomicU32,
    drained: AtomicBool,
    pub health: HealthState,
    pub ewma: PeakEwma,
    inflight: AtomicU32,
    samples: AtomicU64,
    failures: AtomicU64,
    /// Why the last health check failed (or the last connect, for a TLS failure); None once
    /// a check passes.
    problem: Mutex<Option<String>>,
}

impl Backend {
    pub fn new(addr: SocketAddr, weight: u32, actively_checked: bool, now_ns: u64) -> Self {
        Self {
            addr,
            host: None,
            siblings: AtomicU32::new(1),
            label: addr.to_string(),
            weight: AtomicU32::new(weight),
            drained: AtomicBool::new(false),
            health: HealthState::new(actively_checked),
            ewma: PeakEwma::new(now_ns),
            inflight: AtomicU32::new(0),
            samples: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            problem: Mutex::new(None),
        }
    }

    pub fn weight(&self) -> u32 {
        self.weight.load(Relaxed)
    }

    pub fn set_weight(&self, w: u32) {
        self.weight.store(w, Relaxed);
    }

    /// An endpoint of a named backend: `host` it was resolved from, among `siblings` addresses.
    pub fn with_host(mut self, host: &str) -> Self {
        self.host = Some(host.to_string());
        self
    }

    pub fn set_siblings(&self, n: u32) {
        self.siblings.store(n.max(1), Relaxed);
    }

    /// Its part of its configured backend's weight (the weight split over the addresses a
    /// name resolves to).
    pub fn share(&self) -> f64 {
        f64::from(self.weight()) / f64::from(self.siblings.load(Relaxed).max(1))
    }

    /// Drained by an operator: takes no new requests, in-flight ones finish.
    pub fn is_drained(&self) -> bool {
        self.drained.load(Relaxed)
    }

    pub fn set_drained(&self, d: bool) {
        self.drained.store(d, Relaxed);
    }

    /// May take a new request now.
    pub fn is_available(&self, now_ns: u64) -> bool {
        self.weight() > 0 && !self.is_drained() && self.health.is_available(now_ns)
    }

    pub fn inflight(&self) -> u32 {
        self.inflight.load(Relaxed)
    }

    /// Responses observed (latency samples taken).
    pub fn samples(&self) -> u64 {
        self.samples.load(Relaxed)
    }

    pub fn failures(&self) -> u64 {
        self.failures.load(Relaxed)
    }

    /// Why the backend last failed a check or a TLS handshake (None: it passed since).
    pub fn problem(&self) -> Option<String> {
        lock(&self.problem).clone()
    }

    /// Records why a check or handshake failed, or clears it (None). True when it changed.
    pub fn set_problem(&self, problem: Option<String>) -> bool {
        let mut p = lock(&self.problem);
        let changed = *p != problem;
        *p = problem;
        changed
    }

    /// Counts a request as in flight until the guard drops.
    pub fn start(self: &Arc<Self>) -> InflightGuard {
        self.inflight.fetch_add(1, Relaxed);
        InflightGuard(self.clone())
    }

    /// A response head arrived after `rtt_ns` (a latency sample; not yet proof of health).
    pub fn record_response(&self, rtt_ns: u64, now_ns: u64) {
        self.samples.fetch_add(1, Relaxed);
        self.ewma.observe(rtt_ns, now_ns);
    }

    /// A response was delivered whole: the backend works.
    pub fn record_success(&self) {
        self.health.record_success();
    }

    /// A request failed at the transport level. Returns true when this ejected the backend.
    pub fn record_failure(
        &self,
        kind: PassiveFailure,
        actively_checked: bool,
        now_ns: u64,
    ) -> bool {
        self.failures.fetch_add(1, Relaxed);
        self.health
            .record_passive_failure(kind, actively_checked, now_ns)
    }
}

/// Decrements the backend's in-flight count when dropped (also on error paths and panics).
#[derive(Debug)]
pub struct InflightGuard(Arc<Backend>);

impl InflightGuard {
    pub fn backend(&self) -> &Arc<Backend> {
        &self.0
    }
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        self.0.inflight.fetch_sub(1, Relaxed);
    }
}
