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
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_appender::non_blocking::WorkerGuard;
use tracing_log::NormalizeEvent;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

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
        let s = builder.json().flatten_event(true).finish();
        s.with(QuietDownstream).try_init()
    } else {
        builder.finish().with(QuietDownstream).try_init()
    };
    if ok.is_ok() {
        *lock(&GUARD) = Some(guard);
    }
}

/// Writes out every pending line (call before `process::exit`).
pub fn flush() {
    drop(lock(&GUARD).take());
}

/// What Pingora writes, at ERROR, for every client connection whose request head never
/// arrived whole (a slowloris cut with 408 by the connection guard, a client gone mid-head):
/// "Fail to proxy: Downstream …, downstream session type: …". Under attack that is one line
/// per attacking connection; the guard already answers, counts and logs these (at most once a
/// second), so this layer drops Pingora's lines. Nothing else is filtered.
const DOWNSTREAM_HEAD_FAILURE: &str = ", downstream session type:";

struct QuietDownstream;

impl<S: Subscriber> Layer<S> for QuietDownstream {
    fn event_enabled(&self, event: &Event<'_>, _ctx: Context<'_, S>) -> bool {
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        if *meta.level() != Level::ERROR || !meta.target().starts_with("pingora_proxy") {
            return true;
        }
        let mut seen = HeadFailure(false);
        event.record(&mut seen);
        !seen.0
    }
}

/// Whether an event's message is Pingora's downstream head failure.
struct HeadFailure(bool);

impl Visit for HeadFailure {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0 = value.contains(DOWNSTREAM_HEAD_FAILURE);
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}").contains(DOWNSTREAM_HEAD_FAILURE);
        }
    }
}
