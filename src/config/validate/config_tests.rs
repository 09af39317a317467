//! Tests of the whole text → Config path: a full example like the one in docs/configuration.md,
//! both table forms, defaults and the shipped configs. Diagnostics, and that no input makes the loader panic, are tested in
//! `errors_tests.rs`.

use super::super::*;
use std::time::Duration;

pub(super) const FULL_EXAMPLE: &str = r#"
[server]
threads = 0                      # worker threads for the proxy; 0 = one per core
grace = "30s"                    # drain time on SIGTERM

[listen]
http = ["0.0.0.0:8080"]          # one or more plain-HTTP listeners

[admin]
listen = "127.0.0.1:9901"
token_env = "FIREBREAK_TEST_TOKEN_NEVER_SET"

[[pool]]
name = "primary"
tier = 0
connect_timeout = "1s"
read_timeout = "30s"
slow_start = "10s"
health = { path = "/health", interval = "1s", timeout = "500ms", rise = 2, fall = 3 }
backends = [
  { addr = "10.0.1.10:8080", weight = 3 },
  { addr = "10.0.1.11:8080", weight = 1 },
]

[[pool]]
name = "standby"
tier = 1
spill = "gradual"
health = { path = "/health", interval = "1s", timeout = "500ms", rise = 2, fall = 3 }
backends = [{ addr = "10.9.0.10:8080", weight = 1 }]

[[route]]
name = "login"
path_prefix = "/login"
priority = "critical"

[[route]]
name = "reports"
path_prefix = "/reports"
priority = "bulk"
on_standby = "refuse"
shadow = 0.05

[[route]]
name = "default"
path_prefix = "/"

[limits]
max_connections = 10000
max_header_bytes = "64KiB"
max_body_bytes = "100MiB"
header_read_timeout = "10s"

[maintenance]
enabled = false
message = "fireTMS is moving to backup servers. Your data is safe."
retry_after = "2m"
"#;

pub(super) const MINIMAL: &str = r#"
[[pool]]
name = "p"
backends = [{ addr = "127.0.0.1:9000" }]
[[route]]
name = "all"
path_prefix = "/"
"#;

pub(super) fn parse(text: &str) -> Result<Config, ConfigErrors> {
    Config::parse(text, Path::new("test.toml"))
}

/// Parses `cases` random mutations of `base` (up to `max_edits` byte edits from `alphabet`, only
/// after the first `keep` bytes): nothing may panic, and every failure must be well-formed
/// errors (at least one, 1-based positions, one line each).
pub(super) fn assert_mutations_fail_cleanly(
    seed: u64,
    base: &str,
    keep: usize,
    alphabet: &[u8],
    cases: usize,
    max_edits: usize,
) {
    let mut rng = fastrand::Rng::with_seed(seed);
    for _ in 0..cases {
        let mut text = base.as_bytes().to_vec();
        for _ in 0..rng.usize(1..max_edits) {
            let i = rng.usize(keep..text.len());
            match rng.u8(0..3) {
                0 => {
                    text.remove(i);
                }
                1 => text.insert(i, alphabet[rng.usize(0..alphabet.len())]),
                _ => text[i] = alphabet[rng.usize(0..alphabet.len())],
            }
        }
        let text = String::from_utf8_lossy(&text);
        if let Err(e) = parse(&text) {
            assert!(!e.errors.is_empty());
            assert!(e
                .errors
                .iter()
                .all(|e| e.line >= 1 && e.col >= 1 && !e.message.contains('\n')));
        }
    }
}

