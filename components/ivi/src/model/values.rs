//! Simple values: how a field's text maps to a Rust value and back.
//!
//! # Lexical forms
//!
//! [`Value::parse`] accepts every lexical form the official schema accepts for the field's type
//! (XML Schema 1.0 Part 2, Second Edition, as libxml2 applies it): an unmatched form is a file the
//! schema would refuse too. Per type:
//!
//! - `u32` (`xs:short` / `xs:int` restricted to `0..=N`, the schema's `Integer2` ... `Integer6` and
//!   `LoadCapacityIndex`; §3.3.13 `integer`): an optional sign, then digits, leading zeros allowed:
//!   `01`, `+5`, `0099`; `-0` and `-00` are 0. A negative value is not a `u32` (and not in any of those
//!   types). Not `1.0`, `1e1`, `0x1`.
//! - [`Decimal`] (§3.2.3 `decimal`): `+160`, `160.`, `.5`, `0160.50`, `-0.00`; no exponent.
//! - [`Date`] (§3.2.9 `date`): `-?YYYY-MM-DD` then an optional time zone `Z` or `±hh:mm` (at most
//!   14:00, §3.2.7.3). The year has four digits or more (no leading zero beyond four: `12024`, not
//!   `02024`), may be negative (`-0001`), and is never `0000` (XML Schema 1.0 has no year zero). Day and
//!   month must exist on the proleptic Gregorian calendar, the year's number taken as written (`-0004`
//!   is a leap year, `-0001` is not: libxml2's reading, which is also ISO 8601's and XML Schema 1.1's).
//!   The one form refused that libxml2 takes: a year beyond what an `i32` holds (±2147483647),
//!   which ecoc's validator refuses too.
//! - [`DateTime`] (§3.2.7 `dateTime`): such a date, `T`, `hh:mm:ss`, optional fractional seconds
//!   (`.123456789`), optional time zone. `24:00:00` (fractions all zero) is the first instant of the
//!   next day (§3.2.7.1).
//!
//! White space: every type above has `whiteSpace` fixed to `collapse` (§4.3.6), so white space
//! around the value is not part of it and `parse` strips it (`" 1 "` is 1). libxml2 refuses some of
//! it (around `xs:short`, `xs:int` and `xs:date`, before an `xs:dateTime` and after one without a time
//! zone); that is the validator's business (`ecoc-lexical` in [`crate::validate`]), not the reader's.
//! Text types (`String`, code lists) are `xs:string` restrictions with `whiteSpace` `preserve`: taken
//! as they are.
//!
//! # Writing back
//!
//! [`Value::format`] gives a canonical form: `1` for `01`, `2024-06-18` for a date however its zone
//! was written. [`Decimal`] and [`DateTime`] keep their lexical form (so `7.10` stays `7.10`). So that
//! a document read and written again says what it said, the groups keep every non-canonical form they
//! read in their [`Lexical`](super::Lexical) and write it back while the field still holds the value
//! read: read -> write changes no value's lexical form, only drops white space around it (see
//! `tests/roundtrip.rs` and `tests/lexical_forms.rs`).

/// A simple value of the schema: parsed from an element's text, formatted back.
///
/// `parse` takes every lexical form the official schema accepts for the type, white space around it
/// stripped (`whiteSpace="collapse"`): `01`, `+5` and `-0` for the integers; a time zone (`Z`,
/// `+02:00`), a year of five digits or more, or a negative year for dates; also fractional seconds
/// and `24:00:00` for date-times. `format` writes a canonical form (`1`, `2024-06-18`), and the
/// groups write a non-canonical form they read back unchanged ([`Lexical`](super::Lexical)).
pub trait Value: Sized {
    /// What a valid text is, for error messages (`an xs:date`).
    const KIND: &'static str = "a value of its schema type";
    /// The value of `text`, or `None` when the text is not a lexical form of the value's type (see
    /// the module docs).
    fn parse(text: &str) -> Option<Self>;
    /// The lexical form written to XML (canonical, unless the type keeps the form it read).
    fn format(&self) -> String;
}

