//! Every lexical form the schema allows is read (issue "eCoC lifecycle", item 6).
//!
//! Each case puts one lexical variant into one element of the project's own valid M1 file
//! (`tests/fixtures/m1/expected.xml`) and checks:
//!
//! - the verdict: ecoc's validator with the official `ivi-2.0.xsd` (plain and through the `eu`
//!   profile) and, where it is installed, `xmllint --noout --nonet --schema` give the case's verdict;
//! - the model: `Ivi::from_xml` reads a valid variant (and one whose only fault is white space libxml2
//!   refuses) with the right value, never as missing, and writes the form back as read (without the
//!   white space around it); it refuses an invalid variant of a mandatory element as
//!   [`ivi::Error::Unreadable`] naming the text, and leaves an invalid optional one untyped (kept
//!   verbatim in the group's `other`).
//!
//! Where the expected verdicts come from: XML Schema 1.0 Part 2, Second Edition (W3C, 2004), for the
//! types the official schema gives these elements (`IviVersionNumber`, `ManufacturerStageNumber`:
//! `Integer2`, an `xs:short` in 0..99; `MassInRunningOrder`: `Integer6`, an `xs:int` in 0..999999;
//! `TypeApprovalIssueDate`, `SignatureDate`, `DateManufactureVehicle`: `Date`, an unrestricted
//! `xs:date`; `IviVersionDateTime`: `DateTime`, an unrestricted `xs:dateTime`;
//! `MaximumNetPowerCombustion`: `Decimal62`, an `xs:decimal` of 6 digits, 2 after the point, in
//! 0..9999.99): §3.3.13 (integer: sign, leading zeros), §3.2.3 (decimal), §3.2.7.1 and §3.2.9.1
//! (year of four or more digits, no leading zero beyond four, negative years, no year 0000,
//! `24:00:00`, fractional seconds), §3.2.7.3 (time zones -14:00..+14:00), §4.3.6 (`whiteSpace`
//! collapse). Each verdict was also taken from libxml2 2.9.14 (`xmllint`, the reference validator of
//! `tests/agreement.rs`), which this test asks again when it is installed. Two libxml2 readings are
//! recorded as such: it refuses white space around `xs:short`, `xs:int` and `xs:date` values and
//! before `xs:dateTime` values, and after an `xs:dateTime` without a time zone (the spec collapses
//! all of it: [`Verdict::SpaceLibxml2Refuses`]; ecoc's validator follows libxml2, rule
//! `ecoc-lexical`, the reader follows the spec); and it takes a negative year's number as written for
//! leap years (`-0004-02-29` valid, `-0001-02-29` not). One disagreement with libxml2 is recorded
//! too: it takes a year past 2147483647, which ecoc's validator and the model refuse
//! ([`Verdict::BeyondTheModel`]).
//!
//! The official schema is read from `../shared/ivi2` (never copied): the verdict test prints
//! `SKIPPED` without it, and fails when `CI` is set; likewise for a missing `xmllint`.

#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use ivi::model::Date;
use ivi::profile::ProfileValidator;
use ivi::validate::Validator;
use ivi::{Ivi, Profile, rules};

