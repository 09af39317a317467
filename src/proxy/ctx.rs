//! Per-request context carried through Pingora's phases.

use crate::admission::Permit;
use crate::app::RequestGuard;
use crate::config::Priority;
use crate::pool::{Backend, InflightGuard};
use crate::reload::Snapshot;
use crate::request_id::RequestId;
use crate::respond::Refusal;
use std::sync::Arc;

#[derive(Debug, Default)]
pub struct Ctx {
    pub start_ns: u64,
    pub request_id: RequestId,
    /// The client (after PROXY protocol and trusted `X-Forwarded-For`) and the
    /// `X-Forwarded-For` to send upstream; None when the peer address is unknown.
    pub identity: Option<crate::identity::Identity>,
    /// The snapshot pinned for this request's whole life.
    pub snap: Option<Arc<Snapshot>>,
    /// Matched route: its index in the pinned snapshot's `config.routes`, and its priority.
    pub route: Option<(usize, Priority)>,
    /// The request has an affinity key (it stays on its tier unless that tier cannot serve).
    pub keyed: bool,
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
    /// Whether the body was read ahead (and counted) by the body step, or is streamed.
    pub body: super::body::BodyMode,
    /// The public mode as the route step saw it (`Firebreak-Mode`).
    pub mode: Option<crate::status_page::Mode>,
    /// The request was for the public status page.
    pub page: bool,
    pub _guard: Option<RequestGuard>,
}

impl Ctx {
    pub fn route_name(&self) -> &str {
        if self.page {
            return "status_page";
        }
        self.route_conf().map(|r| r.name.as_str()).unwrap_or("none")
    }

    /// The matched route's config.
    pub fn route_conf(&self) -> Option<&crate::config::RouteConf> {
        let (i, _) = self.route?;
        self.snap.as_ref()?.config.routes.get(i)
    }

    /// The config of the current attempt's pool.
    pub fn pool_conf(&self) -> Option<&crate::config::PoolConf> {
        Some(&self.snap.as_ref()?.pools.get(self.pool?)?.conf)
    }

    pub fn pool_name(&self) -> &str {
        match (&self.snap, self.pool) {
            (Some(s), Some(i)) => s.pools.get(i).map(|p| p.name()).unwrap_or("none"),
            _ => "none",
        }
    }
}
