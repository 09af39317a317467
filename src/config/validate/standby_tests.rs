//! Tests of the `[standby]` table: defaults when absent, the full table in block and inline
//! form, range boundaries, each bad value reported at its own line, unknown keys, the warning
//! when routes mirror traffic that the shadow caps forbid, and no panics.

use super::super::StandbyConf;
use super::config_tests::{assert_mutations_fail_cleanly, errors, parse, MINIMAL};
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `MINIMAL` followed by `table`, whose first line is line 8 of the file.
fn with(table: &str) -> String {
    format!("{MINIMAL}{table}")
}

const FULL: &str = r#"[standby]
probe_interval = "10m"
probe_level = "2s"
probe_max_concurrency = 64
shadow_max_inflight = 8
shadow_max_rps = 50
drill_max_error_rate = 0.05
drill_max_p99 = "750ms"
"#;

fn full_expected() -> StandbyConf {
    StandbyConf {
        probe_interval: ms(600_000),
        probe_level: ms(2000),
        probe_max_concurrency: 64,
        shadow_max_inflight: 8,
        shadow_max_rps: 50,
        drill_max_error_rate: 0.05,
        drill_max_p99: ms(750),
    }
}

/// A primary and a standby tier, and routes mirroring 5 % (line 12), nothing (line 16) and
/// everything (line 20); a table appended to it starts at line 21.
const TWO_TIERS: &str = r#"
[[pool]]
name = "primary"
backends = [{ addr = "127.0.0.1:9000" }]
[[pool]]
name = "standby"
tier = 1
backends = [{ addr = "127.0.0.1:9001" }]
[[route]]
name = "reports"
path_prefix = "/reports"
shadow = 0.05
[[route]]
name = "exports"
path_prefix = "/exports"
shadow = 0.0
[[route]]
name = "default"
path_prefix = "/"
shadow = 1
"#;

