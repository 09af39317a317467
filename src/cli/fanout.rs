//! Fan-out for `firebreak ctl`: one admin call made on every replica at once, each within a
//! bounded timeout, one line per replica (its admin address, then what it answered or why it
//! failed). A replica reached under two addresses is asked once (by its replica id).

use crate::config::FleetConf;
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
    /// Any other POST with its JSON body (drill, note).
    Post(&'static str, String),
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
            Action::Post(path, body) => ("POST", path, body.clone()),
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

/// Runs `action` on this replica (`local`) and the fleet; prints a line each; returns the
/// exit code.
pub fn run(
    local: Option<SocketAddr>,
    fleet: Option<FleetConf>,
    token: Option<&str>,
    action: &Action,
) -> u8 {
    let mut targets: Vec<SocketAddr> = local.into_iter().collect();
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
    let targets = distinct(targets);
    let (method, path, body) = action.request();
    let answers = ask_all(&targets, |t| {
        crate::operator::call_within(t, method, path, token, &body, Duration::from_secs(5))
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

/// Every target asked at once.
fn ask_all<T: Send>(
    targets: &[SocketAddr],
    ask: impl Fn(SocketAddr) -> T + Sync,
) -> Vec<Option<T>> {
    std::thread::scope(|s| {
        let ask = &ask;
        let calls: Vec<_> = targets.iter().map(|&t| s.spawn(move || ask(t))).collect();
        calls.into_iter().map(|c| c.join().ok()).collect()
    })
}

/// One address per replica: a replica reached under two addresses (its loopback from this
/// config and its pod address from the fleet's DNS name) answers with the same replica id;
/// its non-loopback address is kept. Addresses that do not answer stay (they will be named).
fn distinct(targets: Vec<SocketAddr>) -> Vec<SocketAddr> {
    if targets.len() < 2 {
        return targets;
    }
    let ids = ask_all(&targets, |t| {
        match crate::operator::call_within(
            t,
            "GET",
            "/fleet/state",
            None,
            "",
            Duration::from_secs(1),
        ) {
            Ok((200, v)) => v["replica"].as_str().map(str::to_string),
            _ => None,
        }
    });
    let mut keep: Vec<(SocketAddr, Option<String>)> = Vec::new();
    for (t, id) in targets
        .into_iter()
        .zip(ids.into_iter().map(Option::flatten))
    {
        match keep.iter_mut().find(|(_, k)| id.is_some() && *k == id) {
            Some(kept) if kept.0.ip().is_loopback() => kept.0 = t,
            Some(_) => {}
            None => keep.push((t, id)),
        }
    }
    keep.into_iter().map(|(t, _)| t).collect()
}

/// An admin listener on the unspecified address is reached on loopback.
pub fn local(admin: SocketAddr) -> SocketAddr {
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
