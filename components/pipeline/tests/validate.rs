//! The `validate` step with the IVI library's writer fixtures (valid IVI 2.0 files of several
//! categories, see components/ivi/tests/fixtures/README.md) against the official schema.

#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

use std::path::PathBuf;

use ivi::Profile;
use ivi::profile::ProfileValidator;
use pipeline::approvals::{Approval, Approvals, Range};
use pipeline::calls::Source;
use pipeline::kv::{KeyValue, MemoryKv, Stores};
use pipeline::record::Status;
use pipeline::validate::{self, Candidate};
use pipeline::{Error, FieldError, tenant};

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../ivi/tests/fixtures")
        .join(name)
        .join("expected.xml");
    std::fs::read_to_string(path).unwrap()
}

/// The official schema, or `None` (skipped with a message) outside CI.
fn checker() -> Option<ProfileValidator> {
    match ivi::profile::official_xsd() {
        Some(p) if p.is_file() => Some(ProfileValidator::new(Profile::Eu, None).unwrap()),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must have ../shared/ivi2 beside the checkout"
            );
            eprintln!("SKIPPED: official IVI 2.0 XSD not found (../shared/ivi2)");
            None
        }
    }
}

fn text(xml: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let start = xml.find(&open).unwrap() + open.len();
    xml[start..start + xml[start..].find('<').unwrap()].to_owned()
}

/// One approval per fixture, built from the fixture's own type-approval fields.
fn approvals(cases: &[&str]) -> Approvals {
    Approvals {
        approvals: cases
            .iter()
            .map(|c| {
                let xml = fixture(c);
                Approval {
                    approval_number: text(&xml, "TypeApprovalNumber"),
                    vehicle_type: text(&xml, "Type"),
                    variants: vec![text(&xml, "Variant")],
                    versions: vec![text(&xml, "Version")],
                    category: Some(text(&xml, "VehicleCategory")),
                    ranges: Default::default(),
                }
            })
            .collect(),
    }
}

fn candidate(xml: &str) -> Candidate<'_> {
    Candidate {
        tenant: "acme",
        actor: "token:erp",
        source: Source::Ivi,
        xml: xml.as_bytes(),
        leased: false,
        authority: None,
        also: None,
    }
}

fn setup() -> Stores<MemoryKv> {
    let stores = Stores::in_memory();
    tenant::create_tenant(
        &stores.data,
        &tenant::Tenant::new("acme", "Acme"),
        "owner",
        None,
    )
    .unwrap();
    stores
}

fn field_errors(e: Error) -> Vec<FieldError> {
    match e {
        Error::Fields(errors) => errors,
        other => panic!("expected field errors, got {other}"),
    }
}

#[test]
fn categories_pass_duplicates_are_refused_corrections_pass() {
    let Some(checker) = checker() else { return };
    let cases = ["m1", "n1", "n3-tractor", "o3-trailer", "l3e"];
    let approvals = approvals(&cases);
    let stores = setup();
    let mut ids = Vec::new();
    for case in cases {
        let xml = fixture(case);
        let record = validate::admit(
            &stores,
            &checker,
            &approvals,
            candidate(&xml),
            1_795_275_797_000,
        )
        .unwrap_or_else(|e| panic!("{case}: {e} {:?}", e.to_json()));
        assert_eq!(record.status, Status::Validated, "{case}");
        assert_eq!(record.vin, text(&xml, "VehicleIdentificationNumber"));
        ids.push(record.id);
    }
    let before = stores.data.get_keys().unwrap().len();
    let m1 = fixture("m1");
    let again = validate::admit(
        &stores,
        &checker,
        &approvals,
        candidate(&m1),
        1_795_275_798_000,
    );
    assert!(
        matches!(&again, Err(Error::Duplicate { existing, .. }) if *existing == ids[0]),
        "{again:?}"
    );
    assert_eq!(
        stores.data.get_keys().unwrap().len(),
        before,
        "a refusal stores nothing"
    );
    // A bumped version alone is no correction: the Header needs its own reference and time.
    let bumped = m1.replace("<IviVersionNumber>1<", "<IviVersionNumber>2<");
    let codes: Vec<String> = field_errors(
        validate::admit(
            &stores,
            &checker,
            &approvals,
            candidate(&bumped),
            1_795_275_799_000,
        )
        .unwrap_err(),
    )
    .into_iter()
    .map(|e| e.code)
    .collect();
    assert_eq!(codes, ["IVI-COR-002", "IVI-COR-003"]);
    let corrected = correction_of(&m1, 2);
    let record = validate::admit(
        &stores,
        &checker,
        &approvals,
        candidate(&corrected),
        1_795_275_799_000,
    )
    .unwrap();
    assert_eq!((record.version, record.status), (2, Status::Validated));
    // Version 4 with no version 3 on record.
    let gap = correction_of(&m1, 4);
    let refused = field_errors(
        validate::admit(
            &stores,
            &checker,
            &approvals,
            candidate(&gap),
            1_795_275_800_000,
        )
        .unwrap_err(),
    );
    assert_eq!(refused[0].code, "IVI-COR-001", "{refused:?}");
    assert!(refused[0].message.contains("version 3"), "{refused:?}");
}

