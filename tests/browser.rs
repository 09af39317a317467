//! The status page in a real headless Chromium (Debian's `chromium` package).
//!
//! The page at `GET /` on the admin listener is static HTML whose script fetches `/status` and
//! renders the tier and pool tables. `--dump-dom` alone prints the DOM before that fetch
//! resolves ("loading…"); `--virtual-time-budget=5000` makes headless Chromium wait (in virtual
//! time, which stands still while a network fetch is pending) until the script has run and
//! rendered, so the dumped DOM is what an operator sees. The test checks that DOM, keeps a
//! screenshot and the DOM dumps in `target/test-artifacts/`, kills a primary backend and checks
//! that a fresh load shows it `down`.
//!
//! Without Chromium the test fails loudly (`.ci/deps-browser` installs it), unless
//! `FIREBREAK_SKIP_TOOLS` names `chromium`.

pub mod support;

use std::path::Path;
use std::time::{Duration, Instant};
use support::chromium;
use support::conf::two_tier;
use support::tools::{require, CHROMIUM};
use support::{get, wait_until, Behaviour, Origin, Proxy};

/// Virtual time the admin page gets to fetch `/status` and render it.
const BUDGET_MS: u32 = 5000;
/// The admin page is checked at desktop size.
const SIZE: (u32, u32) = (1280, 900);

/// The rendered DOM of `url`, also saved as `target/test-artifacts/<name>.html`.
fn dump_dom(bin: &Path, url: &str, name: &str) -> String {
    let dom = chromium::dom(bin, url, SIZE, BUDGET_MS, name);
    // Only the markup the script produced; the script's own source holds the same tag strings.
    let rendered = dom.split("<script").next().unwrap_or_default().to_string();
    assert!(
        rendered.contains("config version") && !rendered.contains("loading…"),
        "the page's script did not render /status:\n{dom}"
    );
    rendered
}

/// A `target/test-artifacts/<name>.png` screenshot of `url` at 1280x900; rendered tables and
/// text are far more than a blank page's few KB.
fn screenshot(bin: &Path, url: &str, name: &str) {
    chromium::screenshot(bin, url, SIZE, BUDGET_MS, name, 15_000);
}

/// The `<td>` texts (tags stripped) of every `<tr>` in `html` whose opening tag contains `tr_attr`.
fn rows(html: &str, tr_attr: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for chunk in html.split("<tr").skip(1) {
        let (open, rest) = chunk.split_once('>').unwrap_or_default();
        if !open.contains(tr_attr) {
            continue;
        }
        let row = rest.split("</tr>").next().unwrap_or_default();
        let cells = row.split("<td").skip(1).map(|td| {
            let inner = td.split_once('>').map_or("", |(_, r)| r);
            strip_tags(inner.split("</td>").next().unwrap_or_default())
        });
        out.push(cells.collect());
    }
    out
}

fn strip_tags(s: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.trim().to_string()
}

/// The part of `dom` inside `<div id="ID">` up to the next top-level div.
fn section<'a>(dom: &'a str, id: &str) -> &'a str {
    let start = dom
        .find(&format!(r#"<div id="{id}">"#))
        .unwrap_or_else(|| panic!("no element with id {id} in:\n{dom}"));
    let rest = &dom[start..];
    let end = rest[1..].find("<div id=").map_or(rest.len(), |i| i + 1);
    &rest[..end]
}

/// Health text of the backend row for `addr`, as rendered.
fn health_of(dom: &str, addr: &str) -> String {
    let all = rows(section(dom, "pools"), r#"class="backend""#);
    let row = all
        .iter()
        .find(|r| r.first().map(String::as_str) == Some(addr));
    let row = row.unwrap_or_else(|| panic!("no backend row for {addr}: {all:?}\n{dom}"));
    row[1].clone()
}

#[test]
fn status_page_renders_backends_tiers_and_health_in_chromium() {
    let Some(bin) = require(CHROMIUM) else {
        return;
    };
    let t0 = Instant::now();
    let a = Origin::start("a", Behaviour::Normal);
    let s = Origin::start("standby", Behaviour::Normal);
    let p = Proxy::start(&two_tier(&[(&a, 1)], &[&s], "", ""));
    let (a_addr, s_addr) = (a.addr().to_string(), s.addr().to_string());
    let all_up = || p.backends_up(&[a.addr(), s.addr()]);
    assert!(
        wait_until(Duration::from_secs(10), all_up),
        "backends never came up"
    );
    for i in 0..5 {
        assert_eq!(
            get(p.http_addr(), &format!("/orders/{i}")).unwrap().status,
            200
        );
    }
    let url = format!("http://{}/", p.admin_addr());

    let dom = dump_dom(&bin, &url, "status-page");
    for addr in [&a_addr, &s_addr] {
        assert_eq!(health_of(&dom, addr), "up", "backend {addr} in:\n{dom}");
    }
    let pools = section(&dom, "pools");
    for name in ["Pool primary", "Pool standby"] {
        assert!(pools.contains(name), "no {name:?} in:\n{pools}");
    }
    // What an operator looks at first in an incident: admitted latency and shed per priority.
    for what in ["admitted (10 s", "unloaded", "shed: critical"] {
        assert!(pools.contains(what), "no {what:?} in:\n{pools}");
    }
    let tiers = section(&dom, "tiers");
    assert!(tiers.contains("<h2>Tiers</h2>"), "no tier table in:\n{dom}");
    let tier_rows = rows(tiers, "");
    let tier_rows: Vec<_> = tier_rows.into_iter().filter(|r| !r.is_empty()).collect();
    let states: Vec<(&str, &str)> = tier_rows
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str()))
        .collect();
    // Both tiers serve; a loaded CI machine may call one `degraded` (latency), never `down`.
    let tier_ids: Vec<&str> = states.iter().map(|s| s.0).collect();
    assert_eq!(tier_ids, ["0", "1"], "tier table in:\n{tiers}");
    let serving = |state: &str| ["up", "degraded"].contains(&state);
    assert!(
        states.iter().all(|s| serving(s.1)),
        "tier table in:\n{tiers}"
    );
    assert!(tier_rows[0][2].ends_with('%'), "tier share: {tier_rows:?}");
    screenshot(&bin, &url, "status-page");
    let t_first = t0.elapsed();

    // A primary backend dies: once /status says so, a fresh load shows it down.
    a.kill();
    let a_down = || p.backend_health(a.addr()).as_deref() == Some("down");
    assert!(
        wait_until(Duration::from_secs(10), a_down),
        "/status never showed {a_addr} down"
    );
    let dom = dump_dom(&bin, &url, "status-page-primary-down");
    assert_eq!(
        health_of(&dom, &a_addr),
        "down",
        "killed backend in:\n{dom}"
    );
    assert_eq!(health_of(&dom, &s_addr), "up", "standby in:\n{dom}");
    let tier0 = rows(section(&dom, "tiers"), "")
        .into_iter()
        .find(|r| r.first().map(String::as_str) == Some("0"));
    assert_eq!(
        tier0.map(|r| r[1].clone()).as_deref(),
        Some("down"),
        "{dom}"
    );
    screenshot(&bin, &url, "status-page-primary-down");
    eprintln!(
        "chromium status page test: first render {t_first:?}, total {:?}",
        t0.elapsed()
    );
}
