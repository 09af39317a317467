//! The public status page: what customers are told, in their words, about the state of the
//! service — `normal`, `reduced` capacity or `maintenance` — since when, the operator's
//! message and notes. Served by the proxy itself on every public listener (`[status_page]`),
//! never proxied, so it answers when every backend is dead.
//!
//! This module holds the rules and the page; the proxy asks it (`crate::proxy`), the planner
//! feeds it once per tick (`crate::app`). It reads maintenance, the ledger's notes, the tier
//! plan and the config, and none of those know it.
//!
//! * [`Board`] keeps the live part: the mode as of the last planning tick (read lock-free by
//!   every request, for the `Firebreak-Mode` header), when it last changed, when requests were
//!   last shed, the last rendering (rendered at most once per [`RENDER_EVERY_NS`], served from
//!   memory) and the page's request-rate cap ([`cap`]).
//! * [`view`] turns the state into the public view (also the JSON form), [`html`] into the page.
//!
//! The mode rules ([`base_mode`] and [`Board::mode`]): **maintenance** while maintenance is on
//! or no tier can serve; else **reduced** while a tier above the primary carries traffic (not
//! for a drill while the primary is up) or requests were shed for capacity in the last
//! [`SHED_WINDOW_NS`]; else **normal**.

pub mod cap;
pub mod html;
mod time;
pub mod view;

use crate::lock::lock;
use crate::tier::{TierPlan, TierState};
use arc_swap::ArcSwapOption;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

pub use view::{Public, Source};

/// How long one shed request keeps the mode at `reduced`.
pub const SHED_WINDOW_NS: u64 = 10_000_000_000;
/// A rendering is served from memory for this long (unless the mode changes first).
pub const RENDER_EVERY_NS: u64 = 1_000_000_000;
/// The page asks the browser to reload it this often.
pub const REFRESH_SECS: u64 = 30;
/// `Cache-Control: max-age` of the page: a CDN or browser may keep it this long.
pub const MAX_AGE_SECS: u64 = 5;

/// The state of the service as customers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Mode {
    #[default]
    Normal = 0,
    Reduced = 1,
    Maintenance = 2,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Normal => "normal",
            Mode::Reduced => "reduced",
            Mode::Maintenance => "maintenance",
        }
    }

    /// The `Firebreak-Mode` header's value: none while normal.
    pub fn header(self) -> Option<&'static str> {
        (self != Mode::Normal).then(|| self.as_str())
    }

    fn from_u8(v: u8) -> Mode {
        match v {
            0 => Mode::Normal,
            1 => Mode::Reduced,
            _ => Mode::Maintenance,
        }
    }
}

/// A tier above the primary carries traffic, for a reason customers notice (a drill while the
/// primary is up is a rehearsal, not a failure).
pub fn standby_carries(plan: &TierPlan, drill: bool) -> bool {
    let primary = plan.tiers.first();
    let primary_up = primary.is_some_and(|t| t.state == TierState::Up) && !plan.primary_held;
    let others = plan.tiers.iter().skip(1).any(|t| t.share > 0.0);
    others && !(drill && primary_up)
}

/// The mode the plan and recent shedding give, before operator maintenance.
pub fn base_mode(plan: &TierPlan, drill: bool, shed_recently: bool) -> Mode {
    if !plan.serving() {
        Mode::Maintenance
    } else if shed_recently || standby_carries(plan, drill) {
        Mode::Reduced
    } else {
        Mode::Normal
    }
}

/// The rendered page and its JSON form, served from memory.
#[derive(Debug)]
pub struct Rendered {
    pub mode: Mode,
    /// The config version it was rendered for (a reload may change the title or path).
    pub version: u64,
    pub at_ns: u64,
    pub html: bytes::Bytes,
    pub json: bytes::Bytes,
}

