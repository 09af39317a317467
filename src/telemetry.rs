//! Logging: `tracing` to stderr, human-readable or JSON (`--log-format json` or
//! `FIREBREAK_LOG_FORMAT=json`), filtered by `RUST_LOG` (default `info`). Pingora logs through
//! the `log` crate; tracing-subscriber's `log` bridge routes those records here too. The access
//! log is the `access` target: one line per request.
//!
//! Lines are handed to a background writer thread (`tracing-appender`), so a request never
//! waits on a write to stderr and many lines share one system call. If the writer falls far
//! behind, lines are dropped rather than slowing the proxy. [`flush`] drains it before exit.

use crate::lock::lock;
use std::sync::Mutex;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

static GUARD: Mutex<Option<WorkerGuard>> = Mutex::new(None);

/// Installs the global subscriber. Safe to call more than once (later calls do nothing).
pub fn init(json: bool) {
    let json =
        json || std::env::var("FIREBREAK_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = tracing_appender::non_blocking(std::io::stderr());
    // Colour codes only for a terminal: written to a file they cost ~12 % of the proxy's CPU
    // per logged request (callgrind) and make the log harder to grep.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi);
    let ok = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
    if ok.is_ok() {
        *lock(&GUARD) = Some(guard);
    }
}

/// Writes out every pending line (call before `process::exit`).
pub fn flush() {
    drop(lock(&GUARD).take());
}
