//! Daily timers: the host calls a component's route at a fixed time of day (UTC), the way an
//! external scheduler would. Configured in `[application.tool.ecoc]`, which Spin ignores, so
//! on Spin or SpinKube a cron job (or any scheduler) makes the same call instead:
//!
//! ```toml
//! [[application.tool.ecoc.timers]]
//! component = "notify"       # may be a private component
//! path = "/digest"           # the request path; the method is POST
//! at = "18:00"               # HH:MM or HH:MM:SS, UTC
//!
//! [[application.tool.ecoc.timers]]
//! component = "submit"
//! path = "/sweep"
//! every = "5s"               # or a fixed interval (s, m, h): the next call starts that long after
//!                            # the previous one finished, so calls never overlap
//! ```
//!
//! The request carries `{"timer":"<component><path>","scheduled_for":"<RFC 3339 UTC>"}`.
//! A missed run (host down at that time) is not replayed: the component's own bookkeeping
//! (one digest per tenant per day) decides what is due.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::Request;
use http_body_util::Full;

use crate::app::{App, Origin};
use crate::error::{Error, Result};

const DAY: u64 = 24 * 60 * 60;

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

/// Starts one task per timer; they live as long as the runtime.
pub fn start(app: &Arc<App>, timers: Vec<Timer>) {
    for timer in timers {
        let app = app.clone();
        tokio::spawn(async move {
            loop {
                let now = unix_now();
                match timer.schedule {
                    Schedule::Every(interval) => {
                        tokio::time::sleep(interval).await;
                        fire(&app, &timer, unix_now()).await;
                    }
                    Schedule::Daily(_) => {
                        let wait = timer.seconds_until_next(now);
                        tokio::time::sleep(Duration::from_secs(wait)).await;
                        fire(&app, &timer, now + wait).await;
                        // Step past the scheduled second so it fires once.
                        tokio::time::sleep(Duration::from_millis(1100)).await;
                    }
                }
            }
        });
    }
}

async fn fire(app: &Arc<App>, timer: &Timer, scheduled: u64) {
    let body = format!(
        "{{\"timer\":\"{}{}\",\"scheduled_for\":\"{}\"}}",
        timer.component,
        timer.path,
        rfc3339(scheduled)
    );
    let req = Request::post(format!(
        "http://{}.spin.internal{}",
        timer.component, timer.path
    ))
    .header(http::header::CONTENT_TYPE, "application/json")
    .body(Full::new(Bytes::from(body)));
    let Ok(req) = req else {
        tracing::error!(component = %timer.component, path = %timer.path, "timer request could not be built");
        return;
    };
    let origin = Origin {
        client_addr: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        depth: 0,
    };
    let resp = app.handle_chained(req, &timer.component, origin).await;
    let status = resp.status();
    if status.is_success() && matches!(timer.schedule, Schedule::Every(_)) {
        tracing::debug!(component = %timer.component, path = %timer.path, %status, "timer fired");
    } else if status.is_success() {
        tracing::info!(component = %timer.component, path = %timer.path, %status, "timer fired");
    } else {
        tracing::warn!(component = %timer.component, path = %timer.path, %status, "timer call failed");
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Unix seconds -> `YYYY-MM-DDTHH:MM:SSZ` (civil-from-days, proleptic Gregorian).
fn rfc3339(secs: u64) -> String {
    let days = (secs / DAY) as i64;
    let rem = secs % DAY;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
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

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        // 2026-11-21T18:00:00Z, from `date -u -d 2026-11-21T18:00:00 +%s`.
        assert_eq!(rfc3339(1_795_284_000), "2026-11-21T18:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
