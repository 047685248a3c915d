//! The timers of `[application.tool.ecoc]` as configuration: which component and path, and when
//! (a daily time or a fixed interval). Read when the app loads, so a wrong timer stops the start;
//! `timer.rs` runs them.

use std::time::Duration;

use crate::error::{Error, Result};

pub(crate) const DAY: u64 = 24 * 60 * 60;

/// One configured timer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer {
    pub component: String,
    pub path: String,
    pub schedule: Schedule,
}

/// When a timer fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Daily, at these seconds after midnight UTC.
    Daily(u64),
    /// Repeatedly, this long after the previous call finished.
    Every(Duration),
}

impl Timer {
    /// Reads `[[application.tool.ecoc.timers]]` from the ecoc settings table.
    pub fn from_settings(settings: &toml::Table) -> Result<Vec<Self>> {
        let Some(list) = settings.get("timers") else {
            return Ok(Vec::new());
        };
        let fail = |m: String| Error::Variable(format!("[[application.tool.ecoc.timers]]: {m}"));
        let list = list
            .as_array()
            .ok_or_else(|| fail("must be an array of tables".into()))?;
        list.iter()
            .map(|t| {
                let field = |name: &str| {
                    t.get(name)
                        .and_then(toml::Value::as_str)
                        .ok_or_else(|| fail(format!("each timer needs a string `{name}`")))
                };
                let path = field("path")?.to_string();
                if !path.starts_with('/') {
                    return Err(fail(format!("path {path:?} must start with `/`")));
                }
                let schedule = match (t.get("at"), t.get("every")) {
                    (Some(_), None) => {
                        Schedule::Daily(parse_time_of_day(field("at")?).map_err(fail)?)
                    }
                    (None, Some(_)) => {
                        Schedule::Every(parse_interval(field("every")?).map_err(fail)?)
                    }
                    _ => {
                        return Err(fail(
                            "each timer needs exactly one of `at` and `every`".into(),
                        ));
                    }
                };
                Ok(Self {
                    component: field("component")?.to_string(),
                    path,
                    schedule,
                })
            })
            .collect()
    }

    /// Seconds from `now` (Unix seconds) to the next run.
    pub fn seconds_until_next(&self, now: u64) -> u64 {
        match self.schedule {
            Schedule::Every(d) => d.as_secs().max(1),
            Schedule::Daily(at) => {
                let today = now % DAY;
                if at > today {
                    at - today
                } else {
                    DAY - today + at
                }
            }
        }
    }
}

/// `500ms`, `5s`, `2m`, `1h` -> a duration of at least 100 ms.
pub fn parse_interval(s: &str) -> std::result::Result<Duration, String> {
    let bad = || format!("invalid interval {s:?} (use e.g. 500ms, 5s, 2m, 1h)");
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map(|i| s.split_at(i))
        .ok_or_else(bad)?;
    let n: u64 = num.parse().map_err(|_| bad())?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => return Err(bad()),
    };
    if d < Duration::from_millis(100) {
        return Err(format!("interval {s:?} is shorter than 100ms"));
    }
    Ok(d)
}

/// `HH:MM` or `HH:MM:SS` -> seconds after midnight.
pub fn parse_time_of_day(s: &str) -> std::result::Result<u64, String> {
    let parts: Vec<&str> = s.split(':').collect();
    let num = |p: &str, max: u64| {
        p.parse::<u64>()
            .ok()
            .filter(|n| *n < max && p.len() == 2)
            .ok_or_else(|| format!("invalid time of day {s:?} (use HH:MM or HH:MM:SS, UTC)"))
    };
    match parts.as_slice() {
        [h, m] => Ok(num(h, 24)? * 3600 + num(m, 60)? * 60),
        [h, m, sec] => Ok(num(h, 24)? * 3600 + num(m, 60)? * 60 + num(sec, 60)?),
        _ => Err(format!(
            "invalid time of day {s:?} (use HH:MM or HH:MM:SS, UTC)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_run_today_or_tomorrow() {
        let t = Timer {
            component: "notify".into(),
            path: "/digest".into(),
            schedule: Schedule::Daily(parse_time_of_day("18:00").unwrap()),
        };
        let noon = 20_000 * DAY + 12 * 3600;
        assert_eq!(t.seconds_until_next(noon), 6 * 3600);
        let evening = 20_000 * DAY + 19 * 3600;
        assert_eq!(t.seconds_until_next(evening), 23 * 3600);
        assert_eq!(t.seconds_until_next(20_000 * DAY + 18 * 3600), DAY);
    }

    #[test]
    fn times_of_day_and_settings() {
        assert_eq!(parse_time_of_day("00:00:05"), Ok(5));
        assert!(parse_time_of_day("24:00").is_err());
        assert!(parse_time_of_day("7:00").is_err());
        let settings: toml::Table = toml::from_str(
            "[[timers]]\ncomponent = \"notify\"\npath = \"/digest\"\nat = \"18:30\"\n",
        )
        .unwrap();
        let timers = Timer::from_settings(&settings).unwrap();
        assert_eq!(timers[0].schedule, Schedule::Daily(18 * 3600 + 30 * 60));
        let every: toml::Table =
            toml::from_str("[[timers]]\ncomponent = \"s\"\npath = \"/sweep\"\nevery = \"2s\"\n")
                .unwrap();
        assert_eq!(
            Timer::from_settings(&every).unwrap()[0].schedule,
            Schedule::Every(Duration::from_secs(2))
        );
        assert!(parse_interval("10ms").is_err());
        assert_eq!(parse_interval("2m"), Ok(Duration::from_secs(120)));
        let both: toml::Table = toml::from_str(
            "[[timers]]\ncomponent = \"s\"\npath = \"/x\"\nevery = \"2s\"\nat = \"18:00\"\n",
        )
        .unwrap();
        assert!(Timer::from_settings(&both).is_err());
        let bad: toml::Table = toml::from_str("[[timers]]\ncomponent = \"n\"\n").unwrap();
        assert!(
            Timer::from_settings(&bad)
                .unwrap_err()
                .to_string()
                .contains("`path`")
        );
    }
}
