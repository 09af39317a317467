//! Tests of the `[admission]` table: defaults when absent, the full table in block and inline
//! form, each bad value reported at its own line, the limit ordering blamed on the right key,
//! `client_key` forms, unknown keys, the warning when shedding is off, and no panics.

use super::super::{AdmissionConf, ClientKey};
use super::config_tests::{assert_mutations_fail_cleanly, errors, parse, MINIMAL};
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `MINIMAL` followed by `table`, whose first line is line 8 of the file.
fn with(table: &str) -> String {
    format!("{MINIMAL}{table}")
}

const FULL: &str = r#"[admission]
enabled = false
initial_limit = 50
min_limit = 10
max_limit = 500
latency_tolerance = 2
critical_wait = "1s"
normal_wait = "100ms"
bulk_wait = "5ms"
max_inflight = 2000
client_key = "header:X-Tenant-Id"
retry_after = "5s"
message = "Busy."
"#;

fn full_expected() -> AdmissionConf {
    AdmissionConf {
        enabled: false,
        initial_limit: 50,
        min_limit: 10,
        max_limit: 500,
        latency_tolerance: 2.0,
        critical_wait: ms(1000),
        normal_wait: ms(100),
        bulk_wait: ms(5),
        max_inflight: 2000,
        client_key: ClientKey::Header("X-Tenant-Id".into()),
        retry_after: ms(5000),
        message: "Busy.".into(),
    }
}

#[test]
fn absent_or_empty_table_gives_the_defaults() {
    let c = parse(MINIMAL).expect("valid");
    assert_eq!(c.admission, AdmissionConf::default());
    let c = parse(&with("[admission]\n")).expect("valid");
    assert_eq!(c.admission, AdmissionConf::default());
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let d = c.admission;
    assert!(d.enabled && d.min_limit <= d.initial_limit && d.initial_limit <= d.max_limit);
}

#[test]
fn full_table_parses_and_warns_when_off() {
    let c = parse(&with(FULL)).expect("valid");
    assert_eq!(c.admission, full_expected());
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    let w = &c.warnings[0];
    assert_eq!((w.line, w.col), (9, 11));
    assert!(w
        .message
        .contains("overload protection is off: a weak standby will be overwhelmed"));
    let on = parse(&with(&FULL.replace("enabled = false", "enabled = true"))).expect("valid");
    assert!(on.warnings.is_empty(), "{:?}", on.warnings);
}

#[test]
fn inline_form_is_the_same() {
    let inline = r#"admission = { enabled = false, initial_limit = 50, min_limit = 10, max_limit = 500, latency_tolerance = 2.0, critical_wait = "1s", normal_wait = "100ms", bulk_wait = "5ms", max_inflight = 2000, client_key = "header:X-Tenant-Id", retry_after = "5s", message = "Busy." }
"#;
    // A top-level inline key must come before the first table header.
    let text = format!("{inline}{MINIMAL}");
    let c = parse(&text).expect("valid");
    assert_eq!(c.admission, full_expected());
    assert_eq!((c.warnings[0].line, c.warnings[0].col), (1, 25));
}

#[test]
fn boundaries_are_accepted() {
    let message = "x".repeat(1000);
    let table = format!(
        "[admission]\ninitial_limit = 100000\nmin_limit = 1\nmax_limit = 1000000\n\
         latency_tolerance = 1.05\ncritical_wait = \"30s\"\nnormal_wait = 0\nbulk_wait = \"0s\"\n\
         max_inflight = 10000000\nclient_key = \"addr\"\nretry_after = \"1h\"\n\
         message = \"{message}\"\n"
    );
    let a = parse(&with(&table)).expect("valid").admission;
    assert_eq!(
        (a.initial_limit, a.min_limit, a.max_limit),
        (100_000, 1, 1_000_000)
    );
    assert_eq!(
        (a.normal_wait, a.max_inflight),
        (Duration::ZERO, 10_000_000)
    );
    assert_eq!(
        (a.critical_wait, a.retry_after),
        (ms(30_000), ms(3_600_000))
    );
    let table = "[admission]\nlatency_tolerance = 20\nretry_after = \"1s\"\ninitial_limit = 4\n";
    let a = parse(&with(table)).expect("valid").admission;
    assert_eq!((a.latency_tolerance, a.initial_limit), (20.0, 4));
}

