//! The process's monotonic clock in nanoseconds.
//!
//! Pure logic (health, selection, limits) takes `now_ns: u64` as an argument so tests can drive
//! time by hand; only the edges of the program (proxy hooks, background loops) call [`now_ns`].

use std::sync::OnceLock;
use std::time::Instant;

#[allow(clippy::disallowed_methods)] // the clock itself
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Nanoseconds since the first call in this process (never 0 after the first call).
pub fn now_ns() -> u64 {
    epoch().elapsed().as_nanos() as u64 + 1
}

/// Wall-clock Unix seconds, for reports that show when something happened (never for
/// measuring time: that is [`now_ns`]).
#[allow(clippy::disallowed_methods)] // the one wall-clock reader
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Wall-clock Unix nanoseconds, for schedules that the replicas of a fleet share.
#[allow(clippy::disallowed_methods)] // the one wall-clock reader
pub fn unix_now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(ns)
        .unwrap_or(0)
}

/// Converts a duration to nanoseconds, saturating.
pub fn ns(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
