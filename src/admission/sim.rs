//! A simulated app server for the limiter's unit tests: `workers` × a fixed service time with
//! a FIFO queue behind them (as a real one queues), on a simulated 1 ms clock, in front of
//! which one or more replicas' controllers each admit their share of the arrivals (round
//! robin, as a Kubernetes Service spreads connections). As at the real gate, a critical or
//! normal request that does not fit waits for a slot in its [lane](super::lanes) (critical
//! first, up to [`WAIT_MS`], or the short wait while the lane stands); bulk is refused at
//! once. Test-only.

use super::gate::class_share;
use super::lanes::{short_wait, Lanes};
use super::limit::{cap, smooth_refused, GradientLimit, Hint, LimiterConf, WindowStats, SHEDDING};
use crate::config::Priority;
use crate::latency::LatencyWindow;
use std::collections::VecDeque;
use std::time::Duration;

pub const MS: u64 = 1_000_000;
/// How long a critical or normal arrival waits for a slot before it is refused.
pub const WAIT_MS: u64 = 30;

/// The limiter's defaults, as `[admission]` has them.
pub fn conf() -> LimiterConf {
    LimiterConf {
        initial: 20.0,
        min: 4.0,
        max: 10_000.0,
        tolerance: 1.5,
    }
}

/// Class of the i-th arrival: 20 % critical (0), 50 % normal (1), 30 % bulk (2).
fn class(i: u64) -> usize {
    match i % 10 {
        0 | 1 => 0,
        2..=6 => 1,
        _ => 2,
    }
}

/// One replica in front of the server.
pub struct Replica {
    pub ctrl: GradientLimit,
    window: LatencyWindow,
    peak: u32,
    inflight: u32,
    /// This window's admitted and refused arrivals, and the smoothed refused share.
    decided: (u64, u64),
    refused_share: f64,
    /// Waiting for a slot: (arrival time, budget) in ms.
    waiting: Lanes<(u64, u64)>,
}

pub struct Sim {
    pub workers: usize,
    pub service_ms: u64,
    /// Admitted, waiting for a worker: (admit time, arrival time, replica).
    queue: VecDeque<(u64, u64, usize)>,
    /// Being served: (finish time, admit time, arrival time, replica).
    busy: Vec<(u64, u64, u64, usize)>,
    pub replicas: Vec<Replica>,
    t: u64,
    arrivals: u64,
    frac: f64,
    /// Per class: admitted, rejected.
    pub admitted: [u64; 3],
    pub rejected: [u64; 3],
    /// Latencies (ms) of completions since the last reset.
    pub lat: Vec<u64>,
    /// Most requests in the server (queued + served) since the last reset.
    pub max_in_server: usize,
}

impl Replica {
    /// The short wait of a standing lane, in ms.
    fn short_ms(&self) -> u64 {
        short_wait(self.ctrl.baseline_ns).as_millis() as u64
    }

    /// A request of class `c` fits under this replica's cap now.
    fn fits(&self, c: usize) -> bool {
        let share = class_share([Priority::Critical, Priority::Normal, Priority::Bulk][c]);
        self.inflight
            < cap(
                self.ctrl.limit,
                self.ctrl.congested,
                self.ctrl.held(),
                share,
            )
    }
}

impl Sim {
    pub fn new(workers: usize, service_ms: u64) -> Self {
        Self::fleet(workers, service_ms, 1)
    }

    /// `n` replicas, each told it is one of `n`.
    pub fn fleet(workers: usize, service_ms: u64, n: usize) -> Self {
        let replicas = (0..n)
            .map(|_| {
                let mut ctrl = GradientLimit::new(&conf());
                ctrl.hint = Hint {
                    share: 1.0 / n as f64,
                    seed: None,
                };
                Replica {
                    ctrl,
                    window: LatencyWindow::default(),
                    peak: 0,
                    inflight: 0,
                    decided: (0, 0),
                    refused_share: 0.0,
                    waiting: Default::default(),
                }
            })
            .collect();
        Sim {
            workers,
            service_ms,
            queue: VecDeque::new(),
            busy: vec![],
            replicas,
            t: 0,
            arrivals: 0,
            frac: 0.0,
            admitted: [0; 3],
            rejected: [0; 3],
            lat: vec![],
            max_in_server: 0,
        }
    }

    /// The first replica's controller.
    pub fn ctrl(&self) -> &GradientLimit {
        &self.replicas[0].ctrl
    }

