//! Time as the pipeline records it: seconds since the Unix epoch, shown as RFC 3339 UTC. Calendar
//! dates come from the IVI library's `Date` (no date crate in every wasm function).

use std::time::{SystemTime, UNIX_EPOCH};

use ivi::model::{Date, Value};

/// Seconds since the Unix epoch, now.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Milliseconds since the Unix epoch, now.
pub fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The calendar date of a Unix time.
fn civil(secs: u64) -> Date {
    Date::from_unix_days(i64::try_from(secs / 86_400).unwrap_or(i64::MAX))
}

/// `2026-11-21T15:43:17Z`.
pub fn rfc3339(secs: u64) -> String {
    let s = secs % 86_400;
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        date(secs),
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// `2026-11-21` (UTC).
pub fn date(secs: u64) -> String {
    civil(secs).format()
}

/// Seconds at 00:00:00 UTC of `YYYY-MM-DD`, if it is a real date.
pub fn parse_date(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<u32>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    // `Date::new` refuses 2026-02-30 and friends.
    let days = Date::new(i32::try_from(y).ok()?, m, d)?.to_unix_days();
    // `then`, not `then_some`: the product must not be computed for a date before 1970 (found by
    // the `mapper` fuzz target: an overflow panic in debug builds).
    (days >= 0).then(|| days as u64 * 86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        // `date -u -d 2026-11-21T15:43:17Z +%s` -> 1795275797
        assert_eq!(rfc3339(1_795_275_797), "2026-11-21T15:43:17Z");
        assert_eq!(date(1_795_275_797), "2026-11-21");
        assert_eq!(parse_date("2026-11-21"), Some(1_795_219_200));
        assert_eq!(
            parse_date("2024-02-29").map(date).as_deref(),
            Some("2024-02-29")
        );
        assert_eq!(parse_date("2026-02-30"), None);
        assert_eq!(parse_date("2026-1-01"), None);
        // Regression (fuzz/artifacts/mapper): dates before the epoch are refused, not overflowed.
        assert_eq!(parse_date("0000-01-01"), None);
        assert_eq!(parse_date("1969-12-31"), None);
    }
}
