//! The kit of the black-box integration tests in `tests/*.rs`.
//!
//! It runs the real `firebreak` binary (`proxy`), real HTTP origins on loopback sockets
//! (`origin`, async on a harness-owned tokio runtime; `pyorigin` where a separate process is
//! needed), a raw blocking client (`client`), config text (`conf`), load (`load`), TLS (`tls`),
//! the external tools some tests drive (`tools`) and the status page's setup (`status`), so
//! tests stay plain synchronous `#[test]` functions and assert only what a user could observe.
//!
//! Each test file declares it as `pub mod support;`. Every test file is its own crate and uses
//! a different part of the kit; `pub` makes the kit that crate's exported API, so rustc checks
//! it as it checks a library: its private items are linted for dead code in every test binary,
//! while a `pub` item that this particular test does not call is not an error. A `pub` item
//! that no test calls is found by building the tests with `mod support;` in every file: it is
//! the `dead_code` warning that all the test binaries share.

pub mod chromium;
pub mod client;
pub mod conf;
pub mod load;
pub mod origin;
pub mod proxy;
pub mod pyorigin;
pub mod status;
pub mod tls;
pub mod tls_origin;
pub mod tools;

pub use client::{get, get_timeout, request, request_timeout, send_raw_timeout, Resp};
pub use origin::{Behaviour, Origin};
pub use proxy::Proxy;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The common setup: primary origin "a" and a "standby" origin with these behaviours behind a
/// started, ready proxy, with `tail` appended to the config and `env` set for the process.
pub fn two_origins(
    primary: Behaviour,
    standby: Behaviour,
    tail: &str,
    env: &[(&str, &str)],
) -> (Origin, Origin, Proxy) {
    let a = Origin::start("a", primary);
    let s = Origin::start("standby", standby);
    let p = Proxy::start_with_env(&conf::two_tier(&[(&a, 1)], &[&s], "", tail), env);
    assert!(p.wait_ready());
    (a, s, p)
}

/// `two_origins` with both origins answering normally.
pub fn primary_and_standby(tail: &str, env: &[(&str, &str)]) -> (Origin, Origin, Proxy) {
    two_origins(Behaviour::Normal, Behaviour::Normal, tail, env)
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

/// The repository's root directory.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A file under `tests/support/`.
pub fn support_file(name: &str) -> PathBuf {
    repo().join("tests/support").join(name)
}
