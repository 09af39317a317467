//! Maintenance mode: its live state and the HTML page.
//!
//! The state starts from `[maintenance]` in the config. `POST /maintenance` overrides it at run
//! time; the override holds until the next toggle, or until a reload whose `[maintenance]`
//! section differs from the previous one (the operator edited it, so the file wins again).
//! Every state carries a [`Stamp`] (a logical counter, the wall time, the replica that set
//! it), so replicas of a fleet can agree on the newest without trusting their clocks: the
//! counter decides, the time and the origin only break ties (a Lamport clock).
//! The page is the operator's template (placeholders `{{title}}`, `{{message}}`, `{{reason}}`,
//! `{{retry_after}}`, `{{request_id}}`, `{{status}}`, `{{status_link}}`) or the built-in page
//! below.

use crate::config::MaintenanceConf;
use crate::stamp::Clock;
use arc_swap::ArcSwap;
use std::sync::Arc;
use std::time::Duration;

pub use crate::stamp::Stamp;

/// What maintenance looks like right now.
#[derive(Debug, Clone, PartialEq)]
pub struct Maintenance {
    pub enabled: bool,
    pub message: String,
    pub retry_after: Duration,
    /// The HTML template (None = built-in).
    pub page: Option<String>,
    /// Who set the current state: "config", "admin" (this replica) or "peer ADDR".
    pub source: String,
    pub stamp: Stamp,
}

impl Maintenance {
    pub fn from_conf(c: &MaintenanceConf) -> Self {
        Self {
            enabled: c.enabled,
            message: c.message.clone(),
            retry_after: c.retry_after,
            page: c.page.clone(),
            source: "config".into(),
            stamp: Stamp::default(),
        }
    }
}

/// The live maintenance state, shared by the proxy and the admin API.
#[derive(Debug)]
pub struct MaintenanceState {
    current: ArcSwap<Maintenance>,
    /// This replica's Lamport clock (shared with the other operator state).
    clock: Arc<Clock>,
}

impl MaintenanceState {
    pub fn new(c: &MaintenanceConf, clock: Arc<Clock>) -> Self {
        Self {
            current: ArcSwap::from_pointee(Maintenance::from_conf(c)),
            clock,
        }
    }

    fn stamp(&self) -> Stamp {
        self.clock.next()
    }

    /// Adopts a peer's state when it is newer than this replica's. True when adopted.
    pub fn adopt(
        &self,
        peer: &str,
        enabled: bool,
        message: String,
        retry_after: Duration,
        stamp: Stamp,
    ) -> bool {
        self.clock.observe(&stamp);
        let cur = self.get();
        if stamp <= cur.stamp {
            return false;
        }
        self.current.store(Arc::new(Maintenance {
            enabled,
            message,
            retry_after,
            page: cur.page.clone(),
            source: format!("peer {peer}"),
            stamp,
        }));
        true
    }

    pub fn get(&self) -> Arc<Maintenance> {
        self.current.load_full()
    }

    /// Applies a reloaded config: only when its `[maintenance]` section changed.
    pub fn on_reload(&self, old: &MaintenanceConf, new: &MaintenanceConf) {
        if old != new {
            let m = Maintenance {
                stamp: self.stamp(),
                ..Maintenance::from_conf(new)
            };
            self.current.store(Arc::new(m));
        }
    }

    /// The admin override. `None` fields keep their current value.
    pub fn set(
        &self,
        enabled: bool,
        message: Option<String>,
        retry_after: Option<Duration>,
    ) -> Arc<Maintenance> {
        let cur = self.get();
        let next = Arc::new(Maintenance {
            enabled,
            message: message.unwrap_or_else(|| cur.message.clone()),
            retry_after: retry_after.unwrap_or(cur.retry_after),
            page: cur.page.clone(),
            source: "admin".into(),
            stamp: self.stamp(),
        });
        self.current.store(next.clone());
        next
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The built-in maintenance page (`{{status_link}}` becomes a link to the status page, when
/// there is one).
pub const BUILT_IN_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}}</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:#f4f6f8;color:#1d2733;margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}
main{background:#fff;max-width:34rem;padding:2.5rem;border-radius:12px;box-shadow:0 4px 24px rgba(0,0,0,.08)}
h1{font-size:1.4rem;margin:0 0 1rem} p{line-height:1.5} small{color:#6b7785}
</style></head>
<body><main>
<h1>{{title}}</h1>
<p>{{message}}</p>
<p><small>Please try again in {{retry_after}} seconds. This page will not lose anything you have saved.</small></p>
{{status_link}}
<p><small>Status {{status}} · {{reason}} · request {{request_id}}</small></p>
</main></body></html>
"#;

/// Fills the template (or the built-in page). `message` must already be HTML-escaped; the
/// other values are escaped here.
pub fn render_page(
    template: Option<&str>,
    title: &str,
    message_html: &str,
    reason: &str,
    retry_after: &str,
    request_id: &str,
    status: u16,
) -> String {
    template
        .unwrap_or(BUILT_IN_PAGE)
        .replace("{{title}}", &escape_html(title))
        .replace("{{reason}}", &escape_html(reason))
        .replace("{{retry_after}}", &escape_html(retry_after))
        .replace("{{request_id}}", &escape_html(request_id))
        .replace("{{status}}", &status.to_string())
        .replace("{{status_link}}", "")
        .replace("{{message}}", message_html)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(enabled: bool, msg: &str) -> MaintenanceConf {
        MaintenanceConf {
            enabled,
            message: msg.into(),
            retry_after: Duration::from_secs(120),
            page: None,
        }
    }

    #[test]
    fn admin_override_holds_until_the_section_changes() {
        let c = conf(false, "a");
        let s = MaintenanceState::new(&c, Arc::default());
        s.set(true, Some("moving".into()), None);
        s.on_reload(&c, &c.clone());
        assert!(s.get().enabled, "an unrelated reload keeps the override");
        s.on_reload(&c, &conf(false, "b"));
        assert!(!s.get().enabled);
        assert_eq!(s.get().message, "b");
        assert_eq!(s.get().source, "config");
    }

    #[test]
    fn page_escapes_everything_but_the_pre_escaped_message() {
        let p = render_page(
            Some("{{message}}|{{request_id}}|{{status}}"),
            "t",
            "&lt;b&gt;",
            "r",
            "1",
            "<x>",
            503,
        );
        assert_eq!(p, "&lt;b&gt;|&lt;x&gt;|503");
    }
}
