//! Validation of what spans sites and replicas: `[affinity]`, `[failback]` and `[fleet]`.

use super::super::raw::{RawAffinity, RawFailback, RawFleet};
use super::super::{AffinityConf, AffinityKey, FailbackConf, FailbackMode, FleetConf};
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

/// `[fleet]`: `peers` (admin addresses) or `dns` (`HOST:PORT`), not both; `sync_every` 1–60 s.
pub(super) fn fleet(cx: &mut Checker, raw: Option<&RawFleet>) -> Option<FleetConf> {
    let raw = raw?;
    let mut peers = Vec::new();
    for p in raw
        .peers
        .as_ref()
        .map_or(&[][..], |l| l.get_ref().as_slice())
    {
        if let Some(a) = cx.socket_addr(p, "fleet.peers") {
            peers.push(a);
        }
    }
    let dns = raw.dns.as_ref().and_then(|d| {
        let hp = super::upstream::host_port(d.get_ref());
        if hp.is_none() {
            cx.error(
                d.span(),
                format!("fleet.dns {:?} must be HOST:PORT", d.get_ref()),
            );
        }
        hp
    });
    match (&raw.peers, &raw.dns) {
        (Some(p), Some(_)) => cx.error(p.span(), "fleet: give peers or dns, not both"),
        (None, None) => cx.error_unplaced("fleet: give peers (admin addresses) or dns (HOST:PORT)"),
        _ => {}
    }
    let every = cx.positive_duration(raw.sync_every.as_ref(), "fleet.sync_every", "2s")?;
    if every > std::time::Duration::from_secs(60) {
        let span = raw.sync_every.as_ref().map_or(0..0, |v| v.span());
        cx.error(span, "fleet.sync_every must be at most 60s");
    }
    Some(FleetConf {
        peers,
        dns,
        sync_every: every,
    })
}
