//! The admin listener: health, readiness, metrics (checked by promtool), status, control.

pub mod support;

use std::time::Duration;
use support::conf::{two_tier, TOKEN};
use support::tools::{require, PROMTOOL};
use support::{get, request, wait_until, Behaviour, Origin, Proxy};

fn setup() -> (Origin, Origin, Proxy) {
    support::primary_and_standby("", &[TOKEN])
}

#[test]
fn metrics_follow_the_contract_and_pass_promtool() {
    let (_a, _s, p) = setup();
    for i in 0..20 {
        get(p.http_addr(), &format!("/login/{i}")).unwrap();
    }
    // A request is counted in its logging phase, after its answer went out: the client can
    // see the 20th answer a moment before the 20th count.
    let counted = r#"firebreak_requests_total{code="200",pool="primary",route="login"} 20"#;
    assert!(wait_until(Duration::from_secs(2), || {
        let t = p.admin_get("/metrics").unwrap().text();
        t.contains("firebreak_backend_up{") && t.contains(counted)
    }));
    let m = p.admin_get("/metrics").unwrap();
    assert_eq!(m.status, 200);
    let text = m.text();
    for needle in [
        counted,
        "firebreak_request_duration_seconds_bucket{",
        r#"firebreak_backend_up{backend=""#,
        r#"firebreak_config_reloads_total{result="success"} 0"#,
        "firebreak_maintenance_active 0",
    ] {
        assert!(text.contains(needle), "missing {needle} in:\n{text}");
    }
    let Some(promtool) = require(PROMTOOL) else {
        return;
    };
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn health_readiness_status_and_the_page() {
    let (a, s, p) = setup();
    assert_eq!(p.admin_get("/healthz").unwrap().status, 200);
    // Probes that send HEAD (some load balancers do) get the same answer, without a body.
    for path in ["/healthz", "/readyz"] {
        let r = support::request(p.admin_addr(), "HEAD", path, &[], b"").unwrap();
        assert_eq!(r.status, 200, "HEAD {path}");
        assert!(r.body.is_empty(), "HEAD {path} sent a body");
    }
    let st = p.admin_get("/status").unwrap().json();
    assert_eq!(st["version"], 1);
    assert_eq!(st["pools"][0]["name"], "primary");
    assert_eq!(st["pools"][0]["tier"], 0);
    assert_eq!(
        st["pools"][0]["backends"][0]["address"],
        a.addr().to_string()
    );
    assert_eq!(st["pools"][0]["backends"][0]["weight"], 1);
    for key in [
        "effective_share",
        "latency_ms",
        "in_flight",
        "limit",
        "health",
    ] {
        assert!(
            st["pools"][0]["backends"][0].get(key).is_some(),
            "status lacks {key}"
        );
    }
    assert_eq!(st["maintenance"]["enabled"], false);
    let page = p.admin_get("/").unwrap();
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(page.text().contains("/status"));
    // The public listener never serves admin endpoints: they go to the origin like any path.
    let r = get(p.http_addr(), "/metrics").unwrap();
    assert_eq!(r.header("x-origin"), Some("a"));
    // Both tiers gone: not ready.
    a.kill();
    s.kill();
    assert!(wait_until(Duration::from_secs(3), || p
        .admin_get("/readyz")
        .unwrap()
        .status
        == 503));
    assert_eq!(p.admin_get("/healthz").unwrap().status, 200);
}

#[test]
fn post_endpoints_need_the_token() {
    let (_a, _s, p) = setup();
    assert_eq!(
        p.admin_post_as(None, "/maintenance", r#"{"enabled":true}"#)
            .unwrap()
            .status,
        401
    );
    assert_eq!(
        p.admin_post_as(Some("wrong"), "/maintenance", r#"{"enabled":true}"#)
            .unwrap()
            .status,
        401
    );
    assert_eq!(
        p.admin_post_as(Some("nope"), "/reload", "").unwrap().status,
        401
    );
    assert_eq!(
        get(p.http_addr(), "/").unwrap().status,
        200,
        "nothing changed"
    );
    // The scheme is case-insensitive (RFC 9110 §11.1); the token is not.
    let post = |auth: &str| {
        let headers = [
            ("Authorization", auth),
            ("Content-Type", "application/json"),
        ];
        support::request(
            p.admin_addr(),
            "POST",
            "/maintenance",
            &headers,
            br#"{"enabled":false}"#,
        )
        .unwrap()
        .status
    };
    assert_eq!(post("bearer test-token"), 200);
    assert_eq!(post("BEARER test-token"), 200);
    assert_eq!(post("Bearer TEST-TOKEN"), 401);
    assert_eq!(post("Basic test-token"), 401);
    // Without a configured token, POSTs are off altogether.
    let a2 = Origin::start("a2", Behaviour::Normal);
    let s2 = Origin::start("s2", Behaviour::Normal);
    let p2 = Proxy::start(&two_tier(&[(&a2, 1)], &[&s2], "", ""));
    assert_eq!(
        p2.admin_post("/maintenance", r#"{"enabled":true}"#)
            .unwrap()
            .status,
        403
    );
    assert_eq!(p2.admin_post("/reload", "").unwrap().status, 403);
}

#[test]
fn maintenance_can_be_switched_on_and_off_at_run_time() {
    let (a, _s, p) = setup();
    let r = p
        .admin_post(
            "/maintenance",
            r#"{"enabled": true, "message": "Back at 14:00", "retry_after": "5m"}"#,
        )
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let hits = a.hits();
    let r = request(
        p.http_addr(),
        "GET",
        "/orders",
        &[("Accept", "application/json")],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), Some("300"));
    assert_eq!(r.json()["message"], "Back at 14:00");
    assert_eq!(a.hits(), hits, "maintenance answers never reach a backend");
    assert!(wait_until(Duration::from_secs(2), || p
        .admin_get("/metrics")
        .unwrap()
        .text()
        .contains("firebreak_maintenance_active 1")));
    assert_eq!(
        p.admin_get("/status").unwrap().json()["maintenance"]["enabled"],
        true
    );
    assert_eq!(
        p.admin_post("/maintenance", r#"{"enabled": false}"#)
            .unwrap()
            .status,
        200
    );
    assert_eq!(get(p.http_addr(), "/orders").unwrap().status, 200);
    assert_eq!(
        p.admin_post("/maintenance", r#"{"enabled": "yes"}"#)
            .unwrap()
            .status,
        400
    );
    assert_eq!(
        p.admin_post(
            "/maintenance",
            r#"{"enabled": true, "retry_after": "soon"}"#
        )
        .unwrap()
        .status,
        400
    );
}

#[test]
fn reload_applies_a_good_file_and_refuses_a_bad_one() {
    let (a, s, p) = setup();
    let b = Origin::start("b", Behaviour::Normal);
    p.rewrite_config(&two_tier(&[(&a, 1), (&b, 1)], &[&s], "", ""));
    let r = p.admin_post("/reload", "").unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["version"], 2);
    assert!(
        wait_until(Duration::from_secs(3), || {
            let _ = get(p.http_addr(), "/x");
            b.hits() > 0
        }),
        "the added backend never got traffic"
    );
    std::fs::write(p.config_path(), "[[pool]]\nname = 1\n").unwrap();
    let r = p.admin_post("/reload", "").unwrap();
    assert_eq!(r.status, 400);
    assert!(r.text().contains(":2:"), "{}", r.text());
    assert_eq!(
        get(p.http_addr(), "/still").unwrap().status,
        200,
        "the old config keeps serving"
    );
    let st = p.admin_get("/status").unwrap().json();
    assert_eq!(st["version"], 2);
    assert_eq!(st["last_reload"]["ok"], false);
    let m = p.admin_get("/metrics").unwrap().text();
    assert!(
        m.contains(r#"firebreak_config_reloads_total{result="failure"} 1"#),
        "{m}"
    );
    // SIGHUP reloads too.
    p.rewrite_config(&two_tier(&[(&a, 1)], &[&s], "", ""));
    p.signal("HUP");
    assert!(wait_until(Duration::from_secs(3), || p
        .admin_get("/status")
        .unwrap()
        .json()["version"]
        == 3));
}

#[test]
fn sigterm_drains_in_flight_requests_then_exits_zero() {
    let delay = Behaviour::Delay(Duration::from_millis(700));
    let (a, _s, p) = support::two_origins(delay, Behaviour::Normal, "", &[]);
    let addr = p.http_addr();
    let slow = std::thread::spawn(move || get(addr, "/slow"));
    assert!(wait_until(Duration::from_secs(2), || a.hits() == 1));
    let t0 = std::time::Instant::now();
    p.signal("TERM");
    let r = slow
        .join()
        .unwrap()
        .expect("the in-flight request completes");
    assert_eq!(r.status, 200);
    assert_eq!(p.wait_exit(Duration::from_secs(5)), Some(0));
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "exit waited for the whole grace: {:?}",
        t0.elapsed()
    );
}

#[test]
fn json_logs_have_one_access_line_per_request() {
    let a = Origin::start("a", Behaviour::Normal);
    let s = Origin::start("standby", Behaviour::Normal);
    let p = Proxy::start_with_env(
        &two_tier(&[(&a, 1)], &[&s], "", ""),
        &[("FIREBREAK_LOG_FORMAT", "json")],
    );
    let r = request(
        p.http_addr(),
        "GET",
        "/orders/7",
        &[("X-Request-Id", "json-log-1")],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 200);
    let line = wait_until(Duration::from_secs(3), || {
        p.stderr_text().contains("json-log-1")
    });
    assert!(line, "no access line: {}", p.stderr_text());
    let text = p.stderr_text();
    let access: serde_json::Value = text
        .lines()
        .filter(|l| l.contains("json-log-1"))
        .find_map(|l| serde_json::from_str(l).ok())
        .expect("the access line is JSON");
    assert_eq!(access["target"], "access");
    assert_eq!(access["route"], "default");
    assert_eq!(access["status"], 200);
    assert_eq!(access["backend"], a.addr().to_string());
    assert!(
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "a non-JSON line: {text}"
    );
}
