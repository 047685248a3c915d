//! The demo mapping against the demo records, and the mapper's and CSV reader's refusals.
//!
//! The demo records were derived from the IVI writer fixtures (`scripts/demo_records.py` read
//! `components/ivi/tests/fixtures/*/expected.xml`), so mapping a record must give back its fixture,
//! byte for byte, except the two header fields a mapping generates (reference id, timestamp).

#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ivi::Profile;
use ivi::profile::ProfileValidator;
use pipeline::FieldError;
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

/// 2026-11-21T15:43:17Z (`date -u -d 2026-11-21T15:43:17Z +%s`).
fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_275_797)
}

/// The XML with the generated header fields (reference id, timestamp) blanked.
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

fn codes(errors: &[FieldError]) -> Vec<(&str, &str)> {
    errors
        .iter()
        .map(|e| (e.code.as_str(), e.path.as_str()))
        .collect()
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

/// The official XSD, or `None` after saying why the caller skips (a panic under `CI`).
fn official_xsd() -> Option<PathBuf> {
    let found = ivi::profile::official_xsd().filter(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have the official XSD (../shared/ivi2 or ECOC_IVI2_XSD)"
        );
        eprintln!("skipped: official XSD not found (../shared/ivi2)");
    }
    found
}

#[test]
fn every_demo_record_maps_to_its_fixture() {
    let mapping = demo_mapping();
    for (name, fixture) in CASES {
        let input = record(name);
        let mapped = mapping
            .apply(&input, now())
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let expected = std::fs::read_to_string(
            root().join(format!("../ivi/tests/fixtures/{fixture}/expected.xml")),
        )
        .unwrap();
        assert_eq!(comparable(&mapped.xml), comparable(&expected), "{name}");
        assert_eq!(
            mapped.ivi.coc.vehicle_identification_number, input["vin"],
            "{name}"
        );
        assert!(
            mapped.xml.contains(&format!(
                "<VehicleIdentificationNumber>{}</VehicleIdentificationNumber>",
                input["vin"].as_str().unwrap()
            )),
            "{name}"
        );
        assert!(
            mapped
                .xml
                .contains("<IviVersionDateTime>2026-11-21T15:43:17Z</IviVersionDateTime>"),
            "{name}: stamped with `now`"
        );
        let id = &mapped.ivi.header.ivi_reference_id;
        assert_eq!((id.len(), &id[14..15]), (36, "4"), "a UUID v4: {id}");
        assert!(mapped.ivi.signature.is_some(), "a placeholder Signature");
    }
}

#[test]
fn every_demo_record_passes_the_schema_and_the_rules() {
    let Some(xsd) = official_xsd() else { return };
    let checker = ProfileValidator::new(Profile::Eu, None).unwrap();
    let mapping = demo_mapping();
    let xmllint = Command::new("xmllint").arg("--version").output().is_ok();
    if !xmllint {
        assert!(std::env::var_os("CI").is_none(), "CI must have xmllint");
        eprintln!("skipped: xmllint not installed (libxml2-utils)");
    }
    let dir = tempfile::tempdir().unwrap();
    for name in CASES.map(|c| c.0).into_iter().chain(["n2-stage2-drifted"]) {
        let mapped = mapping.apply(&record(name), now()).unwrap();
        let report = checker.check(mapped.xml.as_bytes());
        assert!(report.is_valid(), "{name}: {report:?}");
        if xmllint {
            assert_xmllint_valid(&xsd, dir.path(), name, &mapped.xml);
        }
    }
}

fn assert_xmllint_valid(xsd: &Path, dir: &Path, name: &str, xml: &str) {
    let file = dir.join(format!("{name}.xml"));
    std::fs::write(&file, xml).unwrap();
    let out = Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(xsd)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name}: xmllint: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn stage_two_stays_inside_stage_one_and_the_drifted_one_does_not() {
    let mapping = demo_mapping();
    let model = |name: &str| mapping.apply(&record(name), now()).unwrap().ivi;
    let (stage1, stage2) = (model("n2-stage1"), model("n2-stage2"));
    assert_eq!(
        stage1.coc.vehicle_identification_number,
        stage2.coc.vehicle_identification_number
    );
    assert_eq!(
        (stage1.stage(), stage2.stage()),
        (Some(1), Some(2)),
        "stages"
    );
    let findings = ivi::rules::check_stage_pair(&stage1, &stage2);
    assert!(findings.is_empty(), "{findings:?}");
    let findings = ivi::rules::check_stage_pair(&stage1, &model("n2-stage2-drifted"));
    assert!(
        findings.iter().any(|f| f.code.starts_with("IVI-DRF")),
        "{findings:?}"
    );
}

