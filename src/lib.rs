//! firebreak: a reverse proxy on Pingora that keeps fireTMS usable when its primary hosting
//! fails: latency- and health-aware spill from a primary to a standby tier, priority shedding,
//! a maintenance page, hot reload and Prometheus metrics. See README.md and docs/.

#![forbid(unsafe_code)]
// No input may make the process panic: production code neither unwraps nor panics (the unit
// tests may; `clippy.toml` holds the other project rules).
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::todo,
        clippy::unimplemented
    )
)]

pub mod admin;
pub mod admission;
pub mod affinity;
pub mod app;
pub mod background;
pub mod certs;
pub mod cli;
pub mod clock;
pub mod config;
pub mod conn;
pub mod demo;
pub mod failback;
pub mod fleet;
pub mod handover;
pub mod health;
pub mod identity;
pub mod latency;
pub mod ledger;
pub mod lock;
pub mod maintenance;
pub mod metrics;
#[cfg(test)]
mod module_graph;
pub mod notify;
pub mod operator;
pub mod outbound;
pub mod pem;
pub mod placement;
pub mod pool;
pub mod proxy;
pub mod reload;
pub mod request_id;
pub mod resolve;
pub mod respond;
pub mod retry;
pub mod route;
pub mod server;
pub mod slot;
pub mod stamp;
pub mod standby;
pub mod status_page;
pub mod telemetry;
#[cfg(test)]
mod testkit;
pub mod tier;
pub mod watch;
