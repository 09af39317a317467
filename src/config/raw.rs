//! The config file as written: serde types mirroring the TOML of docs/configuration.md, before
//! validation.
//!
//! Every table denies unknown keys, so a typo is an error at the key's position rather than a
//! silently ignored setting. Almost every key is optional here and every value that validation
//! may reject is wrapped in [`Spanned`], so that `validate` can report *all* problems of a file,
//! each at its own line and column; only TOML syntax and wrong value types (a string where a
//! number belongs) stop parsing at the first error. Integers are read as `i64` and range-checked
//! in validation for the same reason. A wrong type does not hide the next one, though: [`parse`]
//! blanks the offending line and reads again, so every type error of a file is reported (a
//! syntax error still ends the reading: the parser cannot go on past it). Inline tables and block form (`[[pool]]`, `[pool.health]`,
//! `[[pool.backends]]`) deserialize identically.

use super::ConfigError;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;
use toml::Spanned;

/// Reads the file; on failure, every type error (at most [`MAX_TYPE_ERRORS`]) or the syntax
/// error, in file order.
pub(super) fn parse(text: &str) -> Result<RawConfig, Vec<ConfigError>> {
    let first = match toml::from_str(text) {
        Ok(raw) => return Ok(raw),
        Err(e) => e,
    };
    let mut errors = vec![ConfigError::from_toml(text, &first)];
    // Syntax first: past a syntax error the parser has nothing more to say.
    if text.parse::<toml::Table>().is_err() {
        return Err(errors);
    }
    let mut blanked = text.to_string();
    let mut span = first.span();
    while let Some(s) = span.filter(|_| errors.len() < MAX_TYPE_ERRORS) {
        if !blank_lines(&mut blanked, s) {
            break;
        }
        span = match toml::from_str::<RawConfig>(&blanked) {
            Ok(_) => None,
            Err(e) => {
                errors.push(ConfigError::from_toml(text, &e));
                e.span()
            }
        };
    }
    errors.sort_by_key(|e| (e.line, e.col));
    errors.dedup();
    Err(errors)
}

/// Enough to fix a file by; more is noise.
const MAX_TYPE_ERRORS: usize = 20;

