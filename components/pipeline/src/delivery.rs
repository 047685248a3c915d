//! After the gate: signing, delivery to the NAP, status polling, the ERP write-back, retries with
//! capped exponential backoff and jitter, and the resume sweep that picks up interrupted records.
//!
//! Every step reads the record, does its one thing, and writes the record back; a step that finds the
//! record already past it does nothing, so a step may run twice (a retry, the sweep after a crash)
//! without effect. Delivery is idempotent at the NAP too: a file it already holds is answered with
//! the earlier submission id (see [`crate::nap::Nap::submit`]), so nothing is submitted twice.

use dsig::Certificate;
use dsig::csc::{AuthData, CscClient, CscSigner, HttpRequest, HttpTransport};
use hmac::{KeyInit, Mac};

use crate::gate::LEASE_SECS;
use crate::kv::{KeyValue, Stores};
use crate::nap::Nap;
use crate::record::{Callback, Record, Status};
use crate::repo::{Repo, XmlKind};
use crate::tenant::{self, Tenant};
use crate::{Error, FieldError, Result};

/// How often and how long a step is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts before the record fails (at least 1).
    pub max_attempts: u32,
    /// First pause, in seconds; doubled per attempt.
    pub base_secs: u64,
    /// Longest pause, in seconds.
    pub cap_secs: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            base_secs: 2,
            cap_secs: 300,
        }
    }
}

impl RetryPolicy {
    /// The pause after failed attempt `attempt` (1-based): `min(cap, base * 2^(attempt-1))`, then
    /// "equal jitter": half of it fixed, the other half random, so retries of many records spread out.
    pub fn pause(&self, attempt: u32) -> u64 {
        let full = self
            .base_secs
            .saturating_mul(1u64 << attempt.saturating_sub(1).min(30))
            .min(self.cap_secs)
            .max(1);
        let mut r = [0u8; 8];
        let random = getrandom::fill(&mut r).map_or(0, |()| u64::from_le_bytes(r));
        full / 2 + random % (full - full / 2 + 1)
    }
}

/// Most hashes sent in one `signatures/signHash` call.
pub const MAX_HASHES_PER_CALL: usize = 50;

/// Poll interval for submissions the NAP is still processing (seconds).
pub const POLL_SECS: u64 = 2;

/// A failed step: retry later, or fail the record once the attempts are spent (or the error is
/// permanent). The record is not saved here.
pub fn fail_or_retry(
    record: &mut Record,
    step: &str,
    error: &Error,
    policy: &RetryPolicy,
    now: u64,
) -> Result<()> {
    let attempt = record.attempts + 1;
    if error.is_retryable() && attempt < policy.max_attempts {
        let pause = policy.pause(attempt);
        record.attempts = attempt;
        record.not_before = now + pause;
        record.note(
            step,
            format!("attempt {attempt} failed: {error}; next try in {pause} s"),
            now,
        );
        return Ok(());
    }
    let why = if error.is_retryable() {
        format!("gave up after {attempt} attempts; last error: {error}")
    } else {
        error.to_string()
    };
    record.errors.push(FieldError::new(
        step,
        format!("{}-FAILED", step.to_ascii_uppercase()),
        why.clone(),
    ));
    record.advance(Status::Failed, step, Some(why), now)?;
    Ok(())
}

/// Signing through a QTSP over the CSC API v2.
#[derive(Debug)]
pub struct CscSigning<T> {
    client: CscClient<T>,
    credential_id: String,
    pin: String,
}

fn qtsp_error(e: dsig::Error) -> Error {
    let retryable = match &e {
        dsig::Error::Transport(_) => true,
        dsig::Error::Csc { status, .. } => *status >= 500 || *status == 429,
        _ => false,
    };
    Error::Upstream {
        service: "qtsp",
        message: e.to_string(),
        retryable,
    }
}

