//! Configuration: the TOML file of docs/configuration.md, parsed once into validated, typed
//! values.
//!
//! The path is `text → raw (serde, spans kept) → validate → Config`. Parsing stops at the first
//! syntax or type error (TOML cannot be resumed), but validation collects *every* semantic error
//! before failing, each with the line and column of the offending value, in the style of
//! linkerd2-proxy's config loading: nothing downstream ever re-checks a field.
//!
//! Errors render as `PATH:LINE:COL: message`, one per line (see [`ConfigErrors`]).

mod error;
mod raw;
mod units;
mod validate;

pub use error::{ConfigError, ConfigErrors};
pub use units::{parse_bytes, parse_duration};

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A fully validated configuration. Every field is already in its final type.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub server: ServerConf,
    pub listen: ListenConf,
    pub admin: AdminConf,
    /// Pools in file order. Names are unique; at least one pool exists.
    pub pools: Vec<PoolConf>,
    /// Routes in file order. Names are unique; (host, path_prefix) pairs are unique.
    pub routes: Vec<RouteConf>,
    pub limits: LimitsConf,
    pub maintenance: MaintenanceConf,
    pub retry: RetryConf,
    pub admission: AdmissionConf,
    pub standby: StandbyConf,
    pub clients: ClientsConf,
    /// Session affinity (table `[affinity]`); None: the tier of each request is drawn at random.
    pub affinity: Option<AffinityConf>,
    /// How traffic returns to a recovered primary (table `[failback]`); None: as its health
    /// allows.
    pub failback: Option<FailbackConf>,
    /// The other replicas (table `[fleet]`); None: this replica stands alone.
    pub fleet: Option<FleetConf>,
    /// The public status page (table `[status_page]`); None: not served.
    pub status_page: Option<StatusPageConf>,
    /// Non-fatal remarks (e.g. admin on a public address without a token).
    pub warnings: Vec<ConfigError>,
}

/// The public status page, served by firebreak itself on every public listener.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusPageConf {
    /// Starts with '/', is not "/" and does not end with '/'; `PATH.json` is the JSON form.
    pub path: String,
    /// Lower-cased, without port: every path of this host is the page. None = no such host.
    pub host: Option<String>,
    /// The service's name on the page.
    pub title: String,
    /// Page requests per second this process answers with the page (a burst of as many is
    /// allowed); above it, `429` with `Retry-After`.
    pub max_rps: u32,
}

/// The replicas of a fleet: where their admin APIs are.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetConf {
    /// Other replicas' admin addresses.
    pub peers: Vec<SocketAddr>,
    /// Or a name whose every address is a replica's admin API (host, port).
    pub dns: Option<(String, u16)>,
    /// How often operator state is pulled from the peers.
    pub sync_every: Duration,
}