#[test]
fn fields_listed_out_of_schema_order_are_written_in_schema_order() {
    let mut doc: Value =
        serde_json::from_slice(&std::fs::read(root().join("demo/mapping.json")).unwrap()).unwrap();
    doc["fields"].as_array_mut().unwrap().reverse();
    let reversed = Mapping::from_json(doc.to_string().as_bytes()).unwrap();
    for (name, _) in CASES {
        let a = demo_mapping().apply(&record(name), now()).unwrap();
        let b = reversed.apply(&record(name), now()).unwrap();
        assert_eq!(comparable(&a.xml), comparable(&b.xml), "{name}");
    }
}

/// The demo mapping with `first` put before its fields and `last` after them.
fn demo_with(first: Value, last: Value) -> Mapping {
    let mut doc: Value =
        serde_json::from_slice(&std::fs::read(root().join("demo/mapping.json")).unwrap()).unwrap();
    let fields = doc["fields"].as_array_mut().unwrap();
    for (i, f) in first.as_array().unwrap().iter().enumerate() {
        fields.insert(i, f.clone());
    }
    fields.extend(last.as_array().unwrap().iter().cloned());
    Mapping::from_json(doc.to_string().as_bytes()).unwrap()
}

#[test]
fn an_element_the_model_does_not_know_is_kept_after_the_known_ones() {
    let mapping = demo_with(
        json!([{"path": "CocDataGroup/NotAnIviElement", "const": "x"}]),
        json!([]),
    );
    let xml = mapping.apply(&record("m1"), now()).unwrap().xml;
    let (last_known, unknown) = (
        xml.find("<BodyworkTable>").unwrap(),
        xml.find("<NotAnIviElement>x</NotAnIviElement>").unwrap(),
    );
    assert!(last_known < unknown, "{xml}");
    assert!(unknown < xml.find("</CocDataGroup>").unwrap(), "{xml}");
}

