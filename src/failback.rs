//! Failback: when the primary comes back after a failover, traffic returns only when it is
//! safe — after `hold` of health (`mode = "auto"`) or when an operator says so (`"manual"`,
//! `POST /failback`) — and then gradually over `ramp`, not within seconds of its first passing
//! health check. In July the primary's provider recovered a day before its data did.
//!
//! A state machine driven by the planner's tick, with an injected clock:
//!
//! ```text
//!  Normal ──primary down──▶ Failover ──primary up──▶ Waiting ──hold passed (auto)──▶ Ramping
//!    ▲                         ▲  ▲                    │  ▲       or POST /failback      │
//!    │                         │  └──primary down──────┘  └──the primary breaks the SLO──┤
//!    └───────────── ramp done ─┴────────────────────── primary down ─────────────────────┘
//! ```
//!
//! **Failover** is the state where the primary tier has no available backend (it carries no
//! traffic). While the primary is back but **Waiting**, its share is held at 0 and
//! `firebreak_failback_pending` is 1. **Ramping**, the primary's share is capped at
//! `elapsed / ramp` of what the plan gives it (with affinity, whole key bands move back, so
//! customers move, not requests); if the primary breaks the drill SLO (`standby.
//! drill_max_error_rate`, `drill_max_p99`: the rehearsal machinery in reverse), the ramp
//! stops and traffic returns to the standby (Waiting again). The state lives in the process,
//! not the snapshot, so a reload keeps a pending failback. Without `[failback]` nothing is held:
//! the primary takes its share back as its health allows (its backends' `slow_start`).

use crate::config::{FailbackConf, FailbackMode};
use crate::lock::lock;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Mutex;

/// Where failback stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Phase {
    Normal,
    /// The primary tier has been down since `since` (ns).
    Failover {
        since: u64,
    },
    /// The primary is healthy again since `healthy_since`; traffic waits.
    Waiting {
        since: u64,
        healthy_since: u64,
    },
    /// Traffic moves back since `started`.
    Ramping {
        since: u64,
        started: u64,
    },
}

/// What the primary did in the last planning window (for the ramp's SLO).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Window {
    pub requests: u64,
    pub errors: u64,
    pub p99_ns: Option<f64>,
}

/// The SLO a ramp must keep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slo {
    pub max_error_rate: f64,
    pub max_p99_ns: u64,
}

/// Fewer requests than this in a window say nothing about an error rate.
const MIN_REQUESTS: u64 = 20;

/// What `release` did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Released {
    /// The ramp starts now.
    Started,
    /// It was already ramping (a second release, e.g. from another replica): nothing changed.
    Already,
}

/// The failback state of this process.
#[derive(Debug)]
pub struct Failback {
    phase: Mutex<Phase>,
    /// A fleet peer released this failover while this replica still saw the primary down:
    /// the release applies as soon as it waits (until the failover ends).
    armed: AtomicBool,
}

impl Default for Failback {
    fn default() -> Self {
        Failback {
            phase: Mutex::new(Phase::Normal),
            armed: AtomicBool::new(false),
        }
    }
}

impl Failback {
    pub fn phase(&self) -> Phase {
        *lock(&self.phase)
    }

    /// The primary is healthy and traffic waits for failback.
    pub fn pending(&self) -> bool {
        matches!(self.phase(), Phase::Waiting { .. })
    }

    /// The cap on the primary tier's share now (a fraction of what the plan gives it; None:
    /// no cap), as of the last tick.
    pub fn cap(&self, conf: Option<&FailbackConf>, now: u64) -> Option<f64> {
        let conf = conf?;
        match self.phase() {
            Phase::Normal => None,
            // Down anyway; held at 0 so that it stays out if it revives before the next tick.
            Phase::Failover { .. } => Some(0.0),
            Phase::Waiting { .. } => Some(0.0),
            Phase::Ramping { started, .. } => Some(progress(started, conf, now)),
        }
    }

    /// One planning tick: moves the state on and returns the cap on the primary tier's share
    /// (a fraction of what the plan gives it; None: no cap).
    pub fn tick(
        &self,
        conf: Option<&FailbackConf>,
        primary_up: bool,
        window: Window,
        slo: Slo,
        now: u64,
    ) -> Option<f64> {
        let mut phase = lock(&self.phase);
        let Some(conf) = conf else {
            *phase = Phase::Normal;
            return None;
        };
        let next = match *phase {
            _ if !primary_up => match *phase {
                Phase::Failover { .. } => *phase,
                _ => Phase::Failover {
                    since: since(*phase, now),
                },
            },
            Phase::Normal => Phase::Normal,
            Phase::Failover { since } if self.armed.swap(false, Relaxed) => {
                tracing::info!("failback released by a fleet peer: traffic moves back");
                Phase::Ramping {
                    since,
                    started: now,
                }
            }
            Phase::Failover { since } => Phase::Waiting {
                since,
                healthy_since: now,
            },
            Phase::Waiting {
                since,
                healthy_since,
            } => {
                let held = now.saturating_sub(healthy_since) >= crate::clock::ns(conf.hold);
                if conf.mode == FailbackMode::Auto && held {
                    Phase::Ramping {
                        since,
                        started: now,
                    }
                } else {
                    *phase
                }
            }
            Phase::Ramping { since, started } => {
                if let Some(why) = breach(window, slo) {
                    tracing::warn!(why, "failback ramp stopped: traffic returns to the standby");
                    Phase::Waiting {
                        since,
                        healthy_since: now,
                    }
                } else if progress(started, conf, now) >= 1.0 {
                    Phase::Normal
                } else {
                    *phase
                }
            }
        };
        if next != *phase {
            tracing::info!(from = ?*phase, to = ?next, "failback state changed");
        }
        if next == Phase::Normal {
            self.armed.store(false, Relaxed);
        }
        *phase = next;
        match next {
            Phase::Normal => None,
            Phase::Failover { .. } | Phase::Waiting { .. } => Some(0.0),
            Phase::Ramping { started, .. } => Some(progress(started, conf, now)),
        }
    }