/// Failback after a failover.
#[derive(Debug, Clone, PartialEq)]
pub struct FailbackConf {
    pub mode: FailbackMode,
    /// Auto: how long the recovered primary must stay healthy first.
    pub hold: Duration,
    /// How long traffic takes to move back once failback starts.
    pub ramp: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailbackMode {
    Auto,
    Manual,
}

/// Session affinity: requests with the same key stay on one tier.
#[derive(Debug, Clone, PartialEq)]
pub struct AffinityConf {
    pub key: AffinityKey,
    /// A key served by a higher tier stays there this long after its last request.
    pub hold: Duration,
}

/// What identifies a customer's session.
#[derive(Debug, Clone, PartialEq)]
pub enum AffinityKey {
    /// A cookie's value (`cookie:NAME`).
    Cookie(String),
    /// A request header's value (`header:NAME`, lower-cased).
    Header(String),
    /// The client address.
    Addr,
}

/// Who the client is behind load balancers (table `[clients]`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClientsConf {
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<crate::identity::Cidr>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServerConf {
    /// Worker threads for the proxy service; already resolved (0 in the file = one per core).
    pub threads: usize,
    /// Drain time on SIGTERM.
    pub grace: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListenConf {
    pub http: Vec<SocketAddr>,
    pub https: Vec<TlsListenerConf>,
    /// Listeners (http or https) that require a PROXY protocol header on every connection.
    pub proxy_protocol: Vec<SocketAddr>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TlsListenerConf {
    pub addr: SocketAddr,
    /// Resolved relative to the config file's directory.
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AdminConf {
    pub listen: SocketAddr,
    /// Name of the environment variable holding the bearer token (None = POSTs answer 403).
    pub token_env: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spill {
    /// Takes the share lower tiers cannot carry, gradually.
    Gradual,
    /// Takes traffic only when every lower tier is down.
    FailoverOnly,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PoolConf {
    pub name: String,
    /// Lower is preferred.
    pub tier: u32,
    pub spill: Spill,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    /// How long an idle upstream connection is kept for reuse. Below the backends' own
    /// keep-alive time, so firebreak never sends a request on a connection the backend is
    /// closing (gunicorn closes after 2 s, Node.js and uvicorn after 5 s).
    pub idle_timeout: Duration,
    /// Zero turns slow start off.
    pub slow_start: Duration,
    /// None: passive health only, backends start healthy.
    pub health: Option<HealthConf>,
    /// Backends given by IP address; with `names`, non-empty; addresses unique within the
    /// pool; at least one weight > 0 among both.
    pub backends: Vec<BackendConf>,
    /// Backends given by host name, resolved in the background every `resolve_every`.
    pub names: Vec<NamedBackend>,
    pub resolve_every: Duration,
    /// The `Host` sent to this pool's backends (None: the client's).
    pub host_header: Option<String>,
    /// TLS to this pool's backends (None: plain HTTP).
    pub tls: Option<UpstreamTlsConf>,
}

/// TLS to a pool's backends, with its files read (and checked) when the config was loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamTlsConf {
    /// The name sent as SNI and verified against the certificate (None: each backend's host
    /// name; validation refuses None when a backend is an IP). Never empty: Pingora turns
    /// every check off for an empty SNI.
    pub sni: Option<String>,
    /// Certificate and name verification (false only with `insecure_skip_verify`).
    pub verify: bool,
    /// DER certificates of `ca` (None: the system's roots).
    pub ca: Option<Vec<Vec<u8>>>,
    /// mTLS: the client certificate chain and key, DER.
    pub client: Option<(Vec<Vec<u8>>, Vec<u8>)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HealthConf {
    /// Starts with '/'.
    pub path: String,
    pub interval: Duration,
    pub timeout: Duration,
    /// Consecutive passes to go up (>= 1).
    pub rise: u32,
    /// Consecutive failures to go down (>= 1).
    pub fall: u32,
    /// `Host` of the check (None: the pool's `host_header`, else the backend's address).
    pub host: Option<String>,
    /// Statuses that pass (empty: any 2xx or 3xx).
    pub expect_status: Vec<u16>,
    /// Text the body must contain (within its first 64 KiB).
    pub expect_body: Option<String>,
}

/// A backend given as `HOST:PORT`: every address the name resolves to is an endpoint, the
/// endpoints sharing `weight`.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedBackend {
    pub host: String,
    pub port: u16,
    pub weight: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BackendConf {
    pub addr: SocketAddr,
    /// 0 = configured but takes no traffic (drained).
    pub weight: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    Critical,
    Normal,
    Bulk,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Critical => "critical",
            Priority::Normal => "normal",
            Priority::Bulk => "bulk",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnStandby {
    Serve,
    Refuse,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RouteConf {
    pub name: String,
    /// Lower-cased, without port. None = any host.
    pub host: Option<String>,
    /// Starts with '/'.
    pub path_prefix: String,
    pub priority: Priority,
    pub on_standby: OnStandby,
    /// Fraction in [0, 1] of idempotent requests mirrored to the standby.
    pub shadow: f64,
    /// The feature's name for customers (None: the route's name), shown on the status page
    /// when the route is switched off.
    pub title: Option<String>,
}

impl RouteConf {
    /// What customers call this route's feature.
    pub fn public_name(&self) -> &str {
        self.title.as_deref().unwrap_or(&self.name)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LimitsConf {
    pub max_connections: usize,
    pub max_header_bytes: usize,
    pub max_body_bytes: u64,
    pub header_read_timeout: Duration,
    /// How long an idle client keep-alive connection (HTTP/1) is kept between requests.
    pub keepalive_timeout: Duration,
    /// Request bodies of a declared length up to this are read whole before a backend is
    /// chosen; larger ones are streamed. At most [`MAX_REQUEST_BUFFER`].
    pub request_buffer_bytes: u64,
    /// How long a buffered body may take to arrive, and each read of a streamed one (408).
    pub body_read_timeout: Duration,
}

/// The largest request body firebreak reads ahead: Pingora 0.9 replays a pre-read body from
/// its own 64 KiB buffer (`BODY_BUF_LIMIT` in pingora-core).
pub const MAX_REQUEST_BUFFER: u64 = 64 << 10;

#[derive(Debug, Clone, PartialEq)]
pub struct MaintenanceConf {
    pub enabled: bool,
    pub message: String,
    pub retry_after: Duration,
    /// The HTML template's contents, read at load time (None = built-in page).
    pub page: Option<String>,
}

/// Retry policy (firebreak extension, table `[retry]`).
#[derive(Debug, Clone, PartialEq)]
pub struct RetryConf {
    /// Total attempts per request, first one included (>= 1).
    pub max_attempts: u32,
    /// Retries allowed as a fraction of recent requests (Finagle-style budget).
    pub budget_ratio: f64,
    /// Retries always allowed per second, whatever the ratio.
    pub min_per_sec: u32,
}

/// Overload protection (firebreak extension, table `[admission]`). Every key is optional: the
/// defaults protect a slow standby without any capacity number.
#[derive(Debug, Clone, PartialEq)]
pub struct AdmissionConf {
    /// false = never shed (only the process-wide cap applies).
    pub enabled: bool,
    /// Concurrency limit of a pool before it has a latency baseline (cold start).
    pub initial_limit: u32,
    /// The limit never goes below this.
    pub min_limit: u32,
    /// Nor above this.
    pub max_limit: u32,
    /// A pool whose median latency is within this factor of its baseline is not congested.
    pub latency_tolerance: f64,
    /// How long a request of each priority may wait for a slot before it is refused.
    pub critical_wait: Duration,
    pub normal_wait: Duration,
    pub bulk_wait: Duration,
    /// Requests in flight in the whole process beyond which everything new is refused.
    pub max_inflight: usize,
    /// Whose fair share a request counts against while shedding.
    pub client_key: ClientKey,
    /// `Retry-After` of a shed answer (a random 0–50 % is added so clients do not return in
    /// lockstep).
    pub retry_after: Duration,
    /// The message of a shed answer.
    pub message: String,
}

/// How requests are attributed to clients (tenants) for fairness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientKey {
    /// The client's IP address.
    Addr,
    /// A request header (e.g. `X-Tenant-Id`), falling back to the address when absent.
    Header(String),
}

impl Default for AdmissionConf {
    fn default() -> Self {
        Self {
            enabled: true,
            initial_limit: 20,
            min_limit: 4,
            max_limit: 10_000,
            latency_tolerance: 1.5,
            critical_wait: Duration::from_millis(500),
            normal_wait: Duration::from_millis(30),
            bulk_wait: Duration::ZERO,
            max_inflight: 10_000,
            client_key: ClientKey::Addr,
            retry_after: Duration::from_secs(2),
            message: "fireTMS is running on reduced capacity. Please try again in a moment.".into(),
        }
    }
}

/// Standby readiness (firebreak extension, table `[standby]`): shadow traffic, the capacity
/// probe, and drills. Every key is optional.
#[derive(Debug, Clone, PartialEq)]
pub struct StandbyConf {
    /// How often the standby's capacity is measured with a concurrency ramp (zero = never).
    pub probe_interval: Duration,
    /// How long each ramp level lasts.
    pub probe_level: Duration,
    /// The ramp never puts more than this many probe requests in flight.
    pub probe_max_concurrency: u32,
    /// Mirrored (shadow) requests in flight at most; more are dropped, never queued.
    pub shadow_max_inflight: u32,
    /// Mirrored requests per second at most.
    pub shadow_max_rps: u32,
    /// A drill aborts when the standby's error rate goes above this fraction...
    pub drill_max_error_rate: f64,
    /// ...or its p99 latency above this.
    pub drill_max_p99: Duration,
}

impl Default for StandbyConf {
    fn default() -> Self {
        Self {
            probe_interval: Duration::from_secs(300),
            probe_level: Duration::from_secs(1),
            probe_max_concurrency: 16,
            shadow_max_inflight: 4,
            shadow_max_rps: 20,
            drill_max_error_rate: 0.01,
            drill_max_p99: Duration::from_secs(1),
        }
    }
}

impl Config {
    /// Reads and validates a config file. `PATH` in errors is `path` as given.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors::single(path.display().to_string(), format!("cannot read file: {e}"))
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates `text` as if read from `path` (used for relative paths and errors).
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigErrors> {
        validate::parse_and_validate(text, path)
    }
}
