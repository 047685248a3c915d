//! The `validate` step: what a vehicle file must pass before anything is stored or signed.
//!
//! In order: size, schema and rules of the tenant's profile, the tenant's type-approval records, the
//! earlier stage (structural mismatches refuse; drift of masses or dimensions holds), then the
//! duplicate key is claimed and the record is created. A refusal stores nothing.

use ivi::profile::ProfileValidator;
use ivi::xml::{Element, Node};
use ivi::{IVI_NS, Ivi};

use crate::approvals::Approvals;
use crate::calls::{Admitted, Checked, Outcome, Retrieved, Source};
use crate::claims;
use crate::identity::{self, Target};
use crate::keys;
use crate::kv::{KeyValue, Stores};
use crate::record::{Event, Failure, LEASE_SECS, Record, Status};
use crate::repo::Repo;
use crate::repo::XmlKind;
use crate::tenant::Tenant;
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
    /// Where an earlier stage that is not on the tenant's own record is looked up; `None`: nowhere
    /// (a later stage without its earlier one on record is then held).
    pub authority: Option<Authority<'a>>,
    /// The compiled schema of the other profile, for a tenant whose routing table sends files to
    /// destinations of both (the VCA takes `uk`, an EU NAP `eu`); `None` when it routes to one kind.
    pub also: Option<&'a ProfileValidator>,
}

/// Asks the authority for an earlier stage of a vehicle (VIN, stage): in the functions, `submit`'s
/// `/retrieve` ([`crate::retrieval`]), through the tenant's own destinations.
#[derive(Clone, Copy)]
pub struct Authority<'a>(pub &'a dyn Fn(&str, u32) -> Result<Retrieved>);

impl std::fmt::Debug for Authority<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Authority")
    }
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
    // Rules without an official source are warnings: noted on the record, never a refusal.
    out.extend(
        report
            .rules
            .iter()
            .filter(|f| f.is_error())
            .map(|f| FieldError::new(f.field.clone(), f.code, f.message.clone())),
    );
    out
}