/// What the schema says of a variant, and what the model reads from it.
#[derive(Debug, Clone, Copy)]
enum Verdict {
    /// Schema-valid (spec and libxml2); the model reads this value (see [`read`]).
    Valid(&'static str),
    /// Not a lexical form of the type: the schema refuses it, and so does the model.
    Invalid,
    /// A valid form with white space around it: the spec collapses it away, libxml2 (and so ecoc's
    /// validator, rule `ecoc-lexical`) refuses it; the model reads this value.
    SpaceLibxml2Refuses(&'static str),
    /// A lexical form of the type whose value the schema's bounds (`maxInclusive`, `totalDigits`)
    /// refuse: the model reads this value and leaves the bounds to the schema.
    OutOfBounds(&'static str),
    /// A year past what an `i32` holds: libxml2 takes it (its year is a C `long`), ecoc's validator
    /// (the `xsd-schema` engine) refuses it, and so does the model (as unreadable, never as missing).
    /// The one known disagreement here, and it is ecoc's with libxml2, not the model's with ecoc.
    BeyondTheModel,
}

use Verdict::{BeyondTheModel, Invalid, OutOfBounds, SpaceLibxml2Refuses as Spaced, Valid};

/// (element, text, verdict). Values as [`read`] shows them: integers in decimal, dates as
/// `year/month/day`, date-times as `lexical-form year/month/day`, decimals as their lexical form.
const CASES: &[(&str, &str, Verdict)] = &[
    // xs:short 0..99 (Integer2), mandatory.
    ("IviVersionNumber", "01", Valid("1")),
    ("IviVersionNumber", "05", Valid("5")),
    ("IviVersionNumber", "-0", Valid("0")),
    ("IviVersionNumber", "-00", Valid("0")),
    ("IviVersionNumber", "+1", Valid("1")),
    ("IviVersionNumber", "+01", Valid("1")),
    ("IviVersionNumber", "00", Valid("0")),
    ("IviVersionNumber", "0099", Valid("99")),
    ("IviVersionNumber", "0000000000000000001", Valid("1")),
    ("IviVersionNumber", "1.0", Invalid),
    ("IviVersionNumber", "", Invalid),
    ("IviVersionNumber", "-1", Invalid),
    ("IviVersionNumber", "100", OutOfBounds("100")),
    ("IviVersionNumber", "+0100", OutOfBounds("100")),
    ("IviVersionNumber", "1e1", Invalid),
    ("IviVersionNumber", "0x1", Invalid),
    ("IviVersionNumber", "+", Invalid),
    ("IviVersionNumber", "++1", Invalid),
    ("IviVersionNumber", " 1", Spaced("1")),
    ("IviVersionNumber", "1 ", Spaced("1")),
    ("IviVersionNumber", "\t05\n", Spaced("5")),
    // The same type, mandatory, inside a table.
    ("ManufacturerStageNumber", "01", Valid("1")),
    ("ManufacturerStageNumber", "one", Invalid),
    // xs:int 0..999999 (Integer6), optional.
    ("MassInRunningOrder", "+1540", Valid("1540")),
    ("MassInRunningOrder", "001540", Valid("1540")),
    ("MassInRunningOrder", "1540.0", Invalid),
    ("MassInRunningOrder", "1000000", OutOfBounds("1000000")),
    ("MassInRunningOrder", " 1540", Spaced("1540")),
    // xs:date, mandatory.
    ("TypeApprovalIssueDate", "2024-06-18Z", Valid("2024/6/18")),
    (
        "TypeApprovalIssueDate",
        "2024-06-18+02:00",
        Valid("2024/6/18"),
    ),
    (
        "TypeApprovalIssueDate",
        "2024-06-18-14:00",
        Valid("2024/6/18"),
    ),
    (
        "TypeApprovalIssueDate",
        "2024-06-18+14:00",
        Valid("2024/6/18"),
    ),
    (
        "TypeApprovalIssueDate",
        "2024-06-18-00:00",
        Valid("2024/6/18"),
    ),
    ("TypeApprovalIssueDate", "12024-01-01", Valid("12024/1/1")),
    ("TypeApprovalIssueDate", "-0001-01-01", Valid("-1/1/1")),
    ("TypeApprovalIssueDate", "-12024-01-01", Valid("-12024/1/1")),
    ("TypeApprovalIssueDate", "-0004-02-29", Valid("-4/2/29")),
    ("TypeApprovalIssueDate", "2000-02-29", Valid("2000/2/29")),
    (
        "TypeApprovalIssueDate",
        "2147483647-12-31",
        Valid("2147483647/12/31"),
    ),
    ("TypeApprovalIssueDate", "2147483648-01-01", BeyondTheModel),
    ("TypeApprovalIssueDate", "2024-13-01", Invalid),
    ("TypeApprovalIssueDate", "2023-02-29", Invalid),
    ("TypeApprovalIssueDate", "1900-02-29", Invalid),
    ("TypeApprovalIssueDate", "-0001-02-29", Invalid),
    ("TypeApprovalIssueDate", "0000-01-01", Invalid),
    ("TypeApprovalIssueDate", "02024-01-01", Invalid),
    ("TypeApprovalIssueDate", "+2024-06-18", Invalid),
    ("TypeApprovalIssueDate", "2024-6-18", Invalid),
    ("TypeApprovalIssueDate", "2024-06-18+14:01", Invalid),
    ("TypeApprovalIssueDate", "2024-06-18+2:00", Invalid),
    ("TypeApprovalIssueDate", "2024-06-18z", Invalid),
    ("TypeApprovalIssueDate", "2024-06-18T00:00:00", Invalid),
    ("TypeApprovalIssueDate", "2024-06-18 ", Spaced("2024/6/18")),
    ("TypeApprovalIssueDate", " 2024-06-18Z", Spaced("2024/6/18")),
    // xs:date, mandatory, inside a table.
    ("SignatureDate", "2025-03-01+01:00", Valid("2025/3/1")),
    ("SignatureDate", "2025-02-29", Invalid),
    // xs:date, optional (added to the file before its `TypeApprovalIssueDate`).
    ("DateManufactureVehicle", "2024-05-31Z", Valid("2024/5/31")),
    ("DateManufactureVehicle", "2024-05-32", Invalid),
    // xs:dateTime, mandatory.
    (
        "IviVersionDateTime",
        "2024-06-18T24:00:00",
        Valid("2024-06-18T24:00:00 2024/6/19"),
    ),
    (
        "IviVersionDateTime",
        "2024-06-18T24:00:00Z",
        Valid("2024-06-18T24:00:00Z 2024/6/19"),
    ),
    (
        "IviVersionDateTime",
        "2024-06-18T24:00:00.000",
        Valid("2024-06-18T24:00:00.000 2024/6/19"),
    ),
    (
        "IviVersionDateTime",
        "2024-12-31T24:00:00",
        Valid("2024-12-31T24:00:00 2025/1/1"),
    ),
    (
        "IviVersionDateTime",
        "2024-06-18T10:00:00.123456789",
        Valid("2024-06-18T10:00:00.123456789 2024/6/18"),
    ),
    (
        "IviVersionDateTime",
        "2024-06-18T10:00:00+02:00",
        Valid("2024-06-18T10:00:00+02:00 2024/6/18"),
    ),
    (
        "IviVersionDateTime",
        "2024-06-18T10:00:00-14:00",
        Valid("2024-06-18T10:00:00-14:00 2024/6/18"),
    ),
    (
        "IviVersionDateTime",
        "12024-01-01T00:00:00",
        Valid("12024-01-01T00:00:00 12024/1/1"),
    ),
    (
        "IviVersionDateTime",
        "-0001-01-01T00:00:00",
        Valid("-0001-01-01T00:00:00 -1/1/1"),
    ),
    // White space after a zoned value: valid for the spec and for libxml2.
    (
        "IviVersionDateTime",
        "2024-06-18T10:00:00Z ",
        Valid("2024-06-18T10:00:00Z 2024/6/18"),
    ),
    (
        "IviVersionDateTime",
        "2024-06-18T10:00:00+02:00\n\t",
        Valid("2024-06-18T10:00:00+02:00 2024/6/18"),
    ),
    ("IviVersionDateTime", "2024-06-18T24:00:01", Invalid),
    ("IviVersionDateTime", "2024-06-18T24:00:00.5", Invalid),
    ("IviVersionDateTime", "2024-06-18T23:59:60", Invalid),
    ("IviVersionDateTime", "2024-06-18T10:00", Invalid),
    ("IviVersionDateTime", "2024-06-18T10:00:00.", Invalid),
    ("IviVersionDateTime", "2024-06-18 10:00:00", Invalid),
    ("IviVersionDateTime", "2024-06-18t10:00:00", Invalid),
    ("IviVersionDateTime", "2024-06-18T10:00:00+14:30", Invalid),
    ("IviVersionDateTime", "2024-06-18T10:00:00 Z", Invalid),
    (
        "IviVersionDateTime",
        "2024-06-18T10:00:00 ",
        Spaced("2024-06-18T10:00:00 2024/6/18"),
    ),
    (
        "IviVersionDateTime",
        " 2024-06-18T10:00:00Z",
        Spaced("2024-06-18T10:00:00Z 2024/6/18"),
    ),
    // xs:decimal, 6 digits, 2 after the point, 0..9999.99 (Decimal62), optional.
    ("MaximumNetPowerCombustion", "+110", Valid("+110")),
    ("MaximumNetPowerCombustion", "110.", Valid("110.")),
    ("MaximumNetPowerCombustion", "0110.5", Valid("0110.5")),
    ("MaximumNetPowerCombustion", ".5", Valid(".5")),
    ("MaximumNetPowerCombustion", "-0.00", Valid("-0.00")),
    ("MaximumNetPowerCombustion", " 110.00 ", Valid("110.00")),
    (
        "MaximumNetPowerCombustion",
        "10000.00",
        OutOfBounds("10000.00"),
    ),
    (
        "MaximumNetPowerCombustion",
        "110.001",
        OutOfBounds("110.001"),
    ),
    ("MaximumNetPowerCombustion", "1.1E2", Invalid),
    ("MaximumNetPowerCombustion", "110,0", Invalid),
    ("MaximumNetPowerCombustion", ".", Invalid),
];

/// The elements above that are mandatory: an invalid value there is a reader error.
const MANDATORY: &[&str] = &[
    "IviVersionNumber",
    "ManufacturerStageNumber",
    "TypeApprovalIssueDate",
    "SignatureDate",
    "IviVersionDateTime",
];

/// Rules are checked as of this day.
const TODAY: Date = Date {
    year: 2026,
    month: 1,
    day: 1,
};

fn base() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/m1/expected.xml"),
    )
    .unwrap()
}

/// The XML white space `whiteSpace="collapse"` strips.
fn collapse(text: &str) -> &str {
    text.trim_matches([' ', '\t', '\n', '\r'])
}

/// The fixture with `text` as the value of (the first) `element`.
fn variant(base: &str, element: &str, text: &str) -> String {
    let open = format!("<{element}>");
    let Some(start) = base.find(&open) else {
        // Not in the fixture (an optional date): add it to `CocDataGroup`.
        assert_eq!(element, "DateManufactureVehicle");
        return base.replacen(
            "<TypeApprovalIssueDate>",
            &format!("<{element}>{text}</{element}>\n    <TypeApprovalIssueDate>"),
            1,
        );
    };
    let start = start + open.len();
    let end = start + base[start..].find("</").unwrap();
    format!("{}{text}{}", &base[..start], &base[end..])
}

fn day(d: Date) -> String {
    format!("{}/{}/{}", d.year, d.month, d.day)
}

/// The typed value the model holds for `element`, as [`CASES`] writes it.
fn read(ivi: &Ivi, element: &str) -> Option<String> {
    let coc = &ivi.coc;
    match element {
        "IviVersionNumber" => Some(ivi.header.ivi_version_number.to_string()),
        "ManufacturerStageNumber" => Some(
            coc.manufacturer_table[0]
                .manufacturer_stage_number
                .to_string(),
        ),
        "MassInRunningOrder" => coc
            .mass_group
            .as_ref()?
            .mass_in_running_order
            .map(|v| v.to_string()),
        "TypeApprovalIssueDate" => Some(day(coc.type_approval_issue_date)),
        "SignatureDate" => Some(day(coc.signing_authority_table[0].signature_date)),
        "DateManufactureVehicle" => coc.date_manufacture_vehicle.map(day),
        "IviVersionDateTime" => {
            let t = &ivi.header.ivi_version_date_time;
            Some(format!("{} {}", t.as_str(), day(t.date())))
        }
        "MaximumNetPowerCombustion" => coc.energy_convertor_table.as_ref()?[0]
            .energy_source_table
            .as_ref()?[0]
            .power_group
            .as_ref()?
            .maximum_net_power_combustion
            .as_ref()
            .map(|d| d.as_str().to_owned()),
        other => panic!("no reader for {other}"),
    }
}

#[test]
fn the_model_reads_every_lexical_form_the_schema_allows() {
    let base = base();
    for &(element, text, verdict) in CASES {
        let xml = variant(&base, element, text);
        let case = format!("{element} = {text:?}");
        let got = Ivi::from_xml(xml.as_bytes());
        match verdict {
            Valid(value) | Spaced(value) | OutOfBounds(value) => {
                let ivi = got.unwrap_or_else(|e| panic!("{case}: {e}"));
                assert_eq!(read(&ivi, element).as_deref(), Some(value), "{case}");
                // Written back as read, less the white space around it.
                let written = ivi.to_xml();
                let form = format!("<{element}>{}</{element}>", collapse(text));
                assert!(written.contains(&form), "{case}: {form} not in\n{written}");
                let again = Ivi::from_xml(written.as_bytes()).unwrap();
                // (The groups, not the whole `Ivi`: the verbatim `Signature` records its line.)
                assert_eq!(
                    again.header, ivi.header,
                    "{case}: read -> write -> read changed it"
                );
                assert_eq!(
                    again.coc, ivi.coc,
                    "{case}: read -> write -> read changed it"
                );
                assert_eq!(again.to_xml(), written, "{case}");
            }
            BeyondTheModel | Invalid if MANDATORY.contains(&element) => match got {
                Err(ivi::Error::Unreadable {
                    path,
                    value,
                    expected,
                }) => {
                    assert!(path.ends_with(&format!("/{element}")), "{case}: {path}");
                    assert_eq!(value, text, "{case}");
                    assert!(!expected.is_empty(), "{case}");
                }
                other => panic!("{case}: expected an unreadable value, got {other:?}"),
            },
            BeyondTheModel | Invalid => {
                let ivi = got.unwrap_or_else(|e| panic!("{case}: {e}"));
                assert_eq!(read(&ivi, element), None, "{case}");
                // Kept verbatim, for the schema to report.
                assert!(
                    ivi.to_xml()
                        .contains(&format!("<{element}>{text}</{element}>")),
                    "{case}"
                );
            }
        }
    }
}

#[test]
fn a_present_element_is_never_reported_missing() {
    let base = base();
    let err = Ivi::from_xml(variant(&base, "IviVersionNumber", "1.0").as_bytes()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "mandatory element /InitialVehicleInformation/Header/IviVersionNumber holds \"1.0\", \
         which is not a non-negative xs:short / xs:int"
    );
    let err = Ivi::from_xml(
        base.replacen(
            "<TypeApprovalIssueDate>2024-06-03</TypeApprovalIssueDate>",
            "",
            1,
        )
        .as_bytes(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "missing mandatory element /InitialVehicleInformation/CocDataGroup/TypeApprovalIssueDate"
    );
    // A code not in its list, an attribute where text belongs, a table of something else.
    let err = Ivi::from_xml(base.replacen(">M1<", ">M9<", 1).as_bytes()).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("VehicleCategory holds \"M9\", which is not a code of VehicleCategory"),
        "{err}"
    );
    let err = Ivi::from_xml(
        base.replacen("<IviVersionNumber>", "<IviVersionNumber a=\"b\">", 1)
            .as_bytes(),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("(it has attributes or child elements)"),
        "{err}"
    );
    let err = Ivi::from_xml(
        base.replacen("<MakeGroup>", "<Other/><MakeGroup>", 1)
            .as_bytes(),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .ends_with("MakeTable holds \"<Other>\", which is not a table of MakeGroup groups"),
        "{err}"
    );
}

/// A value the reader takes may still break a rule: the rule names it, the reader does not refuse it.
#[test]
fn a_rule_not_the_reader_refuses_a_far_future_date() {
    let xml = variant(&base(), "TypeApprovalIssueDate", "12024-01-01");
    let ivi = Ivi::from_xml(xml.as_bytes()).unwrap();
    let f: Vec<_> = rules::check_at(&ivi, Profile::Eu, TODAY)
        .into_iter()
        .filter(|f| f.field.ends_with("TypeApprovalIssueDate"))
        .collect();
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].code, "IVI-DAT-001");
    assert!(f[0].message.contains("12024-01-01"), "{}", f[0]);
}

