//! The customers' status page (`[status_page]` on the proxy listener) in a real headless
//! Chromium, at a phone's width (390x844) and a desktop's (1280x900): the DOM Chromium built
//! holds the mode in its `role="status"` region and the latest note first, with an operator's
//! markup shown as text, never as elements; a screenshot of each width is kept in
//! `target/test-artifacts/` (`status-page-public-phone.png`, `…-desktop.png`) with the DOMs.
//!
//! The page has no script, so what Chromium dumps is what a customer sees. Without Chromium
//! the test fails loudly (`.ci/deps-browser` installs it), unless `FIREBREAK_SKIP_TOOLS`
//! names `chromium`.

pub mod support;

use std::path::Path;
use std::time::Duration;
use support::chromium;
use support::conf::{two_tier, TOKEN};
use support::tools::{require, CHROMIUM};
use support::{get, wait_until, Behaviour, Origin, Proxy};

const PHONE: (u32, u32) = (390, 844);
const DESKTOP: (u32, u32) = (1280, 900);

/// Virtual time the page gets (it has no scripts; it only renders).
const BUDGET_MS: u32 = 2000;

/// The DOM as Chromium built it, saved next to the screenshots.
fn dom(bin: &Path, url: &str, size: (u32, u32), name: &str) -> String {
    chromium::dom(bin, url, size, BUDGET_MS, name)
}

/// A PNG of the page at `size` in `target/test-artifacts/<name>.png`; the page's boxes and
/// text are far more than a blank page's few KB.
fn screenshot(bin: &Path, url: &str, size: (u32, u32), name: &str) {
    chromium::screenshot(bin, url, size, BUDGET_MS, name, 10_000);
}

/// The text inside the element that starts at `open` (up to its `close`).
fn inside<'a>(dom: &'a str, open: &str, close: &str) -> &'a str {
    let start = dom
        .find(open)
        .unwrap_or_else(|| panic!("no {open} in:\n{dom}"));
    let rest = &dom[start..];
    &rest[..rest.find(close).unwrap_or(rest.len())]
}

#[test]
fn the_status_page_renders_mode_and_latest_note_on_a_phone_and_a_desktop() {
    let Some(bin) = require(CHROMIUM) else {
        return;
    };
    let a = Origin::start("a", Behaviour::Normal);
    let s = Origin::start("standby", Behaviour::Normal);
    let tail = "[status_page]\npath = \"/_status\"\n\n[[route]]\nname = \"exports\"\n\
                path_prefix = \"/exports\"\non_standby = \"refuse\"\ntitle = \"Exports\"\n";
    let p = Proxy::start_with_env(&two_tier(&[(&a, 1)], &[&s], "", tail), &[TOKEN]);
    assert!(p.wait_ready());
    let url = format!("http://{}/_status", p.http_addr());
    let normal = dom(&bin, &url, PHONE, "status-page-public-normal");
    assert!(inside(&normal, "<div id=\"mode\"", "</div>").contains("Running normally"));
    assert!(normal.contains("No updates have been posted."), "{normal}");

    let note = |text: &str| {
        let body = serde_json::json!({ "text": text }).to_string();
        assert_eq!(p.admin_post("/note", &body).unwrap().status, 200);
    };
    note("We are moving fireTMS to its backup servers.");
    a.kill();
    let reduced = || get(p.http_addr(), "/_status.json").unwrap().json()["mode"] == "reduced";
    assert!(
        wait_until(Duration::from_secs(10), reduced),
        "never reduced"
    );
    note("Latest: <b>reports</b> are off until 14:00 & we keep you posted.");
    let latest = || {
        let j = get(p.http_addr(), "/_status.json").unwrap().json();
        j["notes"][0]["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("Latest"))
    };
    assert!(
        wait_until(Duration::from_secs(5), latest),
        "the note never showed"
    );

    for (size, name) in [(PHONE, "phone"), (DESKTOP, "desktop")] {
        let name = format!("status-page-public-{name}");
        let dom = dom(&bin, &url, size, &name);
        let mode = inside(&dom, "<div id=\"mode\"", "</div>");
        assert!(mode.contains(r#"role="status""#) && mode.contains(r#"aria-live="polite""#));
        assert!(mode.contains("Reduced capacity"), "{mode}");
        assert!(
            dom.contains("<main>") && dom.contains("<h1>Service status</h1>"),
            "{dom}"
        );
        assert!(inside(&dom, "<ul class=\"off\"", "</ul>").contains("<li>Exports</li>"));
        let notes = inside(&dom, "<ol id=\"notes\">", "</ol>");
        let first = inside(notes, "<li>", "</li>");
        assert!(
            first.contains("Latest: &lt;b&gt;reports&lt;/b&gt; are off until 14:00 &amp; we"),
            "the latest note first, its markup as text:\n{notes}"
        );
        assert!(
            !notes.contains("<b>"),
            "a note's markup became an element:\n{notes}"
        );
        assert!(notes.contains("backup servers"), "{notes}");
        screenshot(&bin, &url, size, &name);
    }
}
