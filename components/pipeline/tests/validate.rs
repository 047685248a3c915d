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
    let corrected = m1.replace("<IviVersionNumber>1<", "<IviVersionNumber>2<");
    let record = validate::admit(
        &stores,
        &checker,
        &approvals,
        candidate(&corrected),
        1_795_275_799_000,
    )
    .unwrap();
    assert_eq!((record.version, record.status), (2, Status::Validated));
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
    let drifted = fixture("n2-stage2-completed")
        .replace("<IviVersionNumber>1<", "<IviVersionNumber>2<")
        .replace(
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
    // A claim of a few seconds may be an admission in flight: it still blocks.
    let stores = setup();
    let fresh = pipeline::ids::record_id(now - 2_000).unwrap();
    pipeline::claims::claim(&stores, "acme", "WEX1M1AB2C3456789/1/1", &fresh).unwrap();
    assert!(matches!(
        validate::admit(&stores, &checker, &approvals, candidate(&m1), now),
        Err(Error::Duplicate { .. })
    ));
}