impl<T: HttpTransport> CscSigning<T> {
    /// Signing with `credential_id` (PIN `pin`) through `client`.
    pub fn new(client: CscClient<T>, credential_id: &str, pin: &str) -> Self {
        Self {
            client,
            credential_id: credential_id.to_owned(),
            pin: pin.to_owned(),
        }
    }

    /// Signs `xml` (replacing its placeholder signature) with `profile`.
    pub fn sign(&self, xml: &[u8], profile: dsig::Profile) -> Result<Vec<u8>> {
        self.sign_many(&[xml], profile)
            .pop()
            .unwrap_or_else(|| Err(Error::Internal("no signature made".into())))
    }

    /// Signs several documents: one token and `credentials/info` for all, then one
    /// `credentials/authorize` + `signatures/signHash` per [`MAX_HASHES_PER_CALL`] hashes (fewer
    /// when the credential's `multisign` says so). One answer per document, in order.
    pub fn sign_many(&self, xmls: &[&[u8]], profile: dsig::Profile) -> Vec<Result<Vec<u8>>> {
        let auth = AuthData {
            pin: Some(self.pin.clone()),
            otp: None,
        };
        let signer = match CscSigner::new(&self.client, &self.credential_id, auth) {
            Ok(s) => s,
            Err(e) => {
                let e = qtsp_error(e);
                return xmls.iter().map(|_| Err(e.clone())).collect();
            }
        };
        let mut options = dsig::SignOptions::new(profile, signer.certificates().to_vec());
        options.replace_existing = true;
        let mut answers: Vec<Result<Vec<u8>>> = Vec::with_capacity(xmls.len());
        let mut prepared = Vec::new();
        for xml in xmls {
            match dsig::prepare(xml, &options) {
                Ok(p) => {
                    prepared.push((answers.len(), p));
                    answers.push(Err(Error::Internal("not signed".into())));
                }
                Err(e) => answers.push(Err(qtsp_error(e))),
            }
        }
        let per_call = usize::try_from(signer.multisign())
            .unwrap_or(1)
            .clamp(1, MAX_HASHES_PER_CALL);
        let mut rest = prepared.into_iter().peekable();
        while rest.peek().is_some() {
            let chunk: Vec<_> = rest.by_ref().take(per_call).collect();
            let digests: Vec<[u8; 32]> = chunk.iter().map(|(_, p)| p.digest()).collect();
            let values = signer
                .sign_digests(&digests)
                .map_err(qtsp_error)
                .and_then(|values| {
                    if values.len() == chunk.len() {
                        Ok(values)
                    } else {
                        Err(Error::Upstream {
                            service: "qtsp",
                            message: format!(
                                "signatures/signHash answered {} values for {} hashes",
                                values.len(),
                                chunk.len()
                            ),
                            retryable: true,
                        })
                    }
                });
            match values {
                Ok(values) => {
                    for ((at, p), value) in chunk.into_iter().zip(values) {
                        answers[at] = p.finish(&value).map_err(qtsp_error);
                    }
                }
                Err(e) => {
                    for (at, _) in chunk {
                        answers[at] = Err(e.clone());
                    }
                }
            }
        }
        answers
    }
}

/// Signs XML with a profile (the QTSP in production, a local key in tests).
pub type SignFn<'a> = dyn Fn(&[u8], dsig::Profile) -> Result<Vec<u8>> + 'a;

/// Signs several documents at once with one profile: one answer per document, in order (the QTSP
/// signs all their hashes under one authorisation).
pub type SignManyFn<'a> = dyn Fn(&[&[u8]], dsig::Profile) -> Vec<Result<Vec<u8>>> + 'a;