#[test]
fn generated_and_typed_values() {
    let mapping = demo_with(
        json!([]),
        json!([
            {"path": "Header/IviReferenceId", "generate": "uuid"},
            {"path": "CocDataGroup/TypeApprovalIssueDate", "generate": "today"},
            {"path": "CocDataGroup/ProvisionalTypeApprovalIndicator", "from": "/provisional_text", "type": "yn"},
            {"path": "CocDataGroup/MassGroup/MassInRunningOrder", "from": "/mass_text", "type": "integer"}
        ]),
    );
    let mut r = record("m1");
    r["provisional_text"] = json!("Y");
    r["mass_text"] = json!("1.54e3");
    let axles = r["axles"].as_array().unwrap().clone();
    r["axles"] = json!([axles[0], null, axles[1]]);
    let mapped = mapping.apply(&r, now()).unwrap();
    let xml = &mapped.xml;
    for part in [
        "<IviVersionDateTime>2026-11-21T15:43:17Z</IviVersionDateTime>",
        "<IviVersionNumberXsd>2.0</IviVersionNumberXsd>",
        "<IviVersionNumber>1</IviVersionNumber>",
        "<TypeApprovalIssueDate>2026-11-21</TypeApprovalIssueDate>",
        "<MassInRunningOrder>1540</MassInRunningOrder>",
        "<ProvisionalTypeApprovalIndicator>Y</ProvisionalTypeApprovalIndicator>",
    ] {
        assert!(xml.contains(part), "{part} in {xml}");
    }
    assert_eq!(xml.matches("<IviReferenceId>").count(), 1);
    let numbers: Vec<u32> = mapped
        .ivi
        .coc
        .axle_table
        .iter()
        .flatten()
        .map(|a| a.axle_number)
        .collect();
    assert_eq!(numbers, [1, 2], "a null item is a hole, not an empty group");

    // Decimals, from a JSON number and from a CSV string.
    let m = demo_mapping();
    for power in [json!(110), json!("109.996")] {
        let mut r = record("m1");
        r["engines"][0]["max_net_power_kw"] = power;
        let xml = m.apply(&r, now()).unwrap().xml;
        assert!(
            xml.contains("<MaximumNetPowerCombustion>110.00</MaximumNetPowerCombustion>"),
            "{xml}"
        );
    }
    let uk = Mapping::from_json(br#"{"profile": "uk", "fields": []}"#).unwrap();
    assert_eq!((uk.profile(), m.profile()), (Profile::Uk, Profile::Eu));
}

#[test]
fn three_problems_give_three_errors() {
    let mut r = record("m1");
    r.as_object_mut().unwrap().remove("vin");
    r["masses_kg"]["running_order"] = json!("heavy");
    r["stage_of_completion"] = json!("finished");
    let errors = demo_mapping().apply(&r, now()).unwrap_err();
    assert_eq!(
        codes(&errors),
        [
            ("MAP-REQUIRED", "CocDataGroup/VehicleIdentificationNumber"),
            ("MAP-CODE", "CocDataGroup/StageOfCompletion"),
            ("MAP-TYPE", "CocDataGroup/MassGroup/MassInRunningOrder"),
        ]
    );
    assert!(
        errors[0].message.contains("`/vin`"),
        "{}",
        errors[0].message
    );
    assert!(
        errors[1].message.contains("`finished`") && errors[1].message.contains("complete"),
        "{}",
        errors[1].message
    );
    assert!(
        errors[2].message.contains("`/masses_kg/running_order`")
            && errors[2].message.contains("heavy"),
        "{}",
        errors[2].message
    );
}

#[test]
fn every_kind_of_field_error() {
    let mut r = record("m1");
    r["construction"]["axles"] = json!({"n": 2});
    r["construction"]["wheels"] = json!(1e300);
    r["dimensions_mm"]["length"] = json!("9223372036854775808");
    r["approval"]["issued"] = json!("03/06/2024");
    r["approval"]["provisional"] = json!("maybe");
    r["signed_by"]["date"] = json!("2025-02-30");
    r["colours"] = json!({"code": "3"});
    r["make"] = json!("X".repeat(5000));
    r["axles"][1]["tyres"] = json!([]);
    r["axles"][0]["tyres"][0]["size"] = json!(["215/55R17"]);
    let errors = demo_mapping().apply(&r, now()).unwrap_err();
    let got = codes(&errors);
    for want in [
        (
            "MAP-TYPE",
            "CocDataGroup/GeneralConstructionGroup/NumberOfAxles",
        ),
        (
            "MAP-TYPE",
            "CocDataGroup/GeneralConstructionGroup/NumberOfWheels",
        ),
        ("MAP-TYPE", "CocDataGroup/DimensionGroup/Length"),
        ("MAP-DATE", "CocDataGroup/TypeApprovalIssueDate"),
        ("MAP-TYPE", "CocDataGroup/ProvisionalTypeApprovalIndicator"),
        (
            "MAP-DATE",
            "CocDataGroup/SigningAuthorityTable/SigningAuthorityGroup/SignatureDate",
        ),
        ("MAP-ARRAY", "CocDataGroup/ColourTable/ColourGroup"),
        ("MAP-TOO-LONG", "CocDataGroup/MakeTable/MakeGroup/Make"),
        (
            "MAP-REQUIRED",
            "CocDataGroup/AxleTable/AxleGroup[1]/TyreAxleTable/TyreAxleGroup",
        ),
        (
            "MAP-TYPE",
            "CocDataGroup/AxleTable/AxleGroup[0]/TyreAxleTable/TyreAxleGroup[0]/TyreSize",
        ),
    ] {
        assert!(got.contains(&want), "{want:?} missing in {got:?}");
    }
    assert_eq!(errors.len(), 10, "{got:?}");
    let nested = errors
        .iter()
        .find(|e| e.path.ends_with("TyreSize"))
        .unwrap();
    assert!(
        nested.message.contains("`/axles/0/tyres/0/size`"),
        "the message names the whole ERP pointer: {}",
        nested.message
    );

    let not_object = demo_mapping().apply(&json!([1, 2]), now()).unwrap_err();
    assert_eq!(codes(&not_object), [("MAP-TYPE", "/")]);
}

#[test]
fn a_tree_the_model_cannot_read_is_map_ivi() {
    let mapping = demo_with(
        json!([]),
        json!([{"path": "CocDataGroup/StageOfCompletion", "const": "Q"}]),
    );
    let errors = mapping.apply(&record("m1"), now()).unwrap_err();
    assert_eq!(codes(&errors), [("MAP-IVI", "/")]);
    assert!(
        errors[0].message.contains("StageOfCompletion"),
        "the ivi error names the element: {}",
        errors[0].message
    );
    let bare = Mapping::from_json(br#"{"fields": []}"#).unwrap();
    let errors = bare.apply(&json!({}), now()).unwrap_err();
    assert!(errors[0].message.contains("mandatory"), "{errors:?}");
}

#[test]
fn the_element_limit_holds() {
    let mapping = Mapping::from_json(
        br#"{"fields": [{"path": "CocDataGroup/ColourTable/ColourGroup", "each": "/c",
        "fields": [{"path": "Colour", "from": ""}]}]}"#,
    )
    .unwrap();
    let errors = mapping
        .apply(&json!({"c": vec!["1"; 6_000]}), now())
        .unwrap_err();
    assert_eq!(errors.len(), 1, "one error, then the work stops");
    assert_eq!(errors[0].code, "MAP-LIMIT");
}