/// The rules' warnings of a report, as one note for the record's timeline.
fn warnings_note(report: &ivi::profile::Report) -> Option<String> {
    let warnings: Vec<String> = report
        .rules
        .iter()
        .filter(|f| !f.is_error())
        .map(|f| format!("{} {}: {}", f.code, f.field, f.message))
        .collect();
    (!warnings.is_empty()).then(|| {
        format!(
            "warnings (no official source, not refused): {}",
            warnings.join("; ")
        )
    })
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

/// An earlier stage the authority gave, and where it came from; or why the later stage is held
/// instead (a code and the reason).
type FromAuthority = std::result::Result<(Ivi, String), (&'static str, String)>;

/// An earlier stage from the authority (see [`FromAuthority`]). A file the authority gives that
/// is not IVI 2.0 refuses.
fn from_authority(
    authority: Option<Authority<'_>>,
    vin: &str,
    previous: u32,
) -> Result<FromAuthority> {
    let Some(authority) = authority else {
        return Ok(Err((
            "STAGE-MISSING",
            format!("stage {previous} of VIN {vin} is not on record, and no authority was asked"),
        )));
    };
    match (authority.0)(vin, previous) {
        Ok(Retrieved {
            file: Some(file), ..
        }) => {
            let ivi = Ivi::from_xml(file.xml.as_bytes()).map_err(|e| {
                Error::Fields(vec![FieldError::new(
                    "CocDataGroup/VehicleIdentificationNumber",
                    "STAGE-UNREADABLE",
                    format!(
                        "the stage {previous} eCoC the authority holds ({}) is not IVI 2.0: {e}",
                        file.source
                    ),
                )])
            })?;
            Ok(Ok((ivi, file.source)))
        }
        Ok(Retrieved { file: None, asked }) => Ok(Err((
            "STAGE-MISSING",
            format!(
                "stage {previous} of VIN {vin} is neither on record nor at the authority (asked: {})",
                if asked.is_empty() {
                    "none".to_owned()
                } else {
                    asked.join(", ")
                }
            ),
        ))),
        Err(e) => Ok(Err((
            "STAGE-UNCHECKED",
            format!("stage {previous} of VIN {vin} could not be had from the authority: {e}"),
        ))),
    }
}

/// Who holds a file's duplicate key (VIN + version + stage), and what that means for the file.
enum KeyHolder {
    /// Nobody (or a claim that no longer counts): the file is new.
    Free,
    /// A record the authority refused: it never entered the authority's database, so the
    /// corrected data comes again under the same version, as a new record linked to it.
    Refused(String),
    /// A record ecoc gave up on (an outage), and this is the same data: a technical resend.
    Resend(Box<Record>),
}

/// Reads the key's holder; refuses (409) a file whose key is taken by a record in flight or
/// delivered, and changed data under the version of a record ecoc gave up on, saying which and
/// what the ERP should do.
fn holder_of<K: KeyValue>(
    stores: &Stores<K>,
    tenant: &str,
    dup: &str,
    ivi: &Ivi,
) -> Result<KeyHolder> {
    let Some(holder) = claims::holder(stores, tenant, dup)? else {
        return Ok(KeyHolder::Free);
    };
    let repo = Repo::new(stores);
    let Ok(held) = repo.load(tenant, &holder) else {
        // An admission in flight, or one that crashed: the claim protocol decides.
        return Ok(KeyHolder::Free);
    };
    let (vin, version, stage) = keys::split_duplicate_key(dup);
    let to = keys::split_destination(dup)
        .map(|d| format!(" for destination {d}"))
        .unwrap_or_default();
    let taken = |what: String| Error::Duplicate {
        message: format!("VIN {vin} with IviVersionNumber {version} at stage {stage}{to} {what}"),
        existing: holder.clone(),
    };
    match (held.status, held.failure) {
        (Status::Failed, Some(Failure::Authority)) => Ok(KeyHolder::Refused(holder)),
        (Status::Failed, _) => {
            let (_, earlier) = repo.latest_xml(tenant, &held.id)?;
            let earlier = Ivi::from_xml(&earlier).map_err(|e| Error::corrupt("record XML", e))?;
            if earlier.coc == ivi.coc {
                Ok(KeyHolder::Resend(Box::new(held)))
            } else {
                Err(taken(format!(
                    "failed for a technical reason as {holder}, and this file changes its data: \
                     send the same data again to resend it, or a correction with IviVersionNumber {}",
                    held.version + 1
                )))
            }
        }
        (Status::Succeeded, _) => Err(taken(format!(
            "was delivered as {holder}: a correction must bump IviVersionNumber to {}, with a new \
             IviReferenceId and IviVersionDateTime",
            held.version + 1
        ))),
        _ => Err(taken(format!(
            "is already on its way as {holder} ({}): wait for its outcome (GET /v1/submissions/{holder})",
            held.status_name()
        ))),
    }
}

/// A correction (version N+1) follows version N on record and changes the Header as the setup
/// manual's Header usage asks: a new `IviReferenceId` and a new `IviVersionDateTime`.
///
/// | code | rule |
/// |---|---|
/// | `IVI-COR-001` | version N+1 only when version N of the same VIN and stage is on record |
/// | `IVI-COR-002` | a correction has an `IviReferenceId` of its own |
/// | `IVI-COR-003` | a correction has an `IviVersionDateTime` of its own |
fn correction_errors<K: KeyValue>(
    stores: &Stores<K>,
    tenant: &str,
    ivi: &Ivi,
    destination: Option<&str>,
) -> Result<Vec<FieldError>> {
    let key = ivi.duplicate_key();
    if key.version <= 1 {
        return Ok(Vec::new());
    }
    let previous = key.version - 1;
    let repo = Repo::new(stores);
    let earlier = match claims::holder(
        stores,
        tenant,
        &keys::destination_key(&key.vin, previous, key.stage, destination),
    )? {
        Some(id) => repo.load(tenant, &id).ok(),
        None => None,
    };
    let Some(earlier) = earlier else {
        return Ok(vec![FieldError::new(
            "Header/IviVersionNumber",
            "IVI-COR-001",
            format!(
                "IviVersionNumber {} is a correction, but version {previous} of VIN {} at stage {} is \
                 not on record: send version {previous} first, or this file as version {previous}",
                key.version, key.vin, key.stage
            ),
        )]);
    };
    let mut errors = Vec::new();
    if earlier.reference_id == ivi.header.ivi_reference_id {
        errors.push(FieldError::new(
            "Header/IviReferenceId",
            "IVI-COR-002",
            format!(
                "IviReferenceId {} is that of version {previous} ({}): a correction needs a new one \
                 (setup manual, Header usage); leave it out of the mapping and ecoc generates one",
                earlier.reference_id, earlier.id
            ),
        ));
    }
    let (_, xml) = repo.latest_xml(tenant, &earlier.id)?;
    let earlier_ivi = Ivi::from_xml(&xml).map_err(|e| Error::corrupt("record XML", e))?;
    let when = ivi.header.ivi_version_date_time.as_str();
    if earlier_ivi.header.ivi_version_date_time.as_str() == when {
        errors.push(FieldError::new(
            "Header/IviVersionDateTime",
            "IVI-COR-003",
            format!(
                "IviVersionDateTime {when} is that of version {previous} ({}): a correction needs its \
                 own (setup manual, Header usage)",
                earlier.id
            ),
        ));
    }
    Ok(errors)
}

/// What the checks found in a file that passed them, before anything is claimed or stored.
struct Inspection {
    xml: Vec<u8>,
    ivi: Ivi,
    drift: Vec<FieldError>,
    note: Option<String>,
    /// Where it goes: one record per target.
    targets: Vec<Target>,
}

/// Every check of a file but the duplicate key, storing nothing: size, schema and rules, the
/// tenant's type-approval records, the earlier stage (structural mismatches refuse, drift is
/// returned), the correction rules. A refusal lists every finding.
fn inspect<K: KeyValue>(
    stores: &Stores<K>,
    checkers: (&ProfileValidator, Option<&ProfileValidator>),
    approvals: &Approvals,
    (tenant, authority): (&str, Option<Authority<'_>>),
    file: &[u8],
) -> Result<Inspection> {
    let (checker, also) = checkers;
    let (root, xml) = normalise(file)?;
    let model = Ivi::from_element(&root);
    let report = checker.check_model(&xml, &model);
    let mut errors = schema_errors(&report);
    if !errors.is_empty() {
        return Err(Error::Fields(errors));
    }
    let ivi =
        model.map_err(|e| Error::Fields(vec![FieldError::new("/", "IVI-MODEL", e.to_string())]))?;
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
        let mut pair = |earlier_ivi: &Ivi| {
            for f in ivi::rules::check_stage_pair(earlier_ivi, &ivi) {
                let e = FieldError::new(f.field, f.code, f.message);
                if f.code.starts_with("IVI-DRF") {
                    drift.push(e);
                } else {
                    errors.push(e);
                }
            }
        };
        let previous = key.stage - 1;
        let held = |code: &str, why: String| {
            FieldError::new(
                "CocDataGroup/VehicleIdentificationNumber",
                code,
                format!(
                    "{why}: held until a primary user signs it off, or send it again once the earlier stage is at the authority"
                ),
            )
        };
        match earlier_stage(&repo, tenant, &key.vin, key.stage)? {
            Some((earlier, earlier_ivi)) => {
                pair(&earlier_ivi);
                earlier_note = Some(format!(
                    "earlier stage {} on record as {}",
                    earlier.stage, earlier.id
                ));
            }
            None => match from_authority(authority, &key.vin, previous)? {
                Ok((earlier_ivi, source)) => {
                    pair(&earlier_ivi);
                    earlier_note = Some(format!(
                        "earlier stage {previous} retrieved from the authority ({source})"
                    ));
                }
                Err((code, why)) => drift.push(held(code, why)),
            },
        }
    }
    // The tenant's routing table: each destination's profile judges the file too, and a
    // correction must follow the version on record for each destination.
    let settings: Option<Tenant> = stores.data.get_json(&keys::tenant(tenant))?;
    let targets = match &settings {
        Some(t) if !t.routes.is_empty() => identity::targets(t, &ivi)?,
        // No routing table: one target, judged by the schema the caller compiled.
        _ => vec![Target {
            destination: None,
            profile: checker.profile(),
        }],
    };
    for target in &targets {
        if target.profile != checker.profile() {
            let other = also
                .filter(|v| v.profile() == target.profile)
                .ok_or_else(|| {
                    Error::Config(format!(
                        "no compiled {} schema for destination {}",
                        target.profile,
                        target.destination.as_deref().unwrap_or("-")
                    ))
                })?;
            let there = target.destination.as_deref().unwrap_or("-");
            errors.extend(schema_errors(&other.check(&xml)).into_iter().map(|mut e| {
                e.message = format!(
                    "for destination {there} ({} profile): {}",
                    target.profile, e.message
                );
                e
            }));
        }
        errors.extend(correction_errors(
            stores,
            tenant,
            &ivi,
            target.destination.as_deref(),
        )?);
    }
    if !errors.is_empty() {
        return Err(Error::Fields(errors));
    }
    let note = [earlier_note, warnings_note(&report)]
        .into_iter()
        .flatten()
        .reduce(|a, b| format!("{a}; {b}"));
    Ok(Inspection {
        xml,
        ivi,
        drift,
        note,
        targets,
    })
}

/// `POST /v1/tenant/mapping:preview`: what an upload of `file` would meet, storing nothing: every
/// check [`admit`] runs, the duplicate key looked at without claiming it.
pub fn preview<K: KeyValue>(
    stores: &Stores<K>,
    checkers: (&ProfileValidator, Option<&ProfileValidator>),
    approvals: &Approvals,
    (tenant, authority): (&str, Option<Authority<'_>>),
    file: &[u8],
) -> Result<Checked> {
    let refused = |findings: Vec<FieldError>| Checked {
        outcome: "refused".into(),
        findings,
        drift: Vec::new(),
        note: None,
    };
    let inspected = match inspect(stores, checkers, approvals, (tenant, authority), file) {
        Ok(i) => i,
        Err(Error::Fields(findings)) => return Ok(refused(findings)),
        Err(e @ Error::TooLarge(_)) => {
            return Ok(refused(vec![FieldError::new(
                "/",
                "IVI-SIZE",
                e.to_string(),
            )]));
        }
        Err(e) => return Err(e),
    };
    let key = inspected.ivi.duplicate_key();
    let mut outcome = "validated";
    for target in &inspected.targets {
        let dup = keys::destination_key(
            &key.vin,
            key.version,
            key.stage,
            target.destination.as_deref(),
        );
        outcome = match holder_of(stores, tenant, &dup, &inspected.ivi) {
            Err(e @ Error::Duplicate { .. }) => {
                return Ok(refused(vec![FieldError::new(
                    "Header/IviVersionNumber",
                    "DUP-KEY",
                    e.to_string(),
                )]));
            }
            Err(e) => return Err(e),
            Ok(KeyHolder::Resend(_)) => "resent",
            Ok(_) if !inspected.drift.is_empty() => "held",
            Ok(_) => outcome,
        };
    }
    Ok(Checked {
        outcome: outcome.into(),
        findings: Vec::new(),
        drift: inspected.drift,
        note: inspected.note,
    })
}

/// The preview without a deployment (`ecoc map`): maps `record` with `mapping`, then runs every
/// check of an upload for a tenant whose only records are the given `approvals`, in memory. The
/// mapped XML, and what an upload would meet; a record the mapping refuses is that error.
pub fn preview_offline(
    mapping: &crate::mapping::Mapping,
    approvals: &Approvals,
    checker: &ProfileValidator,
    record: &serde_json::Value,
) -> Result<(String, Checked)> {
    let mapped = mapping
        .apply(record, std::time::SystemTime::now())
        .map_err(Error::Fields)?;
    let stores = Stores::in_memory();
    let checked = preview(
        &stores,
        (checker, None),
        approvals,
        ("offline", None),
        mapped.xml.as_bytes(),
    )?;
    Ok((mapped.xml, checked))
}

/// Admits a vehicle file: checks everything ([`inspect`]), claims the duplicate key and creates
/// the record (`validated`, or `held` on drift). Every refusal lists all its reasons and stores
/// nothing. For a tenant that routes a file to several destinations, the first destination's
/// record, naming the others as `siblings` (see [`admit_to_destinations`]).
pub fn admit<K: KeyValue>(
    stores: &Stores<K>,
    checker: &ProfileValidator,
    approvals: &Approvals,
    candidate: Candidate<'_>,
    now_millis: u64,
) -> Result<Record> {
    admit_to_destinations(stores, checker, approvals, candidate, now_millis)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::Internal("an admission made no record".into()))
}

/// [`admit`] with every record it made: one per target (a destination the tenant's routing
/// table picks for the file), each its own duplicate key (VIN + version + stage + destination),
/// each naming the others as `siblings`; the first target's first.
pub fn admit_to_destinations<K: KeyValue>(
    stores: &Stores<K>,
    checker: &ProfileValidator,
    approvals: &Approvals,
    candidate: Candidate<'_>,
    now_millis: u64,
) -> Result<Vec<Record>> {
    let now = now_millis / 1000;
    let Inspection {
        xml,
        ivi,
        drift,
        note,
        targets,
    } = inspect(
        stores,
        (checker, candidate.also),
        approvals,
        (candidate.tenant, candidate.authority),
        candidate.xml,
    )?;
    let key = ivi.duplicate_key();
    let repo = Repo::new(stores);
    // Claims first, for every target; a refusal gives back what this admission claimed.
    let mut claimed: Vec<(String, String)> = Vec::new();
    let give_back = |claimed: &[(String, String)]| {
        for (dup, id) in claimed {
            let _ = claims::release(stores, candidate.tenant, dup, id);
        }
    };
    let mut records: Vec<Record> = Vec::new();
    let mut resent: Vec<Record> = Vec::new();
    for target in &targets {
        let destination = target.destination.as_deref();
        let dup = keys::destination_key(&key.vin, key.version, key.stage, destination);
        let replaces = match holder_of(stores, candidate.tenant, &dup, &ivi) {
            Ok(KeyHolder::Free) => None,
            Ok(KeyHolder::Refused(id)) => Some(id),
            Ok(KeyHolder::Resend(record)) => {
                // The same file again after ecoc gave up on it: that record goes on, no new one.
                resent.push(*record);
                continue;
            }
            Err(e) => {
                give_back(&claimed);
                return Err(e);
            }
        };
        let id = match ids::record_id(now_millis) {
            Ok(id) => id,
            Err(e) => {
                give_back(&claimed);
                return Err(e);
            }
        };
        // A key holder whose record does not exist was written by an admission that crashed
        // between its claim and its record (or is being admitted right now): after
        // claims::STALE_CLAIM_MS it no longer blocks the key. A record the authority refused
        // frees it.
        let live = |holder: &str| -> Result<bool> {
            if replaces.as_deref() == Some(holder) {
                return Ok(false);
            }
            Ok(repo.exists(candidate.tenant, holder)? || claims::young(holder, now_millis))
        };
        if let Err(e) = claims::claim_with(stores, candidate.tenant, &dup, &id, &live) {
            give_back(&claimed);
            // A young holder without its record is an admission in flight, or one that died (a
            // killed host, a store that failed under it): not "already submitted", since that
            // record may never exist. The sender is told to send it again.
            return Err(match e {
                Error::Duplicate { existing, .. }
                    if !existing.is_empty() && !repo.exists(candidate.tenant, &existing)? =>
                {
                    claims::in_flight(&dup)
                }
                e => e,
            });
        }
        claimed.push((dup, id.clone()));
        records.push(admitted_record(
            &candidate,
            id,
            &ivi,
            (&drift, note.clone()),
            target,
            replaces,
            now,
        ));
    }
    let ids: Vec<String> = records
        .iter()
        .map(|r| r.id.clone())
        .chain(resent.iter().map(|r| r.id.clone()))
        .collect();
    for record in &mut records {
        record.siblings = ids.iter().filter(|i| **i != record.id).cloned().collect();
        if let Err(e) = repo.create(record, &xml) {
            // Give the keys back so the ERP can simply retry.
            give_back(&claimed);
            return Err(e);
        }
    }
    for record in &mut resent {
        let signed = repo
            .xml(candidate.tenant, &record.id, XmlKind::Signed)?
            .is_some();
        record.requeue(candidate.actor, signed, now)?;
        if !candidate.leased {
            record.not_before = 0;
        }
        repo.save(record)?;
    }
    records.extend(resent);
    Ok(records)
}

/// The new record of one target of an admitted file: `validated`, or `held` with its drift.
fn admitted_record(
    candidate: &Candidate<'_>,
    id: String,
    ivi: &Ivi,
    (drift, note): (&[FieldError], Option<String>),
    target: &Target,
    replaces: Option<String>,
    now: u64,
) -> Record {
    let key = ivi.duplicate_key();
    let mut record = Record {
        vin: key.vin.clone(),
        version: key.version,
        stage: key.stage,
        reference_id: ivi.header.ivi_reference_id.clone(),
        approval_number: ivi.coc.type_approval_number.clone(),
        category: ivi.coc.vehicle_category.as_str().to_owned(),
        not_before: if candidate.leased {
            now + LEASE_SECS
        } else {
            0
        },
        replaces,
        destination: target.destination.clone(),
        ..arrival(candidate, id, now)
    };
    record
        .events
        .push(record.events[0].at_step("map", Status::Mapped, None));
    let note = match &target.destination {
        Some(d) => Some(match note {
            Some(n) => format!("for destination {d} ({} profile); {n}", target.profile),
            None => format!("for destination {d} ({} profile)", target.profile),
        }),
        None => note,
    };
    let (status, note) = if drift.is_empty() {
        (Status::Validated, note)
    } else {
        let held = format!(
            "{} drift finding(s): waits for sign-off by a primary user",
            drift.len()
        );
        (Status::Held, Some(held))
    };
    record
        .events
        .push(record.events[0].at_step("validate", status, note));
    record.status = status;
    record.drift = drift.to_vec();
    record
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
    repo.save(&mut record)?;
    Ok(record)
}

/// A record of `candidate` as it arrives at `now` (Unix seconds): status `received`, its first event
/// ("via json|csv|ivi"), everything else empty for [`admit`] and [`reject`] to fill.
fn arrival(candidate: &Candidate<'_>, id: String, now: u64) -> Record {
    let at = clock::rfc3339(now);
    Record {
        id,
        tenant: candidate.tenant.to_owned(),
        vin: String::new(),
        version: 0,
        stage: 0,
        reference_id: String::new(),
        approval_number: String::new(),
        category: String::new(),
        source: candidate.source.as_str().to_owned(),
        status: Status::Received,
        created_at: at.clone(),
        updated_at: at.clone(),
        events: vec![Event {
            at,
            actor: candidate.actor.to_owned(),
            status: Status::Received,
            note: Some(format!("via {}", candidate.source.as_str())),
        }],
        errors: Vec::new(),
        drift: Vec::new(),
        receipt: None,
        attempts: 0,
        not_before: 0,
        callback: None,
        failure: None,
        replaces: None,
        payload_sha256: None,
        signed_by: None,
        destination: None,
        siblings: Vec::new(),
        audited: 0,
    }
}

/// [`admit`], keeping a refused file (422 for its content, 409 for its key) as a `rejected` record
/// of the tenant: its reasons, the SHA-256 of the file as `validate` got it, the time; searchable,
/// counted in the day's digest, never signed or delivered, holding no key. The refusal itself is
/// answered as before. Other errors (413, a store failure) keep nothing.
pub fn admit_or_reject<K: KeyValue>(
    stores: &Stores<K>,
    checker: &ProfileValidator,
    approvals: &Approvals,
    candidate: Candidate<'_>,
    now_millis: u64,
) -> Result<Record> {
    let refusal = match admit(stores, checker, approvals, candidate, now_millis) {
        Err(e @ (Error::Fields(_) | Error::Duplicate { .. })) => e,
        other => return other,
    };
    reject(stores, candidate, &refusal, now_millis)?;
    Err(refusal)
}

fn reject<K: KeyValue>(
    stores: &Stores<K>,
    candidate: Candidate<'_>,
    refusal: &Error,
    now_millis: u64,
) -> Result<Record> {
    let errors = match refusal {
        Error::Fields(errors) => errors.clone(),
        other => vec![FieldError::new(
            "Header/IviVersionNumber",
            "DUP-KEY",
            other.to_string(),
        )],
    };
    // What can be read of the file names the record (the typed model, else the elements by
    // name); a file that cannot be read at all has no VIN.
    let root = ivi::xml::parse(candidate.xml).ok().map(|doc| doc.root);
    let field = |name: &str| {
        root.as_ref()
            .and_then(|r| first_text(r, name))
            .unwrap_or_default()
    };
    let number = |name: &str| field(name).trim().parse().unwrap_or(0);
    let summary = errors
        .iter()
        .map(|e| e.code.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let mut record = Record {
        vin: field("VehicleIdentificationNumber"),
        version: number("IviVersionNumber"),
        stage: number("ManufacturerStageNumber"),
        reference_id: field("IviReferenceId"),
        approval_number: field("TypeApprovalNumber"),
        category: field("VehicleCategory"),
        status: Status::Rejected,
        errors,
        payload_sha256: Some(ids::sha256_hex(candidate.xml)),
        signed_by: None,
        destination: None,
        siblings: Vec::new(),
        ..arrival(&candidate, ids::record_id(now_millis)?, now_millis / 1000)
    };
    let refused = Some(format!("refused: {summary}"));
    record
        .events
        .push(record.events[0].at_step("validate", Status::Rejected, refused));
    Repo::new(stores).create(&mut record, candidate.xml)?;
    Ok(record)
}

/// The text of the first element named `name` under `root`, depth first.
fn first_text(root: &Element, name: &str) -> Option<String> {
    if root.name == name {
        return Some(root.text());
    }
    root.elements().find_map(|e| first_text(e, name))
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
            let admitted = admit_or_reject(stores, checker, approvals, candidate, now_millis());
            Outcome::from(admitted.map(|r| r.to_view()))
        })
        .collect();
    Admitted { results }
}
