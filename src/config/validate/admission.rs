//! Validation of `[admission]`, the overload protection table (a firebreak extension).
//!
//! Every key is optional and defaults to [`AdmissionConf::default`], so a file without the table
//! is protected out of the box. Beyond each value's range, this checks that the cold-start limit
//! lies between the floor and the ceiling (reported at the key that breaks the order), that
//! `client_key` names a valid HTTP header, and warns when shedding is switched off altogether.

use super::super::raw::{RawAdmission, Scalar, S};
use super::super::{AdmissionConf, ClientKey};
use super::Checker;
use std::time::Duration;

/// The highest `min_limit` / `max_limit` accepted.
const MAX_LIMIT: i64 = 1_000_000;
/// The longest a request may wait for a slot: longer waits only hold connections open.
const MAX_WAIT: Duration = Duration::from_secs(30);
const MAX_MESSAGE_CHARS: usize = 1000;
/// The characters of an HTTP header name besides letters and digits (`tchar`, RFC 9110).
const HEADER_PUNCT: &[u8] = b"!#$%&'*+-.^_`|~";

pub(super) fn admission(cx: &mut Checker, raw: Option<&RawAdmission>) -> AdmissionConf {
    let d = AdmissionConf::default();
    let Some(r) = raw else { return d };
    if let Some(e) = r.enabled.as_ref().filter(|e| !*e.get_ref()) {
        let msg = "overload protection is off: a weak standby will be overwhelmed \
                   (admission.enabled = false)";
        cx.warn(e.span(), msg);
    }
    let initial = cx.int_u32(
        r.initial_limit.as_ref(),
        "admission.initial_limit",
        d.initial_limit,
        1..=100_000,
    );
    let min = cx.int_u32(
        r.min_limit.as_ref(),
        "admission.min_limit",
        d.min_limit,
        1..=MAX_LIMIT,
    );
    let max = cx.int_u32(
        r.max_limit.as_ref(),
        "admission.max_limit",
        d.max_limit,
        1..=MAX_LIMIT,
    );
    if let (Some(initial), Some(min), Some(max)) = (initial, min, max) {
        check_order(cx, r, initial, min, max);
    }
    let tolerance = latency_tolerance(cx, r.latency_tolerance.as_ref(), d.latency_tolerance);
    let waits = Duration::ZERO..=MAX_WAIT;
    let wait = |cx: &mut Checker, v: Option<&S<Scalar>>, key: &str, default: Duration| {
        cx.bounded_duration(v, key, default, waits.clone(), "at most 30s")
    };
    let critical_wait = wait(
        cx,
        r.critical_wait.as_ref(),
        "admission.critical_wait",
        d.critical_wait,
    );
    let normal_wait = wait(
        cx,
        r.normal_wait.as_ref(),
        "admission.normal_wait",
        d.normal_wait,
    );
    let bulk_wait = wait(cx, r.bulk_wait.as_ref(), "admission.bulk_wait", d.bulk_wait);
    let max_inflight = cx
        .int(
            r.max_inflight.as_ref(),
            "admission.max_inflight",
            i64::try_from(d.max_inflight).unwrap_or(i64::MAX),
            1..=10_000_000,
        )
        .and_then(|n| usize::try_from(n).ok());
    let client_key = client_key(cx, r.client_key.as_ref());
    let retry_after = cx.bounded_duration(
        r.retry_after.as_ref(),
        "admission.retry_after",
        d.retry_after,
        Duration::from_secs(1)..=Duration::from_secs(3600),
        "from 1s to 1h",
    );
    let message = match &r.message {
        Some(m) if m.get_ref().trim().is_empty() => {
            cx.error(m.span(), "admission.message must not be empty");
            None
        }
        Some(m) if m.get_ref().chars().count() > MAX_MESSAGE_CHARS => {
            let n = m.get_ref().chars().count();
            let msg = format!(
                "admission.message must be at most {MAX_MESSAGE_CHARS} characters, not {n}"
            );
            cx.error(m.span(), msg);
            None
        }
        Some(m) => Some(m.get_ref().clone()),
        None => None,
    };
    // On any error the config is rejected, so the fallbacks below are never used.
    AdmissionConf {
        enabled: r.enabled.as_ref().map_or(d.enabled, |e| *e.get_ref()),
        initial_limit: initial.unwrap_or(d.initial_limit),
        min_limit: min.unwrap_or(d.min_limit),
        max_limit: max.unwrap_or(d.max_limit),
        latency_tolerance: tolerance.unwrap_or(d.latency_tolerance),
        critical_wait: critical_wait.unwrap_or(d.critical_wait),
        normal_wait: normal_wait.unwrap_or(d.normal_wait),
        bulk_wait: bulk_wait.unwrap_or(d.bulk_wait),
        max_inflight: max_inflight.unwrap_or(d.max_inflight),
        client_key: client_key.unwrap_or(d.client_key),
        retry_after: retry_after.unwrap_or(d.retry_after),
        message: message.unwrap_or(d.message),
    }
}

