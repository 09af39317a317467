//! Reload when the config file changes on disk.
//!
//! The file is polled once a second by content, through its path, so every way a file gets
//! replaced is seen: in-place writes, editors' write-and-rename, and Kubernetes ConfigMap
//! symlink swaps (the path resolves to new content). A change is applied only once the content
//! has held still for [`SETTLE`], so a half-written file is not even tried; if a stable file is
//! still invalid, the reload is refused as usual and the old config keeps serving.

use crate::app::App;
use crate::reload::fingerprint;
use std::sync::Arc;
use std::time::Duration;

const POLL: Duration = Duration::from_secs(1);
/// How long new content must stay unchanged before it is applied.
pub const SETTLE: Duration = Duration::from_millis(300);

async fn read(path: &std::path::Path) -> Option<u64> {
    tokio::fs::read(path).await.ok().map(|b| fingerprint(&b))
}

/// Watches the config file until the task is dropped.
pub async fn run(app: Arc<App>) {
    let path = app.store.path().to_path_buf();
    loop {
        tokio::time::sleep(POLL).await;
        let now = read(&path).await;
        if now.is_none() || now == Some(app.store.seen()) {
            continue; // missing (mid-swap), or already loaded or tried by any trigger
        }
        // Let it settle: editors and ConfigMap swaps write in several steps.
        let mut current = now;
        loop {
            tokio::time::sleep(SETTLE).await;
            let again = read(&path).await;
            if again == current {
                break;
            }
            current = again;
        }
        if current.is_none() || current == Some(app.store.seen()) {
            continue;
        }
        let app = app.clone();
        let _ = tokio::task::spawn_blocking(move || app.reload("file change")).await;
    }
}
