//! The ledger's merge rules: newest wins per register, notes united once, clears and caps.

use super::*;

fn ledger(name: &str) -> Ledger {
    let clock = Arc::new(Clock::default());
    clock.set_identity(name);
    Ledger::new(clock)
}

#[test]
fn the_newest_drain_wins_whichever_way_it_travels() {
    let (a, b) = (ledger("a"), ledger("b"));
    a.drain("primary", "x", true);
    assert_eq!(b.merge(a.view()).drains, 1);
    // b undrains after seeing a's drain: its stamp is newer whatever the clocks say.
    b.drain("primary", "x", false);
    assert_eq!(a.merge(b.view()).drains, 1);
    assert!(!a.view().drains[0].drained);
    // Merging the older state back changes nothing, and merging twice is idempotent.
    assert_eq!(b.merge(a.view()), Merged::default());
    assert_eq!(a.merge(b.view()), Merged::default());
    assert_eq!(a.view(), b.view());
}

#[test]
fn a_release_is_acted_on_once() {
    let (a, b) = (ledger("a"), ledger("b"));
    assert!(!b.merge(a.view()).release, "no release yet");
    a.release();
    assert!(b.merge(a.view()).release);
    assert!(!b.merge(a.view()).release, "the same release again");
    // A release made on b later is newer for a.
    b.release();
    assert!(a.merge(b.view()).release);
}

#[test]
fn notes_are_united_once_newest_first_and_cleared_everywhere() {
    let (a, b) = (ledger("a"), ledger("b"));
    a.note("one", None).unwrap();
    b.note("two", None).unwrap();
    assert_eq!(a.merge(b.view()).notes, 1);
    assert_eq!(b.merge(a.view()).notes, 1);
    assert_eq!(a.merge(b.view()).notes, 0, "nothing new the second time");
    a.note("three", None).unwrap();
    b.merge(a.view());
    let texts: Vec<String> = b.view().notes.into_iter().map(|n| n.text).collect();
    assert_eq!(texts, ["three", "two", "one"]);
    assert_eq!(b.clear_notes(), 3);
    a.merge(b.view());
    assert!(a.view().notes.is_empty(), "the clear travelled");
    a.note("after", None).unwrap();
    b.merge(a.view());
    assert_eq!(b.view().notes.len(), 1, "a note after the clear stays");
}

#[test]
fn notes_are_checked_and_capped() {
    let a = ledger("a");
    assert!(a.note("   ", None).is_err());
    let long = "x".repeat(MAX_NOTE_CHARS + 1);
    assert!(a.note(&long, None).unwrap_err().contains("at most"));
    assert_eq!(
        a.note("  <b>trimmed</b> ", None).unwrap().text,
        "<b>trimmed</b>"
    );
    for i in 0..MAX_NOTES + 5 {
        a.note(&format!("n{i}"), None).unwrap();
    }
    let v = a.view();
    assert_eq!(v.notes.len(), MAX_NOTES);
    assert_eq!(
        v.notes[0].text,
        format!("n{}", MAX_NOTES + 4),
        "newest first"
    );
}

#[test]
fn one_note_posted_to_every_replica_is_one_note() {
    let (a, b) = (ledger("a"), ledger("b"));
    let na = a.note("moved to the standby", Some("k1")).unwrap();
    b.note("moved to the standby", Some("k1")).unwrap();
    assert_eq!(
        a.note("retried", Some("k1")).unwrap(),
        na,
        "a retry adds nothing"
    );
    a.merge(b.view());
    b.merge(a.view());
    assert_eq!(a.view().notes.len(), 1);
    assert_eq!(
        a.view(),
        b.view(),
        "the same note (the earliest stamp) everywhere"
    );
    assert!(a.note("x", Some("no spaces")).is_err());
    assert!(a.note("x", Some(&"k".repeat(65))).is_err());
}
