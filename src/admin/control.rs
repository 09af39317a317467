//! Admin control endpoints: token check, `POST /reload`, `POST /maintenance`, `POST /drain`,
//! `POST /baseline`.

use super::json;
use crate::app::App;
use crate::config::parse_duration;
use http::{Response, StatusCode};
use pingora::protocols::http::ServerSession;
use serde::Deserialize;
use serde_json::json as j;

/// Constant-time equality (length leaks, contents do not).
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks `Authorization: Bearer <token>` against `admin.token_env`.
pub fn authorize(app: &App, s: &ServerSession) -> Result<(), Box<Response<Vec<u8>>>> {
    let env = app.store.peek().config.admin.token_env.clone();
    let token = env
        .and_then(|name| std::env::var(name).ok())
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(Box::new(json(
            StatusCode::FORBIDDEN,
            &j!({"error": "no admin token is configured (admin.token_env); POST endpoints are disabled"}),
        )));
    };
    let given = s
        .req_header()
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        // The scheme is case-insensitive (RFC 9110 §11.1): `bearer` and `BEARER` are Bearer.
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token)
        .unwrap_or("");
    if ct_eq(given.trim().as_bytes(), token.as_bytes()) {
        Ok(())
    } else {
        Err(Box::new(json(
            StatusCode::UNAUTHORIZED,
            &j!({"error": "missing or wrong bearer token"}),
        )))
    }
}

/// The JSON body of a `POST`, or the `400` that names what is wrong with it.
pub fn parse_body<T: serde::de::DeserializeOwned>(
    body: &[u8],
) -> Result<T, Box<Response<Vec<u8>>>> {
    serde_json::from_slice(body).map_err(|e| {
        Box::new(json(
            StatusCode::BAD_REQUEST,
            &j!({"error": format!("invalid body: {e}")}),
        ))
    })
}

pub fn reload(app: &App) -> Response<Vec<u8>> {
    let r = app.reload("admin");
    let status = if r.ok {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    json(status, &serde_json::to_value(&r).unwrap_or_default())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MaintenanceBody {
    enabled: bool,
    message: Option<String>,
    retry_after: Option<String>,
}

pub fn maintenance(app: &App, body: &[u8]) -> Response<Vec<u8>> {
    let b: MaintenanceBody = match parse_body(body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let retry = match b.retry_after.as_deref().map(parse_duration).transpose() {
        Ok(r) => r,
        Err(e) => {
            return json(
                StatusCode::BAD_REQUEST,
                &j!({"error": format!("retry_after: {e}")}),
            )
        }
    };
    let m = app.maintenance.set(b.enabled, b.message, retry);
    app.metrics.maintenance_active.set(m.enabled as i64);
    tracing::warn!(enabled = m.enabled, message = %m.message, "maintenance changed by admin");
    json(
        StatusCode::OK,
        &j!({"enabled": m.enabled, "message": m.message, "retry_after_seconds": m.retry_after.as_secs(), "source": m.source}),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DrainBody {
    pool: String,
    backend: String,
    #[serde(default = "yes")]
    drain: bool,
}

fn yes() -> bool {
    true
}

/// Drains one backend by hand (no new requests; in-flight ones finish), or undoes it. The
/// state belongs to the live backend, so it survives reloads that keep the backend.
pub fn drain(app: &App, body: &[u8]) -> Response<Vec<u8>> {
    let b: DrainBody = match parse_body(body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let snap = app.store.load();
    let found = snap
        .pools
        .iter()
        .filter(|p| p.name() == b.pool)
        .flat_map(|p| p.backends.iter())
        .find(|be| be.label == b.backend);
    let Some(backend) = found else {
        return json(
            StatusCode::NOT_FOUND,
            &j!({"error": "no such pool/backend"}),
        );
    };
    backend.set_drained(b.drain);
    app.ledger.drain(&b.pool, &b.backend, b.drain);
    app.replan.notify_one();
    tracing::warn!(pool = %b.pool, backend = %b.backend, drained = b.drain, "backend drain changed by admin");
    json(
        StatusCode::OK,
        &j!({"pool": b.pool, "backend": b.backend, "drained": b.drain, "in_flight": backend.inflight()}),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BaselineBody {
    pool: String,
}

/// The operator accepts a pool's current latency as its normal (a deliberately slower release,
/// a move to other hardware): its latency baseline is learnt again from the next window,
/// instead of rising at most 30 % an hour.
pub fn baseline(app: &App, body: &[u8]) -> Response<Vec<u8>> {
    let b: BaselineBody = match parse_body(body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let snap = app.store.load();
    let Some(pool) = snap.pools.iter().find(|p| p.name() == b.pool) else {
        return json(StatusCode::NOT_FOUND, &j!({"error": "no such pool"}));
    };
    let before = pool.plan().baseline_ns.map(|ns| ns / 1e6);
    pool.accept_latency();
    tracing::warn!(pool = %b.pool, baseline_ms = ?before, "latency baseline reset by admin");
    json(
        StatusCode::OK,
        &j!({"pool": b.pool, "previous_baseline_ms": before}),
    )
}

/// Starts a failback that waits (`[failback] mode = "manual"`, or before an automatic hold has
/// passed): traffic moves back to the primary over `failback.ramp`. `409` when nothing waits.
pub fn failback(app: &App) -> Response<Vec<u8>> {
    let snap = app.store.load();
    let Some(conf) = snap.config.failback.as_ref() else {
        let msg = "no [failback] in the config: traffic returns as the primary's health allows";
        return json(
            StatusCode::CONFLICT,
            &j!({"error": "no_failback_policy", "message": msg}),
        );
    };
    match app.failback.release(crate::clock::now_ns()) {
        Ok(done) => {
            let already = done == crate::failback::Released::Already;
            if !already {
                app.ledger.release();
            }
            app.plan_tick(false);
            let ramp_s = conf.ramp.as_secs_f64();
            json(
                StatusCode::OK,
                &j!({"failback": "ramping", "ramp_seconds": ramp_s, "already": already}),
            )
        }
        Err(why) => json(
            StatusCode::CONFLICT,
            &j!({"error": "nothing_to_fail_back", "message": why}),
        ),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn constant_time_compare() {
        assert!(super::ct_eq(b"abc", b"abc"));
        assert!(!super::ct_eq(b"abc", b"abd"));
        assert!(!super::ct_eq(b"abc", b"abcd"));
    }
}
