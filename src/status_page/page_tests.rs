use super::*;
use crate::config::{MaintenanceConf, OnStandby, Priority, RouteConf, StatusPageConf};
use crate::ledger::Note;
use crate::maintenance::{Maintenance, Stamp};
use crate::tier::{TierEntry, Why};
use std::time::Duration;

fn tier(tier: u32, share: f64, state: TierState) -> TierEntry {
    TierEntry {
        tier,
        share,
        state,
        pools: vec![(tier as usize, 1.0)],
        why: Why::default(),
    }
}

fn plan(primary: (f64, TierState), standby: (f64, TierState)) -> TierPlan {
    TierPlan {
        tiers: vec![tier(0, primary.0, primary.1), tier(1, standby.0, standby.1)],
        primary_held: false,
    }
}

use TierState::{Degraded, Down, Up};

#[test]
fn the_mode_follows_the_plan_drills_and_shedding() {
    assert_eq!(
        base_mode(&plan((1.0, Up), (0.0, Up)), false, false),
        Mode::Normal
    );
    // A degraded primary carrying everything is still normal for customers.
    assert_eq!(
        base_mode(&plan((1.0, Degraded), (0.0, Up)), false, false),
        Mode::Normal
    );
    assert_eq!(
        base_mode(&plan((0.7, Degraded), (0.3, Up)), false, false),
        Mode::Reduced
    );
    assert_eq!(
        base_mode(&plan((0.0, Down), (1.0, Up)), false, false),
        Mode::Reduced
    );
    assert_eq!(
        base_mode(&plan((1.0, Up), (0.0, Up)), false, true),
        Mode::Reduced
    );
    assert_eq!(
        base_mode(&plan((0.0, Down), (0.0, Down)), false, false),
        Mode::Maintenance
    );
    // A drill sends traffic to the standby while the primary is up: a rehearsal.
    assert_eq!(
        base_mode(&plan((0.9, Up), (0.1, Up)), true, false),
        Mode::Normal
    );
    assert_eq!(
        base_mode(&plan((0.5, Degraded), (0.5, Up)), true, false),
        Mode::Reduced
    );
}

#[test]
fn the_board_tracks_maintenance_live_sheds_at_once_and_since_when() {
    let b = Board::default();
    let normal = plan((1.0, Up), (0.0, Up));
    b.tick(false, &normal, false, 1, 1000);
    assert_eq!(b.mode(false), Mode::Normal);
    assert_eq!(b.mode(true), Mode::Maintenance, "maintenance is read live");
    b.record_shed(5_000_000_000);
    assert_eq!(
        b.mode(false),
        Mode::Reduced,
        "a shed is seen before the next tick"
    );
    b.tick(false, &normal, false, 6_000_000_000, 1006);
    assert_eq!(b.mode(false), Mode::Reduced);
    assert_eq!(b.observe(Mode::Reduced, 1010), 1006);
    b.tick(false, &normal, false, 5_000_000_000 + SHED_WINDOW_NS, 1020);
    assert_eq!(b.mode(false), Mode::Normal, "the shed window is over");
    assert_eq!(b.observe(Mode::Normal, 1030), 1020);
    b.tick(
        false,
        &plan((0.0, Down), (0.0, Down)),
        false,
        20_000_000_000,
        1040,
    );
    assert_eq!(b.mode(false), Mode::Maintenance, "no tier can serve");
}

fn conf() -> StatusPageConf {
    StatusPageConf {
        path: "/_status".into(),
        host: Some("status.example.net".into()),
        title: "fireTMS".into(),
        max_rps: 100,
    }
}

#[test]
fn the_page_is_its_path_its_json_and_every_path_of_its_host() {
    let c = conf();
    let w = |host, path| wanted(&c, host, path);
    assert_eq!(w(Some("app.example.net"), "/_status"), Some(Form::Html));
    assert_eq!(w(None, "/_status.json"), Some(Form::Json));
    assert_eq!(w(Some("app.example.net"), "/_status/x"), None);
    assert_eq!(w(Some("app.example.net"), "/_statusx"), None);
    assert_eq!(w(Some("app.example.net"), "/"), None);
    assert_eq!(w(Some("Status.Example.NET:8443"), "/"), Some(Form::Html));
    assert_eq!(
        w(Some("status.example.net"), "/any/thing"),
        Some(Form::Html)
    );
    assert_eq!(w(Some("status.example.net"), "/v1.json"), Some(Form::Json));
    let no_host = StatusPageConf {
        host: None,
        ..c.clone()
    };
    assert_eq!(wanted(&no_host, Some("status.example.net"), "/"), None);
}

fn route(name: &str, title: Option<&str>, on_standby: OnStandby) -> RouteConf {
    RouteConf {
        name: name.into(),
        host: None,
        path_prefix: format!("/{name}"),
        priority: Priority::Normal,
        on_standby,
        shadow: 0.0,
        title: title.map(String::from),
    }
}

fn note(text: &str, counter: u64, at: u64) -> Note {
    Note {
        id: format!("10.0.0.5:9901-{counter}"),
        text: text.into(),
        stamp: Stamp {
            counter,
            at,
            origin: "10.0.0.5:9901".into(),
        },
    }
}

fn maintenance(enabled: bool, at: u64) -> Maintenance {
    let mut m = Maintenance::from_conf(&MaintenanceConf {
        enabled,
        message: "Moving to <b>backup</b> & back".into(),
        retry_after: Duration::from_secs(120),
        page: None,
    });
    m.stamp.at = at;
    m
}

