//! Parsers for the two unit-bearing value kinds in the config file: durations (`"250ms"`,
//! `"2s"`, `"5m"`, `"1h"`) and byte sizes (`"64KiB"`, `"100MiB"`, `"512B"`, `"1024"`).
//!
//! They live apart from validation so the admin API (e.g. `POST /maintenance` with
//! `"retry_after": "30s"`) can reuse them. Both are strict about what they accept and explain
//! what is wrong in words an operator can act on; neither panics nor silently wraps on overflow.
//! Decimal fractions are allowed (`"1.5s"`, `"1.5KiB"`) and truncated to whole nanoseconds or
//! bytes.

use std::time::Duration;

/// The largest duration accepted: 100 years. Larger values are certainly mistakes, and keeping
/// them far from `Duration::MAX` means `Instant + duration` can never overflow downstream.
const MAX_DURATION_SECS: u64 = 100 * 365 * 24 * 3600;

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Parses a duration such as `"250ms"`, `"2s"`, `"5m"`, `"1h"` or `"1.5s"`. `"0"` means zero.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let err = |why: &str| format!("invalid duration {text:?}: {why}");
    let (number, unit) = split(text).map_err(|why| err(&why))?;
    if unit.is_empty() && !is_zero(number) {
        return Err(err("add a unit (ms, s, m, h)"));
    }
    let unit_nanos: u128 = match unit {
        "" => 0,
        "ms" => 1_000_000,
        "s" => NANOS_PER_SEC,
        "m" => 60 * NANOS_PER_SEC,
        "h" => 3600 * NANOS_PER_SEC,
        other => return Err(err(&format!("unknown unit {other:?} (use ms, s, m, h)"))),
    };
    let too_large = || err("too large (at most 100 years)");
    let nanos = scale(number, unit_nanos).ok_or_else(too_large)?;
    let secs = u64::try_from(nanos / NANOS_PER_SEC).map_err(|_| too_large())?;
    if secs > MAX_DURATION_SECS {
        return Err(too_large());
    }
    // The remainder is below 10^9, so it always fits in a u32.
    let sub = u32::try_from(nanos % NANOS_PER_SEC).map_err(|_| too_large())?;
    Ok(Duration::new(secs, sub))
}

/// Parses a byte size such as `"64KiB"`, `"100MiB"`, `"1GiB"`, `"512B"` or a plain number of
/// bytes (`"1024"`). Binary units (KiB, MiB, GiB, TiB) are powers of 1024; decimal units (KB,
/// MB, GB, TB) are powers of 1000. Units are case-insensitive.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let err = |why: &str| format!("invalid size {text:?}: {why}");
    let (number, unit) = split(text).map_err(|why| err(&why))?;
    let multiplier: u128 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        _ => {
            return Err(err(&format!(
                "unknown unit {unit:?} (use B, KiB, MiB, GiB, TiB, or KB, MB, GB, TB)"
            )))
        }
    };
    let too_large = || err("too large");
    let bytes = scale(number, multiplier).ok_or_else(too_large)?;
    u64::try_from(bytes).map_err(|_| too_large())
}

/// Splits `"12.5 ms"` into `("12.5", "ms")`, checking the number's shape.
fn split(text: &str) -> Result<(&str, &str), String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("empty value".to_string());
    }
    if let Some(rest) = trimmed.strip_prefix('-') {
        if rest.starts_with(|c: char| c.is_ascii_digit()) {
            return Err("must not be negative".to_string());
        }
    }
    let end = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(end);
    if number.is_empty() {
        return Err("expected a number, then a unit".to_string());
    }
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    let digits_ok =
        |s: &str| !s.is_empty() && !s.starts_with('_') && !s.ends_with('_') && !s.contains("__");
    if !digits_ok(int) || (number.contains('.') && !digits_ok(frac)) || frac.contains('.') {
        return Err(format!("{number:?} is not a number"));
    }
    Ok((number, unit.trim_start()))
}

fn is_zero(number: &str) -> bool {
    number.chars().all(|c| matches!(c, '0' | '.' | '_'))
}

