//! Unit tests of the failback state machine, with a hand-driven clock.

use super::*;
use crate::testkit::MS;
use std::time::Duration;

const S: u64 = 1_000 * MS;

fn conf(mode: FailbackMode) -> FailbackConf {
    FailbackConf {
        mode,
        hold: Duration::from_secs(10),
        ramp: Duration::from_secs(20),
    }
}

const SLO: Slo = Slo {
    max_error_rate: 0.01,
    max_p99_ns: 2 * S,
};

fn quiet() -> Window {
    Window::default()
}

#[test]
fn auto_holds_then_ramps_then_returns_to_normal() {
    let f = Failback::default();
    let c = Some(conf(FailbackMode::Auto));
    assert_eq!(f.tick(c.as_ref(), true, quiet(), SLO, 0), None);
    assert_eq!(
        f.tick(c.as_ref(), false, quiet(), SLO, S),
        Some(0.0),
        "failover: held out"
    );
    assert_eq!(f.phase(), Phase::Failover { since: S });
    // Back: held at 0 for `hold`, pending.
    assert_eq!(f.tick(c.as_ref(), true, quiet(), SLO, 2 * S), Some(0.0));
    assert!(f.pending());
    assert_eq!(f.tick(c.as_ref(), true, quiet(), SLO, 11 * S), Some(0.0));
    // Hold passed: the ramp starts, and the cap grows with it.
    assert_eq!(f.tick(c.as_ref(), true, quiet(), SLO, 12 * S), Some(0.0));
    assert_eq!(f.tick(c.as_ref(), true, quiet(), SLO, 22 * S), Some(0.5));
    assert!(!f.pending());
    assert_eq!(f.tick(c.as_ref(), true, quiet(), SLO, 32 * S), None);
    assert_eq!(f.phase(), Phase::Normal);
}

#[test]
fn manual_waits_for_the_operator() {
    let f = Failback::default();
    let c = Some(conf(FailbackMode::Manual));
    assert!(
        f.release(0).is_err(),
        "nothing to release in normal operation"
    );
    f.tick(c.as_ref(), false, quiet(), SLO, S);
    assert!(f.release(S).is_err(), "the primary is still down");
    f.tick(c.as_ref(), true, quiet(), SLO, 2 * S);
    // An hour of health changes nothing.
    assert_eq!(f.tick(c.as_ref(), true, quiet(), SLO, 3600 * S), Some(0.0));
    assert!(f.pending());
    assert_eq!(f.release(3600 * S), Ok(Released::Started));
    // A second release (another replica's, a retried ctl) does not restart the ramp.
    assert_eq!(f.release(3602 * S), Ok(Released::Already));
    assert_eq!(f.tick(c.as_ref(), true, quiet(), SLO, 3605 * S), Some(0.25));
}

#[test]
fn a_ramp_that_breaks_the_slo_returns_to_the_standby_and_a_dead_primary_to_failover() {
    let f = Failback::default();
    let c = Some(conf(FailbackMode::Manual));
    f.tick(c.as_ref(), false, quiet(), SLO, S);
    f.tick(c.as_ref(), true, quiet(), SLO, 2 * S);
    f.release(3 * S).unwrap();
    let bad = Window {
        requests: 100,
        errors: 5,
        p99_ns: None,
    };
    assert_eq!(f.tick(c.as_ref(), true, bad, SLO, 4 * S), Some(0.0));
    assert!(f.pending(), "back to waiting for the operator");
    f.release(5 * S).unwrap();
    let slow = Window {
        requests: 5,
        errors: 0,
        p99_ns: Some(3.0 * S as f64),
    };
    assert_eq!(f.tick(c.as_ref(), true, slow, SLO, 6 * S), Some(0.0));
    // A few errors in a tiny window are not a verdict.
    f.release(7 * S).unwrap();
    let tiny = Window {
        requests: 3,
        errors: 1,
        p99_ns: None,
    };
    assert!(f
        .tick(c.as_ref(), true, tiny, SLO, 8 * S)
        .is_some_and(|cap| cap > 0.0));
    // The primary dies again mid-ramp: failover, keeping when it began.
    assert_eq!(f.tick(c.as_ref(), false, quiet(), SLO, 9 * S), Some(0.0));
    assert_eq!(f.phase(), Phase::Failover { since: S });
    // Without [failback] (a reload removed it): normal, no cap.
    assert_eq!(f.tick(None, true, quiet(), SLO, 10 * S), None);
    assert_eq!(f.phase(), Phase::Normal);
}
