//! The command line: `run`, `check`, `demo` (see SPEC.md "Command line").

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
        #[arg(long, short)]
        config: PathBuf,
        /// Take over the listening sockets of a running firebreak (zero-downtime upgrade;
        /// then send SIGQUIT to the old process).
        #[arg(long)]
        upgrade: bool,
    },
    /// Validate a config file: exit 0 if valid, else print `PATH:LINE:COL: message` lines, exit 1.
    Check {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Run two simulated fireTMS origins and the proxy on 127.0.0.1:8080 (admin :9901).
    Demo,
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
            match crate::server::run(config, *upgrade) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("firebreak: {e}");
                    ExitCode::FAILURE
                }
            }
        }
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
