//! The ERP write-back: once a record is final, its outcome is POSTed to the tenant's callback URL,
//! signed with HMAC-SHA256, and retried with the [`RetryPolicy`] until the ERP answers 2xx.

use hmac::{KeyInit, Mac};
use transport::Transport;

use crate::record::{Callback, Record};
use crate::retry::RetryPolicy;
use crate::tenant::{self, Tenant};

/// How this deployment reaches the ERP: the transport and the HMAC key that signs write-backs.
pub type Erp<'a> = (&'a dyn Transport, &'a str);

/// After a delivery step: a record that became final gets a pending write-back when the tenant has
/// a callback URL, and a pending write-back whose time has come is tried. Without a way to write
/// back (no callback secret), that is said once on the record and not tried again. The record is
/// not saved here.
pub fn after_step(
    record: &mut Record,
    tenant: &Tenant,
    erp: Option<Erp<'_>>,
    policy: &RetryPolicy,
    now: u64,
) {
    if record.status.is_final() && record.callback.is_none() && tenant.callback_url.is_some() {
        record.callback = Some(Callback::default());
    }
    if let (Some(callback), Some((transport, secret))) = (&record.callback, erp)
        && !callback.done
        && record.not_before <= now
    {
        write_back(record, tenant, transport, secret, policy, now);
    }
    if erp.is_none()
        && let Some(c) = record.callback.as_mut().filter(|c| !c.done)
    {
        c.done = true;
        c.last_error = Some("no callback secret configured".into());
    }
}

/// The signed write-back request: `POST callback_url` with the record's outcome as JSON and
/// `ecoc-timestamp` + `ecoc-signature: sha256=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`.
pub fn callback_request(
    tenant: &Tenant,
    record: &Record,
    secret: &str,
    now: u64,
) -> Option<transport::Request> {
    let url = tenant.callback_url.clone()?;
    let body = serde_json::json!({
        "submission": record.id,
        "vin": record.vin,
        "version": record.version,
        "stage": record.stage,
        "status": record.status.as_str(),
        "status_name": record.status_name(),
        "vca_status": record.vca_status(),
        "nap_submission_id": record.receipt.as_ref().map(|r| r.submission_id.clone()),
        "errors": record.errors,
        "at": record.updated_at,
    })
    .to_string();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(format!("{now}.").as_bytes());
    mac.update(body.as_bytes());
    let tag = crate::ids::hex(&mac.finalize().into_bytes());
    let (timestamp, signature) = (now.to_string(), format!("sha256={tag}"));
    transport::request(
        transport::http::Method::POST,
        &url,
        &[
            ("content-type", "application/json"),
            (tenant::WEBHOOK_TIMESTAMP_HEADER, &timestamp),
            (tenant::WEBHOOK_SIGNATURE_HEADER, &signature),
        ],
        body.into_bytes(),
    )
    .ok()
}

fn write_back(
    record: &mut Record,
    tenant: &Tenant,
    transport: &dyn Transport,
    secret: &str,
    policy: &RetryPolicy,
    now: u64,
) {
    let Some(req) = callback_request(tenant, record, secret, now) else {
        return;
    };
    let outcome = match transport.send(req) {
        Ok(resp) if resp.status().is_success() => Ok(()),
        Ok(resp) => Err(format!("the ERP answered {}", resp.status().as_u16())),
        Err(e) => Err(e.to_string()),
    };
    let Some(callback) = record.callback.as_mut() else {
        return;
    };
    callback.attempts += 1;
    let attempts = callback.attempts;
    match outcome {
        Ok(()) => {
            callback.done = true;
            callback.last_error = None;
            record.note("submit", "written back to the ERP".into(), now);
        }
        Err(e) => {
            callback.last_error = Some(e.clone());
            if attempts >= policy.max_attempts {
                callback.done = true;
                record.note(
                    "submit",
                    format!("ERP write-back given up after {attempts} attempts: {e}"),
                    now,
                );
            } else {
                let pause = policy.pause(attempts);
                record.not_before = now + pause;
                record.note(
                    "submit",
                    format!("ERP write-back attempt {attempts} failed: {e}; next in {pause} s"),
                    now,
                );
            }
        }
    }
}