/// The status page's live state (one per process, kept across reloads).
#[derive(Debug, Default)]
pub struct Board {
    /// [`Mode`] as of the last tick or shed, operator maintenance left out.
    base: AtomicU8,
    /// `now_ns` of the last request shed for capacity (0: never).
    last_shed_ns: AtomicU64,
    /// The mode last seen, and the Unix time it began (0: not seen yet).
    since: Mutex<(Mode, u64)>,
    page: ArcSwapOption<Rendered>,
    rendering: AtomicBool,
    /// The request-rate cap of the page.
    pub cap: cap::Cap,
}

impl Board {
    /// The mode now: maintenance as the caller read it (live), the rest as of the last tick.
    pub fn mode(&self, maintenance_on: bool) -> Mode {
        if maintenance_on {
            return Mode::Maintenance;
        }
        Mode::from_u8(self.base.load(Relaxed))
    }

    /// A request was refused for capacity (shed): the mode is `reduced` at once and for
    /// [`SHED_WINDOW_NS`].
    pub fn record_shed(&self, now_ns: u64) {
        self.last_shed_ns.store(now_ns, Relaxed);
        self.base.fetch_max(Mode::Reduced as u8, Relaxed);
    }

    fn shed_recently(&self, now_ns: u64) -> bool {
        let at = self.last_shed_ns.load(Relaxed);
        at != 0 && now_ns.saturating_sub(at) < SHED_WINDOW_NS
    }

    /// One planning tick: the mode from the new plan, and since when it holds.
    pub fn tick(&self, maintenance_on: bool, plan: &TierPlan, drill: bool, now_ns: u64, unix: u64) {
        let base = base_mode(plan, drill, self.shed_recently(now_ns));
        self.base.store(base as u8, Relaxed);
        self.observe(self.mode(maintenance_on), unix);
    }

    /// Records `mode` as seen at `unix`; returns since when it holds.
    pub fn observe(&self, mode: Mode, unix: u64) -> u64 {
        let mut s = lock(&self.since);
        if s.1 == 0 || s.0 != mode {
            *s = (mode, unix);
        }
        s.1
    }

    /// The page for `mode` under config `version`: the last rendering while it is younger
    /// than [`RENDER_EVERY_NS`] and of the same mode and version, else a new one from `build`
    /// (given since when the mode holds). While another request renders, the last rendering
    /// is served, whatever its age.
    pub fn page(
        &self,
        mode: Mode,
        version: u64,
        now_ns: u64,
        unix: u64,
        build: impl FnOnce(u64) -> Public,
    ) -> Arc<Rendered> {
        let last = self.page.load_full();
        if let Some(r) = &last {
            let fresh = now_ns.saturating_sub(r.at_ns) < RENDER_EVERY_NS;
            if fresh && r.mode == mode && r.version == version {
                return r.clone();
            }
        }
        let mine = self
            .rendering
            .compare_exchange(false, true, Relaxed, Relaxed)
            .is_ok();
        if let (false, Some(r)) = (mine, &last) {
            return r.clone();
        }
        let since = self.observe(mode, unix);
        let public = build(since);
        let rendered = Arc::new(Rendered {
            mode,
            version,
            at_ns: now_ns,
            html: html::page(&public).into(),
            json: public.to_json().into(),
        });
        self.page.store(Some(rendered.clone()));
        if mine {
            self.rendering.store(false, Relaxed);
        }
        rendered
    }
}

/// Which form of the page a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Html,
    Json,
}

/// Whether a request for `host` and `path` is the status page, and in which form: `path`
/// (HTML) or `path.json` on any host, and any path of the page's own `host` (JSON for paths
/// ending in `.json`).
pub fn wanted(
    conf: &crate::config::StatusPageConf,
    host: Option<&str>,
    path: &str,
) -> Option<Form> {
    if let Some(rest) = path.strip_prefix(conf.path.as_str()) {
        match rest {
            "" => return Some(Form::Html),
            ".json" => return Some(Form::Json),
            _ => {}
        }
    }
    let own = conf.host.as_deref()?;
    let host = crate::route::strip_port(host?);
    if !host.eq_ignore_ascii_case(own) {
        return None;
    }
    Some(if path.ends_with(".json") {
        Form::Json
    } else {
        Form::Html
    })
}

#[cfg(test)]
#[path = "page_tests.rs"]
mod tests;
