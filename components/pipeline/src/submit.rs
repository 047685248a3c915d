//! The `submit` step: delivers a signed record to the NAP, polls a submitted one until the NAP's
//! answer is final, then has the ERP written back ([`crate::callback`]). After a NAP outage the
//! waiting records are made due at once ([`drain_after_outage`]).
//!
//! Every step reads the record, does its one thing, and writes the record back; a step that finds
//! the record already past it does nothing, so a step may run twice (a retry, the sweep after a
//! crash) without effect. Delivery is idempotent at the NAP too: a file it already holds is answered
//! with the earlier submission id (see [`crate::nap::Nap::submit`]), so nothing is submitted twice.

use crate::callback;
use crate::keys;
use crate::kv::{KeyValue, Stores};
use crate::nap::{Nap, Naps};
use crate::record::{Failure, Receipt, Record, Status};
use crate::repo::{Repo, XmlKind};
use crate::retry::{RetryPolicy, fail_or_retry};
use crate::tenant::Tenant;
use crate::{Error, FieldError, Result};

/// Poll interval for submissions the NAP is still processing (seconds).
pub const POLL_SECS: u64 = 2;

/// The `submit` step for one record: delivers a signed record, polls a submitted one, writes a final
/// one back to the ERP. Returns the record as saved.
pub fn deliver_record<K: KeyValue>(
    stores: &Stores<K>,
    tenant: &Tenant,
    id: &str,
    naps: &dyn Naps,
    erp: Option<callback::Erp<'_>>,
    policy: &RetryPolicy,
    now: u64,
) -> Result<Record> {
    let repo = Repo::new(stores);
    let mut record = repo.load(&tenant.id, id)?;
    let pending = matches!(
        record.status,
        Status::Signed | Status::Submitted | Status::Processing
    );
    if pending {
        let (nap, account) = naps.for_destination(record.destination.as_deref())?;
        step(stores, &mut record, nap, account, policy, now)?;
    }
    callback::after_step(&mut record, tenant, erp, policy, now);
    repo.save(&mut record)?;
    Ok(record)
}

/// One delivery step of a record that still needs the NAP: deliver a signed one, poll a
/// submitted one. `account` is kept in the receipt.
fn step<K: KeyValue>(
    stores: &Stores<K>,
    record: &mut Record,
    nap: &dyn Nap,
    account: Option<String>,
    policy: &RetryPolicy,
    now: u64,
) -> Result<()> {
    let repo = Repo::new(stores);
    let id = record.id.clone();
    let id = id.as_str();
    let tenant = record.tenant.clone();
    match record.status {
        Status::Signed => {
            let signed = repo
                .xml(&tenant, id, XmlKind::Signed)?
                .ok_or_else(|| Error::corrupt("signed XML", format!("{id} has none")))?;
            match nap.submit(&signed) {
                Ok(sent) => {
                    let note = if sent.already_there {
                        format!(
                            "the NAP already held this file as {}: no second copy sent",
                            sent.receipt.submission_id
                        )
                    } else {
                        format!("NAP submission {}", sent.receipt.submission_id)
                    };
                    let note = match &account {
                        Some(a) => format!("{note}, as {a}"),
                        None => note,
                    };
                    record.receipt = Some(Receipt {
                        account,
                        ..sent.receipt
                    });
                    record.advance(Status::Submitted, "submit", Some(note), now)?;
                    record.not_before = now + POLL_SECS;
                }
                Err(e) => {
                    if e.is_retryable() {
                        mark_nap_outage(stores, now)?;
                    }
                    fail_or_retry(record, "submit", &e, policy, now)?;
                }
            }
        }
        Status::Submitted | Status::Processing => {
            let submission = record
                .receipt
                .as_ref()
                .map(|r| r.submission_id.clone())
                .ok_or_else(|| {
                    Error::corrupt("record", format!("{id} is submitted without a receipt"))
                })?;
            match nap.status(&submission) {
                Ok(receipt) => {
                    let to = match receipt.status.as_str() {
                        "Processing" => Some(Status::Processing),
                        "Succeeded" => Some(Status::Succeeded),
                        "Failed" => Some(Status::Failed),
                        _ => None,
                    };
                    if to == Some(Status::Failed) {
                        record.failure = Some(Failure::Authority);
                        let reason = receipt
                            .reason
                            .clone()
                            .unwrap_or_else(|| "no reason given".into());
                        record
                            .errors
                            .push(FieldError::new("nap", "NAP-FAILED", reason));
                    }
                    let note = receipt.reason.clone();
                    let account = record.receipt.as_ref().and_then(|r| r.account.clone());
                    record.receipt = Some(Receipt { account, ..receipt });
                    record.attempts = 0;
                    if let Some(to) = to {
                        record.advance(to, "nap", note, now)?;
                    }
                    if !record.status.is_final() {
                        record.not_before = now + POLL_SECS;
                    }
                }
                Err(Error::NotFound(why)) => record.redeliver(&why, now),
                Err(e) => fail_or_retry(record, "submit", &e, policy, now)?,
            }
        }
        _ => {}
    }
    Ok(())
}

/// [`deliver_record`] for several records of one tenant (one NAP session); one answer per id.
pub fn deliver_records<K: KeyValue>(
    stores: &Stores<K>,
    tenant: &Tenant,
    ids: &[&str],
    naps: &dyn Naps,
    erp: Option<callback::Erp<'_>>,
    policy: &RetryPolicy,
    now: u64,
) -> Vec<Result<Record>> {
    ids.iter()
        .map(|id| deliver_record(stores, tenant, id, naps, erp, policy, now))
        .collect()
}

fn mark_nap_outage<K: KeyValue>(stores: &Stores<K>, now: u64) -> Result<()> {
    if stores.data.get(keys::NAP_OUTAGE)?.is_none() {
        stores
            .data
            .set(keys::NAP_OUTAGE, now.to_string().as_bytes())?;
    }
    Ok(())
}

/// After a NAP outage, once `nap` answers again: every waiting record is due now instead of at the
/// end of its backoff (which grows to minutes in a long outage), so the backlog drains at once.
/// Returns how many records were brought forward; does nothing (and reads one key) when no outage
/// was seen or the NAP still does not answer.
pub fn drain_after_outage<K: KeyValue>(
    stores: &Stores<K>,
    nap: &dyn Nap,
    now: u64,
) -> Result<usize> {
    if stores.data.get(keys::NAP_OUTAGE)?.is_none() || !nap.reachable() {
        return Ok(0);
    }
    let mut brought = 0;
    for key in stores.work.get_keys()? {
        let due = Repo::new(stores).due_at(&key)?;
        if due > now {
            stores.work.set(&key, now.to_string().as_bytes())?;
            brought += 1;
        }
    }
    stores.data.delete(keys::NAP_OUTAGE)?;
    Ok(brought)
}
