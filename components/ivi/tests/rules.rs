//! Domain rules: silent on the official specimens, and each rule fires on the case it describes.

#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

mod common;

use ivi::model::{Date, ManufacturerGroup, StageOfCompletion, TypeApprovalCountry};
use ivi::rules::{self, Finding};
use ivi::{Ivi, Profile};

fn codes(f: &[Finding]) -> Vec<&'static str> {
    f.iter().map(|f| f.code).collect()
}

fn specimen(name_start: &str) -> Option<Ivi> {
    let dir = common::ivi2()?;
    let p = common::specimens(&dir).into_iter().find(|p| {
        p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(name_start)
    })?;
    Some(Ivi::from_xml(&std::fs::read(p).unwrap()).unwrap())
}

const TODAY: Date = Date {
    year: 2026,
    month: 1,
    day: 1,
};

#[test]
fn official_specimens_break_no_rule() {
    let Some(dir) = common::ivi2() else { return };
    for p in common::specimens(&dir) {
        let ivi = Ivi::from_xml(&std::fs::read(&p).unwrap()).unwrap();
        let f = rules::check_at(&ivi, Profile::Eu, TODAY);
        assert!(f.is_empty(), "{}: {f:?}", p.display());
    }
}

#[test]
fn vin_rules_name_the_field_and_value() {
    let Some(mut ivi) = specimen("M1-01") else {
        return;
    };
    ivi.coc.vehicle_identification_number = "JTHBO3BC0P5000001".into();
    let f = rules::check_at(&ivi, Profile::Eu, TODAY);
    assert_eq!(codes(&f), ["IVI-VIN-002"]);
    assert!(
        f[0].message.contains("VehicleIdentificationNumber") && f[0].message.contains("`O`"),
        "{}",
        f[0]
    );
    ivi.coc.vehicle_identification_number = "JTHB3BC0P50001".into();
    assert_eq!(
        codes(&rules::check_at(&ivi, Profile::Eu, TODAY)),
        ["IVI-VIN-001"]
    );
}

#[test]
fn approval_numbers_per_profile() {
    let Some(mut ivi) = specimen("M1-01") else {
        return;
    };
    ivi.coc.type_approval_number = "e4*2018/858*00264*01".into();
    assert_eq!(
        codes(&rules::check_at(&ivi, Profile::Eu, TODAY)),
        ["IVI-TAN-002"]
    );
    ivi.coc.type_approval_number = "6*2018/858*00264".into();
    assert_eq!(
        codes(&rules::check_at(&ivi, Profile::Eu, TODAY)),
        ["IVI-TAN-001"]
    );
    // A GB approval: wrong for eu, right for uk.
    ivi.header.designated_type_approval_country = TypeApprovalCountry::G11;
    ivi.coc.type_approval_number = "g11*2018/858*00042*00".into();
    assert_eq!(
        codes(&rules::check_at(&ivi, Profile::Eu, TODAY)),
        ["IVI-TAC-001", "IVI-TAN-001"]
    );
    assert!(rules::check_at(&ivi, Profile::Uk, TODAY).is_empty());
    // Northern Ireland number with a GB country: inconsistent.
    ivi.coc.type_approval_number = "n11*2018/858*00042*00".into();
    assert_eq!(
        codes(&rules::check_at(&ivi, Profile::Uk, TODAY)),
        ["IVI-TAN-002"]
    );
}

