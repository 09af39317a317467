//! Validation of how sessions and failback behave across the two sites: `[affinity]` and
//! `[failback]`.

use super::super::raw::{RawAffinity, RawFailback};
use super::super::{AffinityConf, AffinityKey, FailbackConf, FailbackMode};
use super::Checker;

/// `[affinity]`: `key` is `cookie:NAME`, `header:NAME` or `addr`; `hold` a duration.
pub(super) fn affinity(cx: &mut Checker, raw: Option<&RawAffinity>) -> Option<AffinityConf> {
    let raw = raw?;
    let hold = cx.duration(raw.hold.as_ref(), "affinity.hold", "30m");
    let Some(k) = &raw.key else {
        cx.error_unplaced("affinity.key is required: cookie:NAME, header:NAME or addr");
        return None;
    };
    let text = k.get_ref().trim();
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    let key = match text.split_once(':') {
        Some(("cookie", name)) if token(name) => Some(AffinityKey::Cookie(name.to_string())),
        Some(("header", name)) if token(name) => {
            Some(AffinityKey::Header(name.to_ascii_lowercase()))
        }
        None if text == "addr" => Some(AffinityKey::Addr),
        _ => None,
    };
    let Some(key) = key else {
        let msg = format!(
            "affinity.key {text:?} must be cookie:NAME, header:NAME (NAME a header or cookie \
             name) or addr"
        );
        cx.error(k.span(), msg);
        return None;
    };
    Some(AffinityConf { key, hold: hold? })
}

/// `[failback]`: `mode` auto or manual (default auto), `hold` (default 5m), `ramp` (default
/// 2m).
pub(super) fn failback(cx: &mut Checker, raw: Option<&RawFailback>) -> Option<FailbackConf> {
    let raw = raw?;
    let mode = cx.choice(
        raw.mode.as_ref(),
        "failback.mode",
        FailbackMode::Auto,
        &[
            ("auto", FailbackMode::Auto),
            ("manual", FailbackMode::Manual),
        ],
    );
    let hold = cx.duration(raw.hold.as_ref(), "failback.hold", "5m");
    let ramp = cx.duration(raw.ramp.as_ref(), "failback.ramp", "2m");
    Some(FailbackConf {
        mode: mode?,
        hold: hold?,
        ramp: ramp?,
    })
}