/// `xml` as version `version` with a Header of its own (a new reference id and time).
fn correction_of(xml: &str, version: u32) -> String {
    let reference = text(xml, "IviReferenceId");
    let when = text(xml, "IviVersionDateTime");
    xml.replace(
        "<IviVersionNumber>1<",
        &format!("<IviVersionNumber>{version}<"),
    )
    .replace(
        &reference,
        &format!("0e7a6c1e-41d2-4c55-9a0b-00000000000{version}"),
    )
    .replace(&when, &when.replacen(":00", &format!(":0{version}"), 1))
}

/// After ecoc gave up on a file, the same file again re-queues that record; after the authority
/// refused one, the corrected data comes again under the same version as a new, linked record;
/// a file still on its way is a 409 that says so; a refusal is kept as a rejected record.
#[test]
fn resends_refusals_and_rejected_records() {
    let Some(checker) = checker() else { return };
    let approvals = approvals(&["m1"]);
    let stores = setup();
    let repo = pipeline::repo::Repo::new(&stores);
    let m1 = fixture("m1");
    let first = validate::admit(
        &stores,
        &checker,
        &approvals,
        candidate(&m1),
        1_795_275_797_000,
    )
    .unwrap();
    let in_flight = validate::admit_or_reject(
        &stores,
        &checker,
        &approvals,
        candidate(&m1),
        1_795_275_797_500,
    )
    .unwrap_err();
    assert!(
        in_flight.to_string().contains("already on its way"),
        "{in_flight}"
    );
    // ecoc gave up (an outage): the same file is a technical resend of that very record.
    let mut gave_up = repo.load("acme", &first.id).unwrap();
    gave_up.status = Status::Failed;
    gave_up.failure = Some(pipeline::record::Failure::Technical);
    repo.save(&mut gave_up).unwrap();
    let again = validate::admit(
        &stores,
        &checker,
        &approvals,
        candidate(&m1),
        1_795_275_798_000,
    )
    .unwrap();
    assert_eq!(
        (again.id.as_str(), again.status),
        (first.id.as_str(), Status::Validated)
    );
    // The authority refused it: the key is free for the corrected data, linked to the refused one.
    let mut refused = repo.load("acme", &first.id).unwrap();
    refused.status = Status::Failed;
    refused.failure = Some(pipeline::record::Failure::Authority);
    repo.save(&mut refused).unwrap();
    let fixed = m1.replace(
        &text(&m1, "IviReferenceId"),
        "0e7a6c1e-41d2-4c55-9a0b-0000000000aa",
    );
    let linked = validate::admit(
        &stores,
        &checker,
        &approvals,
        candidate(&fixed),
        1_795_275_799_000,
    )
    .unwrap();
    assert_ne!(linked.id, first.id);
    assert_eq!(linked.replaces.as_deref(), Some(first.id.as_str()));
    // A refusal is kept: rejected, with its reasons and the file's hash, holding no key.
    let broken = m1.replace("<VehicleCategory>M1<", "<VehicleCategory>ZZ<");
    let e = validate::admit_or_reject(
        &stores,
        &checker,
        &approvals,
        candidate(&broken),
        1_795_275_800_000,
    )
    .unwrap_err();
    assert_eq!(e.status(), 422);
    let rejected = repo
        .search(
            "acme",
            &pipeline::repo::Query::parse("status=rejected").unwrap(),
        )
        .unwrap();
    // Newest first: the schema refusal, then the 409 of the file still on its way.
    assert_eq!(rejected.items.len(), 2);
    assert_eq!(rejected.items[1].errors[0].code, "DUP-KEY");
    let kept = &rejected.items[0];
    assert_eq!(
        (kept.status, kept.vin.as_str()),
        (Status::Rejected, first.vin.as_str())
    );
    assert!(!kept.errors.is_empty() && kept.payload_sha256.is_some());
    assert!(!kept.needs_work(), "never signed, never delivered");
}

