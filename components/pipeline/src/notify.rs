//! The end-of-day digest: per tenant, one email listing that day's failures (VIN, stage, version,
//! reason), sent once whoever calls and however often.

use transport::Transport;

use crate::calls::DigestReport;
use crate::kv::{KeyValue, Stores};
use crate::record::{Record, Status};
use crate::repo::{FAILURES_KEPT_DAYS, Repo};
use crate::tenant::{self, Tenant};
use crate::{Error, Result, Service, claims, clock, keys};

/// The day a digest run is for: `date` (`YYYY-MM-DD`) when given, else the UTC day of `now`.
pub fn day(date: Option<&str>, now: u64) -> Result<String> {
    match date {
        Some(d) if clock::parse_date(d).is_some() => Ok(d.to_owned()),
        Some(d) => Err(Error::BadRequest(format!("date `{d}` must be YYYY-MM-DD"))),
        None => Ok(clock::date(now)),
    }
}

/// An HTTP email API: `POST {url}/v1/messages` with a bearer key and
/// `{"from", "to", "subject", "text"}`.
#[derive(Debug)]
pub struct MailApi<T> {
    /// How requests go out.
    pub transport: T,
    /// The API's origin.
    pub url: String,
    /// Its bearer key.
    pub api_key: String,
    /// The sender.
    pub from: String,
}

impl<T: Transport> MailApi<T> {
    /// Sends one email; a refusal or an unreachable API is a `mail` upstream error.
    pub fn send(&self, email: &Email) -> Result<()> {
        let upstream = |message: String, retryable| Error::Upstream {
            service: Service::Mail,
            message,
            retryable,
        };
        let body = serde_json::json!({"from": self.from, "to": email.to, "subject": email.subject, "text": email.text});
        let request = transport::json(
            transport::http::Method::POST,
            &format!("{}/v1/messages", self.url.trim_end_matches('/')),
            &[("authorization", &format!("Bearer {}", self.api_key))],
            &body,
        )
        .map_err(|e| Error::Config(format!("mail_url: {e}")))?;
        let status = self
            .transport
            .send(request)
            .map_err(|e| upstream(e.to_string(), true))?
            .status();
        if status.is_success() {
            Ok(())
        } else {
            Err(upstream(
                format!("the email API answered {}", status.as_u16()),
                status.is_server_error(),
            ))
        }
    }
}

/// An email as the HTTP email API takes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Email {
    /// Recipients.
    pub to: Vec<String>,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
}

/// The digest of `failures` for `tenant` on `date`; `None` when nothing failed or nobody is to be told.
/// Refused uploads (rejected before signing) and files that failed at delivery are listed apart:
/// the VCA sends its end-of-day email "if any uploads failed during the day".
pub fn compose(tenant: &Tenant, date: &str, failures: &[Record]) -> Option<Email> {
    if failures.is_empty() || tenant.digest_to.is_empty() {
        return None;
    }
    let (refused, failed): (Vec<&Record>, Vec<&Record>) =
        failures.iter().partition(|r| r.status == Status::Rejected);
    let mut text = format!(
        "{} eCoC upload(s) of {} failed on {date} (UTC): {} refused before signing, {} failed at delivery.\n",
        failures.len(),
        tenant.name,
        refused.len(),
        failed.len()
    );
    for (title, records, next) in [
        (
            "Refused on upload (never signed, never sent)",
            &refused,
            "Correct the data and upload again.",
        ),
        (
            "Failed at delivery",
            &failed,
            "A file the authority refused needs corrected data (same IviVersionNumber, new \
             IviReferenceId); a file not delivered for a technical reason can be sent again as it \
             is (POST /v1/submissions/{id}/retry, or the same upload).",
        ),
    ] {
        if records.is_empty() {
            continue;
        }
        text.push_str(&format!("\n{title}: {}\n", records.len()));
        for r in records.iter() {
            text.push_str(&line(r));
        }
        text.push_str(&format!("{next}\n"));
    }
    Some(Email {
        to: tenant.digest_to.clone(),
        subject: format!(
            "eCoC failures {date}: {} file(s) for {}",
            failures.len(),
            tenant.name
        ),
        text,
    })
}

/// One record of the digest: VIN, stage, version, status as shown, id, reasons.
fn line(r: &Record) -> String {
    let reason = r
        .errors
        .iter()
        .map(|e| format!("{} {}", e.code, e.message))
        .collect::<Vec<_>>()
        .join("; ");
    format!(
        "- VIN {}  stage {}  version {}  ({}, submission {})\n  reason: {}\n",
        if r.vin.is_empty() {
            "unreadable"
        } else {
            r.vin.as_str()
        },
        r.stage,
        r.version,
        r.status_name(),
        r.id,
        if reason.is_empty() {
            "not recorded"
        } else {
            reason.as_str()
        }
    )
}

/// Sends each tenant's digest for `date` once (and prunes the `failures` index of days more than
/// [`FAILURES_KEPT_DAYS`] before it, and the marks of webhook signatures no replay window takes
/// any more): a marker is claimed before sending (so concurrent
/// calls send one email) and given back when sending fails (so a later call retries).
pub fn run<K: KeyValue>(
    stores: &Stores<K>,
    date: &str,
    run_id: &str,
    send: &mut dyn FnMut(&Email) -> Result<()>,
) -> Result<DigestReport> {
    let repo = Repo::new(stores);
    let mut by_tenant: std::collections::BTreeMap<String, Vec<Record>> = Default::default();
    for (tenant, id) in repo.failures_on(date)? {
        match repo.load(&tenant, &id) {
            // An index entry is written before its record: count only records that did fail.
            Ok(r) if matches!(r.status, Status::Failed | Status::Rejected) => {
                by_tenant.entry(tenant).or_default().push(r)
            }
            Ok(_) => {}
            Err(Error::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let mut report = DigestReport {
        date: date.to_owned(),
        ..DigestReport::default()
    };
    // The day's run also keeps the index small: days older than it keeps go.
    let day_start = clock::parse_date(date).unwrap_or(0);
    let oldest_kept = clock::date(day_start.saturating_sub(FAILURES_KEPT_DAYS * 86_400));
    report.pruned = repo.prune_failures(&oldest_kept)?;
    // By the clock, not `date`: a run for a later day must not forget signatures still replayable.
    report.webhooks_pruned = tenant::prune_webhook_marks(&stores.seen, clock::now_secs())?;
    for (tenant_id, failures) in by_tenant {
        let tenant = tenant::load_tenant(&stores.data, &tenant_id)?;
        let Some(email) = compose(&tenant, date, &failures) else {
            report.tenants.insert(tenant_id, "no_recipients".into());
            continue;
        };
        let marker = keys::digest_marker(date);
        match claims::claim(stores, &tenant_id, &marker, run_id) {
            Ok(()) => {}
            Err(Error::Duplicate { .. }) => {
                report.tenants.insert(tenant_id, "already_sent".into());
                continue;
            }
            Err(e) => return Err(e),
        }
        match send(&email) {
            Ok(()) => {
                // Sent: the marker no longer goes stale (a claim by a run killed mid-send does,
                // so a later run sends it then).
                claims::keep(stores, &tenant_id, &marker, run_id)?;
                report.tenants.insert(tenant_id, "sent".into());
            }
            Err(e) => {
                claims::release(stores, &tenant_id, &marker, run_id)?;
                report.tenants.insert(tenant_id, format!("error: {e}"));
            }
        }
    }
    Ok(report)
}
