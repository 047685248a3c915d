//! The demo mapping against the demo records, and the mapper's and CSV reader's refusals.
//!
//! The demo records were derived from the IVI writer fixtures (`scripts/demo_records.py` reads
//! `components/ivi/tests/fixtures/*/expected.xml`), so mapping a record must give back its fixture,
//! byte for byte, except the two header fields a mapping generates (reference id, timestamp).

#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

use std::path::PathBuf;
use std::time::SystemTime;

use pipeline::csv_batch::CsvRows;
use pipeline::mapping::Mapping;
use serde_json::{Value, json};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn demo_mapping() -> Mapping {
    Mapping::from_json(&std::fs::read(root().join("demo/mapping.json")).unwrap()).unwrap()
}

fn record(name: &str) -> Value {
    serde_json::from_slice(
        &std::fs::read(root().join(format!("demo/records/{name}.json"))).unwrap(),
    )
    .unwrap()
}

/// The XML with the generated header fields blanked.
fn comparable(xml: &str) -> String {
    let blank = |xml: &str, tag: &str| {
        let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
        match (xml.find(&open), xml.find(&close)) {
            (Some(a), Some(b)) => format!("{}{open}{close}{}", &xml[..a], &xml[b + close.len()..]),
            _ => xml.to_owned(),
        }
    };
    blank(&blank(xml, "IviReferenceId"), "IviVersionDateTime")
}

const CASES: [(&str, &str); 7] = [
    ("m1", "m1"),
    ("n1", "n1"),
    ("n3-tractor", "n3-tractor"),
    ("o3-trailer", "o3-trailer"),
    ("l3e", "l3e"),
    ("n2-stage1", "n2-stage1-chassis"),
    ("n2-stage2", "n2-stage2-completed"),
];

#[test]
fn every_demo_record_maps_to_its_fixture() {
    let mapping = demo_mapping();
    for (name, fixture) in CASES {
        let mapped = mapping
            .apply(&record(name), SystemTime::now())
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let expected = std::fs::read_to_string(
            root().join(format!("../ivi/tests/fixtures/{fixture}/expected.xml")),
        )
        .unwrap();
        assert_eq!(comparable(&mapped.xml), comparable(&expected), "{name}");
        assert_eq!(
            mapped.ivi.coc.vehicle_identification_number,
            record(name)["vin"]
        );
        assert_eq!(
            mapped.ivi.header.ivi_reference_id.len(),
            36,
            "a UUID is generated"
        );
    }
}

#[test]
fn every_demo_record_is_valid_against_the_official_schema() {
    let Some(xsd) = ivi::profile::official_xsd().filter(|p| p.is_file()) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have ../shared/ivi2"
        );
        eprintln!("SKIPPED: official IVI 2.0 XSD not found (../shared/ivi2)");
        return;
    };
    let checker = ivi::profile::ProfileValidator::new(ivi::Profile::Eu, Some(&xsd)).unwrap();
    let mapping = demo_mapping();
    for name in [
        "m1",
        "n1",
        "n3-tractor",
        "o3-trailer",
        "l3e",
        "n2-stage1",
        "n2-stage2",
    ] {
        let mapped = mapping.apply(&record(name), SystemTime::now()).unwrap();
        let report = checker.check(mapped.xml.as_bytes());
        assert!(report.is_valid(), "{name}: {report:?}");
    }
    let stage1 = mapping
        .apply(&record("n2-stage1"), SystemTime::now())
        .unwrap()
        .ivi;
    let stage2 = mapping
        .apply(&record("n2-stage2"), SystemTime::now())
        .unwrap()
        .ivi;
    assert!(ivi::rules::check_stage_pair(&stage1, &stage2).is_empty());
    let drifted = mapping
        .apply(&record("n2-stage2-drifted"), SystemTime::now())
        .unwrap()
        .ivi;
    let findings = ivi::rules::check_stage_pair(&stage1, &drifted);
    assert!(
        findings.iter().any(|f| f.code.starts_with("IVI-DRF")),
        "{findings:?}"
    );
}