/// The `sign` step: signs a validated record, verifies the signature against the tenant's trust
/// anchors before anything else sees it, stores the signed XML.
pub fn sign_record<K: KeyValue>(
    stores: &Stores<K>,
    tenant: &Tenant,
    id: &str,
    sign: &SignFn<'_>,
    anchors: &[Certificate],
    policy: &RetryPolicy,
    now: u64,
) -> Result<Record> {
    let one_by_one = |xmls: &[&[u8]], profile| xmls.iter().map(|x| sign(x, profile)).collect();
    let mut records = sign_records(stores, tenant, &[id], &one_by_one, anchors, policy, now)?;
    records
        .pop()
        .ok_or_else(|| Error::Internal("sign_records answered nothing".into()))
}

/// [`sign_record`] for several records of one tenant, with one call to `sign` for all of those still
/// `validated` (the others are answered as they stand). A record that cannot be read fails the
/// whole call; a signature that fails or does not verify fails (or retries) only its record.
pub fn sign_records<K: KeyValue>(
    stores: &Stores<K>,
    tenant: &Tenant,
    ids: &[&str],
    sign: &SignManyFn<'_>,
    anchors: &[Certificate],
    policy: &RetryPolicy,
    now: u64,
) -> Result<Vec<Record>> {
    let repo = Repo::new(stores);
    let profile: dsig::Profile = tenant
        .signature_profile
        .parse()
        .map_err(|e| Error::Config(format!("tenant {}: {e}", tenant.id)))?;
    let mut records = Vec::with_capacity(ids.len());
    let mut pending = Vec::new();
    for id in ids {
        let record = repo.load(&tenant.id, id)?;
        if record.status == Status::Validated {
            let mapped = repo
                .xml(&tenant.id, id, XmlKind::Mapped)?
                .ok_or_else(|| Error::corrupt("record XML", format!("{id} has none")))?;
            pending.push((records.len(), mapped));
        }
        records.push(record);
    }
    if pending.is_empty() {
        return Ok(records);
    }
    let xmls: Vec<&[u8]> = pending.iter().map(|(_, x)| x.as_slice()).collect();
    let mut answers = sign(&xmls, profile);
    answers.resize_with(xmls.len(), || {
        Err(Error::Internal(
            "the signer gave fewer answers than documents".into(),
        ))
    });
    let options = dsig::VerifyOptions {
        trust_anchors: anchors.to_vec(),
        ..Default::default()
    };
    for ((at, _), answer) in pending.iter().zip(answers) {
        let record = &mut records[*at];
        let verified = answer.and_then(|signed| {
            let verified = dsig::verify(&signed, &options).map_err(|e| Error::Upstream {
                service: "qtsp",
                message: format!("the signature made does not verify: {e}"),
                retryable: false,
            })?;
            Ok((signed, verified))
        });
        match verified {
            Ok((signed, verified)) => {
                repo.put_xml(record, XmlKind::Signed, &signed)?;
                let subject = verified.signer.subject();
                record.advance(
                    Status::Signed,
                    "sign",
                    Some(format!(
                        "{} signature by {subject}, verified",
                        verified.profile.name()
                    )),
                    now,
                )?;
                record.not_before = now + LEASE_SECS;
            }
            Err(e) => fail_or_retry(record, "sign", &e, policy, now)?,
        }
        repo.save(record)?;
    }
    Ok(records)
}

fn finish(record: &mut Record, tenant: &Tenant) {
    if record.status.is_final() && record.callback.is_none() && tenant.callback_url.is_some() {
        record.callback = Some(Callback::default());
    }
}

