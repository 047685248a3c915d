//! The writer's output for vehicles of several categories, as golden files, checked against the official
//! XSD by ecoc and by `xmllint`, and against the domain rules.
//!
//! `tests/fixtures/<case>/expected.xml` is what `Ivi::to_xml` writes for the model built here; run
//! `BLESS=1 cargo test -p ivi --test writer_fixtures` to rewrite them (see `tests/fixtures/README.md`).

#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

mod common;

use std::path::PathBuf;
use std::process::Command;

use ivi::model::*;
use ivi::rules;
use ivi::validate::Validator;
use ivi::xml::{Attribute, Element, Node};
use ivi::{Ivi, Profile};

fn ds(name: &str) -> Element {
    Element::new(Some(DSIG_NS), name)
}

fn with_algorithm(name: &str, alg: &str) -> Element {
    let mut e = ds(name);
    e.attributes.push(Attribute {
        ns: None,
        prefix: None,
        name: "Algorithm".into(),
        value: alg.into(),
    });
    e
}

/// A structurally complete XML-DSig `Signature` with zero digest and value: the official XSD requires
/// one, and `sign` replaces it with a real signature. Test-only, never produced by the library.
fn placeholder_signature() -> Element {
    let mut reference = ds("Reference");
    reference.attributes.push(Attribute {
        ns: None,
        prefix: None,
        name: "URI".into(),
        value: String::new(),
    });
    let mut transforms = ds("Transforms");
    transforms.children.push(Node::Element(with_algorithm(
        "Transform",
        "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
    )));
    reference.children.push(Node::Element(transforms));
    reference.children.push(Node::Element(with_algorithm(
        "DigestMethod",
        "http://www.w3.org/2001/04/xmlenc#sha256",
    )));
    reference.children.push(Node::Element(Element::with_text(
        Some(DSIG_NS),
        "DigestValue",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    )));
    let mut signed = ds("SignedInfo");
    signed.children.push(Node::Element(with_algorithm(
        "CanonicalizationMethod",
        "http://www.w3.org/2001/10/xml-exc-c14n#",
    )));
    signed.children.push(Node::Element(with_algorithm(
        "SignatureMethod",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    )));
    signed.children.push(Node::Element(reference));
    let mut sig = ds("Signature");
    sig.children.push(Node::Element(signed));
    sig.children.push(Node::Element(Element::with_text(
        Some(DSIG_NS),
        "SignatureValue",
        "AAAA",
    )));
    sig
}

fn date(y: i32, m: u32, d: u32) -> Date {
    Date::new(y, m, d).unwrap()
}

fn base(vin: &str, category: VehicleCategory, approval: &str, country: TypeApprovalCountry) -> Ivi {
    Ivi {
        header: Header {
            ivi_reference_id: "6f1c2a9e-3b4d-4e5f-8a6b-7c8d9e0f1a2b".into(),
            ivi_version_number_xsd: IviVersionNumberXsd::V20,
            ivi_version_number: 1,
            ivi_version_date_time: Value::parse("2025-03-01T09:30:00Z").unwrap(),
            designated_type_approval_country: country,
            ..Header::default()
        },
        coc: CocDataGroup {
            vehicle_identification_number: vin.into(),
            type_approval_type: TypeApprovalType::EU,
            provisional_type_approval_indicator: Indicator::N,
            stage_of_completion: StageOfCompletion::C,
            vehicle_type: "ECT1".into(),
            variant: "A".into(),
            version: "A01".into(),
            vehicle_category: category,
            method_attachment_statutory_plate: MethodAttachmentStatutoryPlate::A1,
            type_approval_number: approval.into(),
            type_approval_issue_date: date(2024, 6, 3),
            signing_authority_table: vec![SigningAuthorityGroup {
                signer_name: "Jane Example".into(),
                signer_position: "Homologation manager".into(),
                signature_location: "Example City".into(),
                signature_date: date(2025, 3, 1),
                ..Default::default()
            }],
            make_table: vec![MakeGroup {
                make: "EXAMPLE".into(),
                ..Default::default()
            }],
            commercial_name_table: Some(vec![CommercialNameGroup {
                commercial_name: "EXAMPLE ONE".into(),
                ..Default::default()
            }]),
            manufacturer_table: vec![manufacturer(1)],
            ..CocDataGroup::default()
        },
        signature: Some(placeholder_signature()),
        other: Vec::new(),
    }
}

