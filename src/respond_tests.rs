//! Unit tests of refusal rendering and content negotiation.

use super::*;

fn maint() -> Refusal {
    Refusal::Maintenance {
        reason: Reason::NoTierCanServe,
        message: "Moving <now> & safe".into(),
        retry_after: Duration::from_secs(120),
    }
}

fn header<'a>(a: &'a Answer, name: &str) -> Option<&'a str> {
    a.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[test]
fn browsers_get_html_and_api_clients_json() {
    let chrome = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8";
    assert_eq!(negotiate(Some(chrome)), Format::Html);
    assert_eq!(negotiate(Some("application/json")), Format::Json);
    assert_eq!(negotiate(Some("*/*")), Format::Json);
    assert_eq!(negotiate(None), Format::Json);
    assert_eq!(
        negotiate(Some("text/html;q=0.5, application/json")),
        Format::Json
    );
    assert_eq!(
        negotiate(Some("application/json;q=0.1, text/html")),
        Format::Html
    );
    assert_eq!(negotiate(Some("application/problem+json")), Format::Json);
    assert_eq!(negotiate(Some(";;;,,q=,text/html;q=abc")), Format::Html);
}

#[test]
fn maintenance_json_carries_message_retry_after_and_request_id() {
    let a = render(&maint(), Some("application/json"), "rid-1", None);
    assert_eq!(a.status, 503);
    assert_eq!(header(&a, "Retry-After"), Some("120"));
    assert_eq!(header(&a, "X-Request-Id"), Some("rid-1"));
    assert_eq!(header(&a, "Content-Type"), Some("application/json"));
    assert_eq!(
        header(&a, "Content-Length").unwrap(),
        a.body.len().to_string()
    );
    let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
    assert_eq!(v["error"], "maintenance");
    assert_eq!(v["reason"], "no_tier_can_serve");
    assert_eq!(v["message"], "Moving <now> & safe");
    assert_eq!(v["retry_after_seconds"], 120);
}

#[test]
fn maintenance_html_escapes_the_message() {
    let a = render(&maint(), Some("text/html"), "rid-2", None);
    let body = std::str::from_utf8(&a.body).unwrap();
    assert!(header(&a, "Content-Type").unwrap().starts_with("text/html"));
    assert!(body.contains("Moving &lt;now&gt; &amp; safe"), "{body}");
    assert!(body.contains("rid-2"));
    let t = render(&maint(), Some("text/html"), "r", Some("<p>{{message}}</p>"));
    assert_eq!(&t.body[..], b"<p>Moving &lt;now&gt; &amp; safe</p>");
}

#[test]
fn proxy_errors_use_the_same_form_and_no_retry_after() {
    let a = render(
        &Refusal::GatewayTimeout,
        Some("application/json"),
        "r",
        None,
    );
    assert_eq!(a.status, 504);
    assert_eq!(header(&a, "Retry-After"), None);
    let b = render(&Refusal::BadGateway, Some("text/html"), "r", None);
    assert_eq!(b.status, 502);
    assert!(std::str::from_utf8(&b.body)
        .unwrap()
        .contains("could not be reached"));
    let c = render(&Refusal::BadRequest("smuggling"), None, "r", None);
    assert_eq!(header(&c, "Connection"), Some("close"));
}

/// Every own answer, in both forms: the declared `Content-Length` is the body's length, and
/// the HTTP/1.1 bytes (the raw `408`) say the same.
#[test]
fn every_answer_declares_the_length_of_its_body() {
    let shed = Refusal::Shed {
        reason: Reason::QueueTimeout,
        message: "busy é".into(),
        retry_after: Duration::from_secs(3),
    };
    let all = [
        maint(),
        shed,
        Refusal::NoRoute,
        Refusal::BadGateway,
        Refusal::GatewayTimeout,
        Refusal::BadRequest("bad_request"),
        Refusal::PayloadTooLarge,
        Refusal::HeaderTooLarge,
        Refusal::RequestTimeout,
        Refusal::LengthRequired,
    ];
    for r in &all {
        for accept in [None, Some("text/html"), Some("application/json")] {
            let a = render(r, accept, "id-1", None);
            let declared = a
                .headers
                .iter()
                .find(|(k, _)| *k == "Content-Length")
                .map(|(_, v)| v.parse::<usize>().unwrap());
            assert_eq!(declared, Some(a.body.len()), "{r:?} {accept:?}");
            let raw = a.to_http1();
            let text = String::from_utf8(raw).unwrap();
            let (head, body) = text.split_once("\r\n\r\n").unwrap();
            assert!(
                head.starts_with(&format!("HTTP/1.1 {} ", a.status)),
                "{head}"
            );
            assert!(
                head.contains(&format!("\r\nContent-Length: {}\r\n", body.len())),
                "{head}"
            );
        }
    }
}
