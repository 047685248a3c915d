//! Simple values: how a field's text maps to a Rust value and back.

/// A simple value of the schema: parsed from an element's text, formatted back.
///
/// `parse` is exact: it accepts only the lexical forms the official schema accepts (no surrounding white
/// space for numbers and dates, which libxml2 refuses), so a value it returns writes back unchanged.
pub trait Value: Sized {
    /// The value of `text`, or `None` when the text is not a valid lexical form.
    fn parse(text: &str) -> Option<Self>;
    /// The lexical form written to XML.
    fn format(&self) -> String;
}

impl Value for String {
    fn parse(text: &str) -> Option<Self> {
        Some(text.to_owned())
    }
    fn format(&self) -> String {
        self.clone()
    }
}

impl Value for u32 {
    fn parse(text: &str) -> Option<Self> {
        // `xs:short` / `xs:int` lexical form: optional sign, digits. Only the canonical form is taken
        // as a number (no leading `+` or zeros), so a read value writes back byte for byte.
        if text.is_empty()
            || !text.bytes().all(|b| b.is_ascii_digit())
            || (text.len() > 1 && text.starts_with('0'))
        {
            return None;
        }
        text.parse().ok()
    }
    fn format(&self) -> String {
        self.to_string()
    }
}

/// An `xs:decimal` value kept in its lexical form (so `7.10` stays `7.10`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash)]
pub struct Decimal(String);

impl Decimal {
    /// The decimal `text`, if it is a valid `xs:decimal` lexical form.
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
    fn parse(text: &str) -> Option<Self> {
        Self::new(text)
    }
    fn format(&self) -> String {
        self.0.clone()
    }
}

fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// An `xs:date` in the `YYYY-MM-DD` form IVI uses (no time zone).
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
    fn parse(text: &str) -> Option<Self> {
        let mut parts = text.splitn(3, '-');
        let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return None;
        }
        Self::new(i32::try_from(digits(y)?).ok()?, digits(m)?, digits(d)?)
    }
    fn format(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// An `xs:dateTime`, kept in its lexical form, with its date part parsed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct DateTime {
    text: String,
    date: Date,
}

impl DateTime {
    /// The date part.
    pub fn date(&self) -> Date {
        self.date
    }

    /// The lexical form.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl Value for DateTime {
    fn parse(text: &str) -> Option<Self> {
        let (d, t) = text.split_once('T')?;
        let date = Date::parse(d)?;
        // hh:mm:ss(.s+)? then an optional zone (Z or +hh:mm / -hh:mm).
        let (clock, zone) = match t.find(['Z', '+', '-']) {
            Some(i) => t.split_at(i),
            None => (t, ""),
        };
        let (hms, frac) = clock.split_once('.').unwrap_or((clock, "0"));
        let mut hms = hms.split(':');
        let (h, m, s) = (hms.next()?, hms.next()?, hms.next()?);
        let ok_clock = [h, m, s].iter().all(|p| p.len() == 2)
            && digits(h)? < 24
            && digits(m)? < 60
            && digits(s)? < 60
            && !frac.is_empty()
            && frac.bytes().all(|b| b.is_ascii_digit());
        let ok_zone = match zone {
            "" | "Z" => true,
            z => {
                let (zh, zm) = z[1..].split_once(':')?;
                zh.len() == 2 && zm.len() == 2 && digits(zh)? <= 14 && digits(zm)? < 60
            }
        };
        (ok_clock && ok_zone).then(|| Self {
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
    fn dates_are_exact() {
        assert_eq!(
            Date::parse("2024-02-29").map(|d| d.format()).as_deref(),
            Some("2024-02-29")
        );
        assert!(Date::parse("2023-02-29").is_none());
        assert!(Date::parse(" 2024-01-01").is_none());
        assert!(Date::parse("2024-1-01").is_none());
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
    fn numbers_and_times() {
        assert_eq!(<u32 as Value>::parse("1520"), Some(1520));
        assert_eq!(<u32 as Value>::parse("01520"), None);
        assert_eq!(
            Decimal::new("7.10").map(|d| d.format()).as_deref(),
            Some("7.10")
        );
        assert!(Decimal::new("7,1").is_none());
        assert!(DateTime::parse("2024-04-08T10:11:12+02:00").is_some());
        assert!(DateTime::parse("2024-04-08T25:11:12").is_none());
    }
}