#[test]
fn every_problem_is_listed_and_nothing_is_stored() {
    let Some(checker) = checker() else { return };
    let stores = setup();
    let approvals = approvals(&["m1"]);
    let bad = fixture("m1")
        .replace("WEX1M1AB2C3456789", "WEX1M1AB2C34567I9")
        .replace("<Width>1850</Width>", "<Width>wide</Width>");
    let errors = field_errors(
        validate::admit(&stores, &checker, &approvals, candidate(&bad), 0).unwrap_err(),
    );
    assert!(errors.len() >= 2, "{errors:?}");
    assert!(
        errors.iter().any(|e| e.path.contains("Width")),
        "{errors:?}"
    );
    let outside = fixture("m1").replace("<Version>A01</Version>", "<Version>Z99</Version>");
    let errors = field_errors(
        validate::admit(&stores, &checker, &approvals, candidate(&outside), 0).unwrap_err(),
    );
    assert_eq!(errors[0].code, "APR-VERSION", "{errors:?}");
    let mut narrow = approvals.clone();
    narrow.approvals[0].ranges.insert(
        "MassInRunningOrder".into(),
        Range {
            min: Some(1000.0),
            max: Some(1500.0),
        },
    );
    let m1 = fixture("m1");
    let errors =
        field_errors(validate::admit(&stores, &checker, &narrow, candidate(&m1), 0).unwrap_err());
    assert_eq!(errors[0].code, "APR-RANGE");
    let none = field_errors(
        validate::admit(&stores, &checker, &Approvals::default(), candidate(&m1), 0).unwrap_err(),
    );
    assert_eq!(none[0].code, "APR-NONE");
    assert!(
        stores
            .data
            .get_keys()
            .unwrap()
            .iter()
            .all(|k| !k.contains("/r/")),
        "no record stored"
    );
    assert!(stores.vins.is_empty() && stores.work.is_empty() && stores.claims.is_empty());
}

#[test]
fn drifted_later_stage_is_held_until_signed_off() {
    let Some(checker) = checker() else { return };
    let stores = setup();
    let approvals = approvals(&["n2-stage1-chassis", "n2-stage2-completed"]);
    let stage1 = validate::admit(
        &stores,
        &checker,
        &approvals,
        candidate(&fixture("n2-stage1-chassis")),
        1_000,
    )
    .unwrap();
    assert_eq!(stage1.status, Status::Validated);
    let stage2 = validate::admit(
        &stores,
        &checker,
        &approvals,
        candidate(&fixture("n2-stage2-completed")),
        2_000,
    )
    .unwrap();
    assert_eq!(stage2.status, Status::Validated, "{:?}", stage2.drift);
    let drifted = correction_of(&fixture("n2-stage2-completed"), 2).replace(
        "<TechnicallyPermissibleMaximumLadenMass>7490<",
        "<TechnicallyPermissibleMaximumLadenMass>7900<",
    );
    let held = validate::admit(&stores, &checker, &approvals, candidate(&drifted), 3_000).unwrap();
    assert_eq!(held.status, Status::Held, "{held:?}");
    assert!(!held.drift.is_empty() && held.drift.iter().all(|d| d.code.starts_with("IVI-DRF")));
    assert!(
        !held.needs_work(),
        "a held record waits for a person, not the sweep"
    );
    let released = validate::sign_off(&stores, "acme", &held.id, "token:boss", 4).unwrap();
    assert_eq!(released.status, Status::Validated);
    assert!(matches!(
        validate::sign_off(&stores, "acme", &held.id, "token:boss", 5),
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        validate::sign_off(&stores, "other", &held.id, "token:x", 5),
        Err(Error::NotFound(_))
    ));
}

