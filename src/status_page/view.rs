//! The public view: the status page's content in customer words, built from the live state,
//! and its JSON form (`PATH.json`).
//!
//! Only what customers may see goes in: the mode, since when, the operator's maintenance
//! message and `retry_after`, the names (or titles) of features switched off, and the notes'
//! texts and times. Never a pool, a backend, an address, a note's id or origin (which name
//! replicas' admin addresses), nor anything else of the admin API.

use super::time::utc;
use super::{standby_carries, Mode, REFRESH_SECS};
use crate::config::{OnStandby, RouteConf, StatusPageConf};
use crate::ledger::Note;
use crate::maintenance::Maintenance;
use crate::tier::TierPlan;
use serde_json::json;

/// What the view is built from.
pub struct Source<'a> {
    pub conf: &'a StatusPageConf,
    pub routes: &'a [RouteConf],
    pub mode: Mode,
    /// Unix time the mode began, as this replica saw it.
    pub since: u64,
    pub maintenance: &'a Maintenance,
    pub plan: &'a TierPlan,
    /// A drill is running.
    pub drill: bool,
    /// The primary is healthy again and traffic waits for failback.
    pub failback_pending: bool,
    pub notes: &'a [Note],
    /// Unix time now.
    pub now: u64,
}

/// One note as customers see it.
#[derive(Debug, Clone, PartialEq)]
pub struct PublicNote {
    pub text: String,
    /// Unix time it was posted.
    pub at: u64,
}

/// The status page's content.
#[derive(Debug, Clone, PartialEq)]
pub struct Public {
    pub service: String,
    pub mode: Mode,
    pub headline: &'static str,
    pub summary: String,
    pub since: u64,
    /// The operator's maintenance message (maintenance only).
    pub message: Option<String>,
    /// When to try again, in seconds (maintenance only).
    pub retry_after: Option<u64>,
    /// Features switched off while a standby carries traffic.
    pub features_off: Vec<String>,
    /// The main servers are back; traffic moves back once they are confirmed.
    pub failback_pending: bool,
    /// Newest first.
    pub notes: Vec<PublicNote>,
    pub updated: u64,
    /// The page's path (the JSON form is at `path.json`).
    pub path: String,
}

impl Public {
    pub fn build(s: &Source) -> Public {
        let service = s.conf.title.clone();
        let on_standby = standby_carries(s.plan, s.drill);
        let m = s.maintenance;
        // An operator's maintenance carries its fleet-wide time; a computed one, this replica's.
        let since = match s.mode {
            Mode::Maintenance if m.enabled && m.stamp.at > 0 => m.stamp.at,
            _ => s.since,
        };
        let (headline, summary) = match s.mode {
            Mode::Normal => (
                "Running normally",
                format!("{service} is running normally."),
            ),
            Mode::Reduced if on_standby && s.failback_pending => (
                "Reduced capacity",
                format!(
                    "{service} is running on its backup servers. Its main servers are back and \
                     being checked; it moves back to them shortly."
                ),
            ),
            Mode::Reduced if on_standby => (
                "Reduced capacity",
                format!(
                    "{service} is running on its backup servers. It works, but may be slower \
                     than usual."
                ),
            ),
            Mode::Reduced => (
                "Reduced capacity",
                format!(
                    "{service} is very busy. Some requests are refused for a moment; please \
                     try again shortly."
                ),
            ),
            Mode::Maintenance => (
                "Maintenance",
                format!("{service} is not available right now."),
            ),
        };
        let features_off = if s.mode == Mode::Reduced && on_standby {
            let mut names: Vec<String> = Vec::new();
            for r in s
                .routes
                .iter()
                .filter(|r| r.on_standby == OnStandby::Refuse)
            {
                let name = r.public_name().to_string();
                if !names.contains(&name) {
                    names.push(name);
                }
            }
            names
        } else {
            Vec::new()
        };
        let maintenance = s.mode == Mode::Maintenance;
        // Newest first, as the ledger keeps them: by logical stamp, which every replica agrees
        // on even when their clocks do not.
        let notes: Vec<PublicNote> = s
            .notes
            .iter()
            .map(|n| PublicNote {
                text: n.text.clone(),
                at: n.stamp.at,
            })
            .collect();
        Public {
            service,
            mode: s.mode,
            headline,
            summary,
            since,
            message: maintenance.then(|| m.message.clone()),
            retry_after: maintenance.then(|| m.retry_after.as_secs().max(1)),
            features_off,
            failback_pending: s.mode == Mode::Reduced && on_standby && s.failback_pending,
            notes,
            updated: s.now,
            path: s.conf.path.clone(),
        }
    }

    /// The JSON form, for the application and integrations.
    pub fn to_json(&self) -> String {
        let notes: Vec<_> = self
            .notes
            .iter()
            .map(|n| json!({"text": n.text, "at": n.at, "at_utc": utc(n.at).iso}))
            .collect();
        json!({
            "service": self.service,
            "mode": self.mode.as_str(),
            "headline": self.headline,
            "summary": self.summary,
            "since": self.since,
            "since_utc": utc(self.since).iso,
            "message": self.message,
            "retry_after_seconds": self.retry_after,
            "features_off": self.features_off,
            "failback_pending": self.failback_pending,
            "notes": notes,
            "updated_at": self.updated,
            "updated_utc": utc(self.updated).iso,
            "refresh_seconds": REFRESH_SECS,
            "page": self.path,
        })
        .to_string()
    }
}
