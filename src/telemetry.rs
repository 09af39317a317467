//! Logging: `tracing` to stderr, human-readable or JSON (`--log-format json` or
//! `FIREBREAK_LOG_FORMAT=json`), filtered by `RUST_LOG` (default `info`). Pingora logs through
//! the `log` crate; tracing-subscriber's `log` bridge routes those records here too. The access
//! log is the `access` target: one line per request.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Safe to call more than once (later calls do nothing).
pub fn init(json: bool) {
    let json =
        json || std::env::var("FIREBREAK_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}