#[test]
fn invalid_mappings_are_refused_with_every_reason() {
    let bad = br#"{"profile": "fr", "extra": 1, "fields": [
        {"path": "CocDataGroup/Vin"},
        {"path": "CocDataGroup/X", "from": "/vin", "const": "a"},
        {"path": "1bad", "from": "/x"},
        {"path": "A", "from": "/x", "type": "float"},
        {"path": "B", "from": "/x", "decimals": 2},
        {"path": "C", "each": "/c"},
        {"path": "D", "generate": "tomorrow"},
        {"path": "E", "from": "e"},
        {"path": "F", "from": "/a~2"},
        {"path": "G", "from": "/g", "colour": "red"},
        {"path": "H", "const": "h", "default": "x"},
        {"path": "I", "from": "/i", "required": "yes"},
        {"path": "J", "from": "/j", "codes": {"a": 1}},
        {"path": "K", "from": "/k", "type": "decimal", "decimals": -1},
        {"path": "L", "from": "/l"},
        {"path": "L/M", "from": "/m"},
        {"path": "N", "fields": []},
        "not a field",
        {"path": "O", "jq": ".a | select("},
        {"path": "P", "jq": ".p", "type": "integer", "unit": "furlong"},
        {"path": "Q", "from": "/q", "format": "DD.MM.YYYY"},
        {"path": "R", "from": "/r", "otherwise": "x"},
        {"path": "S", "from": "/s", "when": "nosuchfilter"},
        {"path": "T", "from": "/t", "type": "integer", "unit": "kg", "source_unit": "mm"},
        {"path": "U", "from": "/u", "type": "date", "format": "DD.MM.YY"},
        {"path": "V", "from": "/v", "type": "decimal", "decimal_separator": ",", "thousands_separator": ","}
    ]}"#;
    let errors = Mapping::from_json(bad).unwrap_err();
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    for expected in [
        "/profile",
        "/extra",
        "/fields/0",
        "/fields/1",
        "/fields/2/path",
        "/fields/3/type",
        "/fields/4/decimals",
        "/fields/5",
        "/fields/6/generate",
        "/fields/7/from",
        "/fields/8/from",
        "/fields/9/colour",
        "/fields/10/default",
        "/fields/11/required",
        "/fields/12/codes",
        "/fields/13/decimals",
        "/fields/14/path",
        "/fields/16/fields",
        "/fields/17",
        "/fields/18/jq",
        "/fields/19/unit",
        "/fields/20/format",
        "/fields/21/otherwise",
        "/fields/22/when",
        "/fields/23/source_unit",
        "/fields/24/format",
        "/fields/25/thousands_separator",
    ] {
        assert!(paths.contains(&expected), "{expected} missing in {paths:?}");
    }
    assert!(errors.iter().all(|e| e.code == "MAPPING-INVALID"));
    // A nested field's path names its place.
    let nested = Mapping::from_json(
        br#"{"fields": [{"path": "A", "each": "/a", "fields": [{"path": "B", "from": "/b", "type": "float"}]}]}"#,
    )
    .unwrap_err();
    assert_eq!(nested[0].path, "/fields/0/fields/0/type");
    // `each` nests at most 8 deep.
    let nest = |depth: usize| {
        let mut field = json!({"path": "X", "from": "/x"});
        for _ in 0..depth {
            field = json!({"path": "G", "each": "/g", "fields": [field]});
        }
        Mapping::from_json(json!({"fields": [field]}).to_string().as_bytes())
    };
    assert!(nest(8).is_ok());
    assert!(nest(9).is_err());
    assert_eq!(
        codes(&Mapping::from_json(b"not json").unwrap_err()),
        [("MAPPING-INVALID", "")]
    );
    assert!(Mapping::from_json(b"[]").is_err());
    assert!(Mapping::from_json(br#"{"profile": "eu"}"#).is_err());
    // Found by the `json_api` fuzz target: a field with two `jq` keys used to keep the last one.
    let twice = br#"{"fields": [{"path": "X", "jq": ".a", "jq": ".b"}]}"#;
    let errors = Mapping::from_json(twice).unwrap_err();
    assert_eq!(codes(&errors), [("MAPPING-INVALID", "")]);
    assert!(errors[0].message.contains("jq"), "{}", errors[0].message);
}

#[test]
fn the_demo_csv_maps_and_validates() {
    let csv = std::fs::read(root().join("demo/records.csv")).unwrap();
    let mapping = demo_mapping();
    let rows: Vec<_> = CsvRows::new(&csv[..]).unwrap().collect();
    assert_eq!(rows.len(), 3);
    let checker = official_xsd().map(|_| ProfileValidator::new(Profile::Eu, None).unwrap());
    let mut vins = Vec::new();
    for row in rows {
        let record = row.record.unwrap();
        let mapped = mapping
            .apply(&record, now())
            .unwrap_or_else(|e| panic!("row {}: {e:?}", row.number));
        if let Some(checker) = &checker {
            let report = checker.check(mapped.xml.as_bytes());
            assert!(report.is_valid(), "row {}: {report:?}", row.number);
        }
        assert_eq!(mapped.ivi.coc.vehicle_identification_number, record["vin"]);
        vins.push(mapped.ivi.coc.vehicle_identification_number);
    }
    vins.sort();
    vins.dedup();
    assert_eq!(vins.len(), 3, "three different cars");
    // The first row is the M1 demo record, apart from the CSV's strings.
    let first = CsvRows::new(&csv[..])
        .unwrap()
        .next()
        .unwrap()
        .record
        .unwrap();
    let (a, b) = (
        mapping.apply(&first, now()).unwrap().xml,
        mapping.apply(&record("m1"), now()).unwrap().xml,
    );
    let vin = |r: &Value| r["vin"].as_str().unwrap().to_owned();
    assert_eq!(
        comparable(&a).replace(&vin(&first), &vin(&record("m1"))),
        comparable(&b)
    );
}

#[test]
fn csv_oddities() {
    let text = "\u{feff}/vin,/make,/axles/0/number,/note\nV1,\"Make, with comma\",1,\"two\nlines\"\nV2,M\nV3,,2,\n";
    let rows: Vec<_> = CsvRows::new(text.as_bytes()).unwrap().collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[0].record.as_ref().unwrap(),
        &json!({"vin": "V1", "make": "Make, with comma", "axles": [{"number": "1"}], "note": "two\nlines"}),
        "the BOM is skipped, quotes keep the comma and the newline"
    );
    let ragged = rows[1].record.as_ref().unwrap_err();
    assert_eq!(
        (
            rows[1].number,
            ragged[0].code.as_str(),
            ragged[0].path.as_str()
        ),
        (2, "CSV-ROW", "row 2")
    );
    assert!(
        ragged[0].message.contains("2 cells"),
        "{}",
        ragged[0].message
    );
    assert_eq!(
        (rows[2].number, rows[2].record.as_ref().unwrap()),
        (3, &json!({"vin": "V3", "axles": [{"number": "2"}]})),
        "the row after a ragged one still parses; empty cells are absent"
    );
}