/// `text` without the white space `whiteSpace="collapse"` removes around a value (XML's space, tab,
/// line feed and carriage return, not other Unicode spaces).
pub(crate) fn collapse(text: &str) -> &str {
    text.trim_matches([' ', '\t', '\n', '\r'])
}

impl Value for String {
    const KIND: &'static str = "a string";
    fn parse(text: &str) -> Option<Self> {
        Some(text.to_owned())
    }
    fn format(&self) -> String {
        self.clone()
    }
}

impl Value for u32 {
    const KIND: &'static str = "a non-negative xs:short / xs:int";
    fn parse(text: &str) -> Option<Self> {
        // §3.3.13: `(\+|-)?[0-9]+`, leading zeros allowed; `-0` is zero.
        let text = collapse(text);
        let (negative, digits) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let significant = digits.trim_start_matches('0');
        let value = if significant.is_empty() {
            0
        } else {
            significant.parse().ok()?
        };
        (!negative || value == 0).then_some(value)
    }
    fn format(&self) -> String {
        self.to_string()
    }
}

/// An `xs:decimal` value kept in its lexical form (so `7.10` stays `7.10`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash)]
pub struct Decimal(String);

impl Decimal {
    /// The decimal `text`, if it is exactly a valid `xs:decimal` lexical form (§3.2.3:
    /// `(\+|-)?([0-9]+(\.[0-9]*)?|\.[0-9]+)`, no surrounding white space).
    pub fn new(text: &str) -> Option<Self> {
        let body = text.strip_prefix(['+', '-']).unwrap_or(text);
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        let ok = !(int.is_empty() && frac.is_empty())
            && int.bytes().all(|b| b.is_ascii_digit())
            && frac.bytes().all(|b| b.is_ascii_digit());
        ok.then(|| Self(text.to_owned()))
    }

    /// The lexical form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value as a float (for sanity rules; never written back).
    pub fn to_f64(&self) -> f64 {
        self.0.parse().unwrap_or(f64::NAN)
    }
}

impl From<u32> for Decimal {
    fn from(v: u32) -> Self {
        Self(v.to_string())
    }
}

