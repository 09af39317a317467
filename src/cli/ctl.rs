//! `firebreak ctl`: one operator action applied to every replica of a fleet, one line per
//! replica (its admin address, then what it answered), exit 1 when any replica failed.
//!
//! The replicas are the config's admin address plus its `[fleet]` (`peers`, or every address
//! of `dns`); `--fleet` and `--fleet-dns` replace the `[fleet]` of the config (and need no
//! config). The token is read from `--token-env`, else from the variable the config's
//! `admin.token_env` names. Every replica is asked at once, each within a bounded timeout, so
//! one that hangs costs seconds, not the run. An action applied twice (a retry) leaves the
//! same state: each one sets a state, none toggles; a note is the exception (it adds one), so
//! a replica that failed a `note` is best left to the fleet's exchange rather than retried.

use super::drill::{plan_json, Plan};
use super::fanout::{local, run, Action};
use crate::config::{Config, FleetConf};
use clap::Subcommand;
use serde_json::json;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// `firebreak ctl`'s arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The config file (its admin address, token variable and [fleet]).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Replicas' admin addresses, replacing the config's [fleet] (comma-separated).
    #[arg(long, value_delimiter = ',')]
    fleet: Vec<SocketAddr>,
    /// A HOST:PORT whose every address is a replica's admin API, replacing [fleet].
    #[arg(long, conflicts_with = "fleet")]
    fleet_dns: Option<String>,
    /// The environment variable holding the admin token (default: the config's
    /// admin.token_env).
    #[arg(long)]
    token_env: Option<String>,
    #[command(subcommand)]
    action: CtlAction,
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
    /// Start a drill on every replica (each moves the share of its own traffic, so the
    /// fleet moves that share of all traffic), or cancel it with --cancel.
    Drill {
        #[command(flatten)]
        plan: Plan,
        /// Cancel the running drill instead.
        #[arg(long)]
        cancel: bool,
    },
    /// Add a public status note (shown on the status page), or remove every note with --clear.
    Note {
        /// The text customers read.
        #[arg(required_unless_present = "clear")]
        text: Option<String>,
        /// Remove every note instead.
        #[arg(long, conflicts_with = "text")]
        clear: bool,
    },
}

/// Parses the arguments into targets and an action, runs it, returns the exit code.
pub fn main(args: &Args) -> u8 {
    let conf = match &args.config {
        Some(path) => match Config::load(path) {
            Ok(c) => Some(c),
            Err(e) => {
                println!("{e}");
                return 1;
            }
        },
        None => None,
    };
    let fleet = match fleet_of(args) {
        Ok(f) => f.or_else(|| conf.as_ref().and_then(|c| c.fleet.clone())),
        Err(e) => {
            println!("{e}");
            return 1;
        }
    };
    let local = conf.as_ref().map(|c| local(c.admin.listen));
    if local.is_none() && fleet.is_none() {
        println!("firebreak ctl: give --config, or the replicas with --fleet or --fleet-dns");
        return 1;
    }
    let token_env = args
        .token_env
        .clone()
        .or_else(|| conf.as_ref().and_then(|c| c.admin.token_env.clone()));
    let token = token_env.and_then(|v| std::env::var(v).ok());
    run(local, fleet, token.as_deref(), &action_of(&args.action))
}

fn fleet_of(args: &Args) -> Result<Option<FleetConf>, String> {
    let sync_every = Duration::from_secs(2);
    Ok(match (&args.fleet[..], &args.fleet_dns) {
        ([], None) => None,
        (peers, None) => Some(FleetConf {
            peers: peers.to_vec(),
            dns: None,
            sync_every,
        }),
        (_, Some(dns)) => {
            let Some((host, port)) = dns
                .rsplit_once(':')
                .and_then(|(h, p)| Some((h.to_string(), p.parse().ok()?)))
            else {
                return Err(format!("--fleet-dns {dns:?} must be HOST:PORT"));
            };
            Some(FleetConf {
                peers: vec![],
                dns: Some((host, port)),
                sync_every,
            })
        }
    })
}

fn action_of(action: &CtlAction) -> Action {
    match action {
        CtlAction::Status => Action::Status,
        CtlAction::Maintenance {
            state,
            message,
            retry_after,
        } => Action::Maintenance {
            on: state == "on",
            message: message.clone(),
            retry_after: retry_after.clone(),
        },
        CtlAction::Drain { pool, backend } | CtlAction::Undrain { pool, backend } => {
            Action::Drain {
                pool: pool.clone(),
                backend: backend.clone(),
                drain: matches!(action, CtlAction::Drain { .. }),
            }
        }
        CtlAction::Failback => Action::Failback,
        CtlAction::Drill { cancel: true, .. } => {
            Action::Post("/drill", json!({"cancel": true}).to_string())
        }
        CtlAction::Drill { plan, .. } => Action::Post("/drill", plan_json(plan)),
        CtlAction::Note { clear: true, .. } => {
            Action::Post("/note", json!({"clear": true}).to_string())
        }
        CtlAction::Note { text, .. } => {
            // One id for every replica: the fleet keeps one note, whatever reaches whom.
            let id = format!("ctl-{:016x}", fastrand::u64(..));
            Action::Post("/note", json!({"text": text, "id": id}).to_string())
        }
    }
}