#[test]
fn bad_values_are_each_reported_at_their_line() {
    let table = r#"[admission]
initial_limit = 0
min_limit = 0
max_limit = 1000001
latency_tolerance = 1.0
critical_wait = "31s"
normal_wait = 30
bulk_wait = "-1s"
max_inflight = 0
client_key = "tenant"
retry_after = "500ms"
message = "  "
"#;
    let e = errors(&with(table));
    let want: &[(usize, &str)] = &[
        (9, "admission.initial_limit must be from 1 to 100000, not 0"),
        (10, "admission.min_limit must be from 1 to 1000000, not 0"),
        (
            11,
            "admission.max_limit must be from 1 to 1000000, not 1000001",
        ),
        (
            12,
            "admission.latency_tolerance must be from 1.05 to 20, not 1 ",
        ),
        (
            13,
            "admission.critical_wait must be at most 30s, not \"31s\"",
        ),
        (14, "admission.normal_wait: durations need a unit"),
        (
            15,
            "admission.bulk_wait: invalid duration \"-1s\": must not be negative",
        ),
        (
            16,
            "admission.max_inflight must be from 1 to 10000000, not 0",
        ),
        (17, "admission.client_key: unknown value \"tenant\""),
        (
            18,
            "admission.retry_after must be from 1s to 1h, not \"500ms\"",
        ),
        (19, "admission.message must not be empty"),
    ];
    assert_eq!(e.len(), want.len(), "{e:#?}");
    for ((line, col, msg), (want_line, needle)) in e.iter().zip(want) {
        assert_eq!(line, want_line, "{msg}");
        assert!(msg.contains(needle), "line {line}: {msg}");
        assert!(*col > 1, "placed at the value: {line}:{col} {msg}");
    }
    let e = errors(&with(&format!(
        "[admission]\nmessage = \"{}\"\nlatency_tolerance = nan\n",
        "é".repeat(1001)
    )));
    assert_eq!(e.len(), 2, "{e:#?}");
    assert!(e[0].0 == 9 && e[0].2.contains("at most 1000 characters, not 1001"));
    assert!(e[1].0 == 10 && e[1].2.contains("not NaN"));
}

#[test]
fn limit_order_is_blamed_on_the_offending_key() {
    let cases: &[(&str, usize, &str)] = &[
        (
            "min_limit = 30\ninitial_limit = 20\n",
            10,
            "admission.initial_limit 20 must be from admission.min_limit 30 to admission.max_limit 10000",
        ),
        (
            "initial_limit = 600\nmax_limit = 500\n",
            9,
            "admission.initial_limit 600 must be from",
        ),
        (
            "min_limit = 50\n",
            9,
            "admission.min_limit 50 is above the default admission.initial_limit 20",
        ),
        (
            "max_limit = 10\n",
            9,
            "admission.max_limit 10 is below the default admission.initial_limit 20",
        ),
        (
            "max_limit = 2\n",
            9,
            "admission.max_limit 2 is below admission.min_limit 4 (the default)",
        ),
        (
            "max_limit = 5\nmin_limit = 6\ninitial_limit = 5\n",
            10,
            "admission.min_limit 6 is above admission.max_limit 5",
        ),
    ];
    for (keys, line, needle) in cases {
        let e = errors(&with(&format!("[admission]\n{keys}")));
        assert_eq!(e.len(), 1, "{keys}: {e:#?}");
        assert_eq!(e[0].0, *line, "{keys}: {e:#?}");
        assert!(e[0].2.contains(needle), "{keys}: {}", e[0].2);
    }
    // Equal bounds pin the limit.
    let c = parse(&with(
        "[admission]\nmin_limit = 8\ninitial_limit = 8\nmax_limit = 8\n",
    ));
    assert!(c.is_ok(), "{c:?}");
}

#[test]
fn client_key_forms() {
    let key = |v: &str| {
        parse(&with(&format!("[admission]\nclient_key = {v:?}\n"))).map(|c| c.admission.client_key)
    };
    assert_eq!(key("addr"), Ok(ClientKey::Addr));
    assert_eq!(
        key("header:x_tenant.id"),
        Ok(ClientKey::Header("x_tenant.id".into()))
    );
    let bad = [
        ("Addr", "unknown value \"Addr\""),
        ("header:", "needs a header name"),
        (
            "header:X Tenant",
            "\"X Tenant\" is not a valid HTTP header name",
        ),
        ("header:X-Tenant:Id", "is not a valid HTTP header name"),
        ("header: X-Tenant-Id", "is not a valid HTTP header name"),
        (
            "header:Mandant-Nr-\u{e9}",
            "is not a valid HTTP header name",
        ),
        ("HEADER:X-Tenant-Id", "unknown value"),
    ];
    for (v, needle) in bad {
        let e = errors(&with(&format!("[admission]\nclient_key = {v:?}\n")));
        assert_eq!(e.len(), 1, "{v}: {e:#?}");
        assert_eq!((e[0].0, e[0].1), (9, 14), "{v}");
        assert!(e[0].2.contains(needle), "{v}: {}", e[0].2);
    }
}

#[test]
fn unknown_key_is_an_error_at_its_position() {
    let e = errors(&with("[admission]\nenabled = true\nmax_limt = 5\n"));
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_eq!((e[0].0, e[0].1), (10, 1));
    assert!(e[0].2.contains("unknown field `max_limt`"), "{}", e[0].2);
    let e = errors(&format!(
        "admission = {{ min_limit = 4, wait = \"1s\" }}\n{MINIMAL}"
    ));
    assert_eq!((e[0].0, e[0].1), (1, 30));
    assert!(e[0].2.contains("unknown field `wait`"), "{}", e[0].2);
    // A wrong type stops the parse at the value.
    let e = errors(&with("[admission]\nenabled = \"no\"\n"));
    assert_eq!(e[0].0, 9);
}

#[test]
fn no_admission_input_panics() {
    let alphabet = b"[]{}=\"',.#\n -0123456789_:aehlmnrsx";
    assert_mutations_fail_cleanly(11, &with(FULL), MINIMAL.len(), alphabet, 2000, 5);
}
