//! Test origin: a tiny hand-written HTTP/1.1 server on tokio standing in for a fireTMS backend.
//!
//! Integration tests start it on a real loopback port, steer it at run time (slow, saturated,
//! hanging, resetting, garbage, error status, unhealthy, killed and restarted) and read back what
//! reached it (hits, applied writes, headers), so the proxy can be tested black-box. It is written
//! by hand rather than on a framework so that its failure modes are exact and under our control.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

mod conn;

/// How the origin answers every request except `/health` (which answers at once, 200 or 503
/// per `set_healthy`, whatever the behaviour).
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// 200 with `{"origin":"<name>","path":"<path>"}`.
    Normal,
    /// Sleep, then answer normally.
    Delay(Duration),
    /// `workers` permits; each request holds one for `service`, the rest queue (an app server).
    Capacity { workers: usize, service: Duration },
    /// Read the request, never answer, keep the socket open.
    Hang,
    /// Send a status line, headers and part of the body, then close with a TCP reset.
    ResetMidResponse,
    /// Answer bytes that are not HTTP, then close.
    Garbage,
    /// Answer this status with the normal JSON body.
    Status(u16),
    /// Accept any request as a WebSocket upgrade (`101 Switching Protocols`), then echo every
    /// byte back until the client closes.
    UpgradeEcho,
}

impl Behaviour {
    /// 2 workers x 20 ms: 100 requests per second, queueing the excess like an app server.
    pub const HUNDRED_RPS: Behaviour = Behaviour::Capacity {
        workers: 2,
        service: Duration::from_millis(20),
    };
}

/// The tokio runtime that runs every origin of a test binary, on its own worker threads.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .thread_name("test-origin")
            .enable_all()
            .build()
            .expect("test origin runtime")
    })
}

struct Shared {
    name: String,
    mode: Mutex<(Behaviour, Arc<Semaphore>)>,
    healthy: AtomicBool,
    hits: AtomicU64,
    /// Request heads read (excluding `/health`), counted before their body is read.
    heads: AtomicU64,
    applied: Mutex<Vec<String>>,
    seen: Mutex<Vec<(String, String)>>,
    requests: Mutex<Vec<String>>,
    /// Milliseconds an idle keep-alive connection is kept (0: for ever), like an app server's
    /// keep-alive timeout (gunicorn: 2 s).
    keepalive_ms: AtomicU64,
}

struct Live {
    kill: watch::Sender<bool>,
    listener: JoinHandle<()>,
    conns: conn::Conns,
}

/// A running (or killed) test origin. Dropping it kills it.
pub struct Origin {
    addr: SocketAddr,
    shared: Arc<Shared>,
    live: Mutex<Option<Live>>,
}

impl Origin {
    /// Starts an origin on 127.0.0.1 with a free port.
    pub fn start(name: &str, behaviour: Behaviour) -> Origin {
        Origin::start_on("127.0.0.1:0".parse().unwrap(), name, behaviour)
    }

