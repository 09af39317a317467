//! Unix seconds as UTC dates for people (`2026-12-05 07:16 UTC`) and machines
//! (`2026-12-05T07:16:56Z`), without a date library: the proleptic Gregorian calendar by
//! Howard Hinnant's `civil_from_days`.

/// A Unix time written two ways.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Utc {
    /// `YYYY-MM-DD HH:MM UTC`, for the page.
    pub human: String,
    /// RFC 3339, for `<time datetime>` and JSON.
    pub iso: String,
}

/// `unix` (seconds since 1970-01-01T00:00:00Z) in UTC.
pub fn utc(unix: u64) -> Utc {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let (y, mo, d) = civil_from_days(days);
    Utc {
        human: format!("{y:04}-{mo:02}-{d:02} {h:02}:{m:02} UTC"),
        iso: format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}Z"),
    }
}

/// (year, month, day) of the day `z` days after 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::utc;

    #[test]
    fn known_dates() {
        assert_eq!(utc(0).iso, "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400).iso, "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_798_614_000).iso, "2026-12-30T07:00:00Z");
        assert_eq!(utc(1_783_000_000).human, "2026-07-02 13:46 UTC");
        assert!(utc(u64::MAX).iso.len() > 10, "no overflow");
    }
}
