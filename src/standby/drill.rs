//! Drill: shift a growing share of live traffic to the standby for a bounded time,
//! and abort at once when the standby breaks its SLO.
//!
//! Pure state machine, driven by the planner's tick with what the standby did in that window.
//! While a drill runs, the tier planner gives the standby `share()` of all traffic; requests the
//! standby cannot admit fall back to the primary (a drill never sheds a customer) and count
//! as errors for the SLO. The report stays in `/status` after the drill ends.

use serde::Serialize;

/// What the operator asked for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DrillPlan {
    pub start_share: f64,
    pub step: f64,
    pub step_every_ns: u64,
    pub max_share: f64,
    pub duration_ns: u64,
    pub max_error_rate: f64,
    pub max_p99_ns: u64,
}

/// One window of the standby's traffic during the drill.
#[derive(Debug, Clone, Copy, Default)]
pub struct Window {
    pub requests: u64,
    pub errors: u64,
    pub p99_ns: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Running,
    Completed,
    Aborted,
    Cancelled,
}

/// A drill and its running report.
#[derive(Debug, Clone, Serialize)]
pub struct Drill {
    #[serde(skip)]
    plan: DrillPlan,
    pub state: State,
    pub share: f64,
    pub share_reached: f64,
    pub requests: u64,
    pub errors: u64,
    pub worst_p99_ms: Option<f64>,
    pub abort_reason: Option<String>,
    pub elapsed_ms: u64,
    #[serde(skip)]
    started_ns: u64,
    #[serde(skip)]
    last_step_ns: u64,
}

/// Windows with fewer requests than this do not judge the error rate.
const MIN_REQUESTS: u64 = 10;

impl Drill {
    pub fn start(plan: DrillPlan, now_ns: u64) -> Self {
        let share = plan.start_share.clamp(0.0, plan.max_share);
        Self {
            plan,
            state: State::Running,
            share,
            share_reached: share,
            requests: 0,
            errors: 0,
            worst_p99_ms: None,
            abort_reason: None,
            elapsed_ms: 0,
            started_ns: now_ns,
            last_step_ns: now_ns,
        }
    }

    /// The share of all traffic the standby should get now.
    pub fn share(&self) -> f64 {
        if self.state == State::Running {
            self.share
        } else {
            0.0
        }
    }

    pub fn cancel(&mut self) {
        if self.state == State::Running {
            self.state = State::Cancelled;
        }
    }

    /// Folds in one window; returns true when the drill just ended.
    pub fn observe(&mut self, w: Window, now_ns: u64) -> bool {
        if self.state != State::Running {
            return false;
        }
        self.elapsed_ms = now_ns.saturating_sub(self.started_ns) / 1_000_000;
        self.requests += w.requests;
        self.errors += w.errors;
        if let Some(p99) = w.p99_ns {
            let ms = p99 / 1e6;
            self.worst_p99_ms = Some(self.worst_p99_ms.map_or(ms, |m: f64| m.max(ms)));
            if p99 > self.plan.max_p99_ns as f64 {
                return self.abort(format!(
                    "standby p99 {ms:.0} ms over the {} ms SLO",
                    self.plan.max_p99_ns / 1_000_000
                ));
            }
        }
        if w.requests >= MIN_REQUESTS {
            let rate = w.errors as f64 / w.requests as f64;
            if rate > self.plan.max_error_rate {
                return self.abort(format!(
                    "standby error rate {:.1} % over the {:.1} % SLO",
                    rate * 100.0,
                    self.plan.max_error_rate * 100.0
                ));
            }
        }
        if now_ns.saturating_sub(self.started_ns) >= self.plan.duration_ns {
            self.state = State::Completed;
            return true;
        }
        if now_ns.saturating_sub(self.last_step_ns) >= self.plan.step_every_ns {
            self.last_step_ns = now_ns;
            self.share = (self.share + self.plan.step).min(self.plan.max_share);
            self.share_reached = self.share_reached.max(self.share);
        }
        false
    }

    fn abort(&mut self, reason: String) -> bool {
        self.state = State::Aborted;
        self.abort_reason = Some(reason);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const S: u64 = 1_000_000_000;

    fn plan() -> DrillPlan {
        DrillPlan {
            start_share: 0.05,
            step: 0.05,
            step_every_ns: 2 * S,
            max_share: 0.25,
            duration_ns: 20 * S,
            max_error_rate: 0.01,
            max_p99_ns: S,
        }
    }

    fn fine() -> Window {
        Window {
            requests: 50,
            errors: 0,
            p99_ns: Some(50e6),
        }
    }

    #[test]
    fn steps_up_to_the_cap_and_completes() {
        let mut d = Drill::start(plan(), 0);
        assert_eq!(d.share(), 0.05);
        let mut t = 0;
        while d.state == State::Running {
            t += S / 10;
            d.observe(fine(), t);
        }
        assert_eq!(d.state, State::Completed);
        assert!((d.share_reached - 0.25).abs() < 1e-9);
        assert_eq!(
            d.share(),
            0.0,
            "a finished drill sends nothing to the standby"
        );
        assert!(d.elapsed_ms >= 20_000);
    }

    #[test]
    fn aborts_at_once_on_errors_or_latency() {
        let mut d = Drill::start(plan(), 0);
        assert!(d.observe(
            Window {
                requests: 100,
                errors: 2,
                p99_ns: Some(1e6)
            },
            S / 10
        ));
        assert_eq!(d.state, State::Aborted);
        assert!(d.abort_reason.as_ref().unwrap().contains("error rate"));
        let mut d = Drill::start(plan(), 0);
        assert!(d.observe(
            Window {
                requests: 3,
                errors: 0,
                p99_ns: Some(2e9)
            },
            S / 10
        ));
        assert!(d.abort_reason.as_ref().unwrap().contains("p99"));
        assert_eq!(d.share(), 0.0);
    }

    #[test]
    fn few_requests_do_not_judge_the_error_rate() {
        let mut d = Drill::start(plan(), 0);
        assert!(!d.observe(
            Window {
                requests: 3,
                errors: 1,
                p99_ns: None
            },
            S / 10
        ));
        assert_eq!(d.state, State::Running);
        d.cancel();
        assert_eq!(d.state, State::Cancelled);
    }
}
