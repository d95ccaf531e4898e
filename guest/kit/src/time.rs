//! Calendar arithmetic for the timestamps stores and metadata services exchange, without a
//! date crate: RFC 3339 parsing and the civil date of a point in time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, the form metadata services use for expiry.
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes().all(|c| c.is_ascii_digit()).then(|| t.parse().ok())?
    };
    let (y, mo, d, h, mi, sec) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) && &o[3..4] == ":" => {
            let oh: i64 = o[1..3].parse().ok()?;
            let om: i64 = o[4..6].parse().ok()?;
            let v = oh * 3600 + om * 60;
            if o.starts_with('-') { -v } else { v }
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset;
    u64::try_from(secs).ok().map(|s| UNIX_EPOCH + Duration::from_secs(s))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A point in time as UTC `(year, month, day, hour, minute, second)`; times before 1970
/// count as 1970-01-01T00:00:00.
pub fn civil(t: SystemTime) -> (i64, u32, u32, u32, u32, u32) {
    let secs = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // The inverse of `days_from_civil` (Hinnant's civil_from_days).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, (rem / 3600) as u32, (rem % 3600 / 60) as u32, (rem % 60) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> SystemTime {
        parse_rfc3339(s).unwrap()
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(UNIX_EPOCH));
        let now = UNIX_EPOCH + Duration::from_secs(1_728_976_809);
        assert_eq!(parse_rfc3339("2024-10-15T07:20:09Z"), Some(now));
        assert_eq!(parse_rfc3339("2024-10-15T07:20:09.123456Z"), Some(now));
        assert_eq!(parse_rfc3339("2024-10-15T09:20:09+02:00"), Some(now));
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00Z"), Some(UNIX_EPOCH + Duration::from_secs(951_782_400)));
        for bad in ["2024-10-15", "2024-13-15T07:20:09Z", "2024-10-15T07:20:09", "2024-10-15T07:20:09.Z", "x024-10-15T07:20:09Z", "2024-10-15T07:20:09+0200"] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn civil_is_the_inverse() {
        assert_eq!(civil(UNIX_EPOCH), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil(at("2024-10-15T07:20:09Z")), (2024, 10, 15, 7, 20, 9));
        assert_eq!(civil(at("2000-02-29T23:59:59Z")), (2000, 2, 29, 23, 59, 59));
        assert_eq!(civil(at("2100-03-01T00:00:00Z")), (2100, 3, 1, 0, 0, 0));
        assert_eq!(civil(at("1999-12-31T12:00:00Z")), (1999, 12, 31, 12, 0, 0));
        for days in (0..200_000u64).step_by(997) {
            let t = UNIX_EPOCH + Duration::from_secs(days * 86_400 + 3_723);
            let (y, m, d, h, mi, s) = civil(t);
            assert_eq!(at(&format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")), t);
        }
    }
}
