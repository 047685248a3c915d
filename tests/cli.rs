//! `ecoc sandbox qtsp`, `ecoc sign` and `ecoc verify` as a user runs them: separate processes,
//! the official specimens as input, xmlsec1 and xmllint as independent referees.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use ecoc_tests::{Background, ecoc, ecoc_bin, free_port, shared_ivi2, wait_for_port};

struct Qtsp {
    _process: Background,
    url: String,
    state: tempfile::TempDir,
    config: serde_json::Value,
}

impl Qtsp {
    fn start() -> Self {
        let state = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Command::new(ecoc_bin())
            .args([
                "sandbox",
                "qtsp",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--state-dir",
            ])
            .arg(state.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let process = Background(child);
        assert!(
            wait_for_port(port, Duration::from_secs(120)),
            "the QTSP sandbox did not start"
        );
        let config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(state.path().join("sandbox.json")).unwrap())
                .unwrap();
        Self {
            _process: process,
            url: format!("http://127.0.0.1:{port}/csc/v2"),
            state,
            config,
        }
    }

    fn pin(&self, credential: &str) -> String {
        self.config["credentials"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == credential)
            .unwrap()["pin"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn secret(&self) -> String {
        self.config["client_secret"].as_str().unwrap().to_string()
    }

    fn file(&self, name: &str) -> String {
        self.state.path().join(name).display().to_string()
    }

    /// `ecoc sign`, the client secret passed through the environment as a user would.
    fn sign(
        &self,
        credential: &str,
        profile: &str,
        input: &Path,
        output: &Path,
    ) -> (bool, String, String) {
        let secret = self.secret();
        ecoc(
            &[
                "sign",
                "--qtsp",
                &self.url,
                "--client-id",
                "ecoc-sandbox",
                "--credential",
                credential,
                "--pin",
                &self.pin(credential),
                "--profile",
                profile,
                "--replace-existing",
                &input.display().to_string(),
                &output.display().to_string(),
            ],
            &[("ECOC_QTSP_CLIENT_SECRET", &secret)],
        )
    }
}

fn xmlsec1_verifies(qtsp: &Qtsp, file: &Path) -> bool {
    Command::new("xmlsec1")
        .args([
            "--verify",
            "--trusted-pem",
            &qtsp.file("root-ca.pem"),
            "--untrusted-pem",
        ])
        .arg(qtsp.file("issuing-ca.pem"))
        .args([
            "--enabled-reference-uris",
            "empty,same-doc",
            "--id-attr:Id",
            "SignedProperties",
            "--id-attr:Id",
            "KeyInfo",
        ])
        .arg(file)
        .output()
        .expect("xmlsec1 is installed by make setup")
        .status
        .success()
}

#[test]
fn sign_through_the_sandbox_and_verify_every_way() {
    let Some(ivi2) = shared_ivi2() else { return };
    let qtsp = Qtsp::start();
    let out = tempfile::tempdir().unwrap();
    let specimen = ivi2
        .join("samples")
        .join("M1-02_-Toyota_-_C-HR_M1-Specimen.xml");
    let xsd = ivi2.join("xsd").join("ivi-2.0.xsd");
    for credential in ["rsa-signer", "p256-signer"] {
        for profile in ["xmldsig", "xades"] {
            let signed = out.path().join(format!("{credential}-{profile}.xml"));
            let (ok, stdout, stderr) = qtsp.sign(credential, profile, &specimen, &signed);
            if (credential, profile) == ("p256-signer", "xmldsig") {
                // The EUCARIS profile signs with RSA-SHA256 only (setup manual).
                assert!(
                    !ok && stderr.contains("RSA-SHA256") && !signed.exists(),
                    "ecoc sign made an ECDSA xmldsig signature:\n{stdout}\n{stderr}"
                );
                continue;
            }
            assert!(
                ok,
                "ecoc sign {credential} {profile} failed:\n{stdout}\n{stderr}"
            );
            for secret in [qtsp.secret(), qtsp.pin(credential)] {
                assert!(
                    !stdout.contains(&secret) && !stderr.contains(&secret),
                    "a secret was printed"
                );
            }
            let (ok, stdout, _) = ecoc(
                &[
                    "verify",
                    "--trust",
                    &qtsp.file("root-ca.pem"),
                    &signed.display().to_string(),
                ],
                &[],
            );
            assert!(
                ok && stdout.contains(": ok"),
                "ecoc verify refused {credential} {profile}: {stdout}"
            );
            assert!(
                xmlsec1_verifies(&qtsp, &signed),
                "xmlsec1 refused {credential} {profile}"
            );
            let schema_ok = Command::new("xmllint")
                .args(["--noout", "--nonet", "--schema"])
                .arg(&xsd)
                .arg(&signed)
                .output()
                .expect("xmllint")
                .status
                .success();
            assert!(
                schema_ok,
                "signed {credential} {profile} no longer validates against the official XSD"
            );
        }
    }

    // One changed character of vehicle data: both verifiers refuse, ecoc says why.
    let signed = std::fs::read_to_string(out.path().join("p256-signer-xades.xml")).unwrap();
    let tampered_text = signed.replacen(
        "<ManufacturerStageNumber>1<",
        "<ManufacturerStageNumber>2<",
        1,
    );
    assert_ne!(
        signed, tampered_text,
        "the specimen has a stage number to change"
    );
    let tampered = out.path().join("tampered.xml");
    std::fs::write(&tampered, tampered_text).unwrap();
    let (ok, stdout, _) = ecoc(
        &[
            "verify",
            "--trust",
            &qtsp.file("root-ca.pem"),
            &tampered.display().to_string(),
        ],
        &[],
    );
    assert!(!ok && stdout.contains("digest mismatch"), "{stdout}");
    assert!(!xmlsec1_verifies(&qtsp, &tampered));

    // No trust anchor: refused, with the reason.
    let (ok, stdout, _) = ecoc(
        &[
            "verify",
            &out.path()
                .join("rsa-signer-xmldsig.xml")
                .display()
                .to_string(),
        ],
        &[],
    );
    assert!(!ok && stdout.contains("trust"), "{stdout}");

    // The expired credential: the QTSP signs, but ecoc refuses to write what does not verify.
    let expired = out.path().join("expired.xml");
    let (ok, stdout, stderr) = qtsp.sign("expired-signer", "xmldsig", &specimen, &expired);
    assert!(!ok, "a signature by an expired certificate must be refused");
    assert!(
        format!("{stdout}{stderr}").contains("expired"),
        "{stdout}{stderr}"
    );
    assert!(
        !expired.exists(),
        "nothing is written when the result does not verify"
    );
}

#[test]
fn the_official_specimens_do_not_verify() {
    let Some(ivi2) = shared_ivi2() else { return };
    // Their Signature blocks are placeholders pasted from other documents (ivi2/README.md).
    let mut files: Vec<String> = std::fs::read_dir(ivi2.join("samples"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    files.sort();
    assert_eq!(files.len(), 9);
    // Digests are checked before trust, so even without a trust anchor the reason is the
    // digest, as xmlsec1 reports it.
    let mut args = vec!["verify"];
    args.extend(files.iter().map(String::as_str));
    let (ok, stdout, stderr) = ecoc(&args, &[]);
    assert!(!ok);
    let failed = stdout
        .lines()
        .filter(|l| l.contains("FAILED: digest mismatch"))
        .count();
    assert_eq!(failed, 9, "{stdout}{stderr}");
    assert!(stdout.lines().all(|l| !l.contains(": ok")), "{stdout}");
}

#[test]
fn validate_reports_each_file_and_exits_by_the_worst() {
    let Some(ivi2) = shared_ivi2() else { return };
    let samples: Vec<String> = {
        let mut v: Vec<String> = std::fs::read_dir(ivi2.join("samples"))
            .unwrap()
            .map(|e| e.unwrap().path().display().to_string())
            .collect();
        v.sort();
        v
    };
    let xsd = ivi2.join("xsd").join("ivi-2.0.xsd").display().to_string();
    let mut args = vec!["validate", "--xsd", &xsd];
    args.extend(samples.iter().map(String::as_str));
    let (ok, stdout, stderr) = ecoc(&args, &[]);
    assert!(ok, "the nine specimens are valid:\n{stdout}{stderr}");
    assert_eq!(
        stdout.lines().filter(|l| l.ends_with(": OK")).count(),
        9,
        "{stdout}"
    );

    // A specimen without its VIN: invalid, and the report names the incomplete element
    // with its path and the XSD rule.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(&samples[2]).unwrap();
    let start = text.find("<VehicleIdentificationNumber>").unwrap();
    let end = text.find("</VehicleIdentificationNumber>").unwrap()
        + "</VehicleIdentificationNumber>".len();
    let broken = dir.path().join("no-vin.xml");
    std::fs::write(&broken, format!("{}{}", &text[..start], &text[end..])).unwrap();
    let broken = broken.display().to_string();
    let (ok, stdout, _) = ecoc(&["validate", "--xsd", &xsd, &samples[0], &broken], &[]);
    assert!(!ok, "one invalid file fails the run");
    assert!(stdout.contains(&format!("{}: OK", samples[0])), "{stdout}");
    assert!(
        stdout.contains("/InitialVehicleInformation/CocDataGroup"),
        "{stdout}"
    );
    assert!(stdout.contains("cvc-complex-type.2.4"), "{stdout}");

    // --json: one entry per file, machine-readable verdicts.
    let (ok, stdout, _) = ecoc(
        &["validate", "--json", "--xsd", &xsd, &samples[0], &broken],
        &[],
    );
    assert!(!ok);
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("--json prints JSON");
    assert_eq!(report["valid"], false);
    assert_eq!(report["files"][0]["valid"], true);
    assert_eq!(report["files"][1]["valid"], false);
    assert!(!report["files"][1]["schema"].as_array().unwrap().is_empty());
}

/// `ecoc map`: the mapping preview offline. The demo record maps to a file the official schema
/// (xmllint) takes and an upload would be validated; a broken record is refused with the rule.
#[test]
fn map_previews_a_record_offline() {
    let Some(ivi2) = shared_ivi2() else { return };
    let demo = ecoc_tests::workspace_root().join("components/pipeline/demo");
    let out = tempfile::tempdir().unwrap();
    let xml = out.path().join("m1.xml");
    let (mapping, approvals) = (demo.join("mapping.json"), demo.join("approvals.json"));
    let args = |record: &Path| {
        vec![
            "map".to_owned(),
            "--mapping".to_owned(),
            mapping.display().to_string(),
            "--approvals".to_owned(),
            approvals.display().to_string(),
            "--xsd".to_owned(),
            ivi2.join("xsd/ivi-2.0.xsd").display().to_string(),
            "-o".to_owned(),
            xml.display().to_string(),
            record.display().to_string(),
        ]
    };
    let run = |record: &Path| {
        let owned = args(record);
        let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
        ecoc(&refs, &[])
    };
    let (ok, _, stderr) = run(&demo.join("records/m1.json"));
    assert!(
        ok && stderr.contains("an upload would be validated"),
        "{stderr}"
    );
    let schema_ok = Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(ivi2.join("xsd/ivi-2.0.xsd"))
        .arg(&xml)
        .output()
        .expect("xmllint")
        .status
        .success();
    assert!(schema_ok, "the mapped file passes the official XSD");
    let mut broken: serde_json::Value =
        serde_json::from_slice(&std::fs::read(demo.join("records/m1.json")).unwrap()).unwrap();
    broken["vin"] = serde_json::json!("WEX1M1AB2C345678I");
    let broken_file = out.path().join("broken.json");
    std::fs::write(&broken_file, broken.to_string()).unwrap();
    let (ok, _, stderr) = run(&broken_file);
    assert!(!ok, "a refused record exits 1");
    assert!(
        stderr.contains("IVI-VIN-002") && stderr.contains("an upload would be refused"),
        "{stderr}"
    );
}
