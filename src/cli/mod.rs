//! The command line: `run`, `check`, `demo`, `drill`, `ctl` (docs/operations.md, "Command
//! line").

mod ctl;
mod drill;

use crate::config::Config;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "firebreak",
    version,
    about = "Failover reverse proxy for fireTMS: tiers, shedding, maintenance page"
)]
pub struct Cli {
    /// Log format: text or json.
    #[arg(long, global = true, default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve until SIGTERM (drain, then exit 0) or SIGINT. SIGHUP reloads the config.
    Run {
        /// The config file (TOML; see docs/configuration.md).
        #[arg(long, short)]
        config: PathBuf,
        /// Take over the listening sockets of a running firebreak (zero-downtime upgrade;
        /// then send SIGQUIT to the old process).
        #[arg(long)]
        upgrade: bool,
    },
    /// Validate a config file: exit 0 if valid, else print `PATH:LINE:COL: message` lines, exit 1.
    Check {
        /// The config file to validate.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Run three simulated fireTMS origins (two primary backends, one small standby) and the
    /// proxy on 127.0.0.1:8080 (admin :9901).
    Demo,
    /// Drill a failover: shift a growing share of live traffic to the standby, abort on SLO
    /// breach, print a report (exit 0 completed, 2 aborted).
    Drill {
        /// Admin address of the running firebreak.
        #[arg(long, default_value = "127.0.0.1:9901")]
        admin: std::net::SocketAddr,
        /// Environment variable holding the admin token.
        #[arg(long, default_value = "FIREBREAK_ADMIN_TOKEN")]
        token_env: String,
        /// Share of all traffic sent to the standby at the start (0..1).
        #[arg(long)]
        share: Option<f64>,
        /// Added to the share every --step-every.
        #[arg(long)]
        step: Option<f64>,
        /// How often the share grows, e.g. "10s".
        #[arg(long)]
        step_every: Option<String>,
        /// The share is never raised above this (0..1).
        #[arg(long)]
        max_share: Option<f64>,
        /// Total length, e.g. "2m".
        #[arg(long)]
        duration: Option<String>,
        /// SLO: abort above this standby error rate (0..1).
        #[arg(long)]
        max_error_rate: Option<f64>,
        /// SLO: abort above this standby p99, e.g. "500ms".
        #[arg(long)]
        max_p99: Option<String>,
    },
    /// Apply one operator action to every replica of the fleet (this config's admin address
    /// and its [fleet]); one line per replica, exit 1 if any failed.
    Ctl {
        /// The config file (its admin address, token variable and [fleet]).
        #[arg(long, short)]
        config: PathBuf,
        /// Replicas' admin addresses, replacing the config's [fleet] (comma-separated).
        #[arg(long, value_delimiter = ',')]
        fleet: Vec<SocketAddr>,
        /// A HOST:PORT whose every address is a replica's admin API, replacing [fleet].
        #[arg(long)]
        fleet_dns: Option<String>,
        #[command(subcommand)]
        action: CtlAction,
    },
}

#[derive(Subcommand, Debug)]
pub enum CtlAction {
    /// Each replica's serving state, maintenance, failback and config version.
    Status,
    /// Maintenance on or off on every replica.
    Maintenance {
        /// on or off.
        #[arg(value_parser = ["on", "off"])]
        state: String,
        /// The message customers see.
        #[arg(long)]
        message: Option<String>,
        /// Retry-After, e.g. "10m".
        #[arg(long)]
        retry_after: Option<String>,
    },
    /// Drain a backend (no new requests) on every replica.
    Drain {
        /// The pool's name.
        pool: String,
        /// The backend's address as /status shows it.
        backend: String,
    },
    /// Undo a drain on every replica.
    Undrain {
        /// The pool's name.
        pool: String,
        /// The backend's address as /status shows it.
        backend: String,
    },
    /// Release a failback that waits, on every replica.
    Failback,
}

fn check(path: &Path) -> ExitCode {
    match Config::load(path) {
        Ok(c) => {
            for w in &c.warnings {
                eprintln!(
                    "{}:{}:{}: warning: {}",
                    path.display(),
                    w.line,
                    w.col,
                    w.message
                );
            }
            println!(
                "{}: ok ({} pools, {} routes)",
                path.display(),
                c.pools.len(),
                c.routes.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Command::Check { config } => check(config),
        Command::Run { config, upgrade } => {
            crate::telemetry::init(cli.log_format == "json");
            let result = crate::server::run(config, *upgrade);
            crate::telemetry::flush();
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("firebreak: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Drill {
            admin,
            token_env,
            share,
            step,
            step_every,
            max_share,
            duration,
            max_error_rate,
            max_p99,
        } => {
            let args = drill::Args {
                admin: *admin,
                token: std::env::var(token_env).ok(),
                share: *share,
                step: *step,
                step_every: step_every.clone(),
                max_share: *max_share,
                duration: duration.clone(),
                max_error_rate: *max_error_rate,
                max_p99: max_p99.clone(),
            };
            ExitCode::from(drill::run(&args) as u8)
        }
        Command::Ctl {
            config,
            fleet,
            fleet_dns,
            action,
        } => ctl_main(config, fleet, fleet_dns.as_deref(), action),
        Command::Demo => {
            crate::telemetry::init(cli.log_format == "json");
            match crate::demo::run() {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("firebreak demo: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn ctl_main(
    config: &Path,
    fleet: &[SocketAddr],
    fleet_dns: Option<&str>,
    action: &CtlAction,
) -> ExitCode {
    let conf = match Config::load(config) {
        Ok(c) => c,
        Err(e) => {
            println!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let sync_every = std::time::Duration::from_secs(2);
    let fleet = match (fleet, fleet_dns) {
        ([], None) => None,
        (peers, None) => Some(crate::config::FleetConf {
            peers: peers.to_vec(),
            dns: None,
            sync_every,
        }),
        (_, Some(dns)) => {
            let Some((host, port)) = dns
                .rsplit_once(':')
                .and_then(|(h, p)| Some((h.to_string(), p.parse().ok()?)))
            else {
                println!("--fleet-dns {dns:?} must be HOST:PORT");
                return ExitCode::FAILURE;
            };
            Some(crate::config::FleetConf {
                peers: vec![],
                dns: Some((host, port)),
                sync_every,
            })
        }
    };
    let action = match action {
        CtlAction::Status => ctl::Action::Status,
        CtlAction::Maintenance {
            state,
            message,
            retry_after,
        } => ctl::Action::Maintenance {
            on: state == "on",
            message: message.clone(),
            retry_after: retry_after.clone(),
        },
        CtlAction::Drain { pool, backend } | CtlAction::Undrain { pool, backend } => {
            ctl::Action::Drain {
                pool: pool.clone(),
                backend: backend.clone(),
                drain: matches!(action, CtlAction::Drain { .. }),
            }
        }
        CtlAction::Failback => ctl::Action::Failback,
    };
    ExitCode::from(ctl::run(&conf, fleet, &action))
}
