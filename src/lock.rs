//! The one lock-poisoning policy: a lock whose holder panicked is taken over, not abandoned.
//!
//! A poisoned `Mutex` only means that some thread panicked while holding it. Every value
//! firebreak keeps behind a lock (a latency track, a drill, the admission queue, the last
//! reload report, certificate maps) is replaced or updated whole by each holder, so the value
//! is still a valid one; refusing to read it would turn one bug into a process that stops
//! planning, admitting or reloading. `clippy.toml` sends every `Mutex::lock` here.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, taking over the value if a previous holder panicked.
#[allow(clippy::disallowed_methods)] // the one place that calls `Mutex::lock`
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
