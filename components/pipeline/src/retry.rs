//! Retry policy: capped exponential backoff with jitter, and the decision to retry a failed step
//! or fail the record.

use crate::kv::{KeyValue, Stores};
use crate::record::{Failure, Record, Status};
use crate::repo::{Repo, XmlKind};
use crate::{Error, FieldError, Result, Service};

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
    // The NAP refusing the file at upload is the authority's verdict on its content; anything
    // else is ecoc giving up on a file the authority never got.
    record.failure = Some(match error {
        Error::Upstream {
            service: Service::Nap,
            retryable: false,
            ..
        } => Failure::Authority,
        _ => Failure::Technical,
    });
    Ok(())
}

/// `POST /v1/submissions/{id}/retry`: sends a record ecoc gave up on again, as it is (the version
/// does not change for a delivery that failed for technical reasons, setup manual, Header usage).
/// A record the authority refused, or one still on its way, is a 409 that says what to do.
pub fn resend<K: KeyValue>(
    stores: &Stores<K>,
    tenant: &str,
    id: &str,
    actor: &str,
    now: u64,
) -> Result<Record> {
    let repo = Repo::new(stores);
    let mut record = repo.load(tenant, id)?;
    let signed = repo.xml(tenant, id, XmlKind::Signed)?.is_some();
    record.requeue(actor, signed, now)?;
    repo.save(&mut record)?;
    Ok(record)
}
