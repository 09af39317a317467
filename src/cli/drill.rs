//! `firebreak drill`: drive a drill through the admin API and print a report.
//!
//! Posts `/drill` with the given plan, then polls `/status` once a second, printing the share
//! reached, the standby's traffic, errors and p99, until the drill completes or aborts. Exit
//! code: 0 completed, 2 aborted or cancelled, 1 could not run.

use crate::operator::call;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;

/// The plan as given on the command line (None = the server's default); `firebreak drill`
/// and `firebreak ctl drill` share it.
#[derive(clap::Args, Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Share of all traffic sent to the standby at the start (0..1).
    #[arg(long)]
    pub share: Option<f64>,
    /// Added to the share every --step-every.
    #[arg(long)]
    pub step: Option<f64>,
    /// How often the share grows, e.g. "10s".
    #[arg(long)]
    pub step_every: Option<String>,
    /// The share is never raised above this (0..1).
    #[arg(long)]
    pub max_share: Option<f64>,
    /// Total length, e.g. "2m".
    #[arg(long)]
    pub duration: Option<String>,
    /// SLO: abort above this standby error rate (0..1).
    #[arg(long)]
    pub max_error_rate: Option<f64>,
    /// SLO: abort above this standby p99, e.g. "500ms".
    #[arg(long)]
    pub max_p99: Option<String>,
}

/// Where and with which plan `firebreak drill` runs.
#[derive(Debug, Clone)]
pub struct Args {
    pub admin: SocketAddr,
    pub token: Option<String>,
    pub plan: Plan,
}

/// The plan as the body of `POST /drill`.
pub fn plan_json(a: &Plan) -> String {
    let mut m = serde_json::Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            m.insert(k.into(), v);
        }
    };
    put("share", a.share.map(Value::from));
    put("step", a.step.map(Value::from));
    put("step_every", a.step_every.clone().map(Value::from));
    put("max_share", a.max_share.map(Value::from));
    put("duration", a.duration.clone().map(Value::from));
    put("max_error_rate", a.max_error_rate.map(Value::from));
    put("max_p99", a.max_p99.clone().map(Value::from));
    Value::Object(m).to_string()
}

/// Runs the drill; returns the process exit code.
pub fn run(a: &Args) -> i32 {
    let (code, body) = match call(
        a.admin,
        "POST",
        "/drill",
        a.token.as_deref(),
        &plan_json(&a.plan),
    ) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("firebreak drill: cannot reach the admin API: {e}");
            return 1;
        }
    };
    if code != 200 {
        eprintln!("firebreak drill: refused ({code}): {body}");
        return 1;
    }
    println!("drill started: {}", body["drill"]);
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let d = match call(a.admin, "GET", "/status", None, "") {
            Ok((200, s)) => s["standby"]["drill"].clone(),
            Ok((c, _)) => {
                eprintln!("firebreak drill: /status answered {c}");
                return 1;
            }
            Err(e) => {
                eprintln!("firebreak drill: lost the admin API: {e}");
                return 1;
            }
        };
        println!(
            "{:>6} s  share {:>5.1} %  standby requests {:>6}  errors {:>4}  worst p99 {} ms",
            d["elapsed_ms"].as_u64().unwrap_or(0) / 1000,
            d["share"].as_f64().unwrap_or(0.0) * 100.0,
            d["requests"],
            d["errors"],
            d["worst_p99_ms"]
                .as_f64()
                .map(|v| format!("{v:.0}"))
                .unwrap_or("-".into()),
        );
        match d["state"].as_str() {
            Some("running") => continue,
            Some("completed") => {
                println!(
                    "drill completed: share reached {:.1} %",
                    d["share_reached"].as_f64().unwrap_or(0.0) * 100.0
                );
                return 0;
            }
            other => {
                println!(
                    "drill {}: {} (share reached {:.1} %)",
                    other.unwrap_or("ended"),
                    d["abort_reason"].as_str().unwrap_or("-"),
                    d["share_reached"].as_f64().unwrap_or(0.0) * 100.0
                );
                return 2;
            }
        }
    }
}