    /// Gives every replica the same hint's seed (keeping its fleet share).
    pub fn seed(&mut self, seed: Option<super::limit::Seed>) {
        for r in &mut self.replicas {
            r.ctrl.hint.seed = seed;
        }
    }

    /// Runs `ms` milliseconds at `rps` offered requests per second (0: idle).
    pub fn run(&mut self, ms: u64, rps: f64) {
        for _ in 0..ms {
            self.t += 1;
            let t = self.t;
            let done: Vec<_> = self.busy.iter().copied().filter(|b| b.0 <= t).collect();
            self.busy.retain(|b| b.0 > t);
            for (_, admit, arrived, r) in done {
                // The limiter sees the backend's latency; the customer also waited at the gate.
                self.replicas[r].window.record((t - admit) * MS);
                self.replicas[r].inflight -= 1;
                self.lat.push(t - arrived);
            }
            self.frac += rps / 1000.0;
            while self.frac >= 1.0 {
                self.frac -= 1.0;
                let c = class(self.arrivals);
                let r = (self.arrivals % self.replicas.len() as u64) as usize;
                self.arrivals += 1;
                let rep = &mut self.replicas[r];
                if c < 2 {
                    // Admitted below at once when it fits.
                    let budget = if rep.waiting.standing(c, t * MS) {
                        rep.short_ms()
                    } else {
                        WAIT_MS
                    };
                    rep.waiting.push(c, (t, budget), t * MS);
                } else if rep.fits(c) {
                    self.admit(r, c, t, t);
                } else {
                    self.rejected[c] += 1;
                    rep.decided.1 += 1;
                }
            }
            for r in 0..self.replicas.len() {
                let short = Duration::from_millis(self.replicas[r].short_ms());
                let stale = self.replicas[r].waiting.shed_stale(t * MS, short);
                for _ in stale {
                    self.rejected[1] += 1; // (the class does not matter for the totals)
                    self.replicas[r].decided.1 += 1;
                }
                for c in 0..2 {
                    while !self.replicas[r].waiting.is_empty(c) && self.replicas[r].fits(c) {
                        let Some((at, budget)) = self.replicas[r].waiting.pop(c, t * MS) else {
                            break;
                        };
                        if t - at > budget {
                            self.rejected[c] += 1;
                            self.replicas[r].decided.1 += 1;
                        } else {
                            self.admit(r, c, at, t);
                        }
                    }
                }
            }
            while self.busy.len() < self.workers {
                let Some((admit, arrived, r)) = self.queue.pop_front() else {
                    break;
                };
                self.busy.push((t + self.service_ms, admit, arrived, r));
            }
            self.max_in_server = self.max_in_server.max(self.queue.len() + self.busy.len());
            if t % 100 == 0 {
                for rep in &mut self.replicas {
                    let stats = WindowStats {
                        latency: rep.window.drain(),
                        drops: 0,
                        peak_inflight: rep.peak,
                    };
                    rep.peak = rep.inflight;
                    let (ok, no) = std::mem::take(&mut rep.decided);
                    rep.refused_share = smooth_refused(rep.refused_share, ok, no);
                    rep.ctrl.shedding = rep.refused_share > SHEDDING;
                    rep.ctrl.update(&stats, &conf());
                }
            }
        }
    }

    /// Replica `r` admits at `t` a request of class `c` that arrived at `at`.
    fn admit(&mut self, r: usize, c: usize, at: u64, t: u64) {
        self.admitted[c] += 1;
        let rep = &mut self.replicas[r];
        rep.decided.0 += 1;
        rep.inflight += 1;
        rep.peak = rep.peak.max(rep.inflight);
        self.queue.push_back((t, at, r));
    }

    pub fn reset_counts(&mut self) {
        self.admitted = [0; 3];
        self.rejected = [0; 3];
        self.lat.clear();
        self.max_in_server = 0;
    }

    /// Quantile `q` of the completions' latency since the last reset (ms).
    pub fn p(&self, q: f64) -> u64 {
        let mut l = self.lat.clone();
        l.sort_unstable();
        l.get(((l.len() as f64 * q) as usize).min(l.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    }

    /// Admitted requests per second over `seconds`.
    pub fn goodput(&self, seconds: f64) -> f64 {
        self.admitted.iter().sum::<u64>() as f64 / seconds
    }
}
