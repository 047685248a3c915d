//! A record: one vehicle file (VIN + version + stage) on its way to the NAP, with its state machine
//! and timeline.

use crate::{Error, FieldError, Result, clock, keys};

/// How long the step that took a record on (its admission, a sign-off, a sweep's plan, a signature)
/// has before the resume sweep may take it over (seconds).
pub const LEASE_SECS: u64 = 45;

/// Where a record is. Users see beside it [`Record::status_name`]: the VCA's name once the NAP
/// holds the file, a name of ours before.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Accepted from the ERP.
    Received,
    /// Turned into IVI XML by the tenant's mapping.
    Mapped,
    /// Schema, rules, approvals and the duplicate key passed.
    Validated,
    /// A later stage left the earlier stage's masses or dimensions: waits for a primary's sign-off.
    Held,
    /// Signed through the QTSP and verified.
    Signed,
    /// Accepted by the NAP (it answered with a submission id).
    Submitted,
    /// The NAP is processing it.
    Processing,
    /// The NAP accepted it: final.
    Succeeded,
    /// The NAP refused it, or a step gave up after its retries: final.
    Failed,
    /// Refused before signing (validation or duplicate): final.
    Rejected,
}

impl Status {
    /// Every status, in pipeline order.
    pub const ALL: [Status; 10] = [
        Self::Received,
        Self::Mapped,
        Self::Validated,
        Self::Held,
        Self::Signed,
        Self::Submitted,
        Self::Processing,
        Self::Succeeded,
        Self::Failed,
        Self::Rejected,
    ];

    /// Our name (`held`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Mapped => "mapped",
            Self::Validated => "validated",
            Self::Held => "held",
            Self::Signed => "signed",
            Self::Submitted => "submitted",
            Self::Processing => "processing",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Rejected => "rejected",
        }
    }

    /// Whether nothing more happens to the record's status.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Rejected)
    }

    /// Whether `self -> to` is a step of the state machine.
    fn can_go(self, to: Status) -> bool {
        use Status::*;
        matches!(
            (self, to),
            (Received, Mapped)
                | (Mapped, Validated | Held | Rejected)
                | (Held, Validated | Rejected)
                | (Validated, Signed | Failed)
                | (Signed, Submitted | Failed)
                | (Submitted, Processing | Succeeded | Failed)
                | (Processing, Succeeded | Failed)
        )
    }
}

impl std::str::FromStr for Status {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let lower = s.to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == lower)
            .ok_or_else(|| {
                Error::BadRequest(format!(
                    "unknown status `{s}` (one of received, mapped, validated, held, signed, submitted, processing, succeeded, failed, rejected)"
                ))
            })
    }
}

/// One entry of a record's timeline.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Event {
    /// When (RFC 3339 UTC).
    pub at: String,
    /// Who: `token:<name>`, `map`, `validate`, `sign`, `submit`, `nap`, `sweep`.
    pub actor: String,
    /// The status after the event.
    pub status: Status,
    /// What happened, in words (a reason, a submission id, an attempt number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Event {
    /// Another event at the same time as this one (the steps of one admission).
    pub fn at_step(&self, actor: &str, status: Status, note: Option<String>) -> Self {
        Self {
            at: self.at.clone(),
            actor: actor.to_owned(),
            status,
            note,
        }
    }
}

/// The NAP's receipt.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Receipt {
    /// The NAP's submission id.
    pub submission_id: String,
    /// The NAP's last status (`Received`, `Processing`, `Succeeded`, `Failed`).
    pub status: String,
    /// The NAP's reason when Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The account it was delivered under: `<destination> as <client id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

/// Why a record failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Failure {
    /// The authority refused the file (the NAP answered Failed, or refused it at upload): the
    /// content must be corrected.
    Authority,
    /// ecoc gave up (retries spent on an outage, a signature that did not verify): the file never
    /// reached the authority, and may be sent again as it is.
    Technical,
}

