//! `POST /drill`: start (or cancel) a drill.
//!
//! Body (every key optional): `{"share": 0.05, "step": 0.05, "step_every": "10s",
//! "max_share": 0.5, "duration": "2m", "max_error_rate": 0.01, "max_p99": "1s"}`, or
//! `{"cancel": true}`. The SLO defaults come from `[standby]`.

use super::json;
use crate::app::App;
use crate::clock::{now_ns, ns};
use crate::config::parse_duration;
use crate::standby::drill::{Drill, DrillPlan};
use http::{Response, StatusCode};
use serde::Deserialize;
use serde_json::json as j;
use std::time::Duration;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Body {
    share: Option<f64>,
    step: Option<f64>,
    step_every: Option<String>,
    max_share: Option<f64>,
    duration: Option<String>,
    max_error_rate: Option<f64>,
    max_p99: Option<String>,
    #[serde(default)]
    cancel: bool,
}

fn dur(v: Option<&str>, default: Duration, key: &str) -> Result<Duration, String> {
    v.map(|s| parse_duration(s).map_err(|e| format!("{key}: {e}")))
        .unwrap_or(Ok(default))
}

fn fraction(v: Option<f64>, default: f64, key: &str) -> Result<f64, String> {
    match v.unwrap_or(default) {
        x if (0.0..=1.0).contains(&x) => Ok(x),
        x => Err(format!("{key} must be between 0 and 1, not {x}")),
    }
}

fn plan(app: &App, b: &Body) -> Result<DrillPlan, String> {
    let c = app.store.peek().config.standby.clone();
    let duration = dur(b.duration.as_deref(), Duration::from_secs(120), "duration")?;
    if duration > Duration::from_secs(3600) {
        return Err("duration: at most 1h".into());
    }
    Ok(DrillPlan {
        start_share: fraction(b.share, 0.05, "share")?,
        step: fraction(b.step, 0.05, "step")?,
        step_every_ns: ns(dur(
            b.step_every.as_deref(),
            Duration::from_secs(10),
            "step_every",
        )?
        .max(Duration::from_millis(100))),
        max_share: fraction(b.max_share, 0.5, "max_share")?,
        duration_ns: ns(duration),
        max_error_rate: fraction(b.max_error_rate, c.drill_max_error_rate, "max_error_rate")?,
        max_p99_ns: ns(dur(b.max_p99.as_deref(), c.drill_max_p99, "max_p99")?),
    })
}

pub fn drill(app: &App, body: &[u8]) -> Response<Vec<u8>> {
    let b: Body = if body.iter().all(|c| c.is_ascii_whitespace()) {
        Body::default()
    } else {
        match super::control::parse_body(body) {
            Ok(b) => b,
            Err(r) => return *r,
        }
    };
    if b.cancel {
        app.standby.cancel_drill();
        app.replan.notify_one();
        return json(StatusCode::OK, &j!({"drill": app.standby.drill()}));
    }
    let plan = match plan(app, &b) {
        Ok(p) => p,
        Err(e) => return json(StatusCode::BAD_REQUEST, &j!({"error": e})),
    };
    let snap = app.store.load();
    if crate::standby::standby_pools(&snap).is_empty() {
        return json(
            StatusCode::CONFLICT,
            &j!({"error": "no standby tier is configured"}),
        );
    }
    if let Err(e) = app.standby.start_drill(Drill::start(plan, now_ns())) {
        return json(StatusCode::CONFLICT, &j!({"error": e}));
    }
    app.replan.notify_one();
    tracing::warn!(
        share = plan.start_share,
        max_share = plan.max_share,
        "drill started"
    );
    json(StatusCode::OK, &j!({"drill": app.standby.drill()}))
}