    /// Starts an origin on a chosen address (binding is retried for up to 2 s).
    pub fn start_on(addr: SocketAddr, name: &str, behaviour: Behaviour) -> Origin {
        let listener = bind_retry(addr);
        let shared = Arc::new(Shared {
            name: name.to_string(),
            mode: Mutex::new((Behaviour::Normal, Arc::new(Semaphore::new(0)))),
            healthy: AtomicBool::new(true),
            hits: AtomicU64::new(0),
            heads: AtomicU64::new(0),
            applied: Mutex::default(),
            seen: Mutex::default(),
            requests: Mutex::default(),
            keepalive_ms: AtomicU64::new(0),
        });
        let origin = Origin {
            addr: listener.local_addr().expect("origin local_addr"),
            shared,
            live: Mutex::new(None),
        };
        origin.set_behaviour(behaviour);
        origin.launch(listener);
        origin
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn name(&self) -> &str {
        &self.shared.name
    }
    /// Requests received, excluding `/health`.
    pub fn hits(&self) -> u64 {
        self.shared.hits.load(Ordering::SeqCst)
    }
    /// Request heads received, excluding `/health`: counted as soon as a head arrives, before
    /// its body, so a request whose body never comes still counts.
    pub fn heads(&self) -> u64 {
        self.shared.heads.load(Ordering::SeqCst)
    }
    /// Zeroes `hits` and clears `applied`, `requests` and the headers `seen_header` reads.
    pub fn reset_counts(&self) {
        self.shared.hits.store(0, Ordering::SeqCst);
        self.shared.applied.lock().unwrap().clear();
        self.shared.requests.lock().unwrap().clear();
        self.shared.seen.lock().unwrap().clear();
    }
    /// Closes keep-alive connections left idle this long after an answer, as app servers do: a
    /// request arriving later on such a connection is dropped unanswered.
    pub fn set_keepalive(&self, idle: Duration) {
        let ms = u64::try_from(idle.as_millis()).unwrap_or(u64::MAX).max(1);
        self.shared.keepalive_ms.store(ms, Ordering::SeqCst);
    }
    /// When false, `/health` answers 503 (whatever the behaviour).
    pub fn set_healthy(&self, healthy: bool) {
        self.shared.healthy.store(healthy, Ordering::SeqCst);
    }
    /// Applies to requests read from now on; a request already hanging stays hung.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        let workers = match behaviour {
            Behaviour::Capacity { workers, .. } => workers,
            _ => 0,
        };
        *self.shared.mode.lock().unwrap() = (behaviour, Arc::new(Semaphore::new(workers)));
    }
    /// Bodies of POST/PUT requests, in the order they were fully read (before any answer).
    pub fn applied(&self) -> Vec<String> {
        self.shared.applied.lock().unwrap().clone()
    }
    /// One header (case-insensitive) of the last request other than `/health`.
    pub fn seen_header(&self, name: &str) -> Option<String> {
        let seen = self.shared.seen.lock().unwrap();
        let found = seen.iter().find(|(k, _)| k.eq_ignore_ascii_case(name));
        found.map(|(_, v)| v.clone())
    }
    /// `"METHOD target"` of every request other than `/health`, in arrival order.
    pub fn requests(&self) -> Vec<String> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Closes the listener and aborts every open connection with a TCP reset, like a crashed
    /// process. Returns once the port refuses connections. Counters are kept.
    pub fn kill(&self) {
        let Some(live) = self.live.lock().unwrap().take() else {
            return;
        };
        live.kill.send_replace(true);
        wait_finished(&live.listener);
        let conns = std::mem::take(&mut *live.conns.lock().unwrap());
        for conn in &conns {
            wait_finished(conn);
        }
    }

    /// Kills (if running) and binds the same address again, retrying for up to 2 s.
    pub fn restart(&self) {
        self.kill();
        self.launch(bind_retry(self.addr));
    }

    fn launch(&self, listener: TcpListener) {
        let (kill, rx) = watch::channel(false);
        let conns = Arc::new(Mutex::new(Vec::new()));
        let task = conn::accept_loop(listener, self.shared.clone(), rx, conns.clone());
        let listener = runtime().spawn(task);
        *self.live.lock().unwrap() = Some(Live {
            kill,
            listener,
            conns,
        });
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.kill();
    }
}

fn wait_finished(task: &JoinHandle<()>) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while !task.is_finished() {
        if Instant::now() > deadline {
            task.abort();
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn bind_retry(addr: SocketAddr) -> TcpListener {
    let _rt = runtime().enter();
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let bound = if addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .and_then(|s| s.set_reuseaddr(true).map(|_| s))
        .and_then(|s| s.bind(addr).map(|_| s))
        .and_then(|s| s.listen(1024));
        match bound {
            Ok(listener) => return listener,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("test origin cannot bind {addr}: {e}"),
        }
    }
}