/// Write-back to the ERP of the record's final status.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Callback {
    /// Delivered (the ERP answered 2xx), or given up.
    pub done: bool,
    /// Attempts made.
    pub attempts: u32,
    /// Last failure, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// One vehicle file on its way to the NAP.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Record {
    /// Record id ([`crate::ids::record_id`]).
    pub id: String,
    /// Tenant.
    pub tenant: String,
    /// `VehicleIdentificationNumber`.
    pub vin: String,
    /// `IviVersionNumber`.
    pub version: u32,
    /// `ManufacturerStageNumber` of this file.
    pub stage: u32,
    /// `IviReferenceId`.
    pub reference_id: String,
    /// `TypeApprovalNumber`.
    pub approval_number: String,
    /// `VehicleCategory`.
    pub category: String,
    /// `json`, `csv` or `ivi`: how it arrived.
    pub source: String,
    /// Where it is.
    pub status: Status,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Last change (RFC 3339).
    pub updated_at: String,
    /// Timeline, oldest first.
    pub events: Vec<Event>,
    /// Why it was rejected or failed (validation findings, the NAP's reason, the last upstream error).
    #[serde(default)]
    pub errors: Vec<FieldError>,
    /// Drift findings that put it on hold.
    #[serde(default)]
    pub drift: Vec<FieldError>,
    /// The NAP's receipt, once submitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<Receipt>,
    /// Failed attempts of the current step.
    #[serde(default)]
    pub attempts: u32,
    /// Unix seconds before which the sweep leaves the record alone (a step in flight, or a backoff).
    #[serde(default)]
    pub not_before: u64,
    /// ERP write-back state, once final.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<Callback>,
    /// Why it failed, once `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// The record the authority refused that this one sends again, corrected, under the same
    /// version (a refused file never entered the authority's database).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
    /// SHA-256 (hex) of the upload as it arrived, for a rejected record: which payload was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_sha256: Option<String>,
    /// Who signed it: the tenant's signer (`<qtsp>/<credential>`, or `deployment/<credential>`
    /// for the deployment's shared one) and the certificate's subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<String>,
    /// The tenant's destination the file goes to (its id in the tenant's `destinations`);
    /// absent: the deployment's shared NAP account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// The records of the same file for the tenant's other destinations (one upload, one record
    /// per destination: each its own signature, receipt and status).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub siblings: Vec<String>,
    /// How many of `events` are queued for the audit trail ([`crate::audit`]).
    #[serde(default)]
    pub audited: u32,
}

impl Record {
    /// The duplicate key as stored: `VIN/version/stage`.
    pub fn duplicate_key(&self) -> String {
        keys::destination_key(
            &self.vin,
            self.version,
            self.stage,
            self.destination.as_deref(),
        )
    }

    /// Moves to `to`, recording the event. Returns `false` (and changes nothing) when the record is
    /// already at `to` or past it on the way (a retried step). Refuses a step the state machine does
    /// not have, and any change of a final status.
    pub fn advance(
        &mut self,
        to: Status,
        actor: &str,
        note: Option<String>,
        now: u64,
    ) -> Result<bool> {
        if self.status == to {
            return Ok(false);
        }
        if self.status.is_final() || !self.status.can_go(to) {
            // Already beyond `to` on the normal path (e.g. `signed` asked of a submitted record).
            if !self.status.is_final() && !to.is_final() && self.status > to && to != Status::Held {
                return Ok(false);
            }
            return Err(Error::Conflict(format!(
                "record {} is {}; it cannot become {}",
                self.id,
                self.status.as_str(),
                to.as_str()
            )));
        }
        self.status = to;
        self.attempts = 0;
        self.not_before = 0;
        self.touch(actor, note, now);
        Ok(true)
    }

    /// Puts a record ecoc gave up on back on its way, as it is (a technical resend: the version
    /// does not change, setup manual, Header usage): to `signed` when its signed file is kept,
    /// else to `validated`. Refuses any other record, saying what to do instead.
    pub fn requeue(&mut self, actor: &str, signed: bool, now: u64) -> Result<()> {
        match (self.status, self.failure) {
            (Status::Failed, Some(Failure::Technical)) => {}
            (Status::Failed, _) => {
                return Err(Error::Conflict(format!(
                    "submission {} was refused by the authority ({}): it never entered its database; \
                     send the corrected data again (same IviVersionNumber, new IviReferenceId)",
                    self.id,
                    self.errors
                        .last()
                        .map_or("no reason given", |e| e.message.as_str())
                )));
            }
            (status, _) => {
                return Err(Error::Conflict(format!(
                    "submission {} is {} ({}): only a submission ecoc gave up on can be sent again",
                    self.id,
                    status.as_str(),
                    self.status_name()
                )));
            }
        }
        self.status = if signed {
            Status::Signed
        } else {
            Status::Validated
        };
        self.failure = None;
        self.attempts = 0;
        // A validated record is leased to the caller, who signs it at once; a signed one is the
        // sweep's at its next tick.
        self.not_before = if signed { 0 } else { now + LEASE_SECS };
        self.touch(
            actor,
            Some("sent again as it is (same version): it failed for a technical reason".into()),
            now,
        );
        Ok(())
    }

