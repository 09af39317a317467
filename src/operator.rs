//! The operator's side of the admin API: one request to a replica's admin listener, as
//! `firebreak drill` and the demo's `failback` command send it (plain HTTP/1.1 with the bearer
//! token, a JSON answer).

use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Sends one request and returns the status and the JSON answer (`Null` if not JSON).
pub fn call(
    admin: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> Result<(u16, Value), String> {
    call_within(admin, method, path, token, body, Duration::from_secs(10))
}

/// Like [`call`], every step (connect, each read and write) bounded by `timeout`.
pub fn call_within(
    admin: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
    timeout: Duration,
) -> Result<(u16, Value), String> {
    let mut s = TcpStream::connect_timeout(&admin, timeout.min(Duration::from_secs(3)))
        .map_err(|e| format!("{admin}: {e}"))?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {admin}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out);
    let status = text
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .ok_or("no HTTP answer")?;
    let json = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    Ok((status, serde_json::from_str(json).unwrap_or(Value::Null)))
}