/// The demo CSV's columns some ERP names in its own words: a `/` and a `~` in two of them.
const ERP_NAMES: [(&str, &str); 8] = [
    ("/vin", "Chassisnummer"),
    ("/make", "Merk"),
    ("/commercial_name", "Handelsnaam"),
    ("/approval/issued", "Datum goedkeuring"),
    ("/signed_by/position", "Functie/rol"),
    ("/signed_by/place", "Plaats ~ stad"),
    ("/masses_kg/running_order", "Massa rijklaar (kg)"),
    ("/masses_kg/max_laden", " Max. toelaatbare massa (kg) "),
];

/// The demo mapping reading [`ERP_NAMES`] by their pointers (`/Functie~1rol`, `/Plaats ~0 stad`).
fn erp_mapping() -> Mapping {
    let mut mapping: Value =
        serde_json::from_slice(&std::fs::read(root().join("demo/mapping.json")).unwrap()).unwrap();
    for field in mapping["fields"].as_array_mut().unwrap() {
        if let Some((_, name)) = ERP_NAMES.iter().find(|(p, _)| field["from"] == *p) {
            field["from"] = json!(format!(
                "/{}",
                name.trim().replace('~', "~0").replace('/', "~1")
            ));
        }
    }
    Mapping::from_json(mapping.to_string().as_bytes()).unwrap()
}

