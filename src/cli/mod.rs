//! The command line: `run`, `check`, `demo`, `drill`, `ctl` (docs/operations.md, "Command
//! line").

mod ctl;
mod drill;
mod fanout;

use crate::config::Config;
use clap::{Parser, Subcommand};
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
        #[command(flatten)]
        plan: drill::Plan,
    },
    /// Apply one operator action to every replica of the fleet (this config's admin address
    /// and its [fleet]); one line per replica, exit 1 if any failed.
    Ctl(ctl::Args),
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
            plan,
        } => {
            let args = drill::Args {
                admin: *admin,
                token: std::env::var(token_env).ok(),
                plan: plan.clone(),
            };
            ExitCode::from(drill::run(&args) as u8)
        }
        Command::Ctl(args) => ExitCode::from(ctl::main(args)),
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