#[test]
fn every_field_error_is_reported_at_once() {
    let mut r = record("m1");
    r.as_object_mut().unwrap().remove("vin");
    r["construction"]["axles"] = json!("two");
    r["stage_of_completion"] = json!("finished");
    r["approval"]["issued"] = json!("03/06/2024");
    r["axles"] = json!({"number": 1});
    let errors = demo_mapping().apply(&r, SystemTime::now()).unwrap_err();
    let codes: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| (e.code.as_str(), e.path.as_str()))
        .collect();
    assert!(
        codes.contains(&("MAP-REQUIRED", "CocDataGroup/VehicleIdentificationNumber")),
        "{codes:?}"
    );
    assert!(
        codes.contains(&(
            "MAP-TYPE",
            "CocDataGroup/GeneralConstructionGroup/NumberOfAxles"
        )),
        "{codes:?}"
    );
    assert!(
        codes.contains(&("MAP-CODE", "CocDataGroup/StageOfCompletion")),
        "{codes:?}"
    );
    assert!(
        codes.contains(&("MAP-DATE", "CocDataGroup/TypeApprovalIssueDate")),
        "{codes:?}"
    );
    assert!(
        codes.contains(&("MAP-ARRAY", "CocDataGroup/AxleTable/AxleGroup")),
        "{codes:?}"
    );
    assert_eq!(errors.len(), 5, "{errors:?}");
    let vin = errors.iter().find(|e| e.code == "MAP-REQUIRED").unwrap();
    assert!(
        vin.message.contains("`/vin`"),
        "the message names the ERP field: {}",
        vin.message
    );
    let nested = {
        let mut r = record("m1");
        r["axles"][1]["tyres"][0]["size"] = json!({"a": 1});
        demo_mapping().apply(&r, SystemTime::now()).unwrap_err()
    };
    assert_eq!(
        nested[0].path,
        "CocDataGroup/AxleTable/AxleGroup[1]/TyreAxleTable/TyreAxleGroup[0]/TyreSize"
    );
    assert_eq!(
        demo_mapping()
            .apply(&json!([1, 2]), SystemTime::now())
            .unwrap_err()[0]
            .code,
        "MAP-TYPE"
    );
    let huge = {
        let mut r = record("m1");
        r["make"] = json!("X".repeat(5000));
        demo_mapping().apply(&r, SystemTime::now()).unwrap_err()
    };
    assert_eq!(huge[0].code, "MAP-TOO-LONG");
}

#[test]
fn invalid_mappings_are_refused_with_every_reason() {
    let bad = br#"{"fields": [
        {"path": "CocDataGroup/Vin"},
        {"path": "CocDataGroup/X", "from": "vin", "const": "a"},
        {"path": "1bad", "from": "/x"},
        {"path": "A", "from": "/x", "type": "float"},
        {"path": "B", "from": "/x", "decimals": 2},
        {"path": "C", "each": "/c"},
        {"path": "D", "generate": "tomorrow"}
    ]}"#;
    let errors = Mapping::from_json(bad).unwrap_err();
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    for expected in [
        "fields[0]",
        "fields[1]",
        "fields[2].path",
        "fields[3].type",
        "fields[4].decimals",
        "fields[5]",
        "fields[6].generate",
    ] {
        assert!(paths.contains(&expected), "{expected} missing in {paths:?}");
    }
    assert!(errors.iter().all(|e| e.code == "MAPPING-INVALID"));
    assert!(Mapping::from_json(br#"{"fields": [], "extra": 1}"#).is_err());
    assert!(Mapping::from_json(b"not json").is_err());
}

#[test]
fn csv_rows_become_records() {
    let csv = std::fs::read(root().join("demo/records.csv")).unwrap();
    let mapping = demo_mapping();
    let rows: Vec<_> = CsvRows::new(&csv[..]).unwrap().collect();
    assert_eq!(rows.len(), 3);
    let mut vins = Vec::new();
    for row in rows {
        let record = row.record.unwrap();
        let mapped = mapping
            .apply(&record, SystemTime::now())
            .unwrap_or_else(|e| panic!("row {}: {e:?}", row.number));
        vins.push(mapped.ivi.coc.vehicle_identification_number);
    }
    vins.dedup();
    assert_eq!(vins.len(), 3);
}

#[test]
fn csv_oddities() {
    let text = "\u{feff}/vin,/make,/axles/0/number,/note\nV1,\"Make, with comma\",1,\"two\nlines\"\nV2,M\nV3,,2,\n";
    let rows: Vec<_> = CsvRows::new(text.as_bytes()).unwrap().collect();
    assert_eq!(rows.len(), 3);
    let first = rows[0].record.as_ref().unwrap();
    assert_eq!(
        first,
        &json!({"vin": "V1", "make": "Make, with comma", "axles": [{"number": "1"}], "note": "two\nlines"})
    );
    let ragged = rows[1].record.as_ref().unwrap_err();
    assert_eq!((rows[1].number, ragged[0].code.as_str()), (2, "CSV-ROW"));
    assert!(
        ragged[0].message.contains("2 cells"),
        "{}",
        ragged[0].message
    );
    assert_eq!(
        rows[2].record.as_ref().unwrap(),
        &json!({"vin": "V3", "axles": [{"number": "2"}]}),
        "empty cells are absent"
    );
    let err = |header: &str| {
        CsvRows::new(format!("{header}\nx,y\n").as_bytes())
            .unwrap_err()
            .message
    };
    assert!(err("/vin,/vin").contains("twice"));
    assert!(err("/a,/a/b").contains("conflict"));
    assert!(err("vin,/make").contains("JSON pointer"));
    let mixed: Vec<_> = CsvRows::new("/a/0,/a/b\n1,2\n".as_bytes())
        .unwrap()
        .collect();
    assert_eq!(mixed[0].record.as_ref().unwrap_err()[0].code, "CSV-COLUMN");
}