/// The demo CSV as an ERP writes it: `delimiter`, `line_end`, ERP column names, and the first row's
/// commercial name `EXAMPLE "ONE"; Edition`, quoted.
fn erp_csv(delimiter: &str, line_end: &str) -> String {
    let demo = std::fs::read_to_string(root().join("demo/records.csv")).unwrap();
    let mut lines = demo.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(|h| {
            ERP_NAMES
                .iter()
                .find(|(p, _)| *p == h)
                .map_or(h, |(_, name)| *name)
                .to_owned()
        })
        .collect();
    let named = header.iter().position(|h| h == "Handelsnaam").unwrap();
    let mut out = header.join(delimiter) + line_end;
    for (i, line) in lines.enumerate() {
        let mut cells: Vec<String> = line.split(',').map(str::to_owned).collect();
        if i == 0 {
            cells[named] = "\"EXAMPLE \"\"ONE\"\"; Edition\"".into();
        }
        out += &(cells.join(delimiter) + line_end);
    }
    out
}

#[test]
fn an_erp_csv_with_its_own_column_names_maps_like_the_demo() {
    let demo = std::fs::read(root().join("demo/records.csv")).unwrap();
    let mut expected: Vec<Value> = CsvRows::new(&demo[..])
        .unwrap()
        .map(|r| r.record.unwrap())
        .collect();
    expected[0]["commercial_name"] = json!("EXAMPLE \"ONE\"; Edition");
    let (demo_mapping, erp_mapping) = (demo_mapping(), erp_mapping());
    for (dialect, text) in [
        (
            "semicolons, CRLF, BOM",
            format!("\u{feff}{}", erp_csv(";", "\r\n")),
        ),
        ("tabs", erp_csv("\t", "\n")),
    ] {
        let rows: Vec<_> = CsvRows::new(text.as_bytes()).unwrap().collect();
        assert_eq!(rows.len(), expected.len(), "{dialect}");
        for (row, want) in rows.into_iter().zip(&expected) {
            let record = row.record.unwrap();
            assert_eq!(record["Chassisnummer"], want["vin"], "{dialect}");
            assert_eq!(
                record["Max. toelaatbare massa (kg)"],
                want["masses_kg"]["max_laden"]
            );
            let got = erp_mapping
                .apply(&record, now())
                .unwrap_or_else(|e| panic!("{dialect}, row {}: {e:?}", row.number));
            let want = demo_mapping.apply(want, now()).unwrap();
            assert_eq!(
                comparable(&got.xml),
                comparable(&want.xml),
                "{dialect}, row {}",
                row.number
            );
        }
    }
    // The demo CSV (pointer headers, commas) is read as before.
    let again = CsvRows::new(&demo[..]).unwrap();
    assert_eq!(again.delimiter(), pipeline::csv_batch::Delimiter::Comma);
}

/// The Sage X3 export in `../shared/erp` (read only, as an oracle): its dialect reads, row by row.
#[test]
fn the_shared_sage_export_reads() {
    let path = root().join("../../../shared/erp/vandam-x3-stage2.csv");
    let Ok(bytes) = std::fs::read(&path) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have {}",
            path.display()
        );
        eprintln!("skipped: {} not found", path.display());
        return;
    };
    let rows = CsvRows::new(&bytes[..]).unwrap();
    assert_eq!(rows.delimiter(), pipeline::csv_batch::Delimiter::Semicolon);
    let rows: Vec<_> = rows.collect();
    assert!(!rows.is_empty());
    for row in rows {
        let record = row
            .record
            .unwrap_or_else(|e| panic!("row {}: {e:?}", row.number));
        let vin = record.pointer("/Chassisnummer").and_then(Value::as_str);
        assert!(
            vin.is_some_and(|v| v.starts_with("XNB")),
            "row {}: {record}",
            row.number
        );
    }
}

#[test]
fn csv_header_problems() {
    let err = |header: &str| {
        let e = CsvRows::new(format!("{header}\nx,y\n").as_bytes()).unwrap_err();
        assert_eq!((e.path.as_str(), e.code.as_str()), ("header", "CSV-HEADER"));
        e.message
    };
    assert!(err("/vin,/vin").contains("twice"));
    // A name without `/` is the ERP's own column name now; a `/` name is still checked as a pointer.
    assert!(CsvRows::new("vin,/make\nx,y\n".as_bytes()).is_ok());
    assert!(err("/vin,/make~2").contains("~"));
    assert!(err("vin,/vin").contains("twice"));
    assert!(err("vin,").contains("column 2 has no name"));
    assert!(err("/a/01,/b").contains("index"));
    assert!(err(",").contains("empty"));
    assert!(CsvRows::new(&b""[..]).is_err());
}

