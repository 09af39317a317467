//! Blocking raw HTTP/1.1 test client over `std::net::TcpStream`.
//!
//! Tests drive the proxy through this client instead of an HTTP library so that every byte on the
//! wire is visible and under control: it sends exactly what it is told (one request per
//! connection, `Connection: close`), parses Content-Length, chunked and close-delimited answers,
//! and reports a bad answer from the server as an `Err` rather than panicking. `send_raw_timeout` writes
//! arbitrary bytes for hostile-input tests and returns whatever came back.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Timeout for connecting, writing and the whole answer, unless a `*_timeout` variant is used.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A parsed HTTP response (interim 1xx answers are skipped).
#[derive(Clone, Debug, PartialEq)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_all(name).into_iter().next()
    }
    /// Every header with this name (case-insensitive), in order.
    fn header_all(&self, name: &str) -> Vec<&str> {
        let matching = self
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name));
        matching.map(|(_, v)| v.as_str()).collect()
    }
    /// The body as (lossy) UTF-8.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// The body as JSON; panics with the status and body if it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        self.try_json().unwrap_or_else(|e| panic!("{e}"))
    }
    pub fn try_json(&self) -> Result<serde_json::Value, String> {
        serde_json::from_slice(&self.body)
            .map_err(|e| format!("body of {} is not JSON ({e}): {}", self.status, self.text()))
    }
}

/// What came back from `send_raw_timeout`.
#[derive(Clone, Debug)]
pub struct RawResult {
    /// Every byte read until EOF, reset or timeout.
    pub bytes: Vec<u8>,
    /// The server closed the connection (EOF or reset); false means we timed out waiting.
    pub closed: bool,
    /// The close was a TCP reset (or the write was refused).
    pub reset: bool,
}

impl RawResult {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
    /// The status code of the first response line, if the bytes start with one.
    pub fn status(&self) -> Option<u16> {
        let text = self.text();
        let mut parts = text.lines().next()?.split(' ');
        let version = parts.next()?;
        if !version.starts_with("HTTP/") {
            return None;
        }
        parts.next()?.parse().ok()
    }
    /// The first response in the bytes, parsed.
    pub fn resp(&self) -> Result<Resp, String> {
        read_response(&mut BufReader::new(&self.bytes[..]), false)
    }
    /// Every complete response in the bytes, in order (answers to pipelined requests).
    pub fn resps(&self) -> Vec<Resp> {
        let mut r = BufReader::new(&self.bytes[..]);
        std::iter::from_fn(|| read_response(&mut r, false).ok()).collect()
    }
}

pub fn get(addr: SocketAddr, path: &str) -> Result<Resp, String> {
    request(addr, "GET", path, &[], b"")
}

pub fn get_timeout(addr: SocketAddr, path: &str, timeout: Duration) -> Result<Resp, String> {
    request_timeout(addr, "GET", path, &[], b"", timeout)
}

/// One request on a fresh connection. Adds `Host`, `Connection: close` and (for a non-empty
/// body) `Content-Length`, except where `headers` already names that header.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Resp, String> {
    request_timeout(addr, method, path, headers, body, DEFAULT_TIMEOUT)
}

pub fn request_timeout(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> Result<Resp, String> {
    let deadline = Instant::now() + timeout;
    let stream = connect(addr, timeout)?;
    let has = |name: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    if !has("host") {
        head.push_str(&format!("Host: {addr}\r\n"));
    }
    if !has("connection") {
        head.push_str("Connection: close\r\n");
    }
    if !body.is_empty() && !has("content-length") && !has("transfer-encoding") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    // A server may answer early (413, 400) and close while we still write: read the answer anyway.
    let written = (&stream)
        .write_all(&bytes)
        .map_err(|e| describe("writing request", &e));
    let mut reader = BufReader::new(Deadline { stream, deadline });
    match read_response(&mut reader, method.eq_ignore_ascii_case("HEAD")) {
        Ok(resp) => Ok(resp),
        Err(e) => Err(written
            .err()
            .map_or(e.clone(), |w| format!("{w}; then {e}"))),
    }
}

/// Writes `bytes` and reads until EOF, reset or `timeout`. Does not half-close.
/// Panics if the connection cannot be made at all.
pub fn send_raw_timeout(addr: SocketAddr, bytes: &[u8], timeout: Duration) -> RawResult {
    let stream = connect(addr, timeout).unwrap_or_else(|e| panic!("send_raw: {e}"));
    let refused = (&stream).write_all(bytes).is_err();
    let mut reader = Deadline {
        stream,
        deadline: Instant::now() + timeout,
    };
    let mut out = RawResult {
        bytes: Vec::new(),
        closed: false,
        reset: false,
    };
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match reader.read(&mut chunk) {
            Ok(0) => out.closed = true,
            Ok(n) => {
                out.bytes.extend_from_slice(&chunk[..n]);
                continue;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => (out.closed, out.reset) = (true, true),
        }
        break;
    }
    out.reset |= refused && out.closed;
    out
}

fn connect(addr: SocketAddr, timeout: Duration) -> Result<TcpStream, String> {
    let stream = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| describe(&format!("connecting to {addr}"), &e))?;
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(timeout));
    Ok(stream)
}