#[test]
fn absent_or_empty_table_gives_the_defaults() {
    let c = parse(MINIMAL).expect("valid");
    assert_eq!(c.standby, StandbyConf::default());
    let c = parse(&with("[standby]\n")).expect("valid");
    assert_eq!(c.standby, StandbyConf::default());
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let d = c.standby;
    assert_eq!(
        (d.probe_interval, d.probe_level, d.drill_max_p99),
        (ms(300_000), ms(1000), ms(1000))
    );
    assert_eq!(
        (
            d.probe_max_concurrency,
            d.shadow_max_inflight,
            d.shadow_max_rps
        ),
        (16, 4, 20)
    );
    assert_eq!(d.drill_max_error_rate, 0.01);
    // Shadowing routes are fine with the default caps.
    let c = parse(TWO_TIERS).expect("valid");
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn full_table_parses() {
    let c = parse(&with(FULL)).expect("valid");
    assert_eq!(c.standby, full_expected());
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    // Keys left out keep their defaults.
    let c = parse(&with("[standby]\nshadow_max_rps = 5\n")).expect("valid");
    let want = StandbyConf {
        shadow_max_rps: 5,
        ..StandbyConf::default()
    };
    assert_eq!(c.standby, want);
}

#[test]
fn inline_form_is_the_same() {
    let inline = r#"standby = { probe_interval = "10m", probe_level = "2s", probe_max_concurrency = 64, shadow_max_inflight = 8, shadow_max_rps = 50, drill_max_error_rate = 0.05, drill_max_p99 = "750ms" }
"#;
    // A top-level inline key must come before the first table header.
    let text = format!("{inline}{MINIMAL}");
    let c = parse(&text).expect("valid");
    assert_eq!(c.standby, full_expected());
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn boundaries_are_accepted() {
    let table = "[standby]\nprobe_interval = \"0s\"\nprobe_level = \"100ms\"\n\
                 probe_max_concurrency = 1\nshadow_max_inflight = 0\nshadow_max_rps = 0\n\
                 drill_max_error_rate = 0\ndrill_max_p99 = \"1ms\"\n";
    let s = parse(&with(table)).expect("valid").standby;
    assert_eq!(
        s,
        StandbyConf {
            probe_interval: Duration::ZERO,
            probe_level: ms(100),
            probe_max_concurrency: 1,
            shadow_max_inflight: 0,
            shadow_max_rps: 0,
            drill_max_error_rate: 0.0,
            drill_max_p99: ms(1),
        }
    );
    let table = "[standby]\nprobe_interval = \"24h\"\nprobe_level = \"10s\"\n\
                 probe_max_concurrency = 256\nshadow_max_inflight = 1000\n\
                 shadow_max_rps = 100000\ndrill_max_error_rate = 1\ndrill_max_p99 = \"60s\"\n";
    let s = parse(&with(table)).expect("valid").standby;
    assert_eq!(
        s,
        StandbyConf {
            probe_interval: ms(86_400_000),
            probe_level: ms(10_000),
            probe_max_concurrency: 256,
            shadow_max_inflight: 1000,
            shadow_max_rps: 100_000,
            drill_max_error_rate: 1.0,
            drill_max_p99: ms(60_000),
        }
    );
    // A bare 0 is a zero duration, so it switches the probe off too; 10s is the shortest on.
    let s = parse(&with("[standby]\nprobe_interval = 0\n")).expect("valid");
    assert_eq!(s.standby.probe_interval, Duration::ZERO);
    let s = parse(&with("[standby]\nprobe_interval = \"10s\"\n")).expect("valid");
    assert_eq!(s.standby.probe_interval, ms(10_000));
}

#[test]
fn bad_values_are_each_reported_at_their_line() {
    let table = r#"[standby]
probe_interval = "5s"
probe_level = "50ms"
probe_max_concurrency = 0
shadow_max_inflight = 1001
shadow_max_rps = -1
drill_max_error_rate = 1.5
drill_max_p99 = "2m"
"#;
    let want: &[(usize, usize, &str)] = &[
        (
            9,
            18,
            "standby.probe_interval must be \"0s\" (probe off) or from 10s to 24h, not \"5s\"",
        ),
        (
            10,
            15,
            "standby.probe_level must be from 100ms to 10s, not \"50ms\"",
        ),
        (
            11,
            25,
            "standby.probe_max_concurrency must be from 1 to 256, not 0",
        ),
        (
            12,
            23,
            "standby.shadow_max_inflight must be from 0 to 1000, not 1001",
        ),
        (
            13,
            18,
            "standby.shadow_max_rps must be from 0 to 100000, not -1",
        ),
        (
            14,
            24,
            "standby.drill_max_error_rate must be from 0 to 1, not 1.5",
        ),
        (
            15,
            17,
            "standby.drill_max_p99 must be from 1ms to 60s, not \"2m\"",
        ),
    ];
    check(table, want);
    let table = r#"[standby]
probe_interval = "25h"
probe_level = 1
probe_max_concurrency = 257
shadow_max_inflight = -1
shadow_max_rps = 100001
drill_max_error_rate = -0.1
drill_max_p99 = "0s"
"#;
    let want: &[(usize, usize, &str)] = &[
        (
            9,
            18,
            "standby.probe_interval must be \"0s\" (probe off) or from 10s to 24h, not \"25h\"",
        ),
        (10, 15, "standby.probe_level: durations need a unit"),
        (
            11,
            25,
            "standby.probe_max_concurrency must be from 1 to 256, not 257",
        ),
        (
            12,
            23,
            "standby.shadow_max_inflight must be from 0 to 1000, not -1",
        ),
        (
            13,
            18,
            "standby.shadow_max_rps must be from 0 to 100000, not 100001",
        ),
        (
            14,
            24,
            "standby.drill_max_error_rate must be from 0 to 1, not -0.1",
        ),
        (
            15,
            17,
            "standby.drill_max_p99 must be from 1ms to 60s, not \"0s\"",
        ),
    ];
    check(table, want);
    let table = "[standby]\nprobe_interval = \"-5m\"\nprobe_level = 0\n\
                 drill_max_error_rate = nan\ndrill_max_p99 = 1.5\n";
    let want: &[(usize, usize, &str)] = &[
        (
            9,
            18,
            "standby.probe_interval: invalid duration \"-5m\": must not be negative",
        ),
        (
            10,
            15,
            "standby.probe_level must be from 100ms to 10s, not 0",
        ),
        (
            11,
            24,
            "standby.drill_max_error_rate must be from 0 to 1, not NaN",
        ),
        (12, 17, "standby.drill_max_p99: durations need a unit"),
    ];
    check(table, want);
}

/// `MINIMAL` + `table` fails with exactly the errors `want` (line, column, message part).
fn check(table: &str, want: &[(usize, usize, &str)]) {
    let e = errors(&with(table));
    assert_eq!(e.len(), want.len(), "{e:#?}");
    for ((line, col, msg), (want_line, want_col, needle)) in e.iter().zip(want) {
        assert_eq!((line, col), (want_line, want_col), "{msg}");
        assert!(msg.contains(needle), "line {line}: {msg}");
    }
}

#[test]
fn unknown_key_is_an_error_at_its_position() {
    let e = errors(&with("[standby]\nprobe_level = \"1s\"\nshadow_rps = 5\n"));
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_eq!((e[0].0, e[0].1), (10, 1));
    assert!(e[0].2.contains("unknown field `shadow_rps`"), "{}", e[0].2);
    let e = errors(&format!(
        "standby = {{ shadow_max_rps = 4, drill = true }}\n{MINIMAL}"
    ));
    assert_eq!((e[0].0, e[0].1), (1, 33));
    assert!(e[0].2.contains("unknown field `drill`"), "{}", e[0].2);
    // A wrong type stops the parse at the value.
    let e = errors(&with("[standby]\nshadow_max_rps = \"20\"\n"));
    assert_eq!(e[0].0, 9);
}

#[test]
fn shadowing_routes_are_warned_about_when_standby_allows_none() {
    let c = parse(&format!("{TWO_TIERS}[standby]\nshadow_max_inflight = 0\n")).expect("valid");
    assert_eq!(c.standby.shadow_max_inflight, 0);
    let got: Vec<_> = c
        .warnings
        .iter()
        .map(|w| (w.line, w.col, w.message.as_str()))
        .collect();
    let msg = |route: &str| {
        format!(
            "shadow traffic is configured on route {route:?} but [standby] allows none \
             (standby.shadow_max_inflight = 0 at line 22)"
        )
    };
    let (reports, default) = (msg("reports"), msg("default"));
    assert_eq!(
        got,
        vec![(12, 10, reports.as_str()), (20, 10, default.as_str())]
    );
    // Both caps at zero: one warning per route, naming both keys.
    let c = parse(&format!(
        "{TWO_TIERS}[standby]\nshadow_max_rps = 0\nshadow_max_inflight = 0\n"
    ))
    .expect("valid");
    assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
    assert!(
        c.warnings[0].message.ends_with(
            "(standby.shadow_max_inflight = 0 at line 23, standby.shadow_max_rps = 0 at line 22)"
        ),
        "{}",
        c.warnings[0].message
    );
    // Caps above zero, or no route mirroring anything: no warning.
    let c = parse(&format!("{TWO_TIERS}[standby]\nshadow_max_rps = 1\n")).expect("valid");
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let quiet = TWO_TIERS
        .replace("shadow = 0.05", "shadow = 0.0")
        .replace("shadow = 1\n", "");
    let c = parse(&format!("{quiet}[standby]\nshadow_max_rps = 0\n")).expect("valid");
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    // Without a standby tier the route check already says shadow has no effect; once is enough.
    let c = parse(&with("shadow = 0.5\n[standby]\nshadow_max_inflight = 0\n")).expect("valid");
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    assert!(
        c.warnings[0].message.contains("route.shadow has no effect"),
        "{}",
        c.warnings[0].message
    );
}

#[test]
fn no_standby_input_panics() {
    let base = format!("{TWO_TIERS}{FULL}");
    let alphabet = b"[]{}=\"',.#\n -0123456789_:abdehilmnoprstxy";
    assert_mutations_fail_cleanly(17, &base, TWO_TIERS.len(), alphabet, 2000, 5);
}

#[test]
fn shipped_config_spells_out_the_defaults_and_shadows_the_default_route() {
    let c = parse(include_str!("../../../conf/firebreak.toml")).expect("firebreak.toml");
    assert_eq!(c.standby, StandbyConf::default());
    let default = c.routes.iter().find(|r| r.name == "default");
    assert_eq!(default.map(|r| r.shadow), Some(0.05));
    assert!(
        c.warnings.iter().all(|w| !w.message.contains("shadow")),
        "{:?}",
        c.warnings
    );
}
