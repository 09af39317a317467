//! `POST /note`: a public status note (`{"text": "…", "id"?: "…"}`; a note whose `id` exists
//! is not added again), or `{"clear": true}` to remove every note. Notes go into the [ledger](crate::ledger), so a fleet shares them; the public status
//! page shows them newest first, HTML-escaped there (they are stored as typed).

use super::control::parse_body;
use super::json;
use crate::app::App;
use http::{Response, StatusCode};
use serde::Deserialize;
use serde_json::json as j;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    text: Option<String>,
    /// Makes a retried or fleet-wide post one note (`firebreak ctl` sends one).
    id: Option<String>,
    #[serde(default)]
    clear: bool,
}

pub fn note(app: &App, body: &[u8]) -> Response<Vec<u8>> {
    let b: NoteBody = match parse_body(body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    match (b.text, b.clear) {
        (None, true) => {
            let removed = app.ledger.clear_notes();
            tracing::warn!(removed, "status notes cleared by admin");
            json(StatusCode::OK, &j!({"cleared": removed}))
        }
        (Some(text), false) => match app.ledger.note(&text, b.id.as_deref()) {
            Ok(n) => {
                tracing::warn!(note = %n.text, "status note added by admin");
                json(StatusCode::OK, &j!({"note": n}))
            }
            Err(why) => json(
                StatusCode::BAD_REQUEST,
                &j!({"error": "bad_note", "message": why}),
            ),
        },
        _ => json(
            StatusCode::BAD_REQUEST,
            &j!({"error": "bad_note", "message": "send {\"text\": \"…\"} or {\"clear\": true}"}),
        ),
    }
}
