//! Backends at another site, reached over TLS: verified against the pool's CA with the pool's
//! SNI (never an empty one), `Host` rewritten by `host_header`, mTLS, and backends whose
//! certificate does not verify taken out of service with the reason in `/status`, the log and
//! `firebreak_upstream_tls_errors_total`. Real TLS on loopback sockets, certificates from a
//! test CA.

pub mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use support::proxy::{cli, free_addr, scratch_dir};
use support::tls_origin::{Leaf, TestCa, TlsOrigin};
use support::{conf, get, wait_until, Behaviour, Origin, Proxy};

/// A proxy whose only live pool is the standby at `tls_addr`, reached with `tls` (an inline
/// table's body) and `extra` pool keys; the primary is an address nobody listens on.
fn proxy(tls_addr: SocketAddr, tls: &str, extra: &str) -> Proxy {
    let standby_extra = format!("tls = {{ {tls} }}\n{extra}");
    let cfg = conf::two_tier_at(&[(free_addr(), 1)], &[tls_addr], &standby_extra, "");
    Proxy::start(&cfg)
}

fn tls_errors(p: &Proxy, reason: &str) -> u64 {
    let text = p.admin_get("/metrics").unwrap().text();
    let series =
        format!("firebreak_upstream_tls_errors_total{{pool=\"standby\",reason=\"{reason}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(series.as_str()))
        .map_or(0, |v| v.trim().parse().unwrap())
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn a_pool_is_reached_over_verified_tls_with_its_sni_and_host() {
    let dir = scratch_dir("tls-ok");
    let ca = TestCa::new(&dir, "good");
    let leaf = ca.leaf("backend", &["backend.test"], false);
    let s = Origin::start("standby", Behaviour::Normal);
    let front = TlsOrigin::start(&s, &leaf, None);
    let tls = format!("ca = \"{}\", sni = \"backend.test\"", path(&ca.pem()));
    let p = proxy(front.addr(), &tls, "host_header = \"tms-standby.test\"");
    assert!(
        p.wait_ready(),
        "the TLS backend never came up: {:?}",
        p.backend(front.addr())
    );
    let r = get(p.http_addr(), "/orders/1").unwrap();
    assert_eq!(
        (r.status, r.header("x-origin")),
        (200, Some("standby")),
        "{}",
        r.text()
    );
    assert_eq!(s.seen_header("host").as_deref(), Some("tms-standby.test"));
    let snis = front.snis();
    assert!(
        !snis.is_empty() && snis.iter().all(|n| n.as_deref() == Some("backend.test")),
        "{snis:?}"
    );
    // Keep-alive: the proxied requests share connections (health checks open their own).
    let before = front.snis().len();
    for i in 0..20 {
        assert_eq!(
            get(p.http_addr(), &format!("/again/{i}")).unwrap().status,
            200
        );
    }
    let handshakes = front.snis().len() - before;
    assert!(
        handshakes < 20,
        "{handshakes} handshakes for 20 requests: no reuse"
    );
    assert_eq!(
        p.backend(front.addr()).unwrap()["problem"],
        serde_json::Value::Null
    );
}

#[test]
fn backends_failing_tls_are_out_of_service_with_the_reason() {
    let dir = scratch_dir("tls-bad");
    let ca = TestCa::new(&dir, "good");
    let other = TestCa::new(&dir, "other");
    let client = ca.leaf("client", &["firebreak.test"], false);
    let cases: [(&str, Leaf, Option<&TestCa>, &str); 4] = [
        (
            "unknown_ca",
            other.leaf("foreign", &["backend.test"], false),
            None,
            "",
        ),
        (
            "name_mismatch",
            ca.leaf("misnamed", &["elsewhere.test"], false),
            None,
            "",
        ),
        (
            "expired",
            ca.leaf("expired", &["backend.test"], true),
            None,
            "",
        ),
        (
            "client_cert_refused",
            ca.leaf("mtls", &["backend.test"], false),
            Some(&ca),
            "",
        ),
    ];
    for (reason, leaf, client_ca, extra) in &cases {
        let s = Origin::start("standby", Behaviour::Normal);
        let front = TlsOrigin::start(&s, leaf, *client_ca);
        let tls = format!("ca = \"{}\", sni = \"backend.test\"", path(&ca.pem()));
        let p = proxy(front.addr(), &tls, extra);
        let want = format!("tls: {reason}");
        let seen = wait_until(Duration::from_secs(5), || {
            p.backend(front.addr())
                .is_some_and(|b| b["problem"] == want.as_str() && b["health"] == "down")
        });
        assert!(seen, "{reason}: {:?}", p.backend(front.addr()));
        assert!(tls_errors(&p, reason) > 0, "{reason}: not counted");
        assert!(
            p.stderr_text().contains("health check failing"),
            "{reason}: not logged"
        );
        assert_eq!(
            get(p.http_addr(), "/orders/1").unwrap().status,
            503,
            "{reason}"
        );
        assert_eq!(s.heads(), 0, "{reason}: a request reached the backend");
    }
    // The same mTLS backend, with the client certificate presented: served.
    let s = Origin::start("standby", Behaviour::Normal);
    let front = TlsOrigin::start(&s, &cases[3].1, Some(&ca));
    let tls = format!(
        "ca = \"{}\", sni = \"backend.test\", client_cert = \"{}\", client_key = \"{}\"",
        path(&ca.pem()),
        path(&client.cert),
        path(&client.key)
    );
    let p = proxy(front.addr(), &tls, "");
    assert!(
        p.wait_ready(),
        "mTLS backend: {:?}",
        p.backend(front.addr())
    );
    assert_eq!(get(p.http_addr(), "/orders/2").unwrap().status, 200);
}

#[test]
fn check_refuses_tls_that_would_verify_nothing_or_cannot_load() {
    let dir = scratch_dir("tls-check");
    let ca = TestCa::new(&dir, "good");
    let leaf = ca.leaf("client", &["c.test"], false);
    std::fs::write(dir.join("junk.pem"), "not a certificate\n").unwrap();
    let b = free_addr();
    let cases = [
        ("tls = { ca = \"good-ca.pem\" }", "no tls.sni"),
        ("tls = { sni = \"b.test\", verify = false }", "insecure_skip_verify"),
        ("tls = { sni = \"10.0.0.1\" }", "not a DNS name"),
        ("tls = { sni = \"b.test\", ca = \"junk.pem\" }", "no PEM certificate"),
        ("tls = { sni = \"b.test\", ca = \"missing.pem\" }", "cannot read"),
        ("tls = { sni = \"b.test\", client_cert = \"client.pem\" }", "go together"),
        ("tls = { sni = \"b.test\", client_cert = \"client.pem\", client_key = \"good-ca.pem\" }", "client_cert"),
        ("host_header = \"a b\"", "not a host"),
    ];
    let _ = &leaf;
    for (keys, want) in cases {
        let cfg = conf::two_tier_at(&[(b, 1)], &[free_addr()], keys, "");
        let file = dir.join("firebreak.toml");
        std::fs::write(
            &file,
            cfg.replace("{HTTP}", "127.0.0.1:0")
                .replace("{ADMIN}", "127.0.0.1:0"),
        )
        .unwrap();
        let out = cli(&["check", "--config", file.to_str().unwrap()]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(1), "{keys}: {text}");
        assert!(text.contains(want), "{keys}: {text}");
        assert!(
            text.contains("firebreak.toml:"),
            "{keys}: no line:col: {text}"
        );
    }
    // verify = false with insecure_skip_verify: accepted, with a warning on stderr.
    let keys = "tls = { sni = \"b.test\", verify = false, insecure_skip_verify = true }";
    let cfg = conf::two_tier_at(&[(b, 1)], &[free_addr()], keys, "");
    let file = dir.join("firebreak.toml");
    std::fs::write(
        &file,
        cfg.replace("{HTTP}", "127.0.0.1:0")
            .replace("{ADMIN}", "127.0.0.1:0"),
    )
    .unwrap();
    let out = cli(&["check", "--config", file.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("not verified"));
}

#[test]
fn a_reload_with_a_new_ca_is_used_for_the_next_handshakes() {
    let dir = scratch_dir("tls-reload");
    let old = TestCa::new(&dir, "old");
    let new = TestCa::new(&dir, "new");
    let s = Origin::start("standby", Behaviour::Normal);
    // The backend's certificate is from the new CA; the proxy starts trusting the old one.
    let front = TlsOrigin::start(&s, &new.leaf("backend", &["backend.test"], false), None);
    let dead = free_addr();
    let cfg = |ca: &TestCa| {
        let tls = format!(
            "tls = {{ ca = \"{}\", sni = \"backend.test\" }}",
            path(&ca.pem())
        );
        conf::two_tier_at(&[(dead, 1)], &[front.addr()], &tls, "")
    };
    let p = Proxy::start(&cfg(&old));
    let down = wait_until(Duration::from_secs(5), || {
        p.backend(front.addr())
            .is_some_and(|b| b["problem"] == "tls: unknown_ca")
    });
    assert!(down, "{:?}", p.backend(front.addr()));
    let version = p.config_version();
    p.rewrite_config(&cfg(&new)); // the file watcher reloads it
    let reloaded = wait_until(Duration::from_secs(5), || p.config_version() > version);
    let status = p
        .admin_get("/status")
        .map(|r| r.json()["last_reload"].clone());
    assert!(reloaded, "not reloaded: {status:?}");
    let up = wait_until(Duration::from_secs(5), || {
        p.backend(front.addr()).is_some_and(|b| b["health"] == "up")
    });
    assert!(up, "{:?}", p.backend(front.addr()));
    assert_eq!(get(p.http_addr(), "/after-reload").unwrap().status, 200);
}
