//! Config text for tests: a primary pool and a standby pool over test origins, with fast
//! health checks so tests run in seconds. `{HTTP}`/`{ADMIN}` are filled in by `Proxy`.

use super::Origin;

/// Health settings used by test configs: 100 ms interval, rise 2, fall 2.
pub const HEALTH: &str =
    r#"{ path = "/health", interval = "100ms", timeout = "80ms", rise = 2, fall = 2 }"#;

fn backends(list: &[(&Origin, u32)]) -> String {
    let items: Vec<String> = list
        .iter()
        .map(|(o, w)| format!(r#"{{ addr = "{}", weight = {} }}"#, o.addr(), w))
        .collect();
    format!("[{}]", items.join(", "))
}

/// A two-tier config. `pool_extra` is added to both pools (e.g. `spill = ...` is not allowed
/// there twice, so pass per-pool keys through `standby_extra`), `tail` after everything.
pub fn two_tier(
    primary: &[(&Origin, u32)],
    standby: &[&Origin],
    standby_extra: &str,
    tail: &str,
) -> String {
    let standby: Vec<(&Origin, u32)> = standby.iter().map(|o| (*o, 1)).collect();
    format!(
        r#"
[server]
threads = 2
grace = "3s"

[listen]
http = ["{{HTTP}}"]

[admin]
listen = "{{ADMIN}}"
token_env = "FIREBREAK_TEST_TOKEN"

[[pool]]
name = "primary"
tier = 0
connect_timeout = "300ms"
read_timeout = "3s"
slow_start = "0s"
health = {health}
backends = {primary}

[[pool]]
name = "standby"
tier = 1
connect_timeout = "300ms"
read_timeout = "3s"
slow_start = "0s"
health = {health}
backends = {standby}
{standby_extra}

[[route]]
name = "login"
path_prefix = "/login"
priority = "critical"

[[route]]
name = "reports"
path_prefix = "/reports"
priority = "bulk"

[[route]]
name = "default"
path_prefix = "/"

[maintenance]
message = "fireTMS is moving to backup servers. Your data is safe."
retry_after = "30s"
{tail}
"#,
        health = HEALTH,
        primary = backends(primary),
        standby = backends(&standby),
    )
}

/// The admin token the test configs expect (pass it with `Proxy::start_with_env`).
pub const TOKEN: (&str, &str) = ("FIREBREAK_TEST_TOKEN", "test-token");
