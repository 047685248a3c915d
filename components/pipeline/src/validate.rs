//! The `validate` step: what a vehicle file must pass before anything is stored or signed.
//!
//! In order: size, schema and rules of the tenant's profile, the tenant's type-approval records, the
//! earlier stage (structural mismatches refuse; drift of masses or dimensions holds), then the
//! duplicate key is claimed and the record is created. A refusal stores nothing.

use ivi::profile::ProfileValidator;
use ivi::xml::{Element, Node};
use ivi::{IVI_NS, Ivi};

use crate::approvals::Approvals;
use crate::calls::{Admitted, Outcome, Source};
use crate::claims;
use crate::keys;
use crate::kv::{KeyValue, Stores};
use crate::record::{Event, LEASE_SECS, Record, Status};
use crate::repo::Repo;
use crate::{Error, FieldError, Result, clock, ids};

/// Largest vehicle file, as the VCA takes it ("each file < 1 MB").
pub const MAX_FILE_BYTES: usize = 999_999;

use dsig::algorithms;
use ivi::model::DSIG_NS;

/// A vehicle file asking to enter the pipeline.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    /// The tenant.
    pub tenant: &'a str,
    /// Who sent it (`token:<name>`).
    pub actor: &'a str,
    /// How it arrived.
    pub source: Source,
    /// The IVI XML (mapped, or uploaded ready).
    pub xml: &'a [u8],
    /// Whether the caller will drive the record on at once (then the sweep waits [`LEASE_SECS`]).
    pub leased: bool,
}

/// A structurally complete XML-DSig `Signature` with zero digest and value. The official schema
/// requires a `Signature`; `sign` replaces this one.
pub fn placeholder_signature() -> Element {
    let ds = |name: &str| Element::new(Some(DSIG_NS), name);
    let with_alg = |name: &str, alg: &str| {
        let mut e = ds(name);
        e.attributes.push(ivi::xml::Attribute {
            ns: None,
            prefix: None,
            name: "Algorithm".into(),
            value: alg.into(),
        });
        e
    };
    let mut reference = ds("Reference");
    reference.attributes.push(ivi::xml::Attribute {
        ns: None,
        prefix: None,
        name: "URI".into(),
        value: String::new(),
    });
    let mut transforms = ds("Transforms");
    transforms
        .children
        .push(Node::Element(with_alg("Transform", algorithms::ENVELOPED)));
    reference.children.push(Node::Element(transforms));
    reference
        .children
        .push(Node::Element(with_alg("DigestMethod", algorithms::SHA256)));
    reference.children.push(Node::Element(Element::with_text(
        Some(DSIG_NS),
        "DigestValue",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    )));
    let mut info = ds("SignedInfo");
    info.children.push(Node::Element(with_alg(
        "CanonicalizationMethod",
        algorithms::EXC_C14N,
    )));
    info.children.push(Node::Element(with_alg(
        "SignatureMethod",
        algorithms::RSA_SHA256,
    )));
    info.children.push(Node::Element(reference));
    let mut signature = ds("Signature");
    signature.children.push(Node::Element(info));
    signature.children.push(Node::Element(Element::with_text(
        Some(DSIG_NS),
        "SignatureValue",
        "AAAA",
    )));
    signature
}

/// Refuses a file the NAP would refuse for its size ("each file < 1 MB").
pub fn check_size(bytes: usize) -> Result<()> {
    if bytes > MAX_FILE_BYTES {
        return Err(Error::TooLarge(format!(
            "the IVI file has {bytes} bytes; the NAP takes files under 1 MB (at most {MAX_FILE_BYTES} bytes)"
        )));
    }
    Ok(())
}

