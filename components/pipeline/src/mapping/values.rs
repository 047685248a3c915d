//! How a mapping reads one ERP value and writes it as the IVI schema wants: dates in the ERP's
//! own format, numbers with the ERP's separators, exact decimal arithmetic for units.
//!
//! All of it works on the text, never on floats: `11.99` t is `11990` kg, and `0.125` rounded to
//! two places is `0.13`.

use crate::clock;

/// Largest exponent shift accepted in a decimal value (`1e30` is fine, `1e999` is refused).
const MAX_DECIMAL_SHIFT: i64 = 64;

/// Two ASCII digits.
fn two_digits(text: &str, at: usize) -> Option<u32> {
    let s = text.get(at..at + 2)?;
    s.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| s.parse().ok())
        .flatten()
}

/// An RFC 3339 date-time (`2026-11-21T15:43:17Z`, optional fraction, `Z` or `+hh:mm`), written with
/// an upper-case `T` and `Z` as `xs:dateTime` wants.
pub fn datetime(raw: &str) -> Option<String> {
    let text = raw.to_ascii_uppercase();
    let b = text.as_bytes();
    if b.len() < 20 || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    clock::parse_date(text.get(..10)?)?;
    let (h, m, s) = (
        two_digits(&text, 11)?,
        two_digits(&text, 14)?,
        two_digits(&text, 17)?,
    );
    if h > 23 || m > 59 || s > 59 {
        return None;
    }
    let mut rest = text.get(19..)?;
    if let Some(fraction) = rest.strip_prefix('.') {
        let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = fraction.get(n..)?;
    }
    zone(rest).then_some(text)
}

/// `Z` or `+hh:mm` / `-hh:mm`.
pub fn zone(text: &str) -> bool {
    text == "Z"
        || (text.len() == 6
            && (text.starts_with('+') || text.starts_with('-'))
            && text.as_bytes()[3] == b':'
            && two_digits(text, 1).is_some_and(|zh| zh <= 14)
            && two_digits(text, 4).is_some_and(|zm| zm <= 59))
}

/// The fields a date or date-time format names.
const FORMAT_TOKENS: [&str; 6] = ["YYYY", "MM", "DD", "hh", "mm", "ss"];