    /// `POST /failback`: starts the ramp of a failback that waits; a second release while it
    /// ramps changes nothing. Err when nothing waits.
    pub fn release(&self, now: u64) -> Result<Released, &'static str> {
        let mut phase = lock(&self.phase);
        match *phase {
            Phase::Waiting { since, .. } => {
                *phase = Phase::Ramping {
                    since,
                    started: now,
                };
                tracing::info!("failback released: traffic moves back to the primary");
                Ok(Released::Started)
            }
            Phase::Ramping { .. } => Ok(Released::Already),
            Phase::Failover { .. } => {
                Err("the primary is not healthy yet: nothing to fail back to")
            }
            Phase::Normal => Err("no failover: traffic is already on the primary"),
        }
    }

    /// A release made on a fleet peer: released now if waiting, or as soon as this replica
    /// sees the primary healthy again if it still sees it down; nothing otherwise.
    pub fn release_from_peer(&self, now: u64) {
        match self.phase() {
            Phase::Waiting { .. } => {
                let _ = self.release(now);
            }
            Phase::Failover { .. } => self.armed.store(true, Relaxed),
            Phase::Normal | Phase::Ramping { .. } => {}
        }
    }

    /// At start, a replica of a fleet takes a peer's failover episode instead of sending
    /// traffic to a primary the fleet holds out: a peer in failover or waiting makes this
    /// replica wait (the next tick moves it to waiting if it sees the primary healthy); a
    /// peer ramping at `progress` makes it ramp from there. Only from the normal phase.
    pub fn adopt_peer(&self, peer: &str, progress: f64, conf: &FailbackConf, now: u64) {
        let mut phase = lock(&self.phase);
        if *phase != Phase::Normal {
            return;
        }
        *phase = match peer {
            "failover" | "waiting" => Phase::Failover { since: now },
            "ramping" => {
                let done = (progress.clamp(0.0, 1.0) * crate::clock::ns(conf.ramp) as f64) as u64;
                Phase::Ramping {
                    since: now,
                    started: now.saturating_sub(done),
                }
            }
            _ => return,
        };
        tracing::warn!(
            peer_phase = peer,
            "failback: taking the fleet's failover episode"
        );
    }

    /// This phase's name and ramp progress (0..1), as `/status` and the fleet show them.
    pub fn describe(&self, conf: Option<&FailbackConf>, now: u64) -> (&'static str, f64) {
        match self.phase() {
            Phase::Normal => ("normal", 1.0),
            Phase::Failover { .. } => ("failover", 0.0),
            Phase::Waiting { .. } => ("waiting", 0.0),
            Phase::Ramping { started, .. } => {
                ("ramping", conf.map_or(1.0, |c| progress(started, c, now)))
            }
        }
    }
}

fn since(phase: Phase, now: u64) -> u64 {
    match phase {
        Phase::Waiting { since, .. } | Phase::Ramping { since, .. } => since,
        Phase::Failover { since } => since,
        Phase::Normal => now,
    }
}

fn progress(started: u64, conf: &FailbackConf, now: u64) -> f64 {
    let ramp = crate::clock::ns(conf.ramp);
    if ramp == 0 {
        return 1.0;
    }
    (now.saturating_sub(started) as f64 / ramp as f64).min(1.0)
}

fn breach(w: Window, slo: Slo) -> Option<String> {
    if let Some(p99) = w.p99_ns.filter(|p| *p > slo.max_p99_ns as f64) {
        return Some(format!(
            "primary p99 {:.0} ms over the {} ms SLO",
            p99 / 1e6,
            slo.max_p99_ns / 1_000_000
        ));
    }
    if w.requests >= MIN_REQUESTS {
        let rate = w.errors as f64 / w.requests as f64;
        if rate > slo.max_error_rate {
            return Some(format!(
                "primary error rate {:.1} % over the {:.1} % SLO",
                rate * 100.0,
                slo.max_error_rate * 100.0
            ));
        }
    }
    None
}

#[cfg(test)]
#[path = "failback_tests.rs"]
mod tests;