/// The `submit` step for one record: delivers a signed record, polls a submitted one, writes a final
/// one back to the ERP. Returns the record as saved.
pub fn deliver_record<K: KeyValue>(
    stores: &Stores<K>,
    tenant: &Tenant,
    id: &str,
    nap: &dyn Nap,
    erp: Option<(&dyn HttpTransport, &str)>,
    policy: &RetryPolicy,
    now: u64,
) -> Result<Record> {
    let repo = Repo::new(stores);
    let mut record = repo.load(&tenant.id, id)?;
    match record.status {
        Status::Signed => {
            let signed = repo
                .xml(&tenant.id, id, XmlKind::Signed)?
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
                    record.receipt = Some(sent.receipt);
                    record.advance(Status::Submitted, "submit", Some(note), now)?;
                    record.not_before = now + POLL_SECS;
                }
                Err(e) => {
                    if e.is_retryable() {
                        mark_nap_outage(stores, now)?;
                    }
                    fail_or_retry(&mut record, "submit", &e, policy, now)?;
                }
            }
        }
        Status::Submitted | Status::Processing => {
            let submission = record
                .receipt
                .as_ref()
                .map(|r| r.submission_id.clone())
                .unwrap_or_default();
            match nap.status(&submission) {
                Ok(receipt) => {
                    let to = match receipt.status.as_str() {
                        "Processing" => Some(Status::Processing),
                        "Succeeded" => Some(Status::Succeeded),
                        "Failed" => Some(Status::Failed),
                        _ => None,
                    };
                    if to == Some(Status::Failed) {
                        let reason = receipt
                            .reason
                            .clone()
                            .unwrap_or_else(|| "no reason given".into());
                        record
                            .errors
                            .push(FieldError::new("nap", "NAP-FAILED", reason));
                    }
                    let note = receipt.reason.clone();
                    record.receipt = Some(receipt);
                    record.attempts = 0;
                    if let Some(to) = to {
                        record.advance(to, "nap", note, now)?;
                    }
                    if !record.status.is_final() {
                        record.not_before = now + POLL_SECS;
                    }
                }
                Err(e) => fail_or_retry(&mut record, "submit", &e, policy, now)?,
            }
        }
        _ => {}
    }
    finish(&mut record, tenant);
    if let (Some(callback), Some((transport, secret))) = (&record.callback, erp)
        && !callback.done
        && record.not_before <= now
    {
        write_back(&mut record, tenant, transport, secret, policy, now);
    }
    if record.callback.as_ref().is_some_and(|c| !c.done) && erp.is_none() {
        // No way to write back in this deployment: say so once and stop trying.
        if let Some(c) = record.callback.as_mut() {
            c.done = true;
            c.last_error = Some("no callback secret configured".into());
        }
    }
    repo.save(&record)?;
    Ok(record)
}

/// The signed write-back request: `POST callback_url` with the record's outcome as JSON and
/// `ecoc-timestamp` + `ecoc-signature: sha256=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`.
pub fn callback_request(
    tenant: &Tenant,
    record: &Record,
    secret: &str,
    now: u64,
) -> Option<HttpRequest> {
    let url = tenant.callback_url.clone()?;
    let body = serde_json::json!({
        "submission": record.id,
        "vin": record.vin,
        "version": record.version,
        "stage": record.stage,
        "status": record.status.as_str(),
        "vca_status": record.status.vca_name(),
        "nap_submission_id": record.receipt.as_ref().map(|r| r.submission_id.clone()),
        "errors": record.errors,
        "at": record.updated_at,
    })
    .to_string();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(format!("{now}.").as_bytes());
    mac.update(body.as_bytes());
    let tag: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Some(HttpRequest {
        method: "POST".into(),
        url,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            (tenant::WEBHOOK_TIMESTAMP_HEADER.into(), now.to_string()),
            (
                tenant::WEBHOOK_SIGNATURE_HEADER.into(),
                format!("sha256={tag}"),
            ),
        ],
        body: body.into_bytes(),
    })
}