#[test]
fn uk_approvals_pass_the_uk_profile_and_not_the_eu_one() {
    let Some(eu) = checker() else { return };
    let uk = ProfileValidator::new(Profile::Uk, None).unwrap();
    let gb = fixture("m1")
        .replace(
            "<DesignatedTypeApprovalCountry>e4<",
            "<DesignatedTypeApprovalCountry>g11<",
        )
        .replace("e4*2018/858*00123*01", "g11*2018/858*00042*00");
    let mut approvals = approvals(&["m1"]);
    approvals.approvals[0].approval_number = "g11*2018/858*00042*00".into();
    let stores = setup();
    let refused =
        field_errors(validate::admit(&stores, &eu, &approvals, candidate(&gb), 0).unwrap_err());
    assert!(
        refused.iter().any(|e| e.message.contains("g11")),
        "the EU profile refuses a GB approval: {refused:?}"
    );
    let record = validate::admit(&stores, &uk, &approvals, candidate(&gb), 1_000).unwrap();
    assert_eq!(
        (record.status, record.approval_number.as_str()),
        (Status::Validated, "g11*2018/858*00042*00")
    );
}

#[test]
fn a_key_left_by_a_crashed_admission_is_freed_after_a_while() {
    let Some(checker) = checker() else { return };
    let stores = setup();
    let approvals = approvals(&["m1"]);
    let now: u64 = 1_795_275_797_000;
    // A claim whose admission died before writing its record.
    let crashed = pipeline::ids::record_id(now - 60_000).unwrap();
    pipeline::claims::claim(&stores, "acme", "WEX1M1AB2C3456789/1/1", &crashed).unwrap();
    let m1 = fixture("m1");
    let record = validate::admit(&stores, &checker, &approvals, candidate(&m1), now).unwrap();
    assert_eq!(
        record.status,
        Status::Validated,
        "the dead claim was taken over"
    );
    // A claim of a few seconds may be an admission in flight: it still blocks, as a concurrent
    // submission the ERP sends again, never as "already submitted" (found with three hosts on one
    // Redis: an admission that died under a Redis crash left its key held, the ERP's resend was
    // told "already submitted as ..." and the record was never made).
    let stores = setup();
    let fresh = pipeline::ids::record_id(now - 2_000).unwrap();
    pipeline::claims::claim(&stores, "acme", "WEX1M1AB2C3456789/1/1", &fresh).unwrap();
    match validate::admit(&stores, &checker, &approvals, candidate(&m1), now) {
        Err(Error::Duplicate { message, existing }) => {
            assert!(existing.is_empty(), "{existing}");
            assert!(message.contains("concurrent request"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

/// The preview runs every check an upload meets and stores nothing.
#[test]
fn the_preview_tells_what_an_upload_would_meet() {
    let Some(checker) = checker() else { return };
    let approvals = approvals(&["m1"]);
    let stores = setup();
    let m1 = fixture("m1");
    let keys_before = stores.data.get_keys().unwrap();
    let fresh = validate::preview(
        &stores,
        (&checker, None),
        &approvals,
        ("acme", None),
        m1.as_bytes(),
    )
    .unwrap();
    assert_eq!(fresh.outcome, "validated");
    assert_eq!(
        stores.data.get_keys().unwrap(),
        keys_before,
        "a preview stores nothing"
    );
    assert!(stores.vins.is_empty() && stores.claims.is_empty() && stores.work.is_empty());
    let broken = m1.replace("<VehicleCategory>M1<", "<VehicleCategory>ZZ<");
    let refused = validate::preview(
        &stores,
        (&checker, None),
        &approvals,
        ("acme", None),
        broken.as_bytes(),
    )
    .unwrap();
    assert_eq!(refused.outcome, "refused");
    assert!(!refused.findings.is_empty());
    validate::admit(
        &stores,
        &checker,
        &approvals,
        candidate(&m1),
        1_795_275_797_000,
    )
    .unwrap();
    let twice = validate::preview(
        &stores,
        (&checker, None),
        &approvals,
        ("acme", None),
        m1.as_bytes(),
    )
    .unwrap();
    assert_eq!(
        (twice.outcome.as_str(), twice.findings[0].code.as_str()),
        ("refused", "DUP-KEY")
    );
}

#[test]
fn a_routed_file_becomes_one_record_per_destination_each_with_its_own_key() {
    let Some(eu) = checker() else { return };
    let uk = ProfileValidator::new(Profile::Uk, None).unwrap();
    let stores = setup();
    // A UK manufacturer with an EU type approval: every file to the VCA, and the ones registered
    // in the Netherlands to the RDW as well.
    let mut settings = tenant::load_tenant(&stores.data, "acme").unwrap();
    settings.profile = "uk".into();
    settings.destinations = serde_json::from_value(serde_json::json!([
        {"id": "vca", "adapter": "vca", "nap": "vca", "client_id": "acme", "client_secret": {"secret": "s"}},
        {"id": "rdw", "adapter": "eu", "nap": "rdw", "client_id": "acme"},
    ]))
    .unwrap();
    settings.routes = serde_json::from_value(serde_json::json!([
        {"to": "vca"},
        {"to": "rdw", "countries": ["NL", "B", "D"]},
    ]))
    .unwrap();
    tenant::save_tenant(&stores.data, &settings).unwrap();
    let approvals = approvals(&["m1", "n1"]);
    let registered = |case: &str, country: &str| {
        fixture(case).replace(
            "<DesignatedTypeApprovalCountry>",
            &format!("<IntendedCountryRegistration>{country}</IntendedCountryRegistration><DesignatedTypeApprovalCountry>"),
        )
    };
    let dutch = registered("m1", "NL");
    let both = Candidate {
        also: Some(&eu),
        ..candidate(&dutch)
    };
    let records = validate::admit_to_destinations(&stores, &uk, &approvals, both, 1_000).unwrap();
    let places: Vec<Option<&str>> = records.iter().map(|r| r.destination.as_deref()).collect();
    assert_eq!(places, [Some("vca"), Some("rdw")]);
    assert_eq!(records[0].siblings, [records[1].id.clone()]);
    assert_eq!(records[1].siblings, [records[0].id.clone()]);
    assert!(records.iter().all(|r| r.status == Status::Validated));
    // The same file again: both keys are taken; the refusal names the destination.
    let again = validate::admit(&stores, &uk, &approvals, both, 2_000).unwrap_err();
    assert!(
        matches!(&again, Error::Duplicate { message, .. } if message.contains("for destination vca")),
        "{again:?}"
    );
    // A vehicle registered elsewhere goes to the VCA only.
    let british = registered("n1", "UK");
    let records = validate::admit_to_destinations(
        &stores,
        &uk,
        &approvals,
        Candidate {
            also: Some(&eu),
            ..candidate(&british)
        },
        3_000,
    )
    .unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].destination.as_deref(), Some("vca"));
    // Without the EU schema at hand, a file for the RDW cannot be judged: a configuration error,
    // nothing stored.
    let refused = validate::admit(
        &stores,
        &uk,
        &approvals,
        candidate(&registered("m1", "D")),
        4_000,
    );
    assert!(matches!(refused, Err(Error::Config(_))), "{refused:?}");
}

#[test]
fn a_file_no_route_takes_is_refused_with_the_reason() {
    let Some(eu) = checker() else { return };
    let stores = setup();
    let mut settings = tenant::load_tenant(&stores.data, "acme").unwrap();
    settings.destinations = serde_json::from_value(serde_json::json!([
        {"id": "rdw", "adapter": "eu", "nap": "rdw", "client_id": "acme"},
    ]))
    .unwrap();
    settings.routes =
        serde_json::from_value(serde_json::json!([{"to": "rdw", "categories": ["N1"]}])).unwrap();
    tenant::save_tenant(&stores.data, &settings).unwrap();
    let m1 = fixture("m1");
    let refused = field_errors(
        validate::admit(&stores, &eu, &approvals(&["m1"]), candidate(&m1), 0).unwrap_err(),
    );
    assert_eq!(refused[0].code, "ROUTE-NONE", "{refused:?}");
    assert!(refused[0].message.contains("M1"), "{refused:?}");
}

/// Admits `xml` with `authority` to ask for an earlier stage.
fn admit_asking(
    stores: &Stores<MemoryKv>,
    checker: &ProfileValidator,
    approvals: &Approvals,
    authority: &dyn Fn(&str, u32) -> pipeline::Result<pipeline::calls::Retrieved>,
    xml: &str,
    now: u64,
) -> pipeline::record::Record {
    let candidate = Candidate {
        authority: Some(validate::Authority(authority)),
        ..candidate(xml)
    };
    validate::admit(stores, checker, approvals, candidate, now).unwrap()
}

#[test]
fn a_later_stage_is_checked_against_the_authoritys_copy_or_held_when_there_is_none() {
    use pipeline::calls::{Retrieved, RetrievedFile};
    let Some(checker) = checker() else { return };
    let stores = setup();
    let approvals = approvals(&["n2-stage1-chassis", "n2-stage2-completed"]);
    let stage2 = fixture("n2-stage2-completed");
    // Nowhere to ask: held, not waved through.
    let alone = validate::admit(&stores, &checker, &approvals, candidate(&stage2), 1_000).unwrap();
    assert_eq!(alone.status, Status::Held);
    assert_eq!(alone.drift[0].code, "STAGE-MISSING", "{:?}", alone.drift);
    // The authority has none either: held, naming where ecoc asked.
    let asked = std::cell::Cell::new(0);
    let nothing = |vin: &str, stage: u32| {
        asked.set(asked.get() + 1);
        assert_eq!((vin.len(), stage), (17, 1));
        Ok(Retrieved {
            file: None,
            asked: vec!["vca as manufacturer-b".into()],
        })
    };
    let again = correction_of(&stage2, 2);
    let held = admit_asking(&stores, &checker, &approvals, &nothing, &again, 2_000);
    assert_eq!(asked.get(), 1);
    assert_eq!(held.status, Status::Held);
    assert!(
        held.drift[0]
            .message
            .contains("asked: vca as manufacturer-b"),
        "{:?}",
        held.drift
    );
    // The authority holds the stage 1: checked against it, and the source is on the timeline.
    let stage1 = fixture("n2-stage1-chassis");
    let found = |_: &str, _: u32| {
        Ok(Retrieved {
            file: Some(RetrievedFile {
                xml: stage1.clone(),
                source: "vca as manufacturer-b: s-1, signed by CN=chassis maker".into(),
            }),
            asked: vec!["vca as manufacturer-b".into()],
        })
    };
    let third = correction_of(&stage2, 3);
    let checked = admit_asking(&stores, &checker, &approvals, &found, &third, 3_000);
    assert_eq!(checked.status, Status::Validated, "{:?}", checked.drift);
    let notes: Vec<String> = checked
        .events
        .iter()
        .filter_map(|e| e.note.clone())
        .collect();
    assert!(
        notes.iter().any(|n| n
            .contains("earlier stage 1 retrieved from the authority (vca as manufacturer-b: s-1")),
        "{notes:?}"
    );
    // Drift against the authority's copy holds the file for sign-off.
    let heavy = correction_of(&stage2, 4).replace(
        "<TechnicallyPermissibleMaximumLadenMass>7490<",
        "<TechnicallyPermissibleMaximumLadenMass>7900<",
    );
    let record = admit_asking(&stores, &checker, &approvals, &found, &heavy, 4_000);
    assert_eq!(record.status, Status::Held);
    assert!(
        !record.drift.is_empty() && record.drift.iter().all(|d| d.code.starts_with("IVI-DRF")),
        "{:?}",
        record.drift
    );
}
