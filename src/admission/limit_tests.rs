//! The limiter's dynamics against a simulated app server (workers × service time, FIFO queue
//! behind them, as a real one queues), on a simulated 1 ms clock.

use super::*;
use crate::latency::LatencyWindow;
use std::collections::VecDeque;

const MS: u64 = 1_000_000;

fn conf() -> LimiterConf {
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

struct Sim {
    workers: usize,
    service_ms: u64,
    /// Admitted, waiting for a worker: admit time.
    queue: VecDeque<u64>,
    /// Being served: (finish time, admit time).
    busy: Vec<(u64, u64)>,
    ctrl: GradientLimit,
    window: LatencyWindow,
    peak: u32,
    t: u64,
    arrivals: u64,
    frac: f64,
    /// Per class: admitted, rejected.
    admitted: [u64; 3],
    rejected: [u64; 3],
    /// Latencies (ms) of completions since the last reset.
    lat: Vec<u64>,
}

impl Sim {
    fn new(workers: usize, service_ms: u64) -> Self {
        Sim {
            workers,
            service_ms,
            queue: VecDeque::new(),
            busy: vec![],
            ctrl: GradientLimit::new(&conf()),
            window: LatencyWindow::default(),
            peak: 0,
            t: 0,
            arrivals: 0,
            frac: 0.0,
            admitted: [0; 3],
            rejected: [0; 3],
            lat: vec![],
        }
    }

    fn inflight(&self) -> u32 {
        (self.queue.len() + self.busy.len()) as u32
    }

    /// Runs `ms` milliseconds at `rps` offered requests per second.
    fn run(&mut self, ms: u64, rps: f64) {
        for _ in 0..ms {
            self.t += 1;
            let t = self.t;
            let done: Vec<(u64, u64)> = self.busy.iter().copied().filter(|b| b.0 <= t).collect();
            self.busy.retain(|b| b.0 > t);
            for (_, admit) in done {
                self.window.record((t - admit) * MS);
                self.lat.push(t - admit);
            }
            self.frac += rps / 1000.0;
            while self.frac >= 1.0 {
                self.frac -= 1.0;
                let c = class(self.arrivals);
                self.arrivals += 1;
                let l = self.ctrl.limit;
                let cap = if self.ctrl.congested {
                    (l * [1.0, 0.9, 0.7][c]).floor().max(1.0)
                } else {
                    2.0 * l
                };
                if (self.inflight() as f64) < cap {
                    self.admitted[c] += 1;
                    self.queue.push_back(t);
                } else {
                    self.rejected[c] += 1;
                }
            }
            while self.busy.len() < self.workers {
                let Some(admit) = self.queue.pop_front() else {
                    break;
                };
                self.busy.push((t + self.service_ms, admit));
            }
            self.peak = self.peak.max(self.inflight());
            if t % 100 == 0 {
                let stats = WindowStats {
                    latency: self.window.drain(),
                    drops: 0,
                    peak_inflight: self.peak,
                };
                self.peak = self.inflight();
                self.ctrl.update(&stats, &conf());
            }
        }
    }

    fn reset_counts(&mut self) {
        self.admitted = [0; 3];
        self.rejected = [0; 3];
        self.lat.clear();
    }

    fn p(&self, q: f64) -> u64 {
        let mut l = self.lat.clone();
        l.sort_unstable();
        l.get(((l.len() as f64 * q) as usize).min(l.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    }
}

#[test]
fn calm_load_is_never_shed() {
    // 20 workers x 20 ms = 1000 req/s of capacity, offered 40 % of it for two minutes.
    let mut s = Sim::new(20, 20);
    s.run(120_000, 400.0);
    assert_eq!(s.rejected, [0, 0, 0], "limit {}", s.ctrl.limit);
}

#[test]
fn a_standby_at_three_times_its_capacity_stays_fast_and_busy() {
    // The drill's standby: 2 workers x 20 ms = 100 req/s; offered 300 req/s from cold.
    let mut s = Sim::new(2, 20);
    s.run(1_000, 300.0);
    assert!(
        s.p(1.0) < 1_000,
        "cold start flooded the standby: max latency {} ms",
        s.p(1.0)
    );
    s.reset_counts();
    s.run(20_000, 300.0);
    let served: u64 = s.admitted.iter().sum();
    let goodput = served as f64 / 20.0;
    assert!(goodput >= 90.0, "goodput {goodput} req/s");
    assert!(
        s.p(0.5) <= 60,
        "admitted p50 {} ms (service time 20 ms)",
        s.p(0.5)
    );
    assert!(s.p(0.99) <= 150, "admitted p99 {} ms", s.p(0.99));
    // Bulk is refused first, critical last.
    let rate = |c: usize| s.rejected[c] as f64 / (s.admitted[c] + s.rejected[c]) as f64;
    assert!(
        rate(2) > rate(1) && rate(1) >= rate(0),
        "reject rates {:?}",
        [rate(0), rate(1), rate(2)]
    );
}

#[test]
fn capacity_restored_brings_the_limit_back_and_shedding_stops() {
    let mut s = Sim::new(2, 20);
    s.run(10_000, 300.0);
    let low = s.ctrl.limit;
    s.workers = 40; // the primary is back: 2000 req/s
    s.run(5_000, 300.0);
    s.reset_counts();
    s.run(10_000, 300.0);
    assert_eq!(s.rejected, [0, 0, 0], "limit {} (was {low})", s.ctrl.limit);
}

#[test]
fn ten_minutes_of_overload_do_not_drift_the_baseline() {
    let mut s = Sim::new(2, 20);
    s.run(5_000, 300.0);
    let base = s.ctrl.baseline_ns.unwrap();
    s.run(600_000, 300.0);
    let after = s.ctrl.baseline_ns.unwrap();
    assert!(
        after < base * 1.2,
        "baseline drifted from {base} to {after}"
    );
}

#[test]
fn errors_shrink_the_limit_and_are_not_read_as_fast() {
    let mut g = GradientLimit::new(&conf());
    let before = g.limit;
    let fast_failures = WindowStats {
        latency: Drained::default(),
        drops: 50,
        peak_inflight: 20,
    };
    for _ in 0..5 {
        assert!(g.update(&fast_failures, &conf()));
    }
    assert!(g.limit < before * 0.7, "{} vs {before}", g.limit);
    assert!(g.congested);
    assert_eq!(g.baseline_ns, None, "failures gave no latency samples");
}

#[test]
fn empty_and_tiny_windows_change_nothing() {
    let mut g = GradientLimit::new(&conf());
    for _ in 0..1000 {
        assert!(!g.update(&WindowStats::default(), &conf()));
    }
    assert_eq!(g.limit, 20.0);
    let w = LatencyWindow::default();
    w.record(5 * MS);
    let one = WindowStats {
        latency: w.drain(),
        drops: 0,
        peak_inflight: 1,
    };
    for _ in 0..15 {
        g.update(&one, &conf());
    }
    assert_eq!(g.baseline_ns, None);
    assert!(g.update(&one, &conf()), "16 pooled samples are evaluated");
    assert!(g.baseline_ns.is_some());
}

#[test]
fn a_backend_that_really_got_slower_is_relearnt() {
    let mut s = Sim::new(4, 10);
    s.run(5_000, 300.0);
    s.service_ms = 40; // a slower release: capacity 100 req/s, baseline must follow
    s.run(30_000, 300.0);
    let base = s.ctrl.baseline_ns.unwrap() / MS as f64;
    assert!(base >= 30.0, "baseline stuck at {base} ms");
    s.reset_counts();
    s.run(10_000, 300.0);
    assert!(
        s.admitted.iter().sum::<u64>() as f64 / 10.0 >= 90.0,
        "goodput collapsed"
    );
}
