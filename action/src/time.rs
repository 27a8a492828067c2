//! Time, in one place: RFC 3339 read (GitHub's times, `--until`) and written
//! (image labels, the test stand-ins), the civil calendar under both, the
//! UTC stamp of release tags, the date of a report, and the one way a
//! duration is shown to a person.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the epoch of an RFC 3339 time (`2024-05-01T10:00:00Z`,
/// with an optional fraction and offset), as GitHub writes them.
pub fn parse_time(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &text[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        rest = frac.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            sign * (o[1..3].parse::<i64>().ok()? * 3600 + o[4..6].parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let days = days_from_civil(y, m as u32, d as u32);
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss - offset).ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let (m, d) = (i64::from(m), i64::from(d));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of days since 1970-01-01, proleptic Gregorian
/// (Howard Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Seconds since the epoch of a point in time (0 before it).
pub fn epoch_secs(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The date and time of epoch seconds, UTC: ((y, m, d), (hh, mm, ss)).
fn civil(secs: u64) -> ((i64, u32, u32), (u64, u64, u64)) {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    (
        civil_from_days(days),
        (rem / 3600, (rem % 3600) / 60, rem % 60),
    )
}

/// `2026-11-01` (UTC) of epoch seconds.
pub fn date(secs: u64) -> String {
    let ((y, m, d), _) = civil(secs);
    format!("{y:04}-{m:02}-{d:02}")
}

/// RFC 3339 UTC (`2026-11-25T22:26:35Z`) of epoch seconds, as GitHub writes
/// its times.
pub fn rfc3339(secs: u64) -> String {
    let ((y, m, d), (hh, mm, ss)) = civil(secs);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
}

/// UTC `yyyymmddHHMMSS` of epoch seconds (the `{timestamp}` of a tag).
pub fn utc_stamp(secs: u64) -> String {
    let ((y, m, d), (hh, mm, ss)) = civil(secs);
    format!("{y:04}{m:02}{d:02}{hh:02}{mm:02}{ss:02}")
}

/// A duration as every report shows it (the deploy comment's rows and
/// steps, the metrics summary): `42s`, `1m 05s`, `1h 02m`, `2d 04h`.
pub fn duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3_599 => format!("{}m {:02}s", s / 60, s % 60),
        3_600..=86_399 => format!("{}h {:02}m", s / 3_600, (s % 3_600) / 60),
        _ => format!("{}d {:02}h", s / 86_400, (s % 86_400) / 3_600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_times_are_read() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_time("2024-05-01T10:00:00Z"), Some(1_714_557_600));
        assert_eq!(
            parse_time("2024-05-01T12:00:00.123+02:00"),
            Some(1_714_557_600)
        );
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn the_calendar_reads_both_ways() {
        for days in [-719_468, -1, 0, 59, 60, 11_016, 19_782, 20_423, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(rfc3339(1_764_109_595), "2025-11-25T22:26:35Z");
        assert_eq!(utc_stamp(1_764_109_595), "20251125222635");
        assert_eq!(parse_time(&rfc3339(1_764_109_595)), Some(1_764_109_595));
    }

    #[test]
    fn durations_read_the_same_in_every_report() {
        assert_eq!(duration(42.4), "42s");
        assert_eq!(duration(65.0), "1m 05s");
        assert_eq!(duration(3725.0), "1h 02m");
        assert_eq!(duration(720.0), "12m 00s");
        assert_eq!(duration(3.0 * 3600.0 + 300.0), "3h 05m");
        assert_eq!(duration(2.0 * 86_400.0 + 4.0 * 3600.0 + 59.0), "2d 04h");
        assert_eq!(duration(-1.0), "0s");
    }
}
