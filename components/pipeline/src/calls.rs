//! The contracts between the steps: one type per request that crosses a component boundary, with
//! the step and path it goes to and the type of its answer ([`Call`]). `spin_glue::call` sends any
//! of them to `http://<step>.spin.internal<path>` and gives back the answer, or the very error the
//! other step raised ([`crate::Error::from_answer`]).
//!
//! ```text
//! map ──Admit / AdmitBatch──> validate
//! map, status ──Sign──> sign ──Deliver──> submit
//! map (admin), host timer ──Sweep──> submit ──Sign / Deliver (per batch)──> sign, submit
//! map (admin), host timer ──Digest──> notify
//! validate ──Retrieve──> submit (an earlier stage's eCoC, from the authority)
//! ```
//!
//! The host's timers post `{"timer", "scheduled_for"}` to `/sweep` and `/digest`: the request types
//! there ignore fields they do not know.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::ErrorBody;
use crate::record::RecordView;
use crate::{Error, Result};

/// A request one step makes of another.
pub trait Call: Serialize {
    /// The answer on success.
    type Answer: Serialize + DeserializeOwned;
    /// The component that answers it (`http://<STEP>.spin.internal`).
    const STEP: &'static str;
    /// Its private route.
    const PATH: &'static str;
}

/// How a vehicle file arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// One ERP record (`POST /v1/vehicles`), mapped.
    Json,
    /// A CSV row (`POST /v1/batches`), mapped.
    Csv,
    /// A ready IVI file (`POST /v1/ivi`).
    Ivi,
}

impl Source {
    /// Its name in the record and its timeline.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Csv => "csv",
            Self::Ivi => "ivi",
        }
    }
}

/// `submit` `POST /retrieve`: an earlier stage's eCoC of a vehicle, from the authority the tenant
/// delivers to (VCA Phase 2 retrieval, an EU NAP's retrieval), its signature verified. Answers
/// [`Retrieved`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retrieve {
    /// The tenant asking (its accounts are used).
    pub tenant: String,
    /// `VehicleIdentificationNumber`.
    pub vin: String,
    /// The stage wanted.
    pub stage: u32,
}

impl Call for Retrieve {
    type Answer = Retrieved;
    const STEP: &'static str = "submit";
    const PATH: &'static str = "/retrieve";
}

/// What the authority holds of a stage: the file, or nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retrieved {
    /// The signed file, when the authority holds one.
    pub file: Option<RetrievedFile>,
    /// Where ecoc looked (destinations asked), for the record's timeline.
    pub asked: Vec<String>,
}

/// An earlier stage's eCoC as the authority gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetrievedFile {
    /// The signed IVI XML.
    pub xml: String,
    /// Where it came from: `<destination>: submission <id>, signed by <subject>`.
    pub source: String,
}

/// `validate` `POST /admit`: one file asks to enter the pipeline. Answers the new record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Admit {
    /// The tenant.
    pub tenant: String,
    /// Who sent it (`token:<name>`).
    pub actor: String,
    /// How it arrived.
    pub source: Source,
    /// The IVI XML.
    pub xml: String,
    /// Whether the caller drives the record on at once (the sweep then waits its lease).
    pub leased: bool,
}

impl Call for Admit {
    type Answer = RecordView;
    const STEP: &'static str = "validate";
    const PATH: &'static str = "/admit";
}

/// `validate` `POST /admit-batch`: many files of one tenant, one schema compile. One outcome per
/// item, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdmitBatch {
    /// The tenant.
    pub tenant: String,
    /// Who sent them.
    pub actor: String,
    /// How they arrived.
    pub source: Source,
    /// The IVI XML of each file.
    pub items: Vec<String>,
    /// As in [`Admit`].
    pub leased: bool,
}

/// The answer to [`AdmitBatch`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Admitted {
    /// One outcome per item.
    pub results: Vec<Outcome<RecordView>>,
}

impl Call for AdmitBatch {
    type Answer = Admitted;
    const STEP: &'static str = "validate";
    const PATH: &'static str = "/admit-batch";
}

/// `validate` `POST /check`: every check an upload of `xml` would meet, storing nothing (the
/// mapping preview). Answers [`Checked`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// The tenant.
    pub tenant: String,
    /// The IVI XML.
    pub xml: String,
}

/// What an upload would meet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checked {
    /// `validated`, `held` (drift: waits for a sign-off), `resent` (the same data as a record
    /// ecoc gave up on: that record would go on) or `refused`.
    pub outcome: String,
    /// Why it would be refused: every finding.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<crate::FieldError>,
    /// Why it would be held.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<crate::FieldError>,
    /// Notes: the earlier stage found, warnings of rules without an official source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Call for Check {
    type Answer = Checked;
    const STEP: &'static str = "validate";
    const PATH: &'static str = "/check";
}

/// Records of one tenant for a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordIds {
    /// The tenant.
    pub tenant: String,
    /// Record ids.
    pub ids: Vec<String>,
}

/// `sign` `POST /sign`: signs the validated records among `ids` (one QTSP session), verifies each
/// signature, hands the signed ones to `submit`. Answers every record as it then stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sign(pub RecordIds);