/// Reads an uploaded or mapped file and makes sure it carries a `Signature` (a placeholder when it
/// has none), so the official schema can judge the rest. Returns the tree and its bytes.
pub fn normalise(xml: &[u8]) -> Result<(Element, Vec<u8>)> {
    check_size(xml.len())?;
    let doc = ivi::xml::parse(xml)
        .map_err(|e| Error::Fields(vec![FieldError::new("/", "XML-MALFORMED", e.to_string())]))?;
    let mut root = doc.root;
    if root.ns.as_deref() != Some(IVI_NS) || root.name != "InitialVehicleInformation" {
        return Err(Error::Fields(vec![FieldError::new(
            "/",
            "IVI-ROOT",
            format!(
                "root element `{}` is not InitialVehicleInformation in {IVI_NS}",
                root.name
            ),
        )]));
    }
    let has_signature = root
        .elements()
        .any(|e| e.ns.as_deref() == Some(DSIG_NS) && e.name == "Signature");
    if has_signature {
        return Ok((root, xml.to_vec()));
    }
    root.children.push(Node::Element(placeholder_signature()));
    let bytes = ivi::xml::write(&root).into_bytes();
    Ok((root, bytes))
}

fn schema_errors(report: &ivi::profile::Report) -> Vec<FieldError> {
    let mut out: Vec<FieldError> = report
        .schema
        .iter()
        .map(|d| {
            let at = if d.line > 0 {
                format!(" (line {}, column {})", d.line, d.column)
            } else {
                String::new()
            };
            FieldError::new(
                if d.path.is_empty() {
                    "/"
                } else {
                    d.path.as_str()
                },
                format!("XSD-{}", d.rule),
                format!("{}{at}", d.message),
            )
        })
        .collect();
    out.extend(
        report
            .rules
            .iter()
            .map(|f| FieldError::new(f.field.clone(), f.code, f.message.clone())),
    );
    out
}

/// The earlier stage of the same vehicle on record (highest stage below `stage`, newest version),
/// not counting rejected or failed files.
fn earlier_stage<K: KeyValue>(
    repo: &Repo<'_, K>,
    tenant: &str,
    vin: &str,
    stage: u32,
) -> Result<Option<(Record, Ivi)>> {
    let mut best: Option<Record> = None;
    for id in repo.ids_for_vin(tenant, vin)? {
        let r = repo.load(tenant, &id)?;
        if r.stage >= stage || matches!(r.status, Status::Rejected | Status::Failed) {
            continue;
        }
        if best
            .as_ref()
            .is_none_or(|b| (r.stage, r.version) > (b.stage, b.version))
        {
            best = Some(r);
        }
    }
    let Some(record) = best else { return Ok(None) };
    let (_, xml) = repo.latest_xml(tenant, &record.id)?;
    let ivi = Ivi::from_xml(&xml).map_err(|e| Error::corrupt("earlier stage XML", e))?;
    Ok(Some((record, ivi)))
}

