//! Headless Chromium for the page tests (`tests/browser.rs`, `tests/status_browser.rs`): one
//! run on a URL with a fresh profile, the DOM it built, and a checked screenshot kept in
//! `target/test-artifacts/`.

use super::proxy::scratch_dir;
use super::tools::{artifacts_dir, Spawned};
use std::path::Path;
use std::time::Duration;

/// Wall-clock limit for one Chromium run (it normally takes 1-2 s).
const TIMEOUT: Duration = Duration::from_secs(90);

/// Runs headless Chromium once on `url` at `size`, waiting up to `budget_ms` of virtual time
/// for the page's scripts and fetches, with `extra` flags; returns stdout.
pub fn run(bin: &Path, url: &str, size: (u32, u32), budget_ms: u32, extra: &[String]) -> String {
    let dir = scratch_dir("firebreak-chromium");
    let mut cmd = std::process::Command::new(bin);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-quic",
        "--no-first-run",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--virtual-time-budget={budget_ms}"))
    .arg(format!("--window-size={},{}", size.0, size.1))
    .arg(format!("--user-data-dir={}", dir.join("profile").display()))
    .args(extra)
    .arg(url);
    let mut run = Spawned::start("chromium", cmd, &dir);
    let status = run.wait(TIMEOUT);
    let (out, err) = (run.stdout_text(), run.stderr_text());
    assert!(status.success(), "chromium failed ({status}):\n{err}");
    drop(run);
    let _ = std::fs::remove_dir_all(&dir);
    out
}

/// The DOM Chromium built for `url`, also saved as `target/test-artifacts/<name>.html`.
pub fn dom(bin: &Path, url: &str, size: (u32, u32), budget_ms: u32, name: &str) -> String {
    let dom = run(bin, url, size, budget_ms, &["--dump-dom".into()]);
    std::fs::write(artifacts_dir().join(format!("{name}.html")), &dom).unwrap();
    dom
}

/// A screenshot of `url` at `size` in `target/test-artifacts/<name>.png`; checks that it is a
/// PNG of that size and more than `min_bytes` (a blank page compresses to a few KB).
pub fn screenshot(
    bin: &Path,
    url: &str,
    size: (u32, u32),
    budget_ms: u32,
    name: &str,
    min_bytes: usize,
) {
    let png = artifacts_dir().join(format!("{name}.png"));
    let _ = std::fs::remove_file(&png);
    run(
        bin,
        url,
        size,
        budget_ms,
        &[format!("--screenshot={}", png.display())],
    );
    let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("no screenshot {png:?}: {e}"));
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{png:?} is not a PNG"
    );
    let dim = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    assert_eq!((dim(16), dim(20)), size, "{png:?} has the wrong size");
    assert!(
        bytes.len() > min_bytes,
        "{png:?} is only {} bytes",
        bytes.len()
    );
    eprintln!("screenshot: {} ({} bytes)", png.display(), bytes.len());
}
