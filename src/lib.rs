//! firebreak: a reverse proxy on Pingora that keeps fireTMS usable when its primary hosting
//! fails: latency- and health-aware spill from a primary to a standby tier, priority shedding,
//! a maintenance page, hot reload and Prometheus metrics. See README.md and SPEC.md.

#![forbid(unsafe_code)]

pub mod admin;
pub mod admission;
pub mod app;
pub mod background;
pub mod certs;
pub mod cli;
pub mod clock;
pub mod config;
pub mod conn;
pub mod demo;
pub mod handover;
pub mod health;
pub mod maintenance;
pub mod metrics;
pub mod notify;
pub mod pool;
pub mod proxy;
pub mod rehearse;
pub mod reload;
pub mod respond;
pub mod retry;
pub mod route;
pub mod server;
pub mod standby;
pub mod telemetry;
pub mod tier;
pub mod watch;