fn public(mode: Mode, plan: &TierPlan, m: &Maintenance, notes: &[Note]) -> Public {
    let routes = [
        route("reports", Some("Reports & exports"), OnStandby::Refuse),
        route("exports", Some("Reports & exports"), OnStandby::Refuse),
        route("billing", None, OnStandby::Refuse),
        route("login", None, OnStandby::Serve),
    ];
    Public::build(&Source {
        conf: &conf(),
        routes: &routes,
        mode,
        since: 1_783_000_000,
        maintenance: m,
        plan,
        drill: false,
        failback_pending: false,
        notes,
        now: 1_783_000_100,
    })
}

#[test]
fn reduced_names_the_features_switched_off_and_maintenance_the_message() {
    let on_standby = plan((0.0, Down), (1.0, Up));
    let p = public(Mode::Reduced, &on_standby, &maintenance(false, 0), &[]);
    assert_eq!(p.features_off, ["Reports & exports", "billing"]);
    assert_eq!((p.message.as_deref(), p.retry_after), (None, None));
    let html = html::page(&p);
    assert!(html.contains("<li>Reports &amp; exports</li>"), "{html}");
    assert!(html.contains(r#"data-mode="reduced""#) && html.contains("Reduced capacity"));

    let dead = plan((0.0, Down), (0.0, Down));
    let p = public(
        Mode::Maintenance,
        &dead,
        &maintenance(true, 1_782_999_000),
        &[],
    );
    assert!(p.features_off.is_empty());
    assert_eq!(
        p.since, 1_782_999_000,
        "an operator's maintenance carries its own time"
    );
    assert_eq!(p.retry_after, Some(120));
    let html = html::page(&p);
    assert!(
        html.contains("Moving to &lt;b&gt;backup&lt;/b&gt; &amp; back"),
        "{html}"
    );
    assert!(
        html.contains("Please try again in about 2 minutes."),
        "{html}"
    );
    let json: serde_json::Value = serde_json::from_str(&p.to_json()).unwrap();
    assert_eq!(json["mode"], "maintenance");
    assert_eq!(json["message"], "Moving to <b>backup</b> & back");
    assert_eq!(json["retry_after_seconds"], 120);
    assert_eq!(json["since_utc"], "2026-07-02T13:30:00Z");
}

#[test]
fn notes_are_escaped_newest_first_and_never_show_ids_or_origins() {
    let notes = [
        note("second <script>alert(1)</script>", 9, 1_783_000_050),
        note("first \"quoted\" & 'single'", 3, 1_783_000_010),
    ];
    let p = public(
        Mode::Normal,
        &plan((1.0, Up), (0.0, Up)),
        &maintenance(false, 0),
        &notes,
    );
    let html = html::page(&p);
    assert!(!html.contains("<script"), "{html}");
    assert!(html.contains("second &lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("first &quot;quoted&quot; &amp; &#39;single&#39;"));
    let second = html.find("second").unwrap();
    assert!(second < html.find("first &quot;").unwrap(), "newest first");
    let json = p.to_json();
    for secret in ["10.0.0.5", "9901", "counter", "origin"] {
        assert!(
            !html.contains(secret) && !json.contains(secret),
            "{secret} leaks"
        );
    }
    assert!(html.contains(r#"<meta name="viewport""#) && html.contains(r#"role="status""#));
    assert!(html.contains(r#"<meta http-equiv="refresh" content="30">"#));
    assert!(html.contains(r#"<a href="/_status.json">"#));
}

#[test]
fn a_rendering_is_served_from_memory_for_a_second_unless_the_mode_changes() {
    let b = Board::default();
    let builds = std::cell::Cell::new(0);
    let p = public(
        Mode::Normal,
        &plan((1.0, Up), (0.0, Up)),
        &maintenance(false, 0),
        &[],
    );
    let get = |mode, version, at_ns| {
        b.page(mode, version, at_ns, 1_783_000_000, |_| {
            builds.set(builds.get() + 1);
            Public { mode, ..p.clone() }
        })
    };
    let first = get(Mode::Normal, 1, 1_000);
    let again = get(Mode::Normal, 1, 1_000 + RENDER_EVERY_NS - 1);
    assert!(Arc::ptr_eq(&first, &again));
    let _ = get(Mode::Reduced, 1, 2_000);
    let _ = get(Mode::Reduced, 2, 3_000);
    let _ = get(Mode::Reduced, 2, 3_000 + RENDER_EVERY_NS);
    assert_eq!(
        builds.get(),
        4,
        "a new mode, a new config version, a second later"
    );
}

#[test]
fn durations_for_people() {
    assert_eq!(html::human_duration(0), "1 second");
    assert_eq!(html::human_duration(30), "30 seconds");
    assert_eq!(html::human_duration(120), "about 2 minutes");
    assert_eq!(html::human_duration(3 * 3600), "about 3 hours");
}

#[test]
fn a_failback_that_waits_is_said_while_on_the_standby() {
    let on_standby = plan((0.0, Up), (1.0, Up));
    let held = TierPlan {
        primary_held: true,
        ..on_standby
    };
    let m = maintenance(false, 0);
    let p = Public::build(&Source {
        conf: &conf(),
        routes: &[],
        mode: Mode::Reduced,
        since: 1,
        maintenance: &m,
        plan: &held,
        drill: false,
        failback_pending: true,
        notes: &[],
        now: 2,
    });
    assert!(p.failback_pending);
    assert!(p.summary.contains("main servers are back"), "{}", p.summary);
    let json: serde_json::Value = serde_json::from_str(&p.to_json()).unwrap();
    assert_eq!(json["failback_pending"], true);
}
