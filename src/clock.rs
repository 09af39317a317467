//! The process's monotonic clock in nanoseconds.
//!
//! Pure logic (health, selection, limits) takes `now_ns: u64` as an argument so tests can drive
//! time by hand; only the edges of the program (proxy hooks, background loops) call [`now_ns`].

use std::sync::OnceLock;
use std::time::Instant;

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Nanoseconds since the first call in this process (never 0 after the first call).
pub fn now_ns() -> u64 {
    epoch().elapsed().as_nanos() as u64 + 1
}

/// Converts a duration to nanoseconds, saturating.
pub fn ns(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