fn manufacturer(stage: u32) -> ManufacturerGroup {
    ManufacturerGroup {
        manufacturer_stage_number: stage,
        manufacturer_name: format!("Example Vehicles stage {stage}"),
        manufacturer_address_line1: "1 Example Street".into(),
        manufacturer_place_of_residence: "Example City".into(),
        manufacturer_country_of_residence: "NETHERLANDS".into(),
        ..Default::default()
    }
}

fn axle(n: u32, tpma: u32, distribution: Option<u32>, powered: bool, tyre: &str) -> AxleGroup {
    AxleGroup {
        axle_number: n,
        twin_wheels_axle_indicator: Some(Indicator::N),
        powered_axle_indicator: Some(if powered { Indicator::Y } else { Indicator::N }),
        technically_permissible_mass_axle: Some(tpma),
        distribution_mass_running_order_axle: distribution,
        tyre_axle_table: Some(vec![TyreAxleGroup {
            tyre_number: 1,
            tyre_size: Some(tyre.into()),
            ..Default::default()
        }]),
        ..Default::default()
    }
}

fn body(
    ivi: &mut Ivi,
    axles: u32,
    dims: (u32, u32, u32, u32),
    masses: (u32, u32),
    axle_groups: Vec<AxleGroup>,
    bodywork: Option<Bodywork>,
) {
    let (wheelbase, length, width, height) = dims;
    ivi.coc.general_construction_group = Some(GeneralConstructionGroup {
        number_of_axles: Some(axles),
        number_of_wheels: Some(axles * 2),
        ..Default::default()
    });
    ivi.coc.dimension_group = Some(DimensionGroup {
        wheelbase: Some(wheelbase),
        length: Some(length),
        width: Some(width),
        height: Some(height),
        ..Default::default()
    });
    ivi.coc.mass_group = Some(MassGroup {
        mass_in_running_order: Some(masses.0),
        technically_permissible_maximum_laden_mass: Some(masses.1),
        ..Default::default()
    });
    ivi.coc.axle_table = Some(axle_groups);
    if let Some(code) = bodywork {
        ivi.coc.bodywork_table = Some(vec![BodyworkGroup {
            code_for_bodywork: Some(code),
            ..Default::default()
        }]);
    }
}

fn energy(ivi: &mut Ivi, source: EnergySource, power: &str, co2: Option<&str>) {
    ivi.coc.energy_convertor_table = Some(vec![EnergyConvertorGroup {
        manufacturer_energy_convertor: Some("Example Engines".into()),
        energy_convertor_code_marked_on_energy_convertor: Some("EX-1".into()),
        energy_source_table: Some(vec![EnergySourceGroup {
            energy_source: source,
            power_group: Some(PowerGroup {
                maximum_net_power_combustion: Some(Decimal::new(power).unwrap()),
                ..Default::default()
            }),
            test_wltp_co2_group: co2.map(|c| TestWltpCo2Group {
                wltp_co2_combined: Some(Decimal::new(c).unwrap()),
                ..Default::default()
            }),
            ..Default::default()
        }]),
        ..Default::default()
    }]);
}

