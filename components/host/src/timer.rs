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

use crate::app::App;
use crate::component::Origin;
pub use crate::schedule::{Schedule, Timer, parse_interval, parse_time_of_day};

/// Starts one task per timer of `app` ([`App::timers`], checked when it loaded); they live as
/// long as the runtime (needs a tokio runtime).
pub fn start(app: &Arc<App>) {
    for timer in app.timers() {
        tracing::info!(component = %timer.component, path = %timer.path, schedule = ?timer.schedule, "timer");
        let timer = timer.clone();
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

/// Unix seconds -> `YYYY-MM-DDTHH:MM:SSZ` (the timer's `scheduled_for`).
fn rfc3339(secs: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        // 2026-11-21T18:00:00Z, from `date -u -d 2026-11-21T18:00:00 +%s`.
        assert_eq!(rfc3339(1_795_284_000), "2026-11-21T18:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