fn write_back(
    record: &mut Record,
    tenant: &Tenant,
    transport: &dyn HttpTransport,
    secret: &str,
    policy: &RetryPolicy,
    now: u64,
) {
    let Some(req) = callback_request(tenant, record, secret, now) else {
        return;
    };
    let outcome = match transport.send(req) {
        Ok(resp) if (200..300).contains(&resp.status) => Ok(()),
        Ok(resp) => Err(format!("the ERP answered {}", resp.status)),
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

/// What a sweep did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct SweepReport {
    /// Records looked at.
    pub visited: usize,
    /// Validated records sent to `sign`.
    pub signed: usize,
    /// Records that went through [`deliver_record`].
    pub delivered: usize,
    /// Steps that failed (left for the next sweep).
    pub errors: usize,
    /// Records that became final in this sweep.
    pub finished: usize,
    /// Records still waiting when the sweep stopped (time budget or limit).
    pub remaining: usize,
}

/// Which step a [`Batch`] of the sweep runs.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    /// Validated records, for the `sign` component (which then hands them to `submit`).
    Sign,
    /// Signed, submitted or processing records, for [`deliver_records`].
    Deliver,
}

/// Records of one tenant due for the same step: one unit of sweep work, which the `submit`
/// component hands to another instance so several run at once.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Batch {
    /// The step.
    pub step: Step,
    /// The tenant.
    pub tenant: String,
    /// Record ids, oldest first.
    pub ids: Vec<String>,
}

/// Plans a sweep: every record whose time has come (at most `limit`), grouped by tenant and step
/// into batches of at most `batch_size`. Validated records are leased for [`LEASE_SECS`] as they
/// are planned, so a sweep running at the same time leaves them alone.
pub fn plan_sweep<K: KeyValue>(
    stores: &Stores<K>,
    limit: usize,
    batch_size: usize,
    now: u64,
) -> Result<Vec<Batch>> {
    let repo = Repo::new(stores);
    let mut open: std::collections::BTreeMap<(String, Step), Vec<String>> = Default::default();
    let mut batches = Vec::new();
    for (tenant_id, id) in repo.due(now, limit)? {
        let mut record = match repo.load(&tenant_id, &id) {
            Ok(r) => r,
            Err(Error::NotFound(_)) => {
                stores.work.delete(&format!("{tenant_id}/{id}"))?;
                continue;
            }
            Err(e) => return Err(e),
        };
        let step = if record.status == Status::Validated {
            record.not_before = now + LEASE_SECS;
            repo.save(&record)?;
            Step::Sign
        } else {
            Step::Deliver
        };
        let ids = open.entry((tenant_id.clone(), step)).or_default();
        ids.push(id);
        if ids.len() >= batch_size.max(1) {
            batches.push(Batch {
                step,
                tenant: tenant_id,
                ids: std::mem::take(ids),
            });
        }
    }
    batches.extend(
        open.into_iter()
            .filter(|(_, ids)| !ids.is_empty())
            .map(|((tenant, step), ids)| Batch { step, tenant, ids }),
    );
    Ok(batches)
}

/// [`deliver_record`] for several records of one tenant (one NAP session); one answer per id.
pub fn deliver_records<K: KeyValue>(
    stores: &Stores<K>,
    tenant: &Tenant,
    ids: &[&str],
    nap: &dyn Nap,
    erp: Option<(&dyn HttpTransport, &str)>,
    policy: &RetryPolicy,
    now: u64,
) -> Vec<Result<Record>> {
    ids.iter()
        .map(|id| deliver_record(stores, tenant, id, nap, erp, policy, now))
        .collect()
}

