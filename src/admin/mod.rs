//! The admin listener: health, readiness, metrics, status, and control (reload, maintenance).
//!
//! Served on `admin.listen` only, never on a proxy listener. `POST` endpoints need
//! `Authorization: Bearer <token>` with the token from the environment variable named by
//! `admin.token_env` (compared in constant time, never logged); without a configured token
//! they answer 403, with a wrong or missing one 401.

mod control;
mod drill;
mod notes;
mod status;

use crate::app::App;
use async_trait::async_trait;
use http::{Method, Response, StatusCode};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use std::sync::Arc;

/// Largest accepted admin request body.
const MAX_BODY: usize = 64 * 1024;

pub struct Admin {
    app: Arc<App>,
}

impl Admin {
    pub fn new(app: Arc<App>) -> Self {
        Self { app }
    }
}

/// Builds a response; the builder only fails on invalid header values, which we never pass.
pub(crate) fn reply(status: StatusCode, ctype: &str, body: Vec<u8>) -> Response<Vec<u8>> {
    Response::builder()
        .status(status)
        .header("Content-Type", ctype)
        .header("Content-Length", body.len())
        .header("Cache-Control", "no-store")
        .body(body)
        .unwrap_or_else(|_| Response::new(Vec::new()))
}

pub(crate) fn json(status: StatusCode, v: &serde_json::Value) -> Response<Vec<u8>> {
    reply(status, "application/json", v.to_string().into_bytes())
}

async fn read_body(s: &mut ServerSession) -> Result<Vec<u8>, Response<Vec<u8>>> {
    let mut body = Vec::new();
    loop {
        match s.read_request_body().await {
            Ok(Some(chunk)) => {
                body.extend_from_slice(&chunk);
                if body.len() > MAX_BODY {
                    return Err(json(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        &serde_json::json!({"error": "body too large"}),
                    ));
                }
            }
            Ok(None) => return Ok(body),
            Err(_) => {
                return Err(json(
                    StatusCode::BAD_REQUEST,
                    &serde_json::json!({"error": "unreadable body"}),
                ))
            }
        }
    }
}

#[async_trait]
impl ServeHttp for Admin {
    async fn response(&self, s: &mut ServerSession) -> Response<Vec<u8>> {
        let method = s.req_header().method.clone();
        let path = s.req_header().uri.path().to_string();
        let app = &self.app;
        match (method, path.as_str()) {
            (Method::GET | Method::HEAD, "/healthz") => {
                reply(StatusCode::OK, "text/plain", b"ok\n".to_vec())
            }
            (Method::GET | Method::HEAD, "/readyz") => {
                if app.store.peek().tiers().serving() {
                    reply(StatusCode::OK, "text/plain", b"ready\n".to_vec())
                } else {
                    reply(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "text/plain",
                        b"no tier can serve\n".to_vec(),
                    )
                }
            }
            (Method::GET, "/metrics") => reply(
                StatusCode::OK,
                "text/plain; version=0.0.4",
                app.metrics.encode(),
            ),
            (Method::GET, "/status") => json(StatusCode::OK, &status::status_json(app)),
            (Method::GET, "/fleet/state") => json(StatusCode::OK, &crate::fleet::state_json(app)),
            (Method::GET, "/") => reply(
                StatusCode::OK,
                "text/html; charset=utf-8",
                status::PAGE.as_bytes().to_vec(),
            ),
            (
                Method::POST,
                p @ ("/reload" | "/maintenance" | "/drain" | "/drill" | "/baseline" | "/failback"
                | "/note"),
            ) => {
                if let Err(r) = control::authorize(app, s) {
                    return *r;
                }
                let body = match read_body(s).await {
                    Ok(b) => b,
                    Err(r) => return r,
                };
                match p {
                    "/reload" => control::reload(app),
                    "/maintenance" => control::maintenance(app, &body),
                    "/drill" => drill::drill(app, &body),
                    "/baseline" => control::baseline(app, &body),
                    "/failback" => control::failback(app),
                    "/note" => notes::note(app, &body),
                    _ => control::drain(app, &body),
                }
            }
            (
                _,
                "/healthz" | "/readyz" | "/metrics" | "/status" | "/" | "/reload" | "/maintenance"
                | "/drain" | "/drill" | "/baseline" | "/failback" | "/note" | "/fleet/state",
            ) => json(
                StatusCode::METHOD_NOT_ALLOWED,
                &serde_json::json!({"error": "method not allowed"}),
            ),
            _ => json(
                StatusCode::NOT_FOUND,
                &serde_json::json!({"error": "not found"}),
            ),
        }
    }
}
