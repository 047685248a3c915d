//! The JSON Schemas in `schemas/` and ecoc's own checks of the same documents give the same verdicts.
//!
//! Oracle: the Python `jsonschema` package (Draft 2020-12 validator), which `scripts/setup.sh`
//! installs. Each document below has one mistake (or none); ecoc must refuse exactly the documents
//! the schema refuses, plus the few mistakes a schema cannot express (listed as `checker_only`), and
//! each place the schema names must be the place, or hold the place, that ecoc names.

#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use pipeline::FieldError;
use pipeline::approvals::Approvals;
use pipeline::document::Document;
use pipeline::mapping::Mapping;
use pipeline::tenant::{NewTenant, Tenant};
use serde_json::{Value, json};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(workspace().join(path)).unwrap()).unwrap()
}

/// The JSON pointers at which the schema refuses each document (`None`: python3 or jsonschema is
/// missing, outside CI).
fn schema_verdicts(schema: &str, docs: &[Value]) -> Option<Vec<Vec<String>>> {
    const SCRIPT: &str = r#"
import json, sys
import jsonschema
schema, docs = json.load(sys.stdin)
validator = jsonschema.Draft202012Validator(schema)
def pointer(path):
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)
print(json.dumps([sorted(pointer(e.absolute_path) for e in validator.iter_errors(d)) for d in docs]))
"#;
    let schema = read(&format!("schemas/{schema}"));
    let child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs python3 (scripts/setup.sh)"
        );
        eprintln!("SKIPPED: python3 not found");
        return None;
    };
    let input = json!([schema, docs]).to_string();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            std::env::var_os("CI").is_none() || !err.contains("No module named"),
            "CI needs the jsonschema package (scripts/setup.sh): {err}"
        );
        assert!(
            err.contains("No module named"),
            "the schema oracle failed: {err}"
        );
        eprintln!("SKIPPED: the Python jsonschema package is not installed");
        return None;
    }
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

/// Compares the schema's verdict with ecoc's for each document.
fn agree(
    schema: &str,
    docs: &[Value],
    checker_only: &[usize],
    check: impl Fn(&Value) -> Vec<FieldError>,
) {
    let Some(verdicts) = schema_verdicts(schema, docs) else {
        return;
    };
    for (i, (doc, schema_places)) in docs.iter().zip(verdicts).enumerate() {
        let ours: Vec<String> = check(doc).into_iter().map(|e| e.path).collect();
        if checker_only.contains(&i) {
            assert!(
                schema_places.is_empty(),
                "{schema} #{i}: meant as checker-only, but the schema refuses {schema_places:?}: {doc}"
            );
            assert!(!ours.is_empty(), "{schema} #{i}: ecoc accepts {doc}");
            continue;
        }
        assert_eq!(
            schema_places.is_empty(),
            ours.is_empty(),
            "{schema} #{i}: schema says {schema_places:?}, ecoc says {ours:?}, for {doc}"
        );
        for place in &schema_places {
            // The schema names the value it could not accept; ecoc may name a sibling of the same
            // object (`/fields/0/format` where the schema says `/fields/0/type` must be a date).
            let object = place.rsplit_once('/').map_or("", |(parent, _)| parent);
            assert!(
                ours.iter()
                    .any(|o| o == place || o.starts_with(&format!("{object}/")) || o == object),
                "{schema} #{i}: the schema names {place:?}, ecoc only {ours:?}, for {doc}"
            );
        }
    }
}

/// `base` with `changes` applied: a key set to null is removed, any other is set.
fn with_changes(mut base: Value, changes: Value) -> Value {
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            base.as_object_mut().unwrap().remove(k);
        } else {
            base[k] = v.clone();
        }
    }
    base
}

fn mapping_problems(doc: &Value) -> Vec<FieldError> {
    Mapping::from_json(doc.to_string().as_bytes())
        .err()
        .unwrap_or_default()
}

fn problems<T: Document>(doc: &Value) -> Vec<FieldError> {
    T::problems(doc)
}

