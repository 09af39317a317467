//! Validation: turns the raw TOML tree into a [`Config`], reporting every problem at once.
//!
//! TOML syntax and type errors stop at the first (the parser cannot resume), but every semantic
//! check runs to the end and records its error at the offending value's position, so one
//! `firebreak check` run lists everything to fix. Suspicious-but-valid settings become warnings.
//! This file holds the entry point and the shared checking context ([`Checker`]); the tables are
//! checked in `validate/sections.rs` (small tables), `validate/pools.rs`, `validate/routes.rs`,
//! `validate/admission.rs`, `validate/standby.rs` and `validate/status_page.rs`.

mod admission;
#[cfg(test)]
mod admission_tests;
#[cfg(test)]
mod config_tests;
#[cfg(test)]
mod errors_tests;
mod limits;
mod pools;
mod routes;
mod sections;
mod sessions;
mod standby;
#[cfg(test)]
mod standby_tests;
mod status_page;
mod upstream;

use super::raw::{RawConfig, Scalar, S};
use super::units::{parse_bytes, parse_duration};
use super::{Config, ConfigError, ConfigErrors};
use std::net::SocketAddr;
use std::ops::{Range, RangeInclusive};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub(super) fn parse_and_validate(text: &str, path: &Path) -> Result<Config, ConfigErrors> {
    let path_name = path.display().to_string();
    let raw: RawConfig = super::raw::parse(text).map_err(|mut errors| {
        for error in &mut errors {
            if error
                .message
                .starts_with("invalid type: map, expected a sequence")
            {
                error
                    .message
                    .push_str(" (write [[pool]], [[route]] or [[pool.backends]] for each entry)");
            }
        }
        ConfigErrors {
            path: path_name.clone(),
            errors,
        }
    })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut cx = Checker {
        text,
        dir,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let server = sections::server(&mut cx, raw.server.as_ref());
    let (listen, bound) = sections::listen(&mut cx, raw.listen.as_ref());
    let admin = sections::admin(&mut cx, raw.admin.as_ref(), &bound);
    let pools = pools::pools(&mut cx, raw.pool.as_ref());
    let routes = routes::routes(&mut cx, raw.route.as_ref(), &pools);
    let limits = limits::limits(&mut cx, raw.limits.as_ref());
    let maintenance = sections::maintenance(&mut cx, raw.maintenance.as_ref());
    let retry = sections::retry(&mut cx, raw.retry.as_ref());
    let admission = admission::admission(&mut cx, raw.admission.as_ref());
    let standby = standby::standby(&mut cx, raw.standby.as_ref(), raw.route.as_ref(), &pools);
    let clients = upstream::clients(&mut cx, raw.clients.as_ref());
    let affinity = sessions::affinity(&mut cx, raw.affinity.as_ref());
    let failback = sessions::failback(&mut cx, raw.failback.as_ref());
    let fleet = sessions::fleet(&mut cx, raw.fleet.as_ref());
    let status_page = status_page::status_page(&mut cx, raw.status_page.as_ref(), &routes);

    let Checker {
        mut errors,
        mut warnings,
        ..
    } = cx;
    if !errors.is_empty() {
        errors.sort_by_key(|e| (e.line, e.col));
        return Err(ConfigErrors {
            path: path_name,
            errors,
        });
    }
    warnings.sort_by_key(|e| (e.line, e.col));
    Ok(Config {
        server,
        listen,
        admin,
        pools,
        routes,
        limits,
        maintenance,
        retry,
        admission,
        standby,
        clients,
        affinity,
        failback,
        fleet,
        status_page,
        warnings,
    })
}

/// Collects errors and warnings with positions while the sections are checked.
struct Checker<'a> {
    text: &'a str,
    /// The config file's directory, for relative paths in it.
    dir: PathBuf,
    errors: Vec<ConfigError>,
    warnings: Vec<ConfigError>,
}