/// Replaces the whole lines that `span` touches with spaces (newlines and so every position
/// kept). False when there was nothing left to blank (no progress possible).
fn blank_lines(text: &mut String, span: std::ops::Range<usize>) -> bool {
    let start = text[..span.start.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let end_from = span.end.max(span.start).min(text.len());
    let end = text[end_from..]
        .find('\n')
        .map_or(text.len(), |i| end_from + i);
    if text[start..end].trim().is_empty() {
        return false;
    }
    // One space per byte: later spans must still point into the original text.
    let spaces: String = text[start..end]
        .bytes()
        .map(|b| if b == b'\n' { '\n' } else { ' ' })
        .collect();
    text.replace_range(start..end, &spaces);
    true
}

/// A value with the byte span of its text in the file.
pub(super) type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub server: Option<RawServer>,
    pub listen: Option<RawListen>,
    pub admin: Option<RawAdmin>,
    /// `[[pool]]`; at least one is required.
    pub pool: Option<S<Vec<S<RawPool>>>>,
    /// `[[route]]`; at least one is required.
    pub route: Option<S<Vec<S<RawRoute>>>>,
    pub limits: Option<RawLimits>,
    pub maintenance: Option<RawMaintenance>,
    pub retry: Option<RawRetry>,
    pub admission: Option<RawAdmission>,
    pub standby: Option<RawStandby>,
    pub clients: Option<RawClients>,
    pub affinity: Option<RawAffinity>,
    pub failback: Option<RawFailback>,
    pub fleet: Option<RawFleet>,
    pub status_page: Option<S<RawStatusPage>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStatusPage {
    pub path: Option<S<String>>,
    pub host: Option<S<String>>,
    pub title: Option<S<String>>,
    pub max_rps: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFleet {
    pub peers: Option<S<Vec<S<String>>>>,
    pub dns: Option<S<String>>,
    pub sync_every: Option<S<Scalar>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFailback {
    pub mode: Option<S<String>>,
    pub hold: Option<S<Scalar>>,
    pub ramp: Option<S<Scalar>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAffinity {
    pub key: Option<S<String>>,
    pub hold: Option<S<Scalar>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawClients {
    pub trusted_proxies: Option<S<Vec<S<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    /// 0 = one per core.
    pub threads: Option<S<i64>>,
    pub grace: Option<S<Scalar>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawListen {
    pub http: Option<S<Vec<S<RawHttpListener>>>>,
    pub https: Option<S<Vec<S<RawTls>>>>,
}

/// A `listen.http` entry: `"ADDR"` or `{ addr = "ADDR", proxy_protocol = true }`. Inside an
/// untagged enum values lose their own spans; errors point at the entry.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RawHttpListener {
    Addr(String),
    Table {
        addr: String,
        #[serde(default)]
        proxy_protocol: bool,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    pub addr: Option<S<String>>,
    pub cert: Option<S<String>>,
    pub key: Option<S<String>>,
    pub proxy_protocol: Option<S<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAdmin {
    pub listen: Option<S<String>>,
    pub token_env: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPool {
    pub name: Option<S<String>>,
    pub tier: Option<S<i64>>,
    /// `"gradual"` or `"failover_only"`.
    pub spill: Option<S<String>>,
    pub connect_timeout: Option<S<Scalar>>,
    pub read_timeout: Option<S<Scalar>>,
    pub idle_timeout: Option<S<Scalar>>,
    pub slow_start: Option<S<Scalar>>,
    pub health: Option<S<RawHealth>>,
    pub backends: Option<S<Vec<S<RawBackend>>>>,
    pub host_header: Option<S<String>>,
    pub tls: Option<S<RawUpstreamTls>>,
    pub resolve_every: Option<S<Scalar>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUpstreamTls {
    pub ca: Option<S<String>>,
    pub sni: Option<S<String>>,
    pub client_cert: Option<S<String>>,
    pub client_key: Option<S<String>>,
    pub verify: Option<S<bool>>,
    pub insecure_skip_verify: Option<S<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHealth {
    pub path: Option<S<String>>,
    pub interval: Option<S<Scalar>>,
    pub timeout: Option<S<Scalar>>,
    pub rise: Option<S<i64>>,
    pub fall: Option<S<i64>>,
    pub host: Option<S<String>>,
    pub expect_status: Option<S<Vec<S<i64>>>>,
    pub expect_body: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBackend {
    pub addr: Option<S<String>>,
    pub weight: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRoute {
    pub name: Option<S<String>>,
    pub host: Option<S<String>>,
    pub path_prefix: Option<S<String>>,
    /// `"critical"`, `"normal"` or `"bulk"`.
    pub priority: Option<S<String>>,
    /// `"serve"` or `"refuse"`.
    pub on_standby: Option<S<String>>,
    pub shadow: Option<S<f64>>,
    /// The feature's name for customers (the public status page).
    pub title: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    pub max_connections: Option<S<i64>>,
    pub max_header_bytes: Option<S<Scalar>>,
    pub max_body_bytes: Option<S<Scalar>>,
    pub header_read_timeout: Option<S<Scalar>>,
    pub keepalive_timeout: Option<S<Scalar>>,
    pub request_buffer_bytes: Option<S<Scalar>>,
    pub body_read_timeout: Option<S<Scalar>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMaintenance {
    pub enabled: Option<bool>,
    pub message: Option<S<String>>,
    pub retry_after: Option<S<Scalar>>,
    /// Path of an HTML template, relative to the config file's directory.
    pub page: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRetry {
    pub max_attempts: Option<S<i64>>,
    pub budget_ratio: Option<S<f64>>,
    pub min_per_sec: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAdmission {
    /// Spanned so that switching shedding off can be warned about at its position.
    pub enabled: Option<S<bool>>,
    pub initial_limit: Option<S<i64>>,
    pub min_limit: Option<S<i64>>,
    pub max_limit: Option<S<i64>>,
    /// Integers are accepted too (`2` reads as `2.0`).
    pub latency_tolerance: Option<S<f64>>,
    pub critical_wait: Option<S<Scalar>>,
    pub normal_wait: Option<S<Scalar>>,
    pub bulk_wait: Option<S<Scalar>>,
    pub max_inflight: Option<S<i64>>,
    /// `"addr"` or `"header:<Header-Name>"`.
    pub client_key: Option<S<String>>,
    pub retry_after: Option<S<Scalar>>,
    pub message: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStandby {
    /// `"0s"` turns the capacity probe off.
    pub probe_interval: Option<S<Scalar>>,
    pub probe_level: Option<S<Scalar>>,
    pub probe_max_concurrency: Option<S<i64>>,
    /// 0 = no shadow traffic at all (warned about if a route sets `shadow`).
    pub shadow_max_inflight: Option<S<i64>>,
    pub shadow_max_rps: Option<S<i64>>,
    /// Integers are accepted too (`0` reads as `0.0`).
    pub drill_max_error_rate: Option<S<f64>>,
    pub drill_max_p99: Option<S<Scalar>>,
}

/// A duration or size as written: normally a string with a unit, but numbers are kept too so
/// that validation can explain `grace = 30` (a missing unit) instead of failing the parse.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Scalar {
    Str(String),
    Int(i64),
    Float(f64),
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;

        impl Visitor<'_> for ScalarVisitor {
            type Value = Scalar;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a string with a unit, like "2s" or "64KiB""#)
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Str(v.to_owned()))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Int(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                i64::try_from(v)
                    .map(Scalar::Int)
                    .map_err(|_| E::custom(format!("number {v} is too large")))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar::Float(v))
            }
        }

        deserializer.deserialize_any(ScalarVisitor)
    }
}
