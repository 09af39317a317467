//! Black-box test harness shared by the integration tests in `tests/*.rs` (each does `mod support;`).
//!
//! It runs the real `firebreak` binary (`proxy`), real HTTP origins on loopback sockets
//! (`origin`, async on a harness-owned tokio runtime) and a raw blocking client (`client`), so
//! tests stay plain synchronous `#[test]` functions and assert only what a user could observe.
#![allow(dead_code, unused_imports)]

pub mod client;
pub mod conf;
pub mod load;
pub mod origin;
pub mod proxy;

pub use client::{get, request, request_timeout, send_raw, send_raw_timeout, RawResult, Resp};
pub use origin::{Behaviour, Origin};
pub use proxy::Proxy;

use std::time::{Duration, Instant};

/// The common setup: primary origin "a" and a "standby" origin behind a started, ready proxy,
/// with `tail` appended to the config and `env` set for the process.
pub fn primary_and_standby(tail: &str, env: &[(&str, &str)]) -> (Origin, Origin, Proxy) {
    let a = Origin::start("a", Behaviour::Normal);
    let s = Origin::start("standby", Behaviour::Normal);
    let p = Proxy::start_with_env(&conf::two_tier(&[(&a, 1)], &[&s], "", tail), env);
    assert!(p.wait_ready());
    (a, s, p)
}

/// Polls `cond` every 20 ms until it is true (returns true) or `timeout` passes (returns false).
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