    /// The NAP answered that it does not know the submission it accepted (it lost it): the same
    /// signed file goes again, under the same version, at the next delivery. The NAP's own
    /// duplicate refusal still catches a file it did keep after all.
    pub fn redeliver(&mut self, why: &str, now: u64) {
        let lost = self
            .receipt
            .take()
            .map_or_else(String::new, |r| r.submission_id);
        self.status = Status::Signed;
        self.not_before = 0;
        self.touch(
            "nap",
            Some(format!(
                "the NAP lost submission {lost} ({why}): delivering the same file again, same version"
            )),
            now,
        );
    }

    /// Records an event that does not change the status (a retry, a NAP status seen again).
    pub fn note(&mut self, actor: &str, note: String, now: u64) {
        self.touch(actor, Some(note), now);
    }

    fn touch(&mut self, actor: &str, note: Option<String>, now: u64) {
        let at = clock::rfc3339(now);
        self.events.push(Event {
            at: at.clone(),
            actor: actor.to_owned(),
            status: self.status,
            note,
        });
        self.updated_at = at;
    }

    /// Whether the record still needs the pipeline (or the ERP write-back).
    pub fn needs_work(&self) -> bool {
        match self.status {
            Status::Held => false,
            s if s.is_final() => self.callback.as_ref().is_some_and(|c| !c.done),
            _ => true,
        }
    }

    /// The VCA portal's name of the record's status, from the moment the NAP holds the file
    /// (Received, Processing, Succeeded, Failed); `None` before, and for a file that never got
    /// there.
    pub fn vca_status(&self) -> Option<&'static str> {
        match self.status {
            Status::Submitted => Some("Received"),
            Status::Processing => Some("Processing"),
            Status::Succeeded => Some("Succeeded"),
            Status::Failed if self.failure == Some(Failure::Authority) => Some("Failed"),
            _ => None,
        }
    }

    /// The status as users see it: the VCA's name once the NAP holds the file, else ours:
    /// `Pending` (on its way: validated, signed, retrying), `Held` (waits for a sign-off),
    /// `Rejected` (refused before signing), `Not delivered` (ecoc gave up on an outage).
    pub fn status_name(&self) -> &'static str {
        self.vca_status().unwrap_or(match self.status {
            Status::Held => "Held",
            Status::Rejected => "Rejected",
            Status::Failed => "Not delivered",
            _ => "Pending",
        })
    }

    /// The record as users see it: ours plus [`Record::status_name`] and [`Record::vca_status`].
    pub fn to_view(&self) -> RecordView {
        RecordView {
            record: self.clone(),
        }
    }
}

/// A record as users and the other steps see it: every field of the [`Record`] but the sweep's
/// schedule (`not_before`), plus `status_name` and, once the NAP holds the file, `vca_status`
/// ([`Record::status_name`], [`Record::vca_status`]). Reads back with
/// `not_before` 0.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct RecordView {
    /// The record.
    #[serde(flatten)]
    pub record: Record,
}

impl serde::Serialize for RecordView {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut value = serde_json::to_value(&self.record).map_err(serde::ser::Error::custom)?;
        if let Some(map) = value.as_object_mut() {
            map.remove("not_before");
            map.remove("audited");
            map.insert(
                "status_name".into(),
                self.record.status_name().to_owned().into(),
            );
            if let Some(vca) = self.record.vca_status() {
                map.insert("vca_status".into(), vca.into());
            }
        }
        value.serialize(serializer)
    }
}