#[test]
fn csv_cell_problems_name_row_and_column() {
    // `/a` and `/a/b` clash only when both are filled.
    let rows: Vec<_> = CsvRows::new("/a,/a/b,/c/0,/c/d\n1,,,\n1,2,,\n,,1,2\n".as_bytes())
        .unwrap()
        .collect();
    assert_eq!(rows[0].record.as_ref().unwrap(), &json!({"a": "1"}));
    let clash = rows[1].record.as_ref().unwrap_err();
    assert_eq!(codes(clash), [("CSV-COLUMN", "row 2, column /a/b")]);
    let mixed = rows[2].record.as_ref().unwrap_err();
    assert_eq!(codes(mixed), [("CSV-COLUMN", "row 3, column /c/d")]);
    // The reverse order clashes too, instead of overwriting.
    let rows: Vec<_> = CsvRows::new("/a/b,/a\n2,1\n".as_bytes()).unwrap().collect();
    assert_eq!(
        codes(rows[0].record.as_ref().unwrap_err()),
        [("CSV-COLUMN", "row 1, column /a")]
    );
    // Invalid UTF-8 in one cell: that cell's error, and the next row still reads.
    let mut bytes = b"/vin,/make\nV1,".to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe]);
    bytes.extend_from_slice(b"\nV2,M\n");
    let rows: Vec<_> = CsvRows::new(&bytes[..]).unwrap().collect();
    assert_eq!(
        codes(rows[0].record.as_ref().unwrap_err()),
        [("CSV-UTF8", "row 1, column /make")]
    );
    assert_eq!(
        rows[1].record.as_ref().unwrap(),
        &json!({"vin": "V2", "make": "M"})
    );
}

#[test]
fn the_demo_approvals_cover_every_demo_record() {
    let approvals = pipeline::approvals::Approvals::from_json(
        &std::fs::read(root().join("demo/approvals.json")).unwrap(),
    )
    .unwrap();
    let mapping = demo_mapping();
    for name in CASES.map(|c| c.0).into_iter().chain(["n2-stage2-drifted"]) {
        let mapped = mapping.apply(&record(name), now()).unwrap();
        let findings = approvals.check(&mapped.ivi.to_element());
        assert!(findings.is_empty(), "{name}: {findings:?}");
    }
    let mut heavy = record("m1");
    heavy["masses_kg"]["running_order"] = json!(2500);
    let mapped = mapping.apply(&heavy, now()).unwrap();
    let findings = approvals.check(&mapped.ivi.to_element());
    assert!(
        findings
            .iter()
            .any(|f| f.path.ends_with("MassInRunningOrder")),
        "{findings:?}"
    );
}

#[test]
fn a_battery_electric_vehicle_states_electric_power() {
    let mut r = record("m1");
    r["engines"][0]["energy_source"] = json!("95");
    let xml = demo_mapping().apply(&r, now()).unwrap().xml;
    assert!(xml.contains("<MaximumNetPowerElectric>"), "{xml}");
    assert!(!xml.contains("MaximumNetPowerCombustion"), "{xml}");
}

/// The demo mapping with one field at `path` replaced by `options`, on the demo M1 record with
/// `extra`'s keys added: the text of that element ("" when the field wrote none).
fn one_field(path: &str, options: Value, extra: Value) -> Result<String, Vec<FieldError>> {
    let mut field = json!({"path": path});
    for (k, v) in options.as_object().unwrap() {
        field[k] = v.clone();
    }
    let mut doc: Value =
        serde_json::from_slice(&std::fs::read(root().join("demo/mapping.json")).unwrap()).unwrap();
    let fields = doc["fields"].as_array_mut().unwrap();
    fields.retain(|f| f["path"] != path);
    fields.push(field);
    let mapping =
        Mapping::from_json(doc.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e:?}"));
    let mut r = record("m1");
    for (k, v) in extra.as_object().unwrap() {
        r[k] = v.clone();
    }
    let xml = mapping.apply(&r, now())?.xml;
    let name = path.rsplit('/').next().unwrap();
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    Ok(match (xml.find(&open), xml.find(&close)) {
        (Some(a), Some(b)) => xml[a + open.len()..b].to_owned(),
        _ => String::new(),
    })
}