/// A format's tokens and literals, or why it is no format: `DD.MM.YYYY`, `YYYYMMDD`,
/// `DD-MM-YYYY hh:mm`. Each token at most once; a date needs YYYY, MM and DD.
pub fn check_format(format: &str, with_time: bool) -> Result<(), String> {
    let mut seen = Vec::new();
    let mut rest = format;
    while !rest.is_empty() {
        match FORMAT_TOKENS.iter().find(|t| rest.starts_with(**t)) {
            Some(token) => {
                if seen.contains(token) {
                    return Err(format!("`{token}` appears twice"));
                }
                seen.push(*token);
                rest = &rest[token.len()..];
            }
            None => {
                let c = rest.chars().next().unwrap_or(' ');
                if c.is_ascii_alphanumeric() {
                    return Err(format!(
                        "`{c}` is neither a token ({}) nor a separator",
                        FORMAT_TOKENS.join(", ")
                    ));
                }
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    let needed: &[&str] = if with_time {
        &["YYYY", "MM", "DD", "hh", "mm"]
    } else {
        &["YYYY", "MM", "DD"]
    };
    // A date's format may name a time of day too (`DD.MM.YYYY hh:mm`): it is read and dropped.
    match needed.iter().find(|t| !seen.contains(t)) {
        Some(t) => Err(format!("`{t}` is missing")),
        None => Ok(()),
    }
}

/// Reads `raw` by `format` (see [`check_format`]) into `YYYY-MM-DD` (with `date_only`, or when the
/// format has no time of day) or `YYYY-MM-DDThh:mm:ss` followed by `zone`. `None` when it does not
/// fit or is no real date or time.
pub fn reformat(raw: &str, format: &str, zone: &str, date_only: bool) -> Option<String> {
    let (mut year, mut month, mut day) = (None, None, None);
    let (mut hour, mut minute, mut second) = (None, None, None);
    let mut rest = raw;
    let mut fmt = format;
    while !fmt.is_empty() {
        if let Some(token) = FORMAT_TOKENS.iter().find(|t| fmt.starts_with(**t)) {
            let width = token.len();
            let digits = rest.get(..width)?;
            if !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let n: u32 = digits.parse().ok()?;
            match *token {
                "YYYY" => year = Some(n),
                "MM" => month = Some(n),
                "DD" => day = Some(n),
                "hh" => hour = Some(n),
                "mm" => minute = Some(n),
                _ => second = Some(n),
            }
            rest = &rest[width..];
            fmt = &fmt[width..];
        } else {
            let c = fmt.chars().next()?;
            rest = rest.strip_prefix(c)?;
            fmt = &fmt[c.len_utf8()..];
        }
    }
    if !rest.is_empty() {
        return None;
    }
    let date = format!("{:04}-{:02}-{:02}", year?, month?, day?);
    clock::parse_date(&date)?;
    match hour {
        None => Some(date),
        Some(h) => {
            let (m, s) = (minute?, second.unwrap_or(0));
            if h > 23 || m > 59 || s > 59 {
                return None;
            }
            Some(if date_only {
                date
            } else {
                format!("{date}T{h:02}:{m:02}:{s:02}{zone}")
            })
        }
    }
}

/// `raw` with the ERP's separators taken out: `4.780` with thousands `.` is `4780`, `1,5` with
/// decimal `,` is `1.5`. A thousands separator must group three digits (`4.78` is refused).
pub fn plain_number(
    raw: &str,
    decimal_mark: Option<char>,
    thousands: Option<char>,
) -> Option<String> {
    if decimal_mark.is_none() && thousands.is_none() {
        return Some(raw.to_owned());
    }
    let mark = decimal_mark.unwrap_or('.');
    let (int, frac) = match raw.split_once(mark) {
        Some((i, f)) => (i, Some(f)),
        None => (raw, None),
    };
    let int = match thousands {
        Some(sep) if int.contains(sep) => {
            let (sign, digits) = match int.strip_prefix(['-', '+']) {
                Some(d) => (&int[..1], d),
                None => ("", int),
            };
            let groups: Vec<&str> = digits.split(sep).collect();
            let first_ok = (1..=3).contains(&groups[0].len());
            if !first_ok || groups[1..].iter().any(|g| g.len() != 3) {
                return None;
            }
            format!("{sign}{}", groups.concat())
        }
        _ => int.to_owned(),
    };
    Some(match frac {
        Some(f) => format!("{int}.{f}"),
        None => int,
    })
}

/// The plain `xs:decimal` form of `raw`, which may carry an exponent as JSON numbers do (`1.5e2`),
/// rounded half away from zero to `places` when given. Digit arithmetic on the text, so `0.125`
/// with 2 places is `0.13` (a float would give `0.12`).
pub fn decimal(raw: &str, places: Option<usize>) -> Option<String> {
    let (negative, body) = match raw.as_bytes().first()? {
        b'-' => (true, raw.get(1..)?),
        b'+' => (false, raw.get(1..)?),
        _ => (false, raw),
    };
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (body.get(..i)?, body.get(i + 1..)?.parse::<i64>().ok()?),
        None => (body, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits_only(int) || !digits_only(frac) {
        return None;
    }
    let mut digits: Vec<u8> = int.bytes().chain(frac.bytes()).map(|b| b - b'0').collect();
    // Where the decimal point sits, counted from the left of `digits`.
    let mut point = i64::try_from(int.len()).ok()? + exponent;
    if !(-MAX_DECIMAL_SHIFT..=MAX_DECIMAL_SHIFT).contains(&point) {
        return None;
    }
    if point < 0 {
        let pad = usize::try_from(-point).ok()?;
        digits.splice(0..0, std::iter::repeat_n(0, pad));
        point = 0;
    }
    let point = usize::try_from(point).ok()?;
    if point > digits.len() {
        digits.resize(point, 0);
    }
    let mut fraction = digits.split_off(point);
    let mut whole = digits;
    if let Some(p) = places {
        if fraction.len() > p {
            let up = fraction[p] >= 5;
            fraction.truncate(p);
            if up {
                let mut carry = true;
                for d in fraction.iter_mut().rev().chain(whole.iter_mut().rev()) {
                    if *d == 9 {
                        *d = 0;
                    } else {
                        *d += 1;
                        carry = false;
                        break;
                    }
                }
                if carry {
                    whole.insert(0, 1);
                }
            }
        } else {
            fraction.resize(p, 0);
        }
    } else {
        // Without fixed places, trailing zeros a shift left behind say nothing (`4.10` t = `4100` kg).
        while fraction.last() == Some(&0) && exponent != 0 {
            fraction.pop();
        }
    }
    let first = whole.iter().position(|d| *d != 0).unwrap_or(whole.len());
    let mut out = String::new();
    if negative && whole.iter().chain(&fraction).any(|d| *d != 0) {
        out.push('-');
    }
    if first == whole.len() {
        out.push('0');
    }
    out.extend(whole[first..].iter().map(|d| char::from(b'0' + d)));
    if !fraction.is_empty() {
        out.push('.');
        out.extend(fraction.iter().map(|d| char::from(b'0' + d)));
    }
    Some(out)
}

/// A whole number that fits `i64`: `1540`, `"1540"`, or a JSON number such as `1540.0` or `1.54e3`.
pub fn integer(raw: &str) -> Option<String> {
    if let Ok(n) = raw.parse::<i64>() {
        return Some(n.to_string());
    }
    let plain = decimal(raw, None)?;
    let (whole, fraction) = plain.split_once('.').unwrap_or((&plain, ""));
    if fraction.bytes().all(|b| b == b'0') {
        whole.parse::<i64>().ok().map(|n| n.to_string())
    } else {
        None
    }
}

/// A unit the mapping converts between: what it measures and its power of ten against the base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unit {
    /// `mass`, `length`, ...
    pub dimension: &'static str,
    /// The unit is 10^`exponent` of the dimension's base unit.
    pub exponent: i64,
}

/// Every unit name accepted (case-insensitive), with ERP spellings (SAP `TO`, `CCM`, `KMH`).
const UNITS: [(&str, &str, i64); 19] = [
    ("g", "mass", -3),
    ("kg", "mass", 0),
    ("t", "mass", 3),
    ("to", "mass", 3),
    ("tne", "mass", 3),
    ("mm", "length", -3),
    ("cm", "length", -2),
    ("m", "length", 0),
    ("km", "length", 3),
    ("w", "power", -3),
    ("kw", "power", 0),
    ("cm3", "volume", 0),
    ("ccm", "volume", 0),
    ("l", "volume", 3),
    ("km/h", "speed", 0),
    ("kmh", "speed", 0),
    ("wh/km", "energy per distance", 0),
    ("kwh/100km", "energy per distance", 1),
    ("g/km", "emission per distance", 0),
];

/// The names [`unit`] knows, for messages.
pub fn unit_names() -> String {
    UNITS.map(|(name, _, _)| name).join(", ")
}

/// The unit called `name` (case-insensitive).
pub fn unit(name: &str) -> Option<Unit> {
    let name = name.trim().to_ascii_lowercase();
    UNITS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|&(_, dimension, exponent)| Unit {
            dimension,
            exponent,
        })
}

/// `value` (a plain decimal) in `from` expressed in `to`, exactly; `None` when the units measure
/// different things or the value is no number.
pub fn convert(value: &str, from: Unit, to: Unit) -> Option<String> {
    if from.dimension != to.dimension {
        return None;
    }
    let plain = decimal(value, None)?;
    let shift = from.exponent - to.exponent;
    if shift == 0 {
        return Some(plain);
    }
    decimal(&format!("{plain}e{shift}"), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_written_exactly() {
        let cases: [(&str, Option<usize>, Option<&str>); 14] = [
            ("110", Some(2), Some("110.00")),
            ("110.0", None, Some("110.0")),
            ("0.125", Some(2), Some("0.13")),
            ("-0.125", Some(2), Some("-0.13")),
            ("9.995", Some(2), Some("10.00")),
            ("1.5e2", None, Some("150")),
            ("1.5E-3", Some(4), Some("0.0015")),
            (".5", None, Some("0.5")),
            ("-0.001", Some(1), Some("0.0")),
            ("+7", Some(0), Some("7")),
            ("1e999", None, None),
            ("NaN", None, None),
            ("inf", None, None),
            ("1,5", None, None),
        ];
        for (raw, places, want) in cases {
            assert_eq!(decimal(raw, places).as_deref(), want, "{raw} {places:?}");
        }
    }

    #[test]
    fn integers_fit_i64() {
        assert_eq!(integer("1540").as_deref(), Some("1540"));
        assert_eq!(integer("1540.0").as_deref(), Some("1540"));
        assert_eq!(integer("1.54e3").as_deref(), Some("1540"));
        assert_eq!(integer("1.5"), None);
        assert_eq!(integer("abc"), None);
        assert_eq!(integer("9223372036854775808"), None);
        assert_eq!(integer("1e30"), None);
    }

    #[test]
    fn datetimes_follow_rfc_3339() {
        assert_eq!(
            datetime("2026-11-21t15:43:17z").as_deref(),
            Some("2026-11-21T15:43:17Z")
        );
        for ok in ["2026-11-21T15:43:17.250Z", "2026-11-21T15:43:17+01:00"] {
            assert_eq!(datetime(ok).as_deref(), Some(ok));
        }
        for bad in [
            "2026-11-21",
            "2026-11-21 15:43:17Z",
            "2026-11-21T25:00:00Z",
            "2026-02-30T10:00:00Z",
            "2026-11-21T15:43:17",
            "2026-11-21T15:43:17.Z",
            "2026-11-21T15:43:17+1:00",
            "2026-11-21T+5:43:17Z",
        ] {
            assert_eq!(datetime(bad), None, "{bad}");
        }
    }

    #[test]
    fn dates_are_read_in_the_erps_format() {
        let cases = [
            ("21.11.2026", "DD.MM.YYYY", Some("2026-11-21")),
            ("20261118", "YYYYMMDD", Some("2026-11-18")),
            ("21-11-2026", "DD-MM-YYYY", Some("2026-11-21")),
            ("11/21/2026", "MM/DD/YYYY", Some("2026-11-21")),
            ("30.02.2026", "DD.MM.YYYY", None),
            ("1.11.2026", "DD.MM.YYYY", None),
            ("21.11.2026 ", "DD.MM.YYYY", None),
            ("2026-11-21", "DD.MM.YYYY", None),
        ];
        for (raw, format, want) in cases {
            assert_eq!(
                reformat(raw, format, "Z", true).as_deref(),
                want,
                "{raw} {format}"
            );
        }
        assert_eq!(
            reformat("21.11.2026 15:43", "DD.MM.YYYY hh:mm", "+01:00", false).as_deref(),
            Some("2026-11-21T15:43:00+01:00")
        );
        // A date read from a date-time: the time is checked, then dropped.
        let stamp = "YYYY-MM-DDThh:mm:ss";
        assert_eq!(
            reformat("2026-11-21T15:43:17", stamp, "", true).as_deref(),
            Some("2026-11-21")
        );
        assert_eq!(reformat("2026-11-21T25:43:17", stamp, "", true), None);
        assert!(check_format("DD.MM.YYYY", false).is_ok());
        assert!(check_format("DD.MM.YY", false).is_err());
        assert!(check_format("DD.MM.YYYY hh:mm", false).is_ok());
        assert!(check_format("DD.MM.YYYY", true).is_err());
        assert!(check_format("YYYY-MM-DD hh:mm:ss", true).is_ok());
        assert!(check_format("DD.DD.YYYY", false).is_err());
    }

    #[test]
    fn separators_are_taken_out() {
        let dutch = |raw| plain_number(raw, Some(','), Some('.'));
        assert_eq!(dutch("4.780").as_deref(), Some("4780"));
        assert_eq!(dutch("12.480,5").as_deref(), Some("12480.5"));
        assert_eq!(dutch("-1.234.567,25").as_deref(), Some("-1234567.25"));
        assert_eq!(dutch("1,5").as_deref(), Some("1.5"));
        assert_eq!(dutch("4.78"), None);
        assert_eq!(dutch("4780").as_deref(), Some("4780"));
        assert_eq!(
            plain_number("1,234.5", None, Some(',')).as_deref(),
            Some("1234.5")
        );
    }

    #[test]
    fn units_convert_exactly_within_a_dimension() {
        let (t, kg, mm, m) = (unit("TO"), unit("kg"), unit("mm"), unit("m"));
        let conv = |v: &str, a: Option<Unit>, b: Option<Unit>| convert(v, a?, b?);
        assert_eq!(conv("11.99", t, kg).as_deref(), Some("11990"));
        assert_eq!(conv("4.1", t, kg).as_deref(), Some("4100"));
        assert_eq!(conv("8.15", m, mm).as_deref(), Some("8150"));
        assert_eq!(conv("3120", kg, t).as_deref(), Some("3.12"));
        assert_eq!(conv("3120", kg, kg).as_deref(), Some("3120"));
        assert_eq!(conv("1", kg, mm), None);
        assert_eq!(unit("furlong"), None);
    }
}