/// The resume sweep, run in this process: every record whose time has come gets its next step,
/// batch after batch ([`plan_sweep`]). `sign` runs the sign step for a batch (through the `sign`
/// component); the rest runs here. Stops when `budget_left` says so.
#[allow(
    clippy::too_many_arguments,
    reason = "the sweep's collaborators, each its own kind"
)]
pub fn sweep<K: KeyValue>(
    stores: &Stores<K>,
    nap: &dyn Nap,
    erp: Option<(&dyn HttpTransport, &str)>,
    sign: &mut dyn FnMut(&str, &[String]) -> Result<()>,
    policy: &RetryPolicy,
    limit: usize,
    now: &dyn Fn() -> u64,
    budget_left: &dyn Fn() -> bool,
) -> Result<SweepReport> {
    let batches = plan_sweep(stores, limit, SWEEP_BATCH, now())?;
    let mut report = SweepReport::default();
    let mut tenants: std::collections::HashMap<String, Tenant> = Default::default();
    for (i, batch) in batches.iter().enumerate() {
        if !budget_left() {
            report.remaining = batches[i..].iter().map(|b| b.ids.len()).sum();
            break;
        }
        report.visited += batch.ids.len();
        match batch.step {
            Step::Sign => {
                report.signed += batch.ids.len();
                if sign(&batch.tenant, &batch.ids).is_err() {
                    report.errors += batch.ids.len();
                }
            }
            Step::Deliver => {
                let tenant = match tenants.get(&batch.tenant) {
                    Some(t) => t.clone(),
                    None => {
                        let t = tenant::load_tenant(&stores.data, &batch.tenant)?;
                        tenants.insert(batch.tenant.clone(), t.clone());
                        t
                    }
                };
                report.delivered += batch.ids.len();
                let ids: Vec<&str> = batch.ids.iter().map(String::as_str).collect();
                for result in deliver_records(stores, &tenant, &ids, nap, erp, policy, now()) {
                    match result {
                        Ok(r) if r.status.is_final() && !r.needs_work() => report.finished += 1,
                        Ok(_) => {}
                        Err(_) => report.errors += 1,
                    }
                }
            }
        }
    }
    Ok(report)
}

/// Records per sweep batch: one QTSP authorisation, one NAP session, one chained call.
pub const SWEEP_BATCH: usize = 25;

/// The key the running sweep holds (see [`sweep_lock`]).
const SWEEP_LOCK: (&str, &str) = ("_ecoc", "sweep");

/// Key of the NAP-outage marker: written when a delivery fails for a reason that may pass.
const NAP_OUTAGE: &str = "nap/outage";

fn mark_nap_outage<K: KeyValue>(stores: &Stores<K>, now: u64) -> Result<()> {
    if stores.data.get(NAP_OUTAGE)?.is_none() {
        stores.data.set(NAP_OUTAGE, now.to_string().as_bytes())?;
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
    if stores.data.get(NAP_OUTAGE)?.is_none() || !nap.reachable() {
        return Ok(0);
    }
    let mut brought = 0;
    for key in stores.work.get_keys()? {
        let due = stores
            .work
            .get(&key)?
            .and_then(|v| String::from_utf8(v).ok()?.parse::<u64>().ok())
            .unwrap_or(0);
        if due > now {
            stores.work.set(&key, now.to_string().as_bytes())?;
            brought += 1;
        }
    }
    stores.data.delete(NAP_OUTAGE)?;
    Ok(brought)
}

/// Whether any record is due at `now` (read-only: an idle sweep writes nothing).
pub fn anything_due<K: KeyValue>(stores: &Stores<K>, now: u64) -> Result<bool> {
    Ok(!Repo::new(stores).due(now, 1)?.is_empty())
}

/// Takes the sweep lock for `run_id` (a [`crate::ids::record_id`]): `false` when another sweep
/// younger than [`crate::gate::STALE_CLAIM_MS`] holds it. Timers and outside schedulers may start
/// sweeps while one runs; only one works at a time.
pub fn sweep_lock<K: KeyValue>(stores: &Stores<K>, run_id: &str) -> Result<bool> {
    match crate::claims::claim(stores, SWEEP_LOCK.0, SWEEP_LOCK.1, run_id) {
        Ok(()) => Ok(true),
        Err(Error::Duplicate { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Gives the sweep lock back.
pub fn sweep_unlock<K: KeyValue>(stores: &Stores<K>, run_id: &str) -> Result<()> {
    crate::claims::release(stores, SWEEP_LOCK.0, SWEEP_LOCK.1, run_id)
}