#[cfg(test)]
pub(crate) fn sample(id: &str, vin: &str) -> Record {
    Record {
        id: id.into(),
        tenant: "acme".into(),
        vin: vin.into(),
        version: 1,
        stage: 1,
        reference_id: "ref".into(),
        approval_number: "e4*2018/858*00123*01".into(),
        category: "M1".into(),
        source: "json".into(),
        status: Status::Received,
        created_at: clock::rfc3339(0),
        updated_at: clock::rfc3339(0),
        events: Vec::new(),
        errors: Vec::new(),
        drift: Vec::new(),
        receipt: None,
        attempts: 0,
        not_before: 0,
        callback: None,
        failure: None,
        audited: 0,
        replaces: None,
        payload_sha256: None,
        signed_by: None,
        destination: None,
        siblings: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn state_machine_is_idempotent_and_strict() {
        let mut r = sample("r1", "WVWZZZ1JZXW000001");
        assert!(r.advance(Status::Mapped, "map", None, 1).unwrap());
        assert!(r.advance(Status::Validated, "validate", None, 2).unwrap());
        assert!(!r.advance(Status::Validated, "validate", None, 3).unwrap());
        assert!(r.advance(Status::Signed, "sign", None, 4).unwrap());
        assert!(
            r.advance(Status::Submitted, "submit", Some("id 1".into()), 5)
                .unwrap()
        );
        // A retried sign step after submission is a no-op, not an error.
        assert!(!r.advance(Status::Signed, "sign", None, 6).unwrap());
        assert!(r.advance(Status::Succeeded, "nap", None, 7).unwrap());
        assert!(r.advance(Status::Failed, "nap", None, 8).is_err());
        assert_eq!(r.events.len(), 5);
        assert_eq!(r.vca_status(), Some("Succeeded"));
        let mut held = sample("r2", "WVWZZZ1JZXW000001");
        held.advance(Status::Mapped, "map", None, 1).unwrap();
        held.advance(Status::Held, "validate", None, 1).unwrap();
        assert!(!held.needs_work());
        assert!(held.advance(Status::Signed, "sign", None, 2).is_err());
        assert!(
            held.advance(Status::Validated, "token:boss", None, 2)
                .unwrap()
        );
        assert!(held.needs_work());
        assert_eq!("FAILED".parse::<Status>().unwrap(), Status::Failed);
    }

    #[test]
    fn a_lost_submission_goes_back_to_signed_for_the_same_file() {
        let mut r = sample("r1", "WVWZZZ1JZXW000001");
        for (to, at) in [
            (Status::Mapped, 1),
            (Status::Validated, 2),
            (Status::Signed, 3),
        ] {
            r.advance(to, "step", None, at).unwrap();
        }
        r.advance(Status::Submitted, "submit", None, 4).unwrap();
        r.receipt = Some(Receipt {
            submission_id: "s-1".into(),
            status: "Received".into(),
            reason: None,
            account: None,
        });
        r.not_before = 99;
        r.redeliver("status of s-1 answered 404", 5);
        assert_eq!(
            (r.status, r.receipt.is_none(), r.not_before),
            (Status::Signed, true, 0)
        );
        assert!(r.needs_work());
        let note = r.events.last().unwrap().note.clone().unwrap();
        assert!(
            note.contains("lost submission s-1") && note.contains("same version"),
            "{note}"
        );
        // Delivered again, it goes on as before.
        assert!(r.advance(Status::Submitted, "submit", None, 6).unwrap());
    }

    /// The VCA's names only once the NAP holds the file; ours before, and for a file it never got.
    #[test]
    fn statuses_are_named_honestly() {
        let mut r = sample("r1", "WVWZZZ1JZXW000001");
        for (status, failure, vca, name) in [
            (Status::Validated, None, None, "Pending"),
            (Status::Signed, None, None, "Pending"),
            (Status::Held, None, None, "Held"),
            (Status::Rejected, None, None, "Rejected"),
            (Status::Submitted, None, Some("Received"), "Received"),
            (Status::Processing, None, Some("Processing"), "Processing"),
            (Status::Succeeded, None, Some("Succeeded"), "Succeeded"),
            (
                Status::Failed,
                Some(Failure::Authority),
                Some("Failed"),
                "Failed",
            ),
            (
                Status::Failed,
                Some(Failure::Technical),
                None,
                "Not delivered",
            ),
        ] {
            r.status = status;
            r.failure = failure;
            assert_eq!((r.vca_status(), r.status_name()), (vca, name), "{status:?}");
        }
        let view = serde_json::to_value(r.to_view()).unwrap();
        assert!(view.get("vca_status").is_none(), "{view}");
    }

    #[test]
    fn the_view_hides_the_schedule_and_names_the_vca_status() {
        let mut r = sample("r1", "WVWZZZ1JZXW000001");
        r.status = Status::Submitted;
        r.not_before = 99;
        let json = serde_json::to_value(r.to_view()).unwrap();
        assert_eq!(
            (json["vca_status"].as_str(), json["status_name"].as_str()),
            (Some("Received"), Some("Received"))
        );
        assert!(json.get("not_before").is_none());
        let back: RecordView = serde_json::from_value(json).unwrap();
        assert_eq!((back.record.id.as_str(), back.record.not_before), ("r1", 0));
    }
}
