//! `firebreak ctl`: one operator action applied to every replica of a fleet, one line per
//! replica (its admin address, then what it answered), exit 1 when any replica failed.
//!
//! The replicas are this config's admin address plus its `[fleet]` (`peers`, or every address
//! of `dns`); `--fleet` and `--fleet-dns` replace the `[fleet]` of the config. The token is read
//! from the variable the config's `admin.token_env` names. Every replica is asked at once, each
//! with a bounded timeout, so one that hangs costs seconds, not the run. An action applied
//! twice (a retry) leaves the same state: each one sets a state, none toggles.

use crate::config::{Config, FleetConf};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;

/// One action, as `POST` path and JSON body (`GET /status` for `status`).
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Status,
    Maintenance {
        on: bool,
        message: Option<String>,
        retry_after: Option<String>,
    },
    Drain {
        pool: String,
        backend: String,
        drain: bool,
    },
    Failback,
}

impl Action {
    fn request(&self) -> (&'static str, &'static str, String) {
        match self {
            Action::Status => ("GET", "/status", String::new()),
            Action::Maintenance {
                on,
                message,
                retry_after,
            } => {
                let mut b = json!({ "enabled": on });
                if let Some(m) = message {
                    b["message"] = json!(m);
                }
                if let Some(r) = retry_after {
                    b["retry_after"] = json!(r);
                }
                ("POST", "/maintenance", b.to_string())
            }
            Action::Drain {
                pool,
                backend,
                drain,
            } => {
                let b = json!({ "pool": pool, "backend": backend, "drain": drain });
                ("POST", "/drain", b.to_string())
            }
            Action::Failback => ("POST", "/failback", String::new()),
        }
    }
}

/// What one replica said, in one line.
fn summary(action: &Action, status: u16, answer: &Value) -> Result<String, String> {
    if !(200..300).contains(&status) {
        let why = answer["message"]
            .as_str()
            .or(answer["error"].as_str())
            .unwrap_or("no reason given");
        return Err(format!("{status} {why}"));
    }
    Ok(match action {
        Action::Status => format!(
            "serving={} maintenance={} failback={} version={}",
            answer["serving"],
            answer["maintenance"]["enabled"],
            answer["failback"]["state"],
            answer["version"]
        ),
        _ => format!("applied {answer}"),
    })
}

/// Runs `action` on every replica; prints a line each; returns the exit code.
pub fn run(config: &Config, fleet: Option<FleetConf>, action: &Action) -> u8 {
    let mut targets = vec![local(config.admin.listen)];
    let fleet = fleet.or_else(|| config.fleet.clone());
    if let Some(f) = &fleet {
        match crate::fleet::targets(f) {
            Ok(t) => targets.extend(t),
            Err(e) => {
                println!("fleet: {e}");
                return 1;
            }
        }
    }
    targets.sort();
    targets.dedup();
    let token = config
        .admin
        .token_env
        .as_ref()
        .and_then(|v| std::env::var(v).ok());
    let (method, path, body) = action.request();
    let answers: Vec<_> = std::thread::scope(|s| {
        let calls: Vec<_> = targets
            .iter()
            .map(|&t| {
                let (token, body) = (token.as_deref(), body.as_str());
                s.spawn(move || {
                    let timeout = Duration::from_secs(5);
                    crate::operator::call_within(t, method, path, token, body, timeout)
                })
            })
            .collect();
        calls.into_iter().map(|c| c.join().ok()).collect()
    });
    let mut failed = 0;
    for (t, answer) in targets.iter().zip(answers) {
        let line = match answer {
            Some(Ok((status, v))) => summary(action, status, &v),
            Some(Err(e)) => Err(e),
            None => Err("no answer".into()),
        };
        match line {
            Ok(l) => println!("{t}  {l}"),
            Err(e) => {
                failed += 1;
                println!("{t}  FAILED: {e}");
            }
        }
    }
    u8::from(failed > 0)
}

/// An admin listener on the unspecified address is reached on loopback.
fn local(admin: SocketAddr) -> SocketAddr {
    if admin.ip().is_unspecified() {
        let ip = if admin.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        };
        SocketAddr::new(ip, admin.port())
    } else {
        admin
    }
}