#[test]
fn the_mapping_schema_and_the_mapping_checks_agree() {
    let field = |changes: Value| {
        let f = with_changes(
            json!({"path": "CocDataGroup/Type", "from": "/type"}),
            changes,
        );
        json!({"fields": [f]})
    };
    let docs = vec![
        read("components/pipeline/demo/mapping.json"),
        read("examples/nordbau-sap/mapping.json"),
        read("examples/vandam-x3/mapping.json"),
        json!({"fields": []}),
        json!({"profile": "fr", "fields": []}),
        json!({"fields": [], "extra": 1}),
        json!({"profile": "eu"}),
        field(json!({"frm": "/x"})),
        field(json!({"type": "float"})),
        field(json!({"from": null})),
        field(json!({"const": "x"})),
        field(json!({"decimals": 2})),
        field(json!({"from": "type"})),
        field(json!({"from": null, "generate": "tomorrow"})),
        field(json!({"type": "string", "format": "DD.MM.YYYY"})),
        field(json!({"type": "datetime", "format": "DD.MM.YYYY hh:mm", "zone": "CET"})),
        field(json!({"type": "integer", "decimal_separator": ",,"})),
        field(json!({"type": "integer", "unit": "furlong"})),
        field(json!({"otherwise": "x"})),
        field(json!({"from": null, "each": "/a"})),
        field(json!({"fields": []})),
        field(json!({"from": null, "each": "/a", "fields": [], "type": "integer"})),
        field(json!({"from": null, "const": "a", "default": "b"})),
        field(json!({"required": "yes"})),
        field(json!({"codes": {"a": 1}})),
        field(json!({"path": "1bad"})),
        field(json!({"type": "decimal", "decimals": 19})),
        field(json!({"source_unit": "t"})),
        field(
            json!({"type": "integer", "unit": "kg", "source_unit": "t", "thousands_separator": "."}),
        ),
        field(
            json!({"from": null, "jq": ".a", "when": ".b != null", "default": "x", "type": "date", "format": "YYYYMMDD"}),
        ),
        // What a schema cannot say.
        field(json!({"from": null, "jq": ".a | select("})),
        field(json!({"when": "nosuchfilter"})),
        field(json!({"type": "integer", "unit": "kg", "source_unit": "mm"})),
        field(json!({"type": "date", "format": "DD.MM.YY"})),
        json!({"definitions": "def ch($n): ;", "fields": []}),
        json!({"variables": {"a": ".x | select("}, "fields": []}),
        json!({"fields": [{"path": "CocDataGroup/Type", "jq": "$undeclared"}]}),
    ];
    let n = docs.len();
    let checker_only: Vec<usize> = (n - 7..n).collect();
    agree(
        "mapping.schema.json",
        &docs,
        &checker_only,
        mapping_problems,
    );
}

#[test]
fn the_approvals_schema_and_the_approvals_checks_agree() {
    let approval = |changes: Value| {
        let a = json!({"approval_number": "e4*2018/858*00777*01", "type": "K2", "variants": ["K2C"],
            "versions": ["K2C-45"], "category": "N2", "ranges": {"MassInRunningOrder": {"min": 1, "max": 2}}});
        json!({"approvals": [with_changes(a, changes)]})
    };
    let docs = vec![
        read("components/pipeline/demo/approvals.json"),
        read("examples/nordbau-sap/approvals.json"),
        read("examples/vandam-x3/approvals.json"),
        json!({"approvals": []}),
        json!({}),
        json!({"approvals": {}}),
        json!({"approvals": [], "more": 1}),
        approval(json!({"type": null})),
        approval(json!({"type": " "})),
        approval(json!({"variants": []})),
        approval(json!({"versions": ["A", 1]})),
        approval(json!({"colour": "red"})),
        approval(json!({"ranges": {"MassInRunningOrder": {"min": "1"}}})),
        approval(json!({"ranges": {"MassInRunningOrder": {}}})),
        approval(json!({"ranges": {"Mass In Running Order": {"max": 3}}})),
        approval(json!({"ranges": {"Length": {"max": 3, "avg": 2}}})),
        approval(json!({"category": null})),
        // What a schema cannot say.
        approval(json!({"ranges": {"Length": {"min": 5, "max": 3}}})),
        json!({"approvals": [approval(json!({}))["approvals"][0], approval(json!({}))["approvals"][0]]}),
    ];
    let n = docs.len();
    agree(
        "approvals.schema.json",
        &docs,
        &[n - 2, n - 1],
        problems::<Approvals>,
    );
}