impl Call for Sign {
    type Answer = Records;
    const STEP: &'static str = "sign";
    const PATH: &'static str = "/sign";
}

/// `submit` `POST /deliver`: gives each record its next delivery step (submit to the NAP, poll,
/// write back to the ERP). Answers every record as it then stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Deliver(pub RecordIds);

impl Call for Deliver {
    type Answer = Records;
    const STEP: &'static str = "submit";
    const PATH: &'static str = "/deliver";
}

/// The answer to [`Sign`] and [`Deliver`]: one outcome per id, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Records {
    /// One outcome per id.
    pub records: Vec<Outcome<RecordView>>,
}

impl Records {
    /// One outcome per step result, in order.
    pub fn from_results(results: Vec<Result<crate::record::Record>>) -> Self {
        Self {
            records: results
                .into_iter()
                .map(|r| Outcome::from(r.map(|r| r.to_view())))
                .collect(),
        }
    }

    /// Records that are final and need nothing more (not even the ERP write-back).
    pub fn finished(&self) -> usize {
        self.records
            .iter()
            .filter(|r| {
                matches!(r, Outcome::Ok(view) if view.record.status.is_final() && !view.record.needs_work())
            })
            .count()
    }
}

/// `submit` `POST /sweep`: the resume sweep ([`crate::sweep::run`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sweep {}

impl Call for Sweep {
    type Answer = SweepReport;
    const STEP: &'static str = "submit";
    const PATH: &'static str = "/sweep";
}

/// What a sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepReport {
    /// Another sweep was running: this one did nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub busy: bool,
    /// Records looked at.
    pub visited: usize,
    /// Validated records sent to `sign`.
    pub signed: usize,
    /// Records sent to `submit`'s delivery step.
    pub delivered: usize,
    /// Steps that failed (left for the next sweep).
    pub errors: usize,
    /// Records that became final in this sweep.
    pub finished: usize,
    /// Records still waiting when the sweep stopped (time budget or limit).
    pub remaining: usize,
    /// What the same tick did to the audit trail ([`crate::audit::chain`]).
    #[serde(default)]
    pub audit: crate::audit::ChainReport,
    /// What the same tick folded into the VIN index ([`crate::vin_index::fold`]).
    #[serde(default)]
    pub index: crate::vin_index::FoldReport,
}

/// `notify` `POST /digest`: sends each tenant's digest of `date`'s failures once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digest {
    /// `YYYY-MM-DD`; today (UTC) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
}

impl Call for Digest {
    type Answer = DigestReport;
    const STEP: &'static str = "notify";
    const PATH: &'static str = "/digest";
}

/// What a digest run did, per tenant: `sent`, `already_sent`, `no_recipients` or `error: ...`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestReport {
    /// The day.
    pub date: String,
    /// Per tenant id.
    pub tenants: std::collections::BTreeMap<String, String>,
    /// Entries of the `failures` index dropped for being older than it keeps
    /// ([`crate::repo::FAILURES_KEPT_DAYS`]).
    #[serde(default)]
    pub pruned: usize,
    /// Marks of used webhook signatures dropped for being older than any replay window
    /// ([`crate::tenant::prune_webhook_marks`]).
    #[serde(default)]
    pub webhooks_pruned: usize,
}

/// The outcome of one item of a many-item call: its answer, or its error as the step raised it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome<T> {
    /// It worked.
    Ok(T),
    /// It was refused or failed.
    Err(ErrorBody),
}

impl<T> Outcome<T> {
    /// The item's result, its error as raised.
    pub fn into_result(self) -> Result<T> {
        match self {
            Self::Ok(v) => Ok(v),
            Self::Err(body) => Err(Error::from_body(0, body)),
        }
    }
}

impl<T> From<Result<T>> for Outcome<T> {
    fn from(result: Result<T>) -> Self {
        match result {
            Ok(v) => Self::Ok(v),
            Err(e) => Self::Err(e.to_body()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn timer_ticks_read_as_sweep_and_digest_requests() {
        let tick = br#"{"timer":"submit/sweep","scheduled_for":"2026-12-02T18:00:00Z"}"#;
        assert_eq!(serde_json::from_slice::<Sweep>(tick).unwrap(), Sweep {});
        assert_eq!(
            serde_json::from_slice::<Digest>(tick).unwrap(),
            Digest::default()
        );
    }

    #[test]
    fn outcomes_keep_the_error_as_raised() {
        let refused: Outcome<RecordView> = Err(Error::Forbidden("no".into())).into();
        let wire = serde_json::to_string(&refused).unwrap();
        let back: Outcome<RecordView> = serde_json::from_str(&wire).unwrap();
        let e = back.into_result().unwrap_err();
        assert_eq!(
            (e.status(), e.code(), e.to_string()),
            (403, "forbidden", "no".into())
        );
    }

    #[test]
    fn admissions_refuse_fields_they_do_not_know() {
        let body = r#"{"tenant":"acme","actor":"token:a","source":"json","xml":"<x/>","leased":true,"extra":1}"#;
        assert!(serde_json::from_str::<Admit>(body).is_err());
    }
}