#[test]
fn stage_rules() {
    let Some(mut ivi) = specimen("N2-01") else {
        return;
    };
    ivi.coc.stage_of_completion = StageOfCompletion::V;
    assert_eq!(
        codes(&rules::check_at(&ivi, Profile::Eu, TODAY)),
        ["IVI-STG-001"]
    );
    // Stage 2 without the previous stage's data.
    let first = ivi.coc.manufacturer_table[0].clone();
    ivi.coc.manufacturer_table = vec![ManufacturerGroup {
        manufacturer_stage_number: 2,
        ..first.clone()
    }];
    let f = rules::check_at(&ivi, Profile::Eu, TODAY);
    assert_eq!(codes(&f), ["IVI-STG-003"]);
    assert!(f[0].message.contains("PreviousStageVariant"), "{}", f[0]);
    // Stage 2 that repeats stage 1's approval, variant and version.
    ivi.coc.manufacturer_table[0].previous_stage_type_approval_number =
        Some(ivi.coc.type_approval_number.clone());
    ivi.coc.manufacturer_table[0].previous_stage_type = Some(ivi.coc.vehicle_type.clone());
    ivi.coc.manufacturer_table[0].previous_stage_variant = Some(ivi.coc.variant.clone());
    ivi.coc.manufacturer_table[0].previous_stage_version = Some(ivi.coc.version.clone());
    assert_eq!(
        codes(&rules::check_at(&ivi, Profile::Eu, TODAY)),
        ["IVI-STG-004"]
    );
    ivi.coc.version = format!("{}X", ivi.coc.version);
    assert!(rules::check_at(&ivi, Profile::Eu, TODAY).is_empty());
    ivi.coc.stage_of_completion = StageOfCompletion::C;
    assert_eq!(
        codes(&rules::check_at(&ivi, Profile::Eu, TODAY)),
        ["IVI-STG-002"]
    );
    // Stage 1 naming a previous stage.
    ivi.coc.stage_of_completion = StageOfCompletion::I;
    ivi.coc.manufacturer_table[0].manufacturer_stage_number = 1;
    assert_eq!(
        codes(&rules::check_at(&ivi, Profile::Eu, TODAY)),
        ["IVI-STG-005"]
    );
}

#[test]
fn mass_rules() {
    let Some(mut ivi) = specimen("N2-01") else {
        return;
    };
    let m = ivi.coc.mass_group.as_mut().unwrap();
    m.technically_permissible_maximum_laden_mass = Some(2800);
    let f = rules::check_at(&ivi, Profile::Eu, TODAY);
    assert_eq!(codes(&f), ["IVI-MAS-001"]);
    assert!(
        f[0].message.contains("2800") && f[0].message.contains("2865"),
        "{}",
        f[0]
    );
    let m = ivi.coc.mass_group.as_mut().unwrap();
    m.technically_permissible_maximum_laden_mass = Some(4600);
    assert_eq!(
        codes(&rules::check_at(&ivi, Profile::Eu, TODAY)),
        ["IVI-MAS-002"]
    );
    ivi.coc
        .mass_group
        .as_mut()
        .unwrap()
        .technically_permissible_maximum_laden_mass = Some(2300);
    assert_eq!(
        codes(&rules::check_at(&ivi, Profile::Eu, TODAY)),
        ["IVI-MAS-001", "IVI-MAS-003"]
    );
    ivi.coc
        .mass_group
        .as_mut()
        .unwrap()
        .technically_permissible_maximum_laden_mass = Some(4250);
    ivi.coc.mass_group.as_mut().unwrap().mass_in_running_order = Some(2900);
    assert_eq!(
        codes(&rules::check_at(&ivi, Profile::Eu, TODAY)),
        ["IVI-MAS-004"]
    );
}

#[test]
fn category_groups_and_dates() {
    let Some(mut ivi) = specimen("M1-02") else {
        return;
    };
    ivi.coc.dimension_group = None;
    let f = rules::check_at(&ivi, Profile::Eu, TODAY);
    assert_eq!(codes(&f), ["IVI-GRP-001"]);
    assert!(
        f[0].message.contains("DimensionGroup") && f[0].message.contains("M1"),
        "{}",
        f[0]
    );
    let Some(ivi) = specimen("M1-02") else { return };
    let long_ago = Date {
        year: 2020,
        month: 1,
        day: 1,
    };
    let f = rules::check_at(&ivi, Profile::Eu, long_ago);
    assert!(
        !f.is_empty() && f.iter().all(|f| f.code == "IVI-DAT-001"),
        "{f:?}"
    );
    assert!(
        f.iter()
            .any(|f| f.message.contains("TypeApprovalIssueDate")),
        "{f:?}"
    );
}