#[test]
fn the_tenant_schema_and_the_tenant_checks_agree() {
    let tenant = |changes: Value| {
        let t = json!({"id": "nordbau", "name": "Nordbau Trucks", "profile": "eu", "digest_to": ["q@nordbau.example"]});
        with_changes(t, changes)
    };
    let docs = vec![
        tenant(json!({})),
        tenant(
            json!({"csv_delimiter": ";", "callback_url": "https://erp.example/ecoc", "signature_profile": "xades"}),
        ),
        tenant(json!({"id": "Nordbau"})),
        tenant(json!({"profile": "fr"})),
        tenant(json!({"signature_profile": "pgp"})),
        tenant(json!({"callback_url": "ftp://erp"})),
        tenant(json!({"digest_to": ["not an address"]})),
        tenant(json!({"webhook_replay_window_secs": -1})),
        tenant(json!({"csv_delimiter": "|"})),
        tenant(json!({"colour": "red"})),
        tenant(json!({
            "signer": {"qtsp": "sandbox", "client_id": "nordbau", "client_secret": {"secret": "qtsp_secret"},
                       "credential": "rsa-nordbau", "pin": {"variable": "nordbau_pin"}},
            "destinations": [{"id": "vca", "adapter": "vca", "nap": "vca", "client_id": "manufacturer-a",
                              "client_secret": {"secret": "vca_secret"}},
                             {"id": "rdw", "adapter": "eu", "nap": "rdw", "client_id": "nordbau"}],
        })),
        tenant(
            json!({"signer": {"qtsp": "sandbox", "client_id": "n", "client_secret": "in the clear",
                                 "credential": "c", "pin": {"secret": "pin"}}}),
        ),
        tenant(
            json!({"signer": {"qtsp": "sandbox", "client_id": "n", "client_secret": {"secret": "Not OK"},
                                 "credential": "c", "pin": {"secret": "pin"}}}),
        ),
        tenant(
            json!({"destinations": [{"id": "vca", "adapter": "vca", "nap": "vca", "client_id": "m"}]}),
        ),
        tenant(
            json!({"destinations": [{"id": "vca", "adapter": "smtp", "nap": "vca", "client_id": "m"}]}),
        ),
        json!({"id": "x1"}),
        // What a schema cannot say: a key of the right length that is no Ed25519 point (y = 2 is not on the curve).
        tenant(json!({"webhook_public_key": "AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="})),
    ];
    let n = docs.len();
    agree("tenant.schema.json", &docs, &[n - 1], problems::<Tenant>);
    // The same settings inside `POST /v1/admin/tenants` are named under /tenant.
    let created =
        NewTenant::problems(&json!({"tenant": tenant(json!({"profile": "fr"})), "tokn": "x"}));
    let places: Vec<&str> = created.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(places, ["/tokn", "/tenant/profile"]);
}

#[test]
fn every_mistake_of_an_approvals_document_is_listed_with_its_pointer() {
    let doc = json!({"approvals": [
        {"approval_number": "e4*1", "type": "K2", "variants": [], "versions": ["A"], "ranges": {"Length": {"min": 9, "max": 1}}},
        {"approval_number": "e4*1", "type": 7, "variants": ["A"], "versions": ["A"], "extra": true}
    ]});
    let places: Vec<String> = Approvals::problems(&doc)
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert_eq!(
        places,
        [
            "/approvals/0/variants",
            "/approvals/0/ranges/Length",
            "/approvals/1/extra",
            "/approvals/1/approval_number",
            "/approvals/1/type",
        ]
    );
    assert!(
        matches!(Approvals::from_json(doc.to_string().as_bytes()), Err(pipeline::Error::Fields(f)) if f.len() == 5)
    );
}