fn describe(what: &str, e: &std::io::Error) -> String {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => format!("{what}: timed out"),
        _ => format!("{what}: {e}"),
    }
}

/// A stream whose reads fail once an overall deadline has passed.
struct Deadline {
    stream: TcpStream,
    deadline: Instant,
}

impl Read for Deadline {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ErrorKind::TimedOut.into());
        }
        self.stream.set_read_timeout(Some(left))?;
        self.stream.read(buf)
    }
}

fn read_line(r: &mut impl BufRead, what: &str) -> Result<String, String> {
    let mut line = Vec::new();
    let n = r
        .by_ref()
        .take(64 * 1024)
        .read_until(b'\n', &mut line)
        .map_err(|e| describe(&format!("reading {what}"), &e))?;
    if n == 0 || !line.ends_with(b"\n") {
        return Err(format!("connection closed in {what}"));
    }
    let text = String::from_utf8_lossy(&line);
    Ok(text.trim_end_matches(['\r', '\n']).to_string())
}

/// Parses one response; interim 1xx answers (other than 101) are skipped.
fn read_response(r: &mut impl BufRead, head_request: bool) -> Result<Resp, String> {
    loop {
        let status_line = read_line(r, "status line")?;
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or("");
        let code = parts.next().and_then(|c| c.parse::<u16>().ok());
        let status = match code {
            Some(code) if version.starts_with("HTTP/1.") => code,
            _ => return Err(format!("not an HTTP status line: {status_line:?}")),
        };
        let mut headers = Vec::new();
        loop {
            let line = read_line(r, "response head")?;
            if line.is_empty() {
                break;
            }
            let (k, v) = line
                .split_once(':')
                .ok_or(format!("bad header line {line:?}"))?;
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
        if (100..200).contains(&status) && status != 101 {
            continue;
        }
        let mut resp = Resp {
            status,
            headers,
            body: Vec::new(),
        };
        if head_request || status == 204 || status == 304 || status == 101 {
            return Ok(resp);
        }
        let chunked = resp
            .header_all("transfer-encoding")
            .iter()
            .any(|te| te.contains("chunked"));
        if chunked {
            resp.body = read_chunked(r)?;
        } else if let Some(len) = resp.header("content-length") {
            let len: usize = len
                .parse()
                .map_err(|_| format!("bad Content-Length {len:?}"))?;
            resp.body = vec![0; len];
            r.read_exact(&mut resp.body)
                .map_err(|e| describe(&format!("reading {len}-byte body"), &e))?;
        } else {
            r.read_to_end(&mut resp.body)
                .map_err(|e| describe("reading body to EOF", &e))?;
        }
        return Ok(resp);
    }
}

fn read_chunked(r: &mut impl BufRead) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line = read_line(r, "chunk size")?;
        let hex = line.split(';').next().unwrap_or("").trim();
        let size =
            usize::from_str_radix(hex, 16).map_err(|_| format!("bad chunk size {line:?}"))?;
        if size == 0 {
            while !read_line(r, "trailers")?.is_empty() {}
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])
            .map_err(|e| describe("reading chunk", &e))?;
        if !read_line(r, "chunk end")?.is_empty() {
            return Err("chunk not followed by CRLF".to_string());
        }
    }
}
