//! The wire side of the test origin (`super::Origin`): accepting connections, parsing HTTP/1.1
//! requests (Content-Length and chunked bodies, keep-alive, `Expect: 100-continue`), recording
//! what arrived, and answering according to the current `Behaviour`.
//!
//! Kept apart from the origin's control API so each stays small; it is written by hand, not on a
//! framework, so that every failure mode (hang, reset, garbage) is exact.

use super::{Behaviour, Shared};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub(super) type Conns = Arc<Mutex<Vec<JoinHandle<()>>>>;

pub(super) async fn accept_loop(
    l: TcpListener,
    sh: Arc<Shared>,
    mut kill: watch::Receiver<bool>,
    c: Conns,
) {
    let conn_kill = kill.clone();
    loop {
        let accepted = tokio::select! {
            _ = kill.wait_for(|k| *k) => return,
            accepted = l.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else { continue };
        let _ = stream.set_nodelay(true);
        let task = tokio::spawn(connection(stream, sh.clone(), conn_kill.clone()));
        let mut conns = c.lock().unwrap();
        conns.retain(|t| !t.is_finished());
        conns.push(task);
    }
}

async fn connection(mut stream: TcpStream, sh: Arc<Shared>, mut kill: watch::Receiver<bool>) {
    let killed = tokio::select! {
        _ = serve(&mut stream, &sh) => false,
        _ = kill.wait_for(|k| *k) => true,
    };
    if killed {
        let _ = stream.set_zero_linger();
    }
}

struct Request {
    method: String,
    target: String,
    close: bool,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

async fn serve(stream: &mut TcpStream, sh: &Shared) -> std::io::Result<()> {
    let mut buf = Vec::new();
    // When the last answer on this connection was written (None before the first request).
    let mut answered: Option<std::time::Instant> = None;
    loop {
        let read = read_request(stream, &mut buf, sh).await;
        // An app server that closes idle keep-alive connections: a request that arrives on a
        // connection idle for longer meets a closing socket and is never processed. (A real
        // server sends its FIN at the deadline and the request crosses it; closing when the
        // request arrives makes that race certain instead of rare.)
        let keepalive = Duration::from_millis(sh.keepalive_ms.load(Ordering::SeqCst));
        if !keepalive.is_zero() && answered.is_some_and(|t| t.elapsed() > keepalive) {
            return stream.set_zero_linger();
        }
        let req = match read {
            Ok(Some(req)) => req,
            Ok(None) => return Ok(()),
            Err(_) => return respond(stream, sh, 400, b"bad request\n", true, false).await,
        };
        let head = req.method.eq_ignore_ascii_case("HEAD");
        if req.target.split('?').next() == Some("/health") {
            let (status, body) = match sh.healthy.load(Ordering::SeqCst) {
                true => (200, &b"ok"[..]),
                false => (503, &b"unhealthy"[..]),
            };
            respond(stream, sh, status, body, req.close, head).await?;
            answered = Some(std::time::Instant::now());
            if req.close {
                return Ok(());
            }
            continue;
        }
        *sh.seen.lock().unwrap() = req.headers.clone();
        let line = format!("{} {}", req.method, req.target);
        sh.requests.lock().unwrap().push(line);
        if ["POST", "PUT"]
            .iter()
            .any(|m| req.method.eq_ignore_ascii_case(m))
        {
            let body = String::from_utf8_lossy(&req.body).into_owned();
            sh.applied.lock().unwrap().push(body);
        }
        sh.hits.fetch_add(1, Ordering::SeqCst);
        let (behaviour, permits) = sh.mode.lock().unwrap().clone();
        let mut status = 200;
        match behaviour {
            Behaviour::Normal => {}
            Behaviour::Delay(d) => tokio::time::sleep(d).await,
            Behaviour::Capacity { service, .. } => {
                let _permit = permits.acquire().await;
                tokio::time::sleep(service).await;
            }
            Behaviour::Hang => std::future::pending::<()>().await,
            Behaviour::ResetMidResponse => {
                let partial = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Origin: {}\r\n\
                     Content-Length: 4096\r\n\r\n{{\"origin\":\"{}\",\"partial",
                    sh.name, sh.name
                );
                stream.write_all(partial.as_bytes()).await?;
                stream.flush().await?;
                tokio::time::sleep(Duration::from_millis(30)).await;
                return stream.set_zero_linger();
            }
            Behaviour::Garbage => {
                stream
                    .write_all(b"\x00\xffSSH-2.0-not-http\r\n\x7f\x01{garbage}\n\n")
                    .await?;
                return stream.flush().await;
            }
            Behaviour::Status(code) => status = code,
            Behaviour::UpgradeEcho => {
                stream
                    .write_all(
                        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                          Connection: Upgrade\r\n\r\n",
                    )
                    .await?;
                // Bytes the client sent right behind the request are the first to echo.
                stream.write_all(&buf).await?;
                let mut chunk = [0u8; 16 * 1024];
                loop {
                    let n = stream.read(&mut chunk).await?;
                    if n == 0 {
                        return Ok(());
                    }
                    stream.write_all(&chunk[..n]).await?;
                }
            }
        }
        let body = serde_json::json!({ "origin": sh.name, "path": req.target }).to_string();
        respond(stream, sh, status, body.as_bytes(), req.close, head).await?;
        answered = Some(std::time::Instant::now());
        if req.close {
            return Ok(());
        }
    }
}

async fn respond(
    stream: &mut TcpStream,
    sh: &Shared,
    status: u16,
    body: &[u8],
    close: bool,
    head: bool,
) -> std::io::Result<()> {
    let bodyless = status == 204 || status == 304 || (100..200).contains(&status);
    let ctype = if body.starts_with(b"{") {
        "application/json"
    } else {
        "text/plain"
    };
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {ctype}\r\nX-Origin: {}\r\n",
        reason(status),
        sh.name
    );
    if !bodyless {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    if close {
        out.push_str("Connection: close\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    if !bodyless && !head {
        bytes.extend_from_slice(body);
    }
    stream.write_all(&bytes).await?;
    stream.flush().await
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

fn bad(msg: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.to_string())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Reads more bytes into `buf`; EOF here is an error (a request was cut short).
async fn more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut chunk = [0u8; 16 * 1024];
    let n = stream.read(&mut chunk).await?;
    if n == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

/// Reads one request (head and Content-Length or chunked body); `None` on a clean EOF.
async fn read_request(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
    sh: &Shared,
) -> std::io::Result<Option<Request>> {
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 64 * 1024 {
            return Err(bad("request head too large"));
        }
        match more(s, buf).await {
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && buf.is_empty() => {
                return Ok(None)
            }
            other => other?,
        };
    };
    let head = String::from_utf8_lossy(&buf[..head_end - 4]).into_owned();
    let mut lines = head.split("\r\n");
    let mut parts = lines.next().unwrap_or("").split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("bad request line"));
    };
    if target.split('?').next() != Some("/health") {
        sh.heads.fetch_add(1, Ordering::SeqCst);
    }
    let mut headers = Vec::new();
    for line in lines {
        let (k, v) = line.split_once(':').ok_or_else(|| bad("bad header"))?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let get = |name: &str| {
        let found = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name));
        found.map(|(_, v)| v.to_ascii_lowercase())
    };
    let conn = get("connection").unwrap_or_default();
    let close = conn.contains("close") || (version == "HTTP/1.0" && !conn.contains("keep-alive"));
    if get("expect").is_some_and(|e| e == "100-continue") {
        s.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
    }
    let mut pos = head_end;
    let mut body = Vec::new();
    if get("transfer-encoding").is_some_and(|te| te.contains("chunked")) {
        loop {
            let line_end = loop {
                match find(&buf[pos..], b"\r\n") {
                    Some(i) => break pos + i,
                    None => more(s, buf).await?,
                };
            };
            let size_text = String::from_utf8_lossy(&buf[pos..line_end]).into_owned();
            let size_hex = size_text.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_hex, 16).map_err(|_| bad("bad chunk size"))?;
            pos = line_end + 2;
            if size == 0 {
                loop {
                    match find(&buf[pos..], b"\r\n") {
                        Some(0) => break pos += 2,
                        Some(i) => pos += i + 2,
                        None => _ = more(s, buf).await?,
                    }
                }
                break;
            }
            while buf.len() < pos + size + 2 {
                more(s, buf).await?;
            }
            body.extend_from_slice(&buf[pos..pos + size]);
            pos += size + 2;
        }
    } else if let Some(len) = get("content-length") {
        let len: usize = len.parse().map_err(|_| bad("bad content-length"))?;
        while buf.len() < pos + len {
            more(s, buf).await?;
        }
        body.extend_from_slice(&buf[pos..pos + len]);
        pos += len;
    }
    buf.drain(..pos);
    let (method, target) = (method.to_string(), target.to_string());
    Ok(Some(Request {
        method,
        target,
        close,
        headers,
        body,
    }))
}