fn cases() -> Vec<(&'static str, Ivi)> {
    let mut m1 = base(
        "WEX1M1AB2C3456789",
        VehicleCategory::M1,
        "e4*2018/858*00123*01",
        TypeApprovalCountry::E4,
    );
    body(
        &mut m1,
        2,
        (2700, 4600, 1850, 1480),
        (1540, 2050),
        vec![
            axle(1, 1080, Some(860), true, "215/55R17"),
            axle(2, 1050, Some(680), false, "215/55R17"),
        ],
        Some(Bodywork::AA),
    );
    energy(&mut m1, EnergySource::V10, "110.00", Some("128.00"));
    m1.coc.fuel_type = Some(FuelType::M);
    m1.coc.exhaust_emission_level = Some(ExhaustEmissionLevel::Euro6AP);
    m1.coc.colour_table = Some(vec![ColourGroup {
        colour: Colour::V3,
        ..Default::default()
    }]);

    let mut n1 = base(
        "WEX1N1AB2C3456789",
        VehicleCategory::N1,
        "e1*2018/858*00456*00",
        TypeApprovalCountry::E1,
    );
    body(
        &mut n1,
        2,
        (3300, 5300, 2000, 2500),
        (2050, 3500),
        vec![
            axle(1, 1750, None, true, "215/65R16C"),
            axle(2, 1950, None, false, "215/65R16C"),
        ],
        Some(Bodywork::BB),
    );
    energy(&mut n1, EnergySource::V20, "100.00", Some("210.00"));

    let mut n3 = base(
        "WEX1N3AB2C3456789",
        VehicleCategory::N3,
        "e5*2018/858*00789*02",
        TypeApprovalCountry::E5,
    );
    body(
        &mut n3,
        2,
        (3800, 6000, 2550, 3900),
        (7800, 20500),
        vec![
            axle(1, 8000, None, false, "385/65R22.5"),
            axle(2, 13000, None, true, "315/70R22.5"),
        ],
        Some(Bodywork::BC),
    );
    energy(&mut n3, EnergySource::V20, "350.00", None);
    n3.coc.towing_braked_type_trail_table = Some(vec![TowingBrakedTypeTrailGroup {
        mechanical_coupling_number_towing_masses: Some(1),
        braked_type_trail: Some(BrakedTypeTrail::BRK),
        ..Default::default()
    }]);

    let mut o3 = base(
        "WEX1T3AB2C3456789",
        VehicleCategory::O3,
        "e4*2018/858*00321*00",
        TypeApprovalCountry::E4,
    );
    body(
        &mut o3,
        2,
        (6500, 11000, 2550, 4000),
        (5200, 10000),
        vec![
            axle(1, 6000, None, false, "385/65R22.5"),
            axle(2, 6000, None, false, "385/65R22.5"),
        ],
        Some(Bodywork::DC),
    );

    let mut l3e = base(
        "WEX1L3AB2C3456789",
        VehicleCategory::L3eA2,
        "e4*168/2013*01234*00",
        TypeApprovalCountry::E4,
    );
    body(
        &mut l3e,
        2,
        (1450, 2100, 800, 1150),
        (190, 390),
        vec![
            axle(1, 160, None, false, "120/70ZR17"),
            axle(2, 240, None, true, "180/55ZR17"),
        ],
        None,
    );
    energy(&mut l3e, EnergySource::V10, "35.00", None);

    // A multi-stage vehicle: an incomplete N2 chassis cab, then the completed box truck.
    let mut stage1 = base(
        "WEX1N2AB2C3456789",
        VehicleCategory::N2,
        "e4*2018/858*00500*00",
        TypeApprovalCountry::E4,
    );
    stage1.coc.stage_of_completion = StageOfCompletion::I;
    stage1.coc.vehicle_type = "CHS2".into();
    stage1.coc.variant = "CC".into();
    stage1.coc.version = "CC01".into();
    body(
        &mut stage1,
        2,
        (3750, 6200, 2100, 2600),
        (3100, 7490),
        vec![
            axle(1, 3300, None, false, "225/75R17.5"),
            axle(2, 5000, None, true, "225/75R17.5"),
        ],
        None,
    );
    stage1
        .coc
        .mass_group
        .as_mut()
        .unwrap()
        .mass_in_running_order_incomplete = Some(3100);
    // The chassis has its engine (setup manual: M, N, L, T, C carry an energy convertor code); the
    // completed stage repeats it.
    energy(&mut stage1, EnergySource::V20, "130.00", None);

    let mut stage2 = stage1.clone();
    stage2.header.ivi_reference_id = "0b7e4c1d-2f3a-4b5c-9d6e-7f8091a2b3c4".into();
    stage2.coc.stage_of_completion = StageOfCompletion::V;
    stage2.coc.type_approval_number = "e4*2018/858*00777*00".into();
    stage2.coc.vehicle_type = "BOX2".into();
    stage2.coc.variant = "BT".into();
    stage2.coc.version = "BT01".into();
    stage2.coc.bodywork_table = Some(vec![BodyworkGroup {
        code_for_bodywork: Some(Bodywork::BA),
        ..Default::default()
    }]);
    stage2
        .coc
        .mass_group
        .as_mut()
        .unwrap()
        .mass_in_running_order = Some(4300);
    stage2
        .coc
        .mass_group
        .as_mut()
        .unwrap()
        .mass_in_running_order_incomplete = None;
    stage2.coc.manufacturer_table = vec![ManufacturerGroup {
        previous_stage_type_approval_number: Some(stage1.coc.type_approval_number.clone()),
        previous_stage_type: Some(stage1.coc.vehicle_type.clone()),
        previous_stage_variant: Some(stage1.coc.variant.clone()),
        previous_stage_version: Some(stage1.coc.version.clone()),
        ..manufacturer(2)
    }];

    vec![
        ("m1", m1),
        ("n1", n1),
        ("n3-tractor", n3),
        ("o3-trailer", o3),
        ("l3e", l3e),
        ("n2-stage1-chassis", stage1),
        ("n2-stage2-completed", stage2),
    ]
}

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