/// `number × multiplier`, exactly for the integer part and truncated for the fraction.
/// `number` has passed [`split`]. `None` on overflow.
fn scale(number: &str, multiplier: u128) -> Option<u128> {
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    let mut total = digits(int)?.checked_mul(multiplier)?;
    // Only the first 18 fractional digits can matter below 1 ns / 1 byte at these multipliers.
    let frac: String = frac.chars().filter(|c| *c != '_').take(18).collect();
    if !frac.is_empty() {
        let len = u32::try_from(frac.len()).ok()?;
        let part = digits(&frac)?.checked_mul(multiplier)? / 10u128.checked_pow(len)?;
        total = total.checked_add(part)?;
    }
    Some(total)
}

fn digits(s: &str) -> Option<u128> {
    s.chars().filter(|c| *c != '_').try_fold(0u128, |acc, c| {
        acc.checked_mul(10)?
            .checked_add(u128::from(c.to_digit(10)?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn durations_accepted() {
        assert_eq!(parse_duration("250ms"), Ok(ms(250)));
        assert_eq!(parse_duration("2s"), Ok(ms(2000)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("0ms"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("1.5s"), Ok(ms(1500)));
        assert_eq!(parse_duration("0.25s"), Ok(ms(250)));
        assert_eq!(parse_duration(" 30s "), Ok(ms(30_000)));
        assert_eq!(parse_duration("10 ms"), Ok(ms(10)));
        assert_eq!(parse_duration("1_000ms"), Ok(ms(1000)));
        assert_eq!(parse_duration("1.0000000001s"), Ok(Duration::from_secs(1)));
        assert_eq!(
            parse_duration("876000h"),
            Ok(Duration::from_secs(MAX_DURATION_SECS))
        );
    }

    #[test]
    fn durations_rejected() {
        assert_eq!(
            parse_duration("5"),
            Err(r#"invalid duration "5": add a unit (ms, s, m, h)"#.to_string())
        );
        let cases = [
            ("", "empty value"),
            ("   ", "empty value"),
            ("-5s", "must not be negative"),
            ("5x", r#"unknown unit "x""#),
            ("5S", r#"unknown unit "S""#),
            ("5sec", r#"unknown unit "sec""#),
            ("1m30s", r#"unknown unit "m30s""#),
            ("s", "expected a number"),
            ("ms5", "expected a number"),
            ("1.s", "not a number"),
            (".5s", "not a number"),
            ("1.2.3s", "not a number"),
            ("_1s", "not a number"),
            ("1__0s", "not a number"),
            ("+5s", "expected a number"),
            ("876001h", "too large"),
            ("99999999999999999999999999999999999999999999h", "too large"),
            ("18446744073709551616s", "too large"),
        ];
        for (input, needle) in cases {
            let e = parse_duration(input).expect_err(input);
            assert!(e.contains(needle), "{input:?}: {e}");
            assert!(e.starts_with("invalid duration"), "{e}");
        }
    }

    #[test]
    fn sizes_accepted() {
        assert_eq!(parse_bytes("512B"), Ok(512));
        assert_eq!(parse_bytes("512"), Ok(512));
        assert_eq!(parse_bytes("0"), Ok(0));
        assert_eq!(parse_bytes("64KiB"), Ok(65_536));
        assert_eq!(parse_bytes("100MiB"), Ok(104_857_600));
        assert_eq!(parse_bytes("1GiB"), Ok(1 << 30));
        assert_eq!(parse_bytes("2TiB"), Ok(2 << 40));
        assert_eq!(parse_bytes("64kib"), Ok(65_536));
        assert_eq!(parse_bytes("1KB"), Ok(1000));
        assert_eq!(parse_bytes("1.5KiB"), Ok(1536));
        assert_eq!(parse_bytes("1.5GB"), Ok(1_500_000_000));
        assert_eq!(parse_bytes("64 KiB"), Ok(65_536));
        assert_eq!(parse_bytes("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_bytes("0.5B"), Ok(0));
    }

    #[test]
    fn sizes_rejected() {
        let cases = [
            ("", "empty value"),
            ("-1", "must not be negative"),
            ("-1KiB", "must not be negative"),
            ("64K", r#"unknown unit "K""#),
            ("64 kilobytes", "unknown unit"),
            ("KiB", "expected a number"),
            ("1..5KiB", "not a number"),
            ("18446744073709551616", "too large"),
            ("16777216TiB", "too large"),
            ("999999999999999999999999999999999999999999TiB", "too large"),
        ];
        for (input, needle) in cases {
            let e = parse_bytes(input).expect_err(input);
            assert!(e.contains(needle), "{input:?}: {e}");
            assert!(e.starts_with("invalid size"), "{e}");
        }
    }
}