impl Value for Decimal {
    const KIND: &'static str = "an xs:decimal";
    fn parse(text: &str) -> Option<Self> {
        Self::new(collapse(text))
    }
    fn format(&self) -> String {
        self.0.clone()
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Two ASCII digits at the start of `s`, and what follows them.
fn two_digits(s: &str) -> Option<(u32, &str)> {
    match s.as_bytes() {
        [a, b, ..] if a.is_ascii_digit() && b.is_ascii_digit() => {
            Some((u32::from(a - b'0') * 10 + u32::from(b - b'0'), &s[2..]))
        }
        _ => None,
    }
}

/// The date at the start of `s` (`-?YYYY-MM-DD`, §3.2.9.1 with the year of §3.2.7.1), and what
/// follows it.
fn split_date(s: &str) -> Option<(Date, &str)> {
    let (negative, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let len = body.bytes().take_while(u8::is_ascii_digit).count();
    let digits = &body[..len];
    // Four digits or more, no leading zero beyond four, and not 0000.
    if len < 4 || (len > 4 && digits.starts_with('0')) || digits.bytes().all(|b| b == b'0') {
        return None;
    }
    let magnitude: i64 = digits.parse().ok()?;
    let year = i32::try_from(if negative { -magnitude } else { magnitude }).ok()?;
    let (month, rest) = two_digits(body[len..].strip_prefix('-')?)?;
    let (day, rest) = two_digits(rest.strip_prefix('-')?)?;
    Some((Date::new(year, month, day)?, rest))
}

/// Whether `s` is empty or a time zone: `Z`, or `+hh:mm` / `-hh:mm` from -14:00 to +14:00
/// (§3.2.7.1, §3.2.7.3).
fn zone_or_none(s: &str) -> bool {
    if s.is_empty() || s == "Z" {
        return true;
    }
    let Some(rest) = s.strip_prefix(['+', '-']) else {
        return false;
    };
    match two_digits(rest) {
        Some((h, rest)) => match rest.strip_prefix(':').and_then(two_digits) {
            Some((m, "")) => m <= 59 && (h < 14 || (h == 14 && m == 0)),
            _ => false,
        },
        None => false,
    }
}

/// An `xs:date`: the calendar date as written (proleptic Gregorian, the year's number as written,
/// see the module docs). A time zone written after it is not part of this value: it is checked, and
/// the group that read the date writes it back unchanged (see [`Lexical`](super::Lexical)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Date {
    /// Year.
    pub year: i32,
    /// Month, 1-12.
    pub month: u32,
    /// Day of month.
    pub day: u32,
}

impl Date {
    /// A date, if it exists on the calendar.
    pub fn new(year: i32, month: u32, day: u32) -> Option<Self> {
        ((1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month))
            .then_some(Self { year, month, day })
    }

    /// Today's date (UTC) from the system clock (WASI clocks in wasm).
    pub fn today() -> Self {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Self::from_unix_days(i64::try_from(secs / 86_400).unwrap_or(0))
    }

    /// The date `days` days after 1970-01-01, 0 being 1970-01-01 and negative days before it
    /// (proleptic Gregorian calendar; H. Hinnant's `civil_from_days`). The inverse of
    /// [`Date::to_unix_days`]. Days beyond the years an `i32` holds give the first or last such
    /// date.
    pub fn from_unix_days(days: i64) -> Self {
        let days = days.clamp(Self::FIRST.to_unix_days(), Self::LAST.to_unix_days());
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Self {
            year: i32::try_from(year).unwrap_or(i32::MAX),
            month: u32::try_from(month).unwrap_or(1),
            day: u32::try_from(day).unwrap_or(1),
        }
    }

    /// Days from 1970-01-01 to this date: 0 for 1970-01-01, negative before it (proleptic
    /// Gregorian calendar; H. Hinnant's `days_from_civil`). The inverse of
    /// [`Date::from_unix_days`].
    pub const fn to_unix_days(&self) -> i64 {
        let month = self.month as i64;
        let year = if month <= 2 {
            self.year as i64 - 1
        } else {
            self.year as i64
        };
        let era = year.div_euclid(400);
        let yoe = year.rem_euclid(400);
        let mp = if month > 2 { month - 3 } else { month + 9 };
        let doy = (153 * mp + 2) / 5 + self.day as i64 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The ISO 8601 day of the week: 1 for Monday to 7 for Sunday.
    pub const fn iso_weekday(&self) -> u32 {
        // 1970-01-01 was a Thursday (4).
        (self.to_unix_days() + 3).rem_euclid(7) as u32 + 1
    }

    /// The first date [`Date::from_unix_days`] gives.
    const FIRST: Self = Self {
        year: i32::MIN,
        month: 1,
        day: 1,
    };
    /// The last date [`Date::from_unix_days`] gives.
    const LAST: Self = Self {
        year: i32::MAX,
        month: 12,
        day: 31,
    };
}

impl Value for Date {
    const KIND: &'static str = "an xs:date";
    fn parse(text: &str) -> Option<Self> {
        let (date, zone) = split_date(collapse(text))?;
        zone_or_none(zone).then_some(date)
    }
    fn format(&self) -> String {
        let sign = if self.year < 0 { "-" } else { "" };
        format!(
            "{sign}{:04}-{:02}-{:02}",
            self.year.unsigned_abs(),
            self.month,
            self.day
        )
    }
}

/// An `xs:dateTime`, kept in its lexical form (without surrounding white space), with its date parsed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct DateTime {
    text: String,
    date: Date,
}

impl DateTime {
    /// The date, as written: the day after the written one for `24:00:00`, which is the first instant
    /// of the next day (§3.2.7.1). The time zone is not applied.
    pub fn date(&self) -> Date {
        self.date
    }

    /// The lexical form.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl Value for DateTime {
    const KIND: &'static str = "an xs:dateTime";
    fn parse(text: &str) -> Option<Self> {
        let text = collapse(text);
        let (date, rest) = split_date(text)?;
        // `Thh:mm:ss`, optional `.s+`, optional zone (§3.2.7.1).
        let (h, rest) = two_digits(rest.strip_prefix('T')?)?;
        let (m, rest) = two_digits(rest.strip_prefix(':')?)?;
        let (s, rest) = two_digits(rest.strip_prefix(':')?)?;
        let (fraction, zone) = match rest.strip_prefix('.') {
            Some(f) => {
                let n = f.bytes().take_while(u8::is_ascii_digit).count();
                if n == 0 {
                    return None;
                }
                f.split_at(n)
            }
            None => ("", rest),
        };
        let end_of_day = h == 24 && m == 0 && s == 0 && fraction.bytes().all(|b| b == b'0');
        if !(h < 24 || end_of_day) || m > 59 || s > 59 || !zone_or_none(zone) {
            return None;
        }
        let date = if end_of_day {
            Date::from_unix_days(date.to_unix_days() + 1)
        } else {
            date
        };
        Some(Self {
            text: text.to_owned(),
            date,
        })
    }
    fn format(&self) -> String {
        self.text.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_take_every_lexical_form() {
        let read = |t: &str| Date::parse(t).map(|d| (d.year, d.month, d.day));
        assert_eq!(read("2024-02-29"), Some((2024, 2, 29)));
        assert_eq!(read("2024-06-18Z"), Some((2024, 6, 18)));
        assert_eq!(read("2024-06-18+02:00"), Some((2024, 6, 18)));
        assert_eq!(read("2024-06-18-14:00"), Some((2024, 6, 18)));
        assert_eq!(read("12024-01-01"), Some((12024, 1, 1)));
        assert_eq!(read("-0001-01-01"), Some((-1, 1, 1)));
        assert_eq!(read("-0004-02-29"), Some((-4, 2, 29)));
        assert_eq!(read(" 2024-01-01\n"), Some((2024, 1, 1)));
        for bad in [
            "2023-02-29",
            "2024-1-01",
            "2024-13-01",
            "0000-01-01",
            "02024-01-01",
            "+2024-01-01",
            "-0001-02-29",
            "2024-06-18+14:01",
            "2024-06-18+2:00",
            "2024-06-18z",
            "2024-06-18T00:00:00",
            "99999999999-01-01",
            "\u{a0}2024-01-01",
        ] {
            assert_eq!(read(bad), None, "{bad:?}");
        }
        // Canonical form: four digits at least, the sign before them.
        let format = |y, m, d| Date::new(y, m, d).unwrap().format();
        assert_eq!(format(2024, 2, 29), "2024-02-29");
        assert_eq!(format(12024, 1, 1), "12024-01-01");
        assert_eq!(format(-1, 1, 1), "-0001-01-01");
        assert_eq!(format(i32::MIN, 1, 1), "-2147483648-01-01");
        assert_eq!(
            Date::from_unix_days(19_723),
            Date {
                year: 2024,
                month: 1,
                day: 1
            }
        );
    }

    #[test]
    fn day_numbers_have_known_answers() {
        let date = |y, m, d| Date::new(y, m, d).unwrap();
        // (date, days since 1970-01-01, ISO weekday), as Python's `datetime.date` counts them
        // (`(date(y, m, d) - date(1970, 1, 1)).days`, `isoweekday()`); year 0 is a leap year.
        let known = [
            (date(1970, 1, 1), 0, 4),
            (date(1969, 12, 31), -1, 3),
            (date(1900, 1, 1), -25_567, 1),
            (date(2000, 2, 29), 11_016, 2),
            (date(2000, 3, 1), 11_017, 3),
            (date(2024, 1, 1), 19_723, 1),
            (date(2026, 11, 21), 20_778, 6),
            (date(2026, 12, 2), 20_789, 3),
            (date(1, 1, 1), -719_162, 1),
            (date(0, 1, 1), -719_528, 6),
            (date(-1, 12, 31), -719_529, 5),
        ];
        for (d, days, weekday) in known {
            assert_eq!(d.to_unix_days(), days, "{d:?}");
            assert_eq!(Date::from_unix_days(days), d, "{days}");
            assert_eq!(d.iso_weekday(), weekday, "{d:?}");
        }
        // Every day of four centuries goes there and back.
        for days in -80_000..80_000 {
            let d = Date::from_unix_days(days);
            assert!(Date::new(d.year, d.month, d.day).is_some(), "{d:?}");
            assert_eq!(d.to_unix_days(), days);
        }
        // Out of the range an i32 year holds: the first or last date, no overflow.
        assert_eq!(Date::from_unix_days(i64::MAX), Date::LAST);
        assert_eq!(Date::from_unix_days(i64::MIN), Date::FIRST);
        assert_eq!(Date::from_unix_days(Date::LAST.to_unix_days()), Date::LAST);
    }

    #[test]
    fn numbers_take_every_lexical_form() {
        let int = <u32 as Value>::parse;
        for (text, value) in [
            ("1520", 1520),
            ("01520", 1520),
            ("+5", 5),
            ("+01", 1),
            ("-0", 0),
            ("-00", 0),
            ("0000000000000000001", 1),
            (" 7\t", 7),
        ] {
            assert_eq!(int(text), Some(value), "{text:?}");
        }
        for bad in [
            "",
            "-",
            "+",
            "++1",
            "1+",
            "-1",
            "1.0",
            "1e1",
            "0x1",
            "1 2",
            "4294967296",
        ] {
            assert_eq!(int(bad), None, "{bad:?}");
        }
        assert_eq!(
            Decimal::new("7.10").map(|d| d.format()).as_deref(),
            Some("7.10")
        );
        assert_eq!(
            Decimal::parse(" +160. ").map(|d| d.format()).as_deref(),
            Some("+160.")
        );
        assert!(Decimal::new(".5").is_some() && Decimal::new("-0.00").is_some());
        assert!(Decimal::new("7,1").is_none() && Decimal::new("1.6E2").is_none());
        assert!(Decimal::new(".").is_none() && Decimal::new(" 1").is_none());
    }

    #[test]
    fn date_times_take_every_lexical_form() {
        let read = |t: &str| DateTime::parse(t).map(|d| (d.as_str().to_owned(), d.date()));
        let date = |y, m, d| Date::new(y, m, d).unwrap();
        for (text, day) in [
            ("2024-04-08T10:11:12", date(2024, 4, 8)),
            ("2024-04-08T10:11:12+02:00", date(2024, 4, 8)),
            ("2024-04-08T10:11:12.123456789Z", date(2024, 4, 8)),
            ("2024-04-08T10:11:12-14:00", date(2024, 4, 8)),
            ("2024-06-18T24:00:00", date(2024, 6, 19)),
            ("2024-12-31T24:00:00.000Z", date(2025, 1, 1)),
            ("12024-01-01T00:00:00", date(12024, 1, 1)),
            ("-0001-01-01T00:00:00", date(-1, 1, 1)),
        ] {
            assert_eq!(read(text), Some((text.to_owned(), day)), "{text:?}");
        }
        // Surrounding white space is dropped, the rest kept as written.
        assert_eq!(
            read("2024-06-18T10:00:00Z \n").map(|r| r.0).as_deref(),
            Some("2024-06-18T10:00:00Z")
        );
        for bad in [
            "2024-04-08T25:11:12",
            "2024-04-08T24:00:01",
            "2024-04-08T24:00:00.5",
            "2024-04-08T10:60:00",
            "2024-04-08T10:00:60",
            "2024-04-08T10:00",
            "2024-04-08T10:00:00.",
            "2024-04-08 10:00:00",
            "2024-04-08t10:00:00",
            "2024-04-08T1:00:00",
            "2024-04-08T10:00:00+14:30",
            "2024-04-08T10:00:00 Z",
            "2024-04-08T10:00:00Z+",
            "2024-02-30T10:00:00",
        ] {
            assert_eq!(read(bad), None, "{bad:?}");
        }
    }
}