#[test]
fn writer_output_matches_golden_files() {
    let bless = std::env::var_os("BLESS").is_some();
    for (name, ivi) in cases() {
        let xml = ivi.to_xml();
        let path = fixtures_dir().join(name).join("expected.xml");
        if bless {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &xml).unwrap();
        }
        let expected = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run with BLESS=1)", path.display()));
        assert_eq!(
            xml, expected,
            "{name}: writer output changed (BLESS=1 to accept)"
        );
        // Read back: same model, same bytes.
        assert_eq!(
            Ivi::from_xml(xml.as_bytes()).unwrap().to_xml(),
            xml,
            "{name}"
        );
    }
}

#[test]
fn writer_output_passes_the_domain_rules() {
    for (name, ivi) in cases() {
        let findings = rules::check(&ivi, Profile::Eu);
        assert!(findings.is_empty(), "{name}: {findings:?}");
    }
}

#[test]
fn the_two_stages_continue_each_other_and_drift_is_caught() {
    let all = cases();
    let stage1 = &all
        .iter()
        .find(|(n, _)| *n == "n2-stage1-chassis")
        .unwrap()
        .1;
    let stage2 = &all
        .iter()
        .find(|(n, _)| *n == "n2-stage2-completed")
        .unwrap()
        .1;
    assert_eq!(rules::check_stage_pair(stage1, stage2), vec![]);
    let codes = |f: Vec<rules::Finding>| f.into_iter().map(|f| f.code).collect::<Vec<_>>();
    // Heavier than the chassis allows, longer than it allows, a different VIN, a wrong previous variant.
    let mut base = stage1.clone();
    base.coc
        .dimension_group
        .as_mut()
        .unwrap()
        .maximum_permissible_length = Some(7000);
    let mut drifted = stage2.clone();
    drifted
        .coc
        .mass_group
        .as_mut()
        .unwrap()
        .technically_permissible_maximum_laden_mass = Some(7990);
    drifted.coc.dimension_group.as_mut().unwrap().length = Some(7200);
    assert_eq!(
        codes(rules::check_stage_pair(&base, &drifted)),
        ["IVI-DRF-001", "IVI-DRF-003"]
    );
    drifted
        .coc
        .mass_group
        .as_mut()
        .unwrap()
        .mass_in_running_order = Some(3000);
    assert!(codes(rules::check_stage_pair(&base, &drifted)).contains(&"IVI-DRF-002"));
    let mut other = stage2.clone();
    other.coc.vehicle_identification_number = "WEX1N2AB2C3456780".into();
    other.coc.manufacturer_table[0].previous_stage_variant = Some("XX".into());
    assert_eq!(
        codes(rules::check_stage_pair(stage1, &other)),
        ["IVI-STG-010", "IVI-STG-012"]
    );
    // A file is not its own next stage: wrong stage number, and stage 1 names no previous stage.
    let same = codes(rules::check_stage_pair(stage1, stage1));
    assert_eq!(same[0], "IVI-STG-011");
    assert_eq!(
        same.iter().filter(|c| **c == "IVI-STG-012").count(),
        4,
        "{same:?}"
    );
}

#[test]
fn writer_output_validates_against_the_official_xsd() {
    let Some(dir) = common::ivi2() else { return };
    let xsd = common::official_xsd(&dir);
    let validator = Validator::from_path(&xsd).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (name, ivi) in cases() {
        let xml = ivi.to_xml();
        let diags = validator.validate(xml.as_bytes());
        assert!(diags.is_empty(), "{name}: {diags:?}");
        let f = tmp.path().join(format!("{name}.xml"));
        std::fs::write(&f, xml).unwrap();
        files.push(f);
    }
    let Ok(out) = Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(&xsd)
        .args(&files)
        .output()
    else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but xmllint is missing"
        );
        eprintln!("SKIPPED: xmllint is not installed");
        return;
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    for f in &files {
        assert!(
            stderr
                .lines()
                .any(|l| l == format!("{} validates", f.display())),
            "xmllint: {stderr}"
        );
    }
}
