//! Config text for tests: a primary pool and a standby pool over test origins, with fast
//! health checks so tests run in seconds. `{HTTP}`/`{ADMIN}` are filled in by `Proxy`.
//! The `with_*` functions change one setting of such a config.

use super::Origin;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// Health settings used by test configs: 100 ms interval, rise 2, fall 2.
const HEALTH: &str =
    r#"{ path = "/health", interval = "100ms", timeout = "80ms", rise = 2, fall = 2 }"#;

fn backends(list: &[(SocketAddr, u32)]) -> String {
    let items: Vec<String> = list
        .iter()
        .map(|(addr, w)| format!(r#"{{ addr = "{addr}", weight = {w} }}"#))
        .collect();
    format!("[{}]", items.join(", "))
}

/// A two-tier config over test origins: `primary` with their weights, `standby` each with
/// weight 1. `standby_extra` goes into the standby pool (e.g. `spill = ...`), `tail` after
/// everything.
pub fn two_tier(
    primary: &[(&Origin, u32)],
    standby: &[&Origin],
    standby_extra: &str,
    tail: &str,
) -> String {
    let primary: Vec<(SocketAddr, u32)> = primary.iter().map(|(o, w)| (o.addr(), *w)).collect();
    let standby: Vec<SocketAddr> = standby.iter().map(|o| o.addr()).collect();
    two_tier_at(&primary, &standby, standby_extra, tail)
}

/// `two_tier` over backends given by address (servers that are not an `Origin`).
pub fn two_tier_at(
    primary: &[(SocketAddr, u32)],
    standby: &[SocketAddr],
    standby_extra: &str,
    tail: &str,
) -> String {
    let standby: Vec<(SocketAddr, u32)> = standby.iter().map(|a| (*a, 1)).collect();
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

/// `cfg` with every pool's `read_timeout` (3 s in `two_tier`) set to `read_timeout`.
pub fn with_read_timeout(cfg: &str, read_timeout: Duration) -> String {
    replace_once_per_pool(
        cfg,
        r#"read_timeout = "3s""#,
        &format!(r#"read_timeout = "{}ms""#, read_timeout.as_millis()),
    )
}

/// `cfg` with an HTTPS listener (HTTP/1.1 and HTTP/2 by ALPN) at `addr` besides the plain one.
pub fn with_https(cfg: &str, addr: SocketAddr, cert: &Path, key: &Path) -> String {
    let plain = r#"http = ["{HTTP}"]"#;
    assert_eq!(cfg.matches(plain).count(), 1, "no `{plain}` in:\n{cfg}");
    let https = format!(
        r#"https = [{{ addr = "{addr}", cert = "{}", key = "{}" }}]"#,
        cert.display(),
        key.display()
    );
    cfg.replace(plain, &format!("{plain}\n{https}"))
}

fn replace_once_per_pool(cfg: &str, from: &str, to: &str) -> String {
    let (found, pools) = (cfg.matches(from).count(), cfg.matches("[[pool]]").count());
    assert_eq!(
        found, pools,
        "`{from}` is not in each of the {pools} pools of:\n{cfg}"
    );
    cfg.replace(from, to)
}