impl Checker<'_> {
    /// An integer key within `range` as a `u32` (the default when absent).
    fn int_u32(
        &mut self,
        v: Option<&S<i64>>,
        key: &str,
        default: u32,
        range: std::ops::RangeInclusive<i64>,
    ) -> Option<u32> {
        self.int(v, key, i64::from(default), range)
            .and_then(|n| u32::try_from(n).ok())
    }

    /// A duration key within `range`, described in errors as `rule` (the default when absent).
    fn bounded_duration(
        &mut self,
        v: Option<&S<Scalar>>,
        key: &str,
        default: Duration,
        range: std::ops::RangeInclusive<Duration>,
        rule: &str,
    ) -> Option<Duration> {
        let Some(v) = v else { return Some(default) };
        // The key is present, so `duration`'s textual default is never used.
        let d = self.duration(Some(v), key, "0s")?;
        if range.contains(&d) {
            return Some(d);
        }
        self.error(
            v.span(),
            format!("{key} must be {rule}, not {}", written(v.get_ref())),
        );
        None
    }

    fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.errors.push(ConfigError::at(self.text, span, message));
    }

    fn error_unplaced(&mut self, message: impl Into<String>) {
        self.errors.push(ConfigError::unplaced(message));
    }

    fn warn(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.warnings
            .push(ConfigError::at(self.text, span, message));
    }

    /// The 1-based line of a span, for "first defined at line N" remarks.
    fn line(&self, span: Range<usize>) -> usize {
        ConfigError::at(self.text, span, "").line
    }

    /// A duration key: the default when absent, `None` (error recorded) when invalid.
    fn duration(&mut self, v: Option<&S<Scalar>>, key: &str, default: &str) -> Option<Duration> {
        let Some(v) = v else {
            return parse_duration(default).ok();
        };
        let parsed = match v.get_ref() {
            Scalar::Str(s) => parse_duration(s),
            Scalar::Int(0) => Ok(Duration::ZERO),
            Scalar::Int(n) => Err(format!(
                "durations need a unit: write \"{n}s\" or \"{n}ms\""
            )),
            Scalar::Float(f) => Err(format!("durations need a unit: write \"{f}s\"")),
        };
        parsed
            .map_err(|e| self.error(v.span(), format!("{key}: {e}")))
            .ok()
    }

    /// Like [`Checker::duration`], and the result must be above zero.
    fn positive_duration(
        &mut self,
        v: Option<&S<Scalar>>,
        key: &str,
        default: &str,
    ) -> Option<Duration> {
        let d = self.duration(v, key, default)?;
        if d.is_zero() {
            if let Some(v) = v {
                self.error(v.span(), format!("{key} must be greater than zero"));
            }
            return None;
        }
        Some(d)
    }

    /// A size key (string with unit, or an integer number of bytes); must be above zero.
    fn size(&mut self, v: Option<&S<Scalar>>, key: &str, default: u64) -> Option<u64> {
        let Some(v) = v else { return Some(default) };
        let parsed = match v.get_ref() {
            Scalar::Str(s) => parse_bytes(s),
            Scalar::Int(n) => u64::try_from(*n).map_err(|_| format!("{n} must not be negative")),
            Scalar::Float(f) => Err(format!("{f} is not a whole number of bytes")),
        };
        match parsed {
            Ok(0) => self.error(v.span(), format!("{key} must be greater than zero")),
            Ok(n) => return Some(n),
            Err(e) => self.error(v.span(), format!("{key}: {e}")),
        }
        None
    }

    /// An integer key within `range` (the default when absent).
    fn int(
        &mut self,
        v: Option<&S<i64>>,
        key: &str,
        default: i64,
        range: RangeInclusive<i64>,
    ) -> Option<i64> {
        let Some(v) = v else { return Some(default) };
        let n = *v.get_ref();
        if range.contains(&n) {
            return Some(n);
        }
        let (lo, hi) = (range.start(), range.end());
        self.error(
            v.span(),
            format!("{key} must be from {lo} to {hi}, not {n}"),
        );
        None
    }

    /// A number in [0, 1] (the default when absent).
    fn fraction(&mut self, v: Option<&S<f64>>, key: &str, default: f64) -> Option<f64> {
        let Some(v) = v else { return Some(default) };
        let f = *v.get_ref();
        if (0.0..=1.0).contains(&f) {
            return Some(f);
        }
        self.error(v.span(), format!("{key} must be from 0 to 1, not {f}"));
        None
    }

    /// One of a fixed set of words (the default when absent).
    fn choice<T: Copy>(
        &mut self,
        v: Option<&S<String>>,
        key: &str,
        default: T,
        options: &[(&str, T)],
    ) -> Option<T> {
        let Some(v) = v else { return Some(default) };
        if let Some((_, t)) = options.iter().find(|(name, _)| *name == v.get_ref()) {
            return Some(*t);
        }
        let names: Vec<String> = options.iter().map(|(n, _)| format!("{n:?}")).collect();
        let expected = names.join(" or ");
        self.error(
            v.span(),
            format!(
                "{key}: unknown value {:?} (expected {expected})",
                v.get_ref()
            ),
        );
        None
    }

    /// A numeric `IP:PORT` socket address (host names are not resolved).
    fn socket_addr(&mut self, v: &S<String>, key: &str) -> Option<SocketAddr> {
        match v.get_ref().trim().parse::<SocketAddr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                let hint = "expected IP:PORT such as 10.0.1.10:8080 or [::1]:8080";
                self.error(
                    v.span(),
                    format!("{key}: invalid address {:?} ({hint})", v.get_ref()),
                );
                None
            }
        }
    }
}

/// A scalar as the user wrote it, for error messages.
fn written(v: &Scalar) -> String {
    match v {
        Scalar::Str(s) => format!("{s:?}"),
        Scalar::Int(n) => n.to_string(),
        Scalar::Float(f) => f.to_string(),
    }
}