/// `min_limit <= initial_limit <= max_limit`, reported at the key that breaks it: `min_limit`
/// (else `max_limit`) when the bounds cross, `initial_limit` when it lies outside them, and the
/// written bound when `initial_limit` is left at its default. A default is never blamed alone,
/// as the defaults are ordered.
fn check_order(cx: &mut Checker, r: &RawAdmission, initial: u32, min: u32, max: u32) {
    let span = |v: &Option<S<i64>>| v.as_ref().map(|v| v.span());
    let (at, msg) = if min > max {
        match span(&r.min_limit) {
            Some(at) => (
                Some(at),
                format!("admission.min_limit {min} is above admission.max_limit {max}"),
            ),
            None => (
                span(&r.max_limit),
                format!(
                    "admission.max_limit {max} is below admission.min_limit {min} (the default)"
                ),
            ),
        }
    } else if initial < min || initial > max {
        match span(&r.initial_limit) {
            Some(at) => (
                Some(at),
                format!(
                    "admission.initial_limit {initial} must be from admission.min_limit {min} \
                     to admission.max_limit {max}"
                ),
            ),
            None if initial < min => (
                span(&r.min_limit),
                format!(
                    "admission.min_limit {min} is above the default admission.initial_limit \
                     {initial}: set initial_limit too"
                ),
            ),
            None => (
                span(&r.max_limit),
                format!(
                    "admission.max_limit {max} is below the default admission.initial_limit \
                     {initial}: set initial_limit too"
                ),
            ),
        }
    } else {
        return;
    };
    match at {
        Some(at) => cx.error(at, msg),
        None => cx.error_unplaced(msg),
    }
}

/// The congestion threshold, a factor of the baseline latency (integers accepted).
fn latency_tolerance(cx: &mut Checker, v: Option<&S<f64>>, default: f64) -> Option<f64> {
    let Some(v) = v else { return Some(default) };
    let f = *v.get_ref();
    if (1.05..=20.0).contains(&f) {
        return Some(f);
    }
    let msg = format!(
        "admission.latency_tolerance must be from 1.05 to 20, not {f} (a factor of the baseline \
         latency: 1.5 = up to 50% slower is not congested)"
    );
    cx.error(v.span(), msg);
    None
}

/// `"addr"`, or `"header:<Header-Name>"` with a valid header name (kept as written; header
/// lookups are case-insensitive).
fn client_key(cx: &mut Checker, v: Option<&S<String>>) -> Option<ClientKey> {
    let Some(v) = v else {
        return Some(ClientKey::Addr);
    };
    let text = v.get_ref();
    let msg = match text.strip_prefix("header:") {
        None if text == "addr" => return Some(ClientKey::Addr),
        None => format!(
            "admission.client_key: unknown value {text:?} (expected \"addr\" or \
             \"header:<Header-Name>\", e.g. \"header:X-Tenant-Id\")"
        ),
        Some("") => "admission.client_key: \"header:\" needs a header name, e.g. \
                     \"header:X-Tenant-Id\""
            .to_string(),
        Some(name) if is_header_name(name) => return Some(ClientKey::Header(name.to_string())),
        Some(name) => format!(
            "admission.client_key: {name:?} is not a valid HTTP header name (letters, digits \
             and !#$%&'*+-.^_`|~ only)"
        ),
    };
    cx.error(v.span(), msg);
    None
}

fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || HEADER_PUNCT.contains(&b))
}
