//! The public status page (`[status_page]`), black-box: answered by firebreak itself on every
//! listener (two plain, one HTTPS) and on its own host, while the backends are up, when the
//! standby carries the traffic and when every backend is dead; its JSON form; the
//! `Firebreak-Mode` header; notes escaped, capped and newest first; methods; the rate cap;
//! nothing of the admin API on it. `check` on `[status_page]` is in `status_check.rs`.

pub mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use support::conf::{two_tier, with_https, TOKEN};
use support::proxy::{free_addr, scratch_dir};
use support::tls::self_signed;
use support::tools::{require, CURL, OPENSSL};
use support::{get, request, wait_until, Behaviour, Origin, Proxy, Resp};

const HOST: &str = "status.example.net";

/// The page's table and a route switched off on the standby.
fn tail(max_rps: u32) -> String {
    format!(
        r#"
[status_page]
path = "/_status"
host = "{HOST}"
max_rps = {max_rps}

[[route]]
name = "exports"
path_prefix = "/exports"
on_standby = "refuse"
title = "Exports & <reports>"
"#
    )
}

/// Origins and a proxy listening on `{HTTP}`, a second plain address (returned) and, if
/// given, HTTPS at `tls.0` with the certificate in the directory `tls.1`.
fn start(max_rps: u32, tls: Option<(SocketAddr, &Path)>) -> (Origin, Origin, Proxy, SocketAddr) {
    let a = Origin::start("a", Behaviour::Normal);
    let s = Origin::start("standby", Behaviour::Normal);
    let mut cfg = two_tier(&[(&a, 1)], &[&s], "", &tail(max_rps));
    if let Some((addr, dir)) = tls {
        cfg = with_https(&cfg, addr, &dir.join("cert.pem"), &dir.join("key.pem"));
    }
    let second = free_addr();
    let both = format!(r#"http = ["{{HTTP}}", "{second}"]"#);
    let p = Proxy::start_with_env(&cfg.replace(r#"http = ["{HTTP}"]"#, &both), &[TOKEN]);
    assert!(p.wait_ready());
    (a, s, p, second)
}

fn page_json(p: &Proxy) -> serde_json::Value {
    get(p.http_addr(), "/_status.json").unwrap().json()
}

fn wait_mode(p: &Proxy, mode: &str) {
    let ok = wait_until(Duration::from_secs(10), || page_json(p)["mode"] == mode);
    assert!(ok, "the page never said {mode}: {}", page_json(p));
}

/// The page over HTTPS with curl: (status line and headers, body).
fn curl_page(curl: &Path, addr: SocketAddr) -> String {
    let out = Command::new(curl)
        .args(["-sk", "-i", "--max-time", "5"])
        .arg(format!("https://{addr}/_status"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn assert_page(r: &Resp, mode: &str) {
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(r.header("cache-control"), Some("public, max-age=5"));
    assert!(
        r.text().contains(&format!(r#"data-mode="{mode}""#)),
        "{}",
        r.text()
    );
    let header = (mode != "normal").then_some(mode);
    assert_eq!(r.header("firebreak-mode"), header, "{:?}", r.headers);
}

#[test]
fn the_page_answers_on_every_listener_up_on_the_standby_and_all_dead() {
    let (Some(openssl), Some(curl)) = (require(OPENSSL), require(CURL)) else {
        return;
    };
    let dir = scratch_dir("status-tls");
    self_signed(
        &openssl,
        &dir.join("cert.pem"),
        &dir.join("key.pem"),
        "localhost",
    );
    let https = free_addr();
    let (a, s, p, second) = start(2000, Some((https, &dir)));
    let every = |mode: &str| {
        for addr in [p.http_addr(), second] {
            assert_page(&get(addr, "/_status").unwrap(), mode);
        }
        let tls = curl_page(&curl, https);
        assert!(
            tls.starts_with("HTTP/1.1 200") || tls.starts_with("HTTP/2 200"),
            "{tls}"
        );
        assert!(tls.contains(&format!(r#"data-mode="{mode}""#)), "{tls}");
        // Every path of the page's own host is the page.
        let own = request(p.http_addr(), "GET", "/anything", &[("Host", HOST)], b"").unwrap();
        assert_page(&own, mode);
        let json = request(
            p.http_addr(),
            "GET",
            "/v.json",
            &[("Host", "Status.Example.NET:80")],
            b"",
        );
        assert_eq!(json.unwrap().json()["mode"], mode);
    };
    every("normal");
    let proxied = get(p.http_addr(), "/orders/1").unwrap();
    assert_eq!(
        (proxied.status, proxied.header("firebreak-mode")),
        (200, None)
    );
    let j = page_json(&p);
    assert_eq!(j["headline"], "Running normally");
    assert_eq!(j["features_off"], serde_json::json!([]));
    assert_eq!(
        get(p.http_addr(), "/_status.json")
            .unwrap()
            .header("access-control-allow-origin"),
        Some("*")
    );

    a.kill();
    wait_mode(&p, "reduced");
    every("reduced");
    let j = page_json(&p);
    assert_eq!(
        j["features_off"],
        serde_json::json!(["Exports & <reports>"])
    );
    let html = get(p.http_addr(), "/_status").unwrap().text();
    assert!(
        html.contains("<li>Exports &amp; &lt;reports&gt;</li>"),
        "{html}"
    );
    let proxied = get(p.http_addr(), "/orders/2").unwrap();
    assert_eq!(
        (proxied.status, proxied.header("firebreak-mode")),
        (200, Some("reduced"))
    );
    let off = get(p.http_addr(), "/exports/1").unwrap();
    assert_eq!(
        (off.status, off.header("firebreak-mode")),
        (503, Some("reduced"))
    );
    assert_eq!(off.json()["status_page"], "/_status");

    s.kill();
    wait_mode(&p, "maintenance");
    every("maintenance");
    let j = page_json(&p);
    assert_eq!(
        j["message"],
        "fireTMS is moving to backup servers. Your data is safe."
    );
    assert_eq!(j["retry_after_seconds"], 30);
    let html_503 = request(
        p.http_addr(),
        "GET",
        "/orders/3",
        &[("Accept", "text/html")],
        b"",
    )
    .unwrap();
    assert_eq!(
        (html_503.status, html_503.header("firebreak-mode")),
        (503, Some("maintenance"))
    );
    assert!(
        html_503.text().contains(r#"<a href="/_status">"#),
        "{}",
        html_503.text()
    );

    a.restart();
    s.restart();
    wait_mode(&p, "normal");
    let back = get(p.http_addr(), "/orders/4").unwrap();
    assert_eq!((back.status, back.header("firebreak-mode")), (200, None));
    for o in [&a, &s] {
        assert!(
            o.requests()
                .iter()
                .all(|r| !r.contains("_status") && !r.contains("anything")),
            "{:?}",
            o.requests()
        );
    }
}

#[test]
fn notes_are_escaped_capped_kept_across_reloads_and_newest_first() {
    let (_a, _s, p, _) = start(2000, None);
    for text in [
        "first: <script>alert(1)</script>",
        "second & \"more\"",
        "third",
    ] {
        let r = p
            .admin_post("/note", &serde_json::json!({ "text": text }).to_string())
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let long = "x".repeat(3000);
    let r = p
        .admin_post("/note", &serde_json::json!({ "text": long }).to_string())
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .contains("at most 2000 characters"));
    let huge = "y".repeat(1 << 20);
    let r = p
        .admin_post("/note", &serde_json::json!({ "text": huge }).to_string())
        .unwrap();
    assert_eq!(r.status, 413, "a 1 MB note: {}", r.text());
    assert_eq!(p.admin_post("/reload", "").unwrap().status, 200);

    let wait_notes = || {
        wait_until(Duration::from_secs(3), || {
            page_json(&p)["notes"]
                .as_array()
                .is_some_and(|n| n.len() == 3)
        })
    };
    assert!(wait_notes(), "{}", page_json(&p));
    let texts: Vec<String> = page_json(&p)["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        texts,
        [
            "third",
            "second & \"more\"",
            "first: <script>alert(1)</script>"
        ]
    );
    let html = get(p.http_addr(), "/_status").unwrap().text();
    assert!(!html.contains("<script"), "{html}");
    assert!(
        html.contains("first: &lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    let (third, second) = (
        html.find(">third<").unwrap(),
        html.find("second &amp; &quot;more&quot;").unwrap(),
    );
    assert!(third < second, "newest first:\n{html}");
    assert!(!html.contains(&"x".repeat(100)) && !html.contains(&"y".repeat(100)));

    // The operator's maintenance: its message, its retry_after, its own time.
    let body = r#"{"enabled": true, "message": "Back at <14:00> & later", "retry_after": "5m"}"#;
    assert_eq!(p.admin_post("/maintenance", body).unwrap().status, 200);
    let r = get(p.http_addr(), "/_status").unwrap();
    assert_page(&r, "maintenance");
    assert!(
        r.text().contains("Back at &lt;14:00&gt; &amp; later")
            && r.text().contains("about 5 minutes"),
        "{}",
        r.text()
    );
    assert_eq!(page_json(&p)["retry_after_seconds"], 300);
}

#[test]
fn only_get_and_head_and_never_a_backend_nor_the_admin_api() {
    let (a, s, p, _) = start(2000, None);
    for (method, path, host) in [
        ("POST", "/_status", None),
        ("PUT", "/_status.json", None),
        ("DELETE", "/x", Some(HOST)),
        ("OPTIONS", "/_status", None),
    ] {
        let headers: Vec<(&str, &str)> = host.map(|h| ("Host", h)).into_iter().collect();
        let r = request(p.http_addr(), method, path, &headers, b"{\"a\":1}").unwrap();
        assert_eq!(r.status, 405, "{method} {path}");
        assert_eq!(r.header("allow"), Some("GET, HEAD"));
    }
    let head = request(p.http_addr(), "HEAD", "/_status", &[], b"").unwrap();
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    let len: usize = head.header("content-length").unwrap().parse().unwrap();
    assert!(len > 1000, "HEAD says the page's length: {len}");
    for o in [&a, &s] {
        assert!(
            o.requests()
                .iter()
                .all(|r| !r.contains("_status") && !r.contains(" /x")),
            "{:?}",
            o.requests()
        );
    }
    p.admin_post("/note", r#"{"text": "We are looking into slow reports."}"#)
        .unwrap();
    assert!(wait_until(Duration::from_secs(3), || page_json(&p)
        ["notes"][0]["text"]
        .is_string()));
    let html = get(p.http_addr(), "/_status").unwrap().text();
    let json = get(p.http_addr(), "/_status.json").unwrap().text();
    let admin_port = format!(":{}", p.admin_addr().port());
    for secret in [
        a.addr().to_string(),
        s.addr().to_string(),
        p.admin_addr().to_string(),
        admin_port,
        TOKEN.1.into(),
        "primary".into(),
        "standby".into(),
        "pool".into(),
        "backend".into(),
        "tier".into(),
    ] {
        assert!(
            !html.contains(&secret) && !json.contains(&secret),
            "{secret:?} on the page:\n{html}\n{json}"
        );
    }
}

#[test]
fn a_stampede_is_capped_with_429_from_memory() {
    let (a, _s, p, _) = start(5, None);
    let answers: Vec<Resp> = (0..40)
        .map(|_| get(p.http_addr(), "/_status").unwrap())
        .collect();
    let ok = answers.iter().filter(|r| r.status == 200).count();
    let capped: Vec<&Resp> = answers.iter().filter(|r| r.status == 429).collect();
    assert_eq!(ok + capped.len(), 40);
    assert!((5..=15).contains(&ok), "{ok} pages at max_rps = 5");
    assert!(capped.iter().all(|r| r
        .header("retry-after")
        .is_some_and(|s| s.parse::<u64>().is_ok_and(|s| s >= 1))));
    assert!(a.requests().iter().all(|r| !r.contains("_status")));
    assert_eq!(
        get(p.http_addr(), "/orders/1").unwrap().status,
        200,
        "the proxy still serves"
    );
}
