//! The public status page (`[status_page]`), black-box: answered by firebreak itself on every
//! listener (two plain, one HTTPS) and on its own host, while the backends are up, when the
//! standby carries the traffic and when every backend is dead; its JSON form and the
//! `Firebreak-Mode` header on proxied and own answers. Notes, methods, the rate cap and what
//! must never show are in `status_notes.rs`; `check` on `[status_page]` in `status_check.rs`.

pub mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use support::proxy::{free_addr, scratch_dir};
use support::status::{assert_page, never_proxied, page_json, start, wait_mode, HOST};
use support::tls::self_signed;
use support::tools::{require, CURL, OPENSSL};
use support::{get, request};

fn curl_page(curl: &Path, addr: SocketAddr) -> String {
    let out = Command::new(curl)
        .args(["-sk", "-i", "--max-time", "5"])
        .arg(format!("https://{addr}/_status"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
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
    never_proxied(&[&a, &s], &["_status", "anything"]);
}
