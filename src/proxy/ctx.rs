//! Per-request context carried through Pingora's phases.

use crate::admission::Permit;
use crate::app::RequestGuard;
use crate::config::Priority;
use crate::pool::{Backend, InflightGuard};
use crate::reload::Snapshot;
use crate::respond::Refusal;
use http::HeaderValue;
use std::sync::Arc;

/// The request's id, kept as the header value it is sent as: one buffer, shared by the
/// upstream and the downstream `X-Request-Id` (a client-given id shares the request's own).
#[derive(Debug, Clone)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// Only ids made of visible ASCII reach here (the request phase checks or makes them).
    pub fn new(value: HeaderValue) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or("")
    }

    pub fn header(&self) -> HeaderValue {
        self.0.clone()
    }
}

impl Default for RequestId {
    fn default() -> Self {
        Self(HeaderValue::from_static(""))
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Default)]
pub struct Ctx {
    pub start_ns: u64,
    pub request_id: RequestId,
    /// The snapshot pinned for this request's whole life.
    pub snap: Option<Arc<Snapshot>>,
    /// Matched route: its index in the pinned snapshot's `config.routes`, and its priority.
    pub route: Option<(usize, Priority)>,
    /// Pool chosen for the first attempt.
    pub first_pool: Option<usize>,
    /// Pool of the current/last attempt.
    pub pool: Option<usize>,
    /// The backend of the current attempt, counted in flight while held.
    pub backend: Option<InflightGuard>,
    /// The admission slot, held until the request ends.
    pub permit: Option<Permit>,
    pub attempt_start_ns: u64,
    /// Backends already tried by this request.
    pub tried: Vec<Arc<Backend>>,
    pub attempts: u32,
    /// What the last failed attempt met (502 or 504), in case no retry target is left.
    pub last_failure: Option<Refusal>,
    /// Why firebreak answered itself, if it did.
    pub refusal: Option<Refusal>,
    /// Request body bytes seen so far.
    pub body_bytes: u64,
    pub _guard: Option<RequestGuard>,
}

impl Ctx {
    pub fn route_name(&self) -> &str {
        self.route_conf().map(|r| r.name.as_str()).unwrap_or("none")
    }

    /// The matched route's config.
    pub fn route_conf(&self) -> Option<&crate::config::RouteConf> {
        let (i, _) = self.route?;
        self.snap.as_ref()?.config.routes.get(i)
    }

    pub fn pool_name(&self) -> &str {
        match (&self.snap, self.pool) {
            (Some(s), Some(i)) => s.pools.get(i).map(|p| p.name()).unwrap_or("none"),
            _ => "none",
        }
    }
}