pub(super) fn errors(text: &str) -> Vec<(usize, usize, String)> {
    match parse(text) {
        Ok(_) => panic!("expected errors"),
        Err(e) => e
            .errors
            .into_iter()
            .map(|e| (e.line, e.col, e.message))
            .collect(),
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn spec_example_parses_to_expected_values() {
    let c = parse(FULL_EXAMPLE).expect("valid");
    assert_eq!(c.server.grace, secs(30));
    assert!(c.server.threads >= 1);
    assert_eq!(c.listen.http, vec!["0.0.0.0:8080".parse().expect("addr")]);
    assert!(c.listen.https.is_empty());
    assert_eq!(c.admin.listen, "127.0.0.1:9901".parse().expect("addr"));
    assert_eq!(
        c.admin.token_env.as_deref(),
        Some("FIREBREAK_TEST_TOKEN_NEVER_SET")
    );
    let health = HealthConf {
        path: "/health".into(),
        interval: secs(1),
        timeout: Duration::from_millis(500),
        rise: 2,
        fall: 3,
        host: None,
        expect_status: vec![],
        expect_body: None,
    };
    let backend = |a: &str, weight| BackendConf {
        addr: a.parse().expect("addr"),
        weight,
    };
    let primary = PoolConf {
        name: "primary".into(),
        tier: 0,
        spill: Spill::Gradual,
        connect_timeout: secs(1),
        read_timeout: secs(30),
        idle_timeout: secs(1),
        slow_start: secs(10),
        health: Some(health.clone()),
        backends: vec![backend("10.0.1.10:8080", 3), backend("10.0.1.11:8080", 1)],
        names: vec![],
        resolve_every: secs(30),
        host_header: None,
        tls: None,
    };
    let standby = PoolConf {
        name: "standby".into(),
        tier: 1,
        health: Some(health),
        backends: vec![backend("10.9.0.10:8080", 1)],
        ..primary.clone()
    };
    assert_eq!(c.pools, vec![primary, standby]);
    let route = |name: &str, prefix: &str, priority, on_standby, shadow| RouteConf {
        name: name.into(),
        host: None,
        path_prefix: prefix.into(),
        priority,
        on_standby,
        shadow,
        title: None,
    };
    let expected = vec![
        route("login", "/login", Priority::Critical, OnStandby::Serve, 0.0),
        route(
            "reports",
            "/reports",
            Priority::Bulk,
            OnStandby::Refuse,
            0.05,
        ),
        route("default", "/", Priority::Normal, OnStandby::Serve, 0.0),
    ];
    assert_eq!(c.routes, expected);
    let limits = LimitsConf {
        max_connections: 10_000,
        max_header_bytes: 65_536,
        max_body_bytes: 104_857_600,
        header_read_timeout: secs(10),
        keepalive_timeout: secs(60),
        request_buffer_bytes: 64 << 10,
        body_read_timeout: secs(10),
    };
    assert_eq!(c.limits, limits);
    assert!(!c.maintenance.enabled);
    assert_eq!(
        c.maintenance.message,
        "fireTMS is moving to backup servers. Your data is safe."
    );
    assert_eq!(c.maintenance.retry_after, secs(120));
    assert_eq!(c.maintenance.page, None);
    let retry = RetryConf {
        max_attempts: 3,
        budget_ratio: 0.2,
        min_per_sec: 10,
    };
    assert_eq!(c.retry, retry);
    // The token variable is unset: one warning, at the token_env value (line 11).
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    assert_eq!((c.warnings[0].line, c.warnings[0].col), (11, 13));
    assert!(c.warnings[0].message.contains("403"));
}

#[test]
fn inline_and_block_forms_are_the_same() {
    let block = r#"
[[pool]]
name = "primary"
tier = 0
[pool.health]
path = "/health"
interval = "1s"
timeout = "500ms"
rise = 2
fall = 3
[[pool.backends]]
addr = "10.0.1.10:8080"
weight = 3
[[pool.backends]]
addr = "10.0.1.11:8080"
weight = 1

[[pool]]
name = "standby"
tier = 1
spill = "gradual"
[pool.health]
[[pool.backends]]
addr = "10.9.0.10:8080"

[[route]]
name = "login"
path_prefix = "/login"
priority = "critical"
[[route]]
name = "default"
path_prefix = "/"
"#;
    let inline = r#"
pool = [
  { name = "primary", tier = 0, health = { path = "/health", interval = "1s", timeout = "500ms", rise = 2, fall = 3 }, backends = [{ addr = "10.0.1.10:8080", weight = 3 }, { addr = "10.0.1.11:8080", weight = 1 }] },
  { name = "standby", tier = 1, spill = "gradual", health = {}, backends = [{ addr = "10.9.0.10:8080" }] },
]
route = [{ name = "login", path_prefix = "/login", priority = "critical" }, { name = "default", path_prefix = "/" }]
"#;
    let (a, b) = (parse(block).expect("block"), parse(inline).expect("inline"));
    assert_eq!(a, b);
    // An empty health table takes every default.
    let h = b.pools[1].health.clone().expect("health");
    assert_eq!(
        (h.path.as_str(), h.interval, h.timeout, h.rise, h.fall),
        ("/health", secs(1), Duration::from_millis(500), 2, 3)
    );
}

#[test]
fn defaults_fill_every_optional_key() {
    let c = parse(MINIMAL).expect("valid");
    assert_eq!(c.server.grace, secs(30));
    assert_eq!(c.listen.http, vec!["0.0.0.0:8080".parse().expect("addr")]);
    assert_eq!(
        c.admin,
        AdminConf {
            listen: "127.0.0.1:9901".parse().expect("addr"),
            token_env: None
        }
    );
    let p = &c.pools[0];
    assert_eq!(
        (
            p.tier,
            p.spill,
            p.connect_timeout,
            p.read_timeout,
            p.slow_start
        ),
        (0, Spill::Gradual, secs(1), secs(30), secs(10))
    );
    assert_eq!((p.health.clone(), p.backends[0].weight), (None, 1));
    assert_eq!(c.limits.max_header_bytes, 64 << 10);
    assert_eq!(
        c.maintenance.message,
        "fireTMS is temporarily unavailable. Your data is safe."
    );
    assert_eq!(c.maintenance.retry_after, secs(120));
    assert_eq!(
        c.retry,
        RetryConf {
            max_attempts: 3,
            budget_ratio: 0.2,
            min_per_sec: 10
        }
    );
    assert_eq!(c.admission, AdmissionConf::default());
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn shipped_configs_are_valid() {
    let demo = parse(include_str!("../../../conf/demo.toml")).expect("demo.toml");
    assert_eq!(
        demo.listen.http,
        vec!["127.0.0.1:8080".parse().expect("addr")]
    );
    assert_eq!(demo.server.grace, secs(5));
    let weights: Vec<u32> = demo.pools[0].backends.iter().map(|b| b.weight).collect();
    assert_eq!(weights, vec![3, 1]);
    assert_eq!(demo.pools[1].tier, 1);
    assert_eq!(
        demo.pools[1].health.as_ref().map(|h| h.interval),
        Some(Duration::from_millis(500))
    );
    assert_eq!(demo.maintenance.retry_after, secs(30));
    assert_eq!(demo.routes.len(), 4);
    assert_eq!(demo.admission, AdmissionConf::default());
    // The only remark allowed: the admin token variable may be unset where tests run.
    assert!(
        demo.warnings
            .iter()
            .all(|w| w.message.contains("FIREBREAK_ADMIN_TOKEN")),
        "{:?}",
        demo.warnings
    );
    let prod = parse(include_str!("../../../conf/firebreak.toml")).expect("firebreak.toml");
    assert_eq!(prod.routes.len(), 6);
    assert_eq!(prod.routes[3].on_standby, OnStandby::Refuse);
    let tenant = ClientKey::Header("X-Tenant-Id".into());
    assert_eq!(prod.admission.client_key, tenant);
    // The shipped standby is at another site: by name, over verified TLS, its own Host.
    let standby = &prod.pools[1];
    assert_eq!(standby.names.len(), 1);
    assert!(standby.tls.as_ref().is_some_and(|t| t.verify));
    assert!(standby.host_header.is_some());
}

#[test]
fn hosts_are_lowercased_and_nested_prefixes_allowed() {
    let routes = r#"
[[route]]
name = "api"
host = "TMS.Example.COM"
path_prefix = "/"
[[route]]
name = "api2"
path_prefix = "/api"
[[route]]
name = "api3"
path_prefix = "/api/v2"
"#;
    let text = format!("{MINIMAL}{routes}");
    let c = parse(&text).expect("valid");
    assert_eq!(c.routes[1].host.as_deref(), Some("tms.example.com"));
    assert_eq!(c.routes.len(), 4);
}