#[test]
fn the_language_reads_erp_values_as_they_are() {
    let mass = "CocDataGroup/MassGroup/MassInRunningOrder";
    let sap = json!({"characteristics": [
        {"ATNAM": "ZV_TPMLM", "ATFLV": 11.99, "ATAWE": "TO"},
        {"ATNAM": "ZV_AXLE", "ATZHL": "0001"}, {"ATNAM": "ZV_AXLE", "ATZHL": "0002"}]});
    let lookup = r#"first(.characteristics[] | select(.ATNAM == "ZV_TPMLM")) | {value: .ATFLV, unit: .ATAWE}"#;
    // A lookup by key, tonnes to kilograms exactly.
    let got = one_field(
        mass,
        json!({"jq": lookup, "type": "integer", "unit": "kg"}),
        sap.clone(),
    );
    assert_eq!(got.unwrap(), "11990");
    // A count.
    let axles = one_field(
        "CocDataGroup/GeneralConstructionGroup/NumberOfAxles",
        json!({"jq": "[.characteristics[] | select(.ATNAM == \"ZV_AXLE\")] | length", "type": "integer"}),
        sap,
    );
    assert_eq!(axles.unwrap(), "2");
    // Thousands dot and decimal comma, a fixed source unit.
    let dutch = json!({"decimal_separator": ",", "thousands_separator": ".", "type": "integer"});
    let mut with = dutch.clone();
    with["from"] = json!("/m");
    assert_eq!(
        one_field(mass, with.clone(), json!({"m": "4.780"})).unwrap(),
        "4780"
    );
    with["unit"] = json!("kg");
    with["source_unit"] = json!("t");
    assert_eq!(one_field(mass, with, json!({"m": "4,78"})).unwrap(), "4780");
    // Dates in the ERP's format.
    let date = "CocDataGroup/TypeApprovalIssueDate";
    let de = json!({"from": "/d", "type": "date", "format": "DD.MM.YYYY"});
    assert_eq!(
        one_field(date, de.clone(), json!({"d": "14.02.2025"})).unwrap(),
        "2025-02-14"
    );
    let wrong = one_field(date, de, json!({"d": "2025-02-14"})).unwrap_err();
    assert_eq!(wrong[0].code, "MAP-DATE");
    assert!(
        wrong[0].message.contains("`/d`") && wrong[0].message.contains("2025-02-14"),
        "{wrong:?}"
    );
    // Concatenation, a condition, a code table with a fall-back.
    let name = "CocDataGroup/CommercialNameTable/CommercialNameGroup/CommercialName";
    let both = json!({"a": "Nordbau", "b": "K2", "fuel": "HVO"});
    assert_eq!(
        one_field(name, json!({"jq": "\"\\(.a) \\(.b)\""}), both.clone()).unwrap(),
        "Nordbau K2"
    );
    assert_eq!(
        one_field(
            name,
            json!({"from": "/a", "when": ".b == \"E2\""}),
            both.clone()
        )
        .unwrap(),
        ""
    );
    let fuel = json!({"from": "/fuel", "codes": {"DIESEL": "20"}, "otherwise": "22"});
    assert_eq!(one_field(name, fuel, both.clone()).unwrap(), "22");
    // A default when the source is empty.
    assert_eq!(
        one_field(name, json!({"from": "/none", "default": "X"}), both).unwrap(),
        "X"
    );
}

#[test]
fn an_expression_error_names_the_rule_the_pointer_and_the_value() {
    let name = "CocDataGroup/AxleTable/AxleGroup";
    let mapping = Mapping::from_json(
        json!({"fields": [{"path": name, "each": "/axles", "fields": [
            {"path": "AxleNumber", "jq": ".n + 1", "type": "integer"}]}]})
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    let errors = mapping
        .apply(&json!({"axles": [{"n": 1}, {"n": "two"}]}), now())
        .unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let e = &errors[0];
    assert_eq!(
        (e.code.as_str(), e.path.as_str()),
        ("MAP-EXPR", "CocDataGroup/AxleTable/AxleGroup[1]/AxleNumber")
    );
    for part in ["`.n + 1`", "`/axles/1`", "\"two\""] {
        assert!(e.message.contains(part), "{part} missing in {}", e.message);
    }
    // Two values where one element takes one.
    let many = one_field(
        "CocDataGroup/Type",
        json!({"jq": ".t[]"}),
        json!({"t": ["a", "b"]}),
    )
    .unwrap_err();
    assert!(many[0].message.contains("yields 2 values"), "{many:?}");
}
