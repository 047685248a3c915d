//! The eu and uk profiles on the same documents.

#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

mod common;

use ivi::model::TypeApprovalCountry;
use ivi::profile::ProfileValidator;
use ivi::{Ivi, Profile};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name)
            .join("expected.xml"),
    )
    .unwrap()
}

fn as_gb(bytes: &[u8], number: &str, country: TypeApprovalCountry) -> Vec<u8> {
    let mut ivi = Ivi::from_xml(bytes).unwrap();
    ivi.header.designated_type_approval_country = country;
    ivi.coc.type_approval_number = number.into();
    ivi.to_xml().into_bytes()
}

#[test]
fn uk_schema_alone_accepts_uk_approvals() {
    // Without the official schema the uk profile still runs its own.
    let v = ProfileValidator::new(
        Profile::Uk,
        Some(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/ivi-uk-2.0.xsd"),
        ),
    )
    .unwrap();
    let gb = as_gb(
        &fixture("m1"),
        "g11*2018/858*00042*00",
        TypeApprovalCountry::G11,
    );
    let r = v.check(&gb);
    assert!(r.is_valid(), "{r:?}");
    // Its own checks bite: a VIN with an O, an unknown approval country.
    let bad = String::from_utf8(gb)
        .unwrap()
        .replace("WEX1M1AB2C3456789", "WEX1M1AB2C345678O")
        .replace(">g11<", ">x11<");
    let r = v.check(bad.as_bytes());
    assert!(
        r.schema
            .iter()
            .any(|d| d.path.ends_with("VehicleIdentificationNumber")),
        "{r:?}"
    );
    assert!(
        r.schema
            .iter()
            .any(|d| d.path.ends_with("DesignatedTypeApprovalCountry")),
        "{r:?}"
    );
}

#[test]
fn the_same_gb_document_is_valid_for_uk_and_invalid_for_eu() {
    if common::ivi2().is_none() {
        return;
    }
    let uk = ProfileValidator::new(Profile::Uk, None).unwrap();
    assert!(
        uk.has_official_pass(),
        "the official schema is found beside the repository"
    );
    let eu = ProfileValidator::new(Profile::Eu, None).unwrap();
    for (number, country) in [
        ("g11*2018/858*00042*00", TypeApprovalCountry::G11),
        ("n11*2018/858*00043*00", TypeApprovalCountry::N11),
        ("e11*2007/46*1234*05", TypeApprovalCountry::E11),
    ] {
        let doc = as_gb(&fixture("n1"), number, country);
        let r = uk.check(&doc);
        assert!(r.is_valid(), "{number}: {r:?}");
        let r = eu.check(&doc);
        assert!(
            r.schema
                .iter()
                .any(|d| d.path.ends_with("DesignatedTypeApprovalCountry")),
            "{number}: {r:?}"
        );
        assert!(
            r.rules.iter().any(|f| f.code == "IVI-TAC-001"),
            "{number}: {r:?}"
        );
    }
    // The official pass still catches errors below CocDataGroup in the uk profile.
    let doc = String::from_utf8(as_gb(
        &fixture("n1"),
        "g11*2018/858*00042*00",
        TypeApprovalCountry::G11,
    ))
    .unwrap();
    let broken = doc.replace(
        "<NumberOfAxles>2</NumberOfAxles>",
        "<NumberOfAxles>200</NumberOfAxles>",
    );
    assert_ne!(doc, broken);
    let r = uk.check(broken.as_bytes());
    assert!(
        r.schema.iter().any(|d| d.path.ends_with("NumberOfAxles")),
        "{r:?}"
    );
    // And an EU document fails the uk rules only where the UK differs: not at all for an e4 approval.
    assert!(uk.check(&fixture("m1")).is_valid());
    assert!(eu.check(&fixture("m1")).is_valid());
}
