//! The operator ledger: the operator state besides maintenance that a fleet shares — backend
//! drains, failback releases and the public status notes — each entry stamped by this
//! replica's Lamport [`Clock`], so replicas merge what they pull from each other without
//! asking whose clock is right.
//!
//! * **Drains** are last-writer-wins registers, one per (pool, backend): the newest stamp
//!   says whether the backend is drained. Applying the ledger to the live backends is
//!   idempotent, so it is simply done after every merge (and covers backends a reload adds).
//! * **The failback release** is one register: the newest `POST /failback`. A replica that
//!   pulls a release newer than the one it knows releases its own failback once.
//! * **Notes** are a grow-only set keyed by id (a note pulled twice, or posted to every
//!   replica by `firebreak ctl` with one id, is one note: the earliest stamp of an id wins
//!   everywhere), newest first, capped at [`MAX_NOTES`]; a "clear" stamp drops every note
//!   made before it.
//!
//! The ledger lives in the process: a reload keeps it, a restart loses it unless the fleet
//! gives it back (a replica with a `[fleet]` pulls it at start).

use crate::lock::lock;
use crate::stamp::{Clock, Stamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// Notes kept (the oldest go first).
pub const MAX_NOTES: usize = 50;
/// The longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 2000;

/// A backend drained or undrained by an operator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drain {
    pub pool: String,
    pub backend: String,
    pub drained: bool,
    pub stamp: Stamp,
}

/// A public status note.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    /// Given by the caller (`firebreak ctl` gives every replica the same one, so the fleet
    /// keeps one note), else made from the stamp.
    pub id: String,
    pub text: String,
    pub stamp: Stamp,
}

/// The ledger as replicas exchange it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct View {
    pub drains: Vec<Drain>,
    pub release: Option<Stamp>,
    pub notes: Vec<Note>,
    pub notes_cleared: Option<Stamp>,
}

/// What a merge changed.
#[derive(Debug, Default, PartialEq)]
pub struct Merged {
    pub drains: usize,
    /// A newer failback release to act on.
    pub release: bool,
    pub notes: usize,
}

impl Merged {
    pub fn any(&self) -> bool {
        self.drains > 0 || self.release || self.notes > 0
    }
}

/// This replica's ledger.
#[derive(Debug, Default)]
pub struct Ledger {
    clock: Arc<Clock>,
    inner: Mutex<View>,
}

impl Ledger {
    pub fn new(clock: Arc<Clock>) -> Self {
        Ledger {
            clock,
            inner: Mutex::default(),
        }
    }

    pub fn view(&self) -> View {
        lock(&self.inner).clone()
    }

    /// Records an operator's drain (or undrain) of a backend.
    pub fn drain(&self, pool: &str, backend: &str, drained: bool) -> Stamp {
        let stamp = self.clock.next();
        let d = Drain {
            pool: pool.into(),
            backend: backend.into(),
            drained,
            stamp: stamp.clone(),
        };
        let mut v = lock(&self.inner);
        v.drains
            .retain(|x| (x.pool.as_str(), x.backend.as_str()) != (pool, backend));
        v.drains.push(d);
        stamp
    }

    /// Records an operator's failback release.
    pub fn release(&self) -> Stamp {
        let stamp = self.clock.next();
        lock(&self.inner).release = Some(stamp.clone());
        stamp
    }

    /// Adds a note (trimmed) under `id` (None: a new id). A note whose id is already here is
    /// not added again: the existing one is returned. Err with the reason when the text is
    /// empty or too long, or the id is not 1 to 64 letters, digits, `-` or `_`.
    pub fn note(&self, text: &str, id: Option<&str>) -> Result<Note, String> {
        if let Some(id) = id {
            let ok = (1..=64).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok {
                return Err("a note id is 1 to 64 letters, digits, '-' or '_'".into());
            }
            if let Some(n) = lock(&self.inner).notes.iter().find(|n| n.id == id) {
                return Ok(n.clone());
            }
        }
        let text = text.trim();
        if text.is_empty() {
            return Err("a note needs some text".into());
        }
        let chars = text.chars().count();
        if chars > MAX_NOTE_CHARS {
            return Err(format!(
                "a note is at most {MAX_NOTE_CHARS} characters; this one has {chars}"
            ));
        }
        let stamp = self.clock.next();
        let note = Note {
            id: id.map_or_else(
                || format!("{}-{}", stamp.origin, stamp.counter),
                str::to_string,
            ),
            text: text.into(),
            stamp,
        };
        let mut v = lock(&self.inner);
        v.notes.push(note.clone());
        tidy_notes(&mut v);
        Ok(note)
    }

    /// Drops every note (on every replica, once merged). Returns how many this replica had.
    pub fn clear_notes(&self) -> usize {
        let stamp = self.clock.next();
        let mut v = lock(&self.inner);
        let n = v.notes.len();
        v.notes_cleared = Some(stamp);
        tidy_notes(&mut v);
        n
    }

    /// Merges a peer's view: newer drains and release win, notes are united.
    pub fn merge(&self, peer: View) -> Merged {
        let mut out = Merged::default();
        let mut v = lock(&self.inner);
        for d in peer.drains {
            self.clock.observe(&d.stamp);
            let mine = v
                .drains
                .iter()
                .position(|x| x.pool == d.pool && x.backend == d.backend);
            match mine {
                Some(i) if v.drains[i].stamp >= d.stamp => {}
                Some(i) => {
                    v.drains[i] = d;
                    out.drains += 1;
                }
                None => {
                    v.drains.push(d);
                    out.drains += 1;
                }
            }
        }
        if let Some(r) = peer.release {
            self.clock.observe(&r);
            if v.release.as_ref().is_none_or_older(&r) {
                v.release = Some(r);
                out.release = true;
            }
        }
        if let Some(c) = peer.notes_cleared {
            self.clock.observe(&c);
            if v.notes_cleared.as_ref().is_none_or_older(&c) {
                v.notes_cleared = Some(c);
            }
        }
        let before: BTreeSet<Stamp> = v.notes.iter().map(|n| n.stamp.clone()).collect();
        for n in peer.notes {
            self.clock.observe(&n.stamp);
            match v.notes.iter_mut().find(|m| m.id == n.id) {
                Some(m) if n.stamp < m.stamp => *m = n,
                Some(_) => {}
                None => v.notes.push(n),
            }
        }
        tidy_notes(&mut v);
        out.notes = v
            .notes
            .iter()
            .filter(|n| !before.contains(&n.stamp))
            .count();
        out
    }
}

/// `None`, or a stamp older than `than`.
trait OlderThan {
    fn is_none_or_older(&self, than: &Stamp) -> bool;
}

impl OlderThan for Option<&Stamp> {
    fn is_none_or_older(&self, than: &Stamp) -> bool {
        self.map_or(true, |s| s < than)
    }
}

/// Newest first, without cleared ones, at most [`MAX_NOTES`].
fn tidy_notes(v: &mut View) {
    if let Some(c) = v.notes_cleared.clone() {
        v.notes.retain(|n| n.stamp > c);
    }
    v.notes.sort_by(|a, b| b.stamp.cmp(&a.stamp));
    v.notes.truncate(MAX_NOTES);
}

#[cfg(test)]
#[path = "ledger_tests.rs"]
mod tests;
