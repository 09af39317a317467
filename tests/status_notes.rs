//! The public status page's notes (escaped, capped, kept across a reload, newest first) and
//! maintenance text, its methods (`GET`/`HEAD` only, never a backend), that nothing of the
//! admin API shows on it, and its request-rate cap (`429` from memory).

pub mod support;

use std::time::Duration;
use support::conf::TOKEN;
use support::status::{assert_page, never_proxied, page_json, start, HOST};
use support::{get, request, wait_until, Resp};

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
    never_proxied(&[&a, &s], &["_status", " /x"]);
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