/// Admits a vehicle file: checks everything, claims the duplicate key and creates the record
/// (`validated`, or `held` on drift). Every refusal lists all its reasons and stores nothing.
pub fn admit<K: KeyValue>(
    stores: &Stores<K>,
    checker: &ProfileValidator,
    approvals: &Approvals,
    candidate: Candidate<'_>,
    now_millis: u64,
) -> Result<Record> {
    let now = now_millis / 1000;
    let (root, xml) = normalise(candidate.xml)?;
    let report = checker.check(&xml);
    let mut errors = schema_errors(&report);
    if !errors.is_empty() {
        return Err(Error::Fields(errors));
    }
    let ivi = Ivi::from_element(&root)
        .map_err(|e| Error::Fields(vec![FieldError::new("/", "IVI-MODEL", e.to_string())]))?;
    if approvals.approvals.is_empty() {
        return Err(Error::Fields(vec![FieldError::new(
            "CocDataGroup/TypeApprovalNumber",
            "APR-NONE",
            "the tenant has no type-approval records yet: a primary user sets them with PUT /v1/tenant/approvals",
        )]));
    }
    errors.extend(approvals.check(&root));
    let key = ivi.duplicate_key();
    let repo = Repo::new(stores);
    let mut drift = Vec::new();
    let mut earlier_note = None;
    if key.stage > 1 {
        match earlier_stage(&repo, candidate.tenant, &key.vin, key.stage)? {
            Some((earlier, earlier_ivi)) => {
                for f in ivi::rules::check_stage_pair(&earlier_ivi, &ivi) {
                    let e = FieldError::new(f.field, f.code, f.message);
                    if f.code.starts_with("IVI-DRF") {
                        drift.push(e);
                    } else {
                        errors.push(e);
                    }
                }
                earlier_note = Some(format!(
                    "earlier stage {} on record as {}",
                    earlier.stage, earlier.id
                ));
            }
            None => earlier_note = Some("no earlier stage on record: drift not checked".into()),
        }
    }
    if !errors.is_empty() {
        return Err(Error::Fields(errors));
    }
    let id = ids::record_id(now_millis)?;
    let dup = keys::duplicate_key(&key.vin, key.version, key.stage);
    // A key holder whose record does not exist was written by an admission that crashed between
    // its claim and its record (or is being admitted right now): after claims::STALE_CLAIM_MS it no longer
    // blocks the key.
    let live = |holder: &str| -> Result<bool> {
        Ok(repo.exists(candidate.tenant, holder)? || claims::young(holder, now_millis))
    };
    claims::claim_with(stores, candidate.tenant, &dup, &id, &live)?;
    let at = clock::rfc3339(now);
    let event = |actor: &str, status, note: Option<String>| Event {
        at: at.clone(),
        actor: actor.to_owned(),
        status,
        note,
    };
    let held = !drift.is_empty();
    let mut events = vec![
        event(
            candidate.actor,
            Status::Received,
            Some(format!("via {}", candidate.source.as_str())),
        ),
        event("map", Status::Mapped, None),
    ];
    events.push(if held {
        event(
            "validate",
            Status::Held,
            Some(format!(
                "{} drift finding(s): waits for sign-off by a primary user",
                drift.len()
            )),
        )
    } else {
        event("validate", Status::Validated, earlier_note)
    });
    let record = Record {
        id: id.clone(),
        tenant: candidate.tenant.to_owned(),
        vin: key.vin.clone(),
        version: key.version,
        stage: key.stage,
        reference_id: ivi.header.ivi_reference_id.clone(),
        approval_number: ivi.coc.type_approval_number.clone(),
        category: ivi.coc.vehicle_category.as_str().to_owned(),
        source: candidate.source.as_str().to_owned(),
        status: if held {
            Status::Held
        } else {
            Status::Validated
        },
        created_at: at.clone(),
        updated_at: at.clone(),
        events,
        errors: Vec::new(),
        drift,
        receipt: None,
        attempts: 0,
        not_before: if candidate.leased {
            now + LEASE_SECS
        } else {
            0
        },
        callback: None,
        failure: None,
    };
    if let Err(e) = repo.create(&record, &xml) {
        // Give the key back so the ERP can simply retry.
        let _ = claims::release(stores, candidate.tenant, &dup, &id);
        return Err(e);
    }
    Ok(record)
}

/// `POST /v1/submissions/{id}/sign-off`: a primary user releases a held record.
pub fn sign_off<K: KeyValue>(
    stores: &Stores<K>,
    tenant: &str,
    id: &str,
    actor: &str,
    now: u64,
) -> Result<Record> {
    let repo = Repo::new(stores);
    let mut record = repo.load(tenant, id)?;
    if record.status != Status::Held {
        return Err(Error::Conflict(format!(
            "submission {id} is {}, not held: only held submissions need a sign-off",
            record.status.as_str()
        )));
    }
    let findings: Vec<&str> = record.drift.iter().map(|d| d.code.as_str()).collect();
    let note = format!("signed off despite {}", findings.join(", "));
    record.advance(Status::Validated, actor, Some(note), now)?;
    record.not_before = now + LEASE_SECS;
    repo.save(&record)?;
    Ok(record)
}

/// Admits every file of a batch against one compiled schema: one outcome per file, in order (a
/// refusal of one file does not stop the others).
pub fn admit_all<K: KeyValue>(
    stores: &Stores<K>,
    checker: &ProfileValidator,
    approvals: &Approvals,
    base: Candidate<'_>,
    items: &[String],
    now_millis: &dyn Fn() -> u64,
) -> Admitted {
    let results = items
        .iter()
        .map(|xml| {
            let candidate = Candidate {
                xml: xml.as_bytes(),
                ..base
            };
            let admitted = admit(stores, checker, approvals, candidate, now_millis());
            Outcome::from(admitted.map(|r| r.to_view()))
        })
        .collect();
    Admitted { results }
}
