//! Fuzz target `accept`: content negotiation and error-page rendering on hostile input.
//!
//! Every answer firebreak writes itself goes through `respond::render`, chosen by the client's
//! `Accept` header and carrying the operator's message. Neither may panic on any input, and:
//! * `render` picks the format `negotiate` picks, with the matching `Content-Type`;
//! * JSON bodies parse, and carry the status, kind, request id and message as given;
//! * HTML bodies (built-in page) never contain a raw `<script` coming from the message or id;
//! * `Content-Length` is the body's length, `Retry-After` is present exactly for 503s.
//!
//! Input layout: byte 0 picks the refusal, byte 1 the retry-after seconds; the rest is split
//! on 0xFF into Accept header, message and request id (missing parts are `None`/empty).
#![no_main]

use firebreak::respond::{negotiate, render, Format, Reason, Refusal};
use libfuzzer_sys::fuzz_target;
use std::time::Duration;

fn refusal(pick: u8, message: String, retry_after: Duration) -> Refusal {
    match pick % 11 {
        0 => Refusal::Maintenance {
            reason: Reason::Maintenance,
            message,
            retry_after,
        },
        1 => Refusal::Shed {
            reason: Reason::Overloaded,
            message,
            retry_after,
        },
        2 => Refusal::NoRoute,
        3 => Refusal::BadGateway,
        4 => Refusal::GatewayTimeout,
        5 => Refusal::BadRequest("bad_request"),
        6 => Refusal::PayloadTooLarge,
        7 => Refusal::HeaderTooLarge,
        8 => Refusal::RequestTimeout,
        9 => Refusal::Maintenance {
            reason: Reason::NoTierCanServe,
            message,
            retry_after,
        },
        _ => Refusal::Shed {
            reason: Reason::QueueTimeout,
            message,
            retry_after,
        },
    }
}

fn header<'a>(headers: &'a [(&'static str, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (pick, secs) = (data[0], u64::from(data[1]) * 7);
    let mut parts = data[2..].split(|b| *b == 0xFF);
    let accept = parts
        .next()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let message = parts
        .next()
        .map_or(String::new(), |p| String::from_utf8_lossy(p).into_owned());
    let request_id = parts
        .next()
        .map_or(String::new(), |p| String::from_utf8_lossy(p).into_owned());

    let format = negotiate(accept.as_deref());
    let r = refusal(pick, message.clone(), Duration::from_secs(secs));
    let ans = render(&r, accept.as_deref(), &request_id, None);

    assert_eq!(ans.status, r.status());
    let ctype = header(&ans.headers, "Content-Type").expect("Content-Type");
    let length = header(&ans.headers, "Content-Length").expect("Content-Length");
    assert_eq!(length, ans.body.len().to_string());
    assert_eq!(
        header(&ans.headers, "X-Request-Id"),
        Some(request_id.as_str())
    );
    assert_eq!(
        header(&ans.headers, "Retry-After").is_some(),
        ans.status == 503
    );
    if let Some(s) = header(&ans.headers, "Retry-After") {
        assert!(s.parse::<u64>().is_ok_and(|s| s >= 1), "Retry-After {s:?}");
    }
    let body = std::str::from_utf8(&ans.body).expect("body is UTF-8");
    match format {
        Format::Json => {
            assert_eq!(ctype, "application/json");
            let v: serde_json::Value = serde_json::from_str(body).expect("JSON body parses");
            assert_eq!(v["status"], u64::from(ans.status));
            assert_eq!(v["error"], r.kind());
            assert_eq!(v["request_id"], request_id.as_str());
            if matches!(r, Refusal::Maintenance { .. } | Refusal::Shed { .. }) {
                assert_eq!(v["message"], message.as_str());
                assert!(v["retry_after_seconds"].as_u64().is_some_and(|s| s >= 1));
            }
        }
        Format::Html => {
            assert!(ctype.starts_with("text/html"), "{ctype}");
            assert!(
                !body.to_ascii_lowercase().contains("<script"),
                "unescaped markup in the page: {body}"
            );
        }
    }
    // The same Accept always negotiates the same way, and the page template is honoured.
    assert_eq!(negotiate(accept.as_deref()), format);
    let page = "<p>{{message}}</p><i>{{status}}</i>";
    let custom = render(&r, accept.as_deref(), &request_id, Some(page));
    if format == Format::Html {
        let text = std::str::from_utf8(&custom.body).expect("custom page is UTF-8");
        assert!(text.starts_with("<p>") && text.contains(&format!("<i>{}</i>", ans.status)));
    }
});