/// A field changed after reading is written in canonical form; one left alone keeps its form.
#[test]
fn a_changed_value_is_written_canonically() {
    let base = base();
    let xml = variant(&base, "IviVersionNumber", "01");
    let xml = variant(&xml, "TypeApprovalIssueDate", "2024-06-18+02:00");
    let mut ivi = Ivi::from_xml(xml.as_bytes()).unwrap();
    assert_eq!(ivi.header.lexical.get("IviVersionNumber"), Some("01"));
    assert_eq!(
        ivi.coc.lexical.get("TypeApprovalIssueDate"),
        Some("2024-06-18+02:00")
    );
    ivi.header.ivi_version_number = 2;
    let written = ivi.to_xml();
    assert!(
        written.contains("<IviVersionNumber>2</IviVersionNumber>"),
        "{written}"
    );
    assert!(
        written.contains("<TypeApprovalIssueDate>2024-06-18+02:00</TypeApprovalIssueDate>"),
        "{written}"
    );
    ivi.coc.lexical.clear();
    assert!(
        ivi.to_xml()
            .contains("<TypeApprovalIssueDate>2024-06-18</TypeApprovalIssueDate>")
    );
}

/// xmllint's verdict per file: true when it printed "<file> validates".
fn xmllint_verdicts(xsd: &Path, files: &[PathBuf]) -> Vec<bool> {
    let output = Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(xsd)
        .args(files)
        .output()
        .expect("xmllint runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    files
        .iter()
        .map(|f| {
            let line = format!("{} validates", f.display());
            stderr.lines().any(|l| l == line)
        })
        .collect()
}

#[test]
fn ecoc_and_libxml2_give_the_schemas_verdict() {
    let Some(dir) = common::ivi2() else { return };
    let xsd = common::official_xsd(&dir);
    let validator = Validator::from_path(&xsd).unwrap();
    let profile = ProfileValidator::new(Profile::Eu, Some(&xsd)).unwrap();
    let base = base();
    // (label, document, expected validity): each variant, and what the writer makes of it.
    let mut docs: Vec<(String, String, bool)> = Vec::new();
    for &(element, text, verdict) in CASES {
        let case = format!("{element} = {text:?}");
        let xml = variant(&base, element, text);
        let diags = validator.validate(xml.as_bytes());
        match verdict {
            Valid(_) => {
                assert!(diags.is_empty(), "{case}: {diags:?}");
                // Schema and model agree: no `ivi-model` problem on a schema-valid file.
                let report = profile.check(xml.as_bytes());
                assert!(report.schema.is_empty(), "{case}: {:?}", report.schema);
            }
            BeyondTheModel => {
                assert!(
                    !diags.is_empty() && diags.iter().all(|d| d.rule == "cvc-datatype-valid"),
                    "{case}: {diags:?}"
                );
            }
            Invalid => {
                assert!(!diags.is_empty(), "{case}: ecoc's validator accepts it");
                assert!(
                    diags.iter().all(|d| d.rule != "ivi-model"),
                    "{case}: {diags:?}"
                );
            }
            Spaced(_) => {
                assert!(!diags.is_empty(), "{case}: ecoc's validator accepts it");
                assert!(
                    diags.iter().all(|d| d.rule == "ecoc-lexical"),
                    "{case}: {diags:?}"
                );
            }
            OutOfBounds(_) => {
                assert!(!diags.is_empty(), "{case}: ecoc's validator accepts it");
                assert!(
                    diags.iter().all(|d| d.rule.starts_with("cvc-")),
                    "{case}: {diags:?}"
                );
            }
        }
        docs.push((
            case.clone(),
            xml.clone(),
            matches!(verdict, Valid(_) | BeyondTheModel),
        ));
        // What the writer makes of a form the model reads is valid for both validators.
        if let Valid(_) | Spaced(_) = verdict {
            let written = Ivi::from_xml(xml.as_bytes()).unwrap().to_xml();
            let diags = validator.validate(written.as_bytes());
            assert!(diags.is_empty(), "{case}, written back: {diags:?}");
            docs.push((format!("{case}, written back"), written, true));
        }
    }

    if Command::new("xmllint").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but xmllint is missing"
        );
        eprintln!("SKIPPED: xmllint is not installed (ecoc's verdicts were checked)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = docs
        .iter()
        .enumerate()
        .map(|(i, (_, xml, _))| {
            let f = tmp.path().join(format!("v{i:03}.xml"));
            std::fs::write(&f, xml).unwrap();
            f
        })
        .collect();
    let verdicts = xmllint_verdicts(&xsd, &files);
    let disagreements: Vec<String> = docs
        .iter()
        .zip(&verdicts)
        .filter(|((_, _, expected), libxml2)| expected != *libxml2)
        .map(|((label, _, expected), _)| format!("{label}: expected valid = {expected}"))
        .collect();
    assert!(
        disagreements.is_empty(),
        "libxml2 disagrees:\n{}",
        disagreements.join("\n")
    );
}
