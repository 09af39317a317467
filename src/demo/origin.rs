//! A simulated fireTMS origin for the demo: a tiny HTTP/1.1 server with a switch to kill it,
//! an optional per-request service time and a worker limit (excess requests queue, as on a
//! real app server), so the demo can show failover, spill and shedding live.

use crate::lock::lock;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

/// One simulated origin.
pub struct DemoOrigin {
    pub name: String,
    pub addr: SocketAddr,
    service_ms: AtomicU64,
    workers: Arc<Semaphore>,
    served: AtomicU64,
    running: AtomicBool,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl DemoOrigin {
    pub fn new(name: &str, addr: SocketAddr, service: Duration, workers: usize) -> Arc<Self> {
        Arc::new(Self {
            name: name.into(),
            addr,
            service_ms: AtomicU64::new(service.as_millis() as u64),
            workers: Arc::new(Semaphore::new(workers)),
            served: AtomicU64::new(0),
            running: AtomicBool::new(false),
            task: Mutex::new(None),
        })
    }

    pub fn served(&self) -> u64 {
        self.served.load(Relaxed)
    }

    pub fn is_running(&self) -> bool {
        self.running.load(Relaxed)
    }

    pub fn set_service(&self, d: Duration) {
        self.service_ms.store(d.as_millis() as u64, Relaxed);
    }

    /// Binds and serves (on the current tokio runtime).
    pub async fn start(self: &Arc<Self>) -> std::io::Result<()> {
        if self.is_running() {
            return Ok(());
        }
        let listener = TcpListener::bind(self.addr).await?;
        let me = self.clone();
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((s, _)) = listener.accept().await {
                let me = me.clone();
                conns.spawn(async move { me.serve(s).await });
            }
        });
        // Dropping the JoinSet (when the accept task is aborted) aborts every connection.
        *lock(&self.task) = Some(task);
        self.running.store(true, Relaxed);
        Ok(())
    }

    /// Stops listening and drops every connection, like a crashed process.
    pub fn kill(&self) {
        if let Some(t) = lock(&self.task).take() {
            t.abort();
        }
        self.running.store(false, Relaxed);
    }

    async fn serve(&self, mut s: TcpStream) {
        let mut buf = Vec::with_capacity(4096);
        loop {
            let Some(head_end) = read_head(&mut s, &mut buf).await else {
                return;
            };
            let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
            let mut lines = head.lines();
            let path = lines
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .unwrap_or("/")
                .to_string();
            let mut body_len = 0usize;
            let mut close = false;
            for l in lines {
                let lower = l.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    body_len = v.trim().parse().unwrap_or(0);
                } else if lower.starts_with("connection:") && lower.contains("close") {
                    close = true;
                }
            }
            while buf.len() < head_end + body_len {
                let mut chunk = [0u8; 4096];
                match s.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            buf.drain(..head_end + body_len);
            let body = if path == "/health" {
                "ok\n".to_string()
            } else {
                let _permit = self.workers.acquire().await;
                tokio::time::sleep(Duration::from_millis(self.service_ms.load(Relaxed))).await;
                self.served.fetch_add(1, Relaxed);
                format!("{{\"served_by\":\"{}\",\"path\":{:?}}}\n", self.name, path)
            };
            let resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nX-Served-By: {}\r\n\r\n{}",
                body.len(),
                self.name,
                body
            );
            if s.write_all(resp.as_bytes()).await.is_err() || close {
                return;
            }
        }
    }
}

/// Reads until the end of a request head; returns its length (including the blank line).
async fn read_head(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<usize> {
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Some(i + 4);
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
        let mut chunk = [0u8; 4096];
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}
