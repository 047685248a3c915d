//! End to end: official IVI specimens signed through the QTSP sandbox over HTTP with dsig's CSC
//! client, both profiles x both key types, then checked by every referee we have: dsig's own
//! verifier, `xmlsec1 --verify` and Python `signxml` trusting the sandbox root CA, and the official
//! XSD (`xmllint --schema`). Then the client surviving the sandbox's failure modes, and the
//! negative cases the verifier must refuse, each with its reason.
//!
//! The specimens are read from `../shared/ivi2/samples` next to the project (never copied into
//! it); a test prints that it is skipped when that folder or a tool is missing, and fails instead
//! when the `CI` environment variable is set.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is how a test reports failure"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::Fixture;
use dsig::csc::{AuthData, CscClient, CscConfig, CscSigner};
use dsig::{Profile, SignOptions, SignatureAlgorithm, Signer, VerifyOptions};
use sandbox::qtsp::{EcdsaFormat, Faults};
use transport::UreqTransport;

const BIN: &str = "e2e";

/// Which specimens a run signs: every one, or every n-th (the same checks on fewer files).
#[derive(Clone, Copy)]
enum Selection {
    All,
    EveryNth(usize),
}

impl Selection {
    fn pick(self, paths: &[PathBuf]) -> Vec<&PathBuf> {
        match self {
            Self::All => paths.iter().collect(),
            Self::EveryNth(n) => paths.iter().step_by(n.max(1)).collect(),
        }
    }
}

fn in_ci() -> bool {
    std::env::var_os("CI").is_some()
}

fn skip(what: &str) {
    assert!(!in_ci(), "{what} is required when CI is set");
    eprintln!("skipped: {what} is not available");
}

fn specimens() -> Option<Vec<PathBuf>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/ivi2/samples");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        skip(&format!("the IVI specimen folder {}", dir.display()));
        return None;
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no specimens in {}", dir.display());
    Some(paths)
}

fn xsd() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/ivi2/xsd/ivi-2.0.xsd")
}

fn tool(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

fn client(f: &Fixture, timeout: Duration) -> CscClient<UreqTransport> {
    let d = f.description();
    let mut config = CscConfig::new(f.sandbox().csc_url(), &d.client_id, &d.client_secret);
    config.backoff = Duration::from_millis(50);
    CscClient::new(UreqTransport::new(timeout), config)
}

fn auth(f: &Fixture, credential: &str) -> AuthData {
    AuthData {
        pin: Some(f.pin(credential)),
        otp: None,
    }
}

fn sign_through_sandbox(
    client: &CscClient<UreqTransport>,
    f: &Fixture,
    credential: &str,
    profile: Profile,
    xml: &[u8],
) -> dsig::Result<Vec<u8>> {
    let signer = CscSigner::new(client, credential, auth(f, credential))?;
    let mut options = SignOptions::new(profile, signer.certificates().to_vec());
    // The specimens carry a placeholder signature pasted from another document.
    options.replace_existing = true;
    dsig::sign(xml, &options, &signer)
}

fn trust(f: &Fixture) -> VerifyOptions {
    let pem = std::fs::read_to_string(f.sandbox().root_ca_pem()).expect("root-ca.pem");
    VerifyOptions {
        trust_anchors: dsig::parse_pem_certificates(&pem).expect("root pem"),
        ..VerifyOptions::default()
    }
}

fn xmlsec1(state: &Path, file: &Path, profile: Profile) -> Output {
    let mut cmd = Command::new("xmlsec1");
    cmd.arg("--verify")
        // --trusted-pem reads the first certificate of a file only: the root alone.
        .arg("--trusted-pem")
        .arg(state.join("root-ca.pem"))
        .arg("--untrusted-pem")
        .arg(state.join("issuing-ca.pem"));
    match profile {
        Profile::XmlDsig => {
            cmd.args(["--enabled-reference-uris", "empty"]);
        }
        Profile::Xades => {
            cmd.args(["--enabled-reference-uris", "empty,same-doc"]);
            cmd.args([
                "--id-attr:Id",
                "http://uri.etsi.org/01903/v1.3.2#:SignedProperties",
                "--id-attr:Id",
                "http://www.w3.org/2000/09/xmldsig#:KeyInfo",
            ]);
        }
    }
    cmd.arg(file).output().expect("run xmlsec1")
}

const SIGNXML: &str = r#"
import sys
from signxml import XMLVerifier
from signxml.xades import XAdESVerifier
data = open(sys.argv[1], "rb").read()
verifier = XAdESVerifier() if sys.argv[3] == "xades" else XMLVerifier()
verifier.verify(data, ca_pem_file=sys.argv[2])
print("signxml ok")
"#;

fn signxml(state: &Path, file: &Path, profile: Profile) -> Output {
    Command::new("python3")
        .args(["-c", SIGNXML])
        .arg(file)
        .arg(state.join("root-ca.pem"))
        .arg(profile.name())
        .output()
        .expect("run python3")
}

fn xmllint(file: &Path) -> Output {
    Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(xsd())
        .arg(file)
        .output()
        .expect("run xmllint")
}

fn outcome(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout).trim(),
        String::from_utf8_lossy(&out.stderr).trim()
    )
}

const CASES: [(&str, &str, Profile); 4] = [
    ("rsa-xmldsig", "rsa-signer", Profile::XmlDsig),
    ("rsa-xades", "rsa-signer", Profile::Xades),
    ("p256-xmldsig", "p256-signer", Profile::XmlDsig),
    ("p256-xades", "p256-signer", Profile::Xades),
];

/// Signs specimens for every case and runs every referee; returns the failures.
fn sign_and_referee(f: &Fixture, tag: &str, selection: Selection) -> (usize, Vec<String>) {
    let Some(specimens) = specimens() else {
        return (0, Vec::new());
    };
    let mut signed_count = 0;
    let have_xmlsec1 = tool("xmlsec1", &["--version"]);
    let have_signxml = tool("python3", &["-c", "import signxml"]);
    let have_xmllint = tool("xmllint", &["--version"]);
    for (available, name) in [
        (have_xmlsec1, "xmlsec1"),
        (have_signxml, "python3 with signxml"),
        (have_xmllint, "xmllint"),
    ] {
        if !available {
            skip(name);
        }
    }
    let state = f.sandbox().state_dir().to_owned();
    let out_dir = tempfile::tempdir().expect("tempdir");
    let client = client(f, Duration::from_secs(20));
    let options = trust(f);
    let mut failures = Vec::new();
    for (case, credential, profile) in CASES {
        for specimen in selection.pick(&specimens) {
            let xml = std::fs::read(specimen).expect("read specimen");
            let label = format!(
                "{tag} {case} {}",
                specimen.file_name().unwrap_or_default().to_string_lossy()
            );
            let signed = match sign_through_sandbox(&client, f, credential, profile, &xml) {
                Ok(s) => {
                    signed_count += 1;
                    s
                }
                Err(e) => {
                    failures.push(format!("{label}: signing failed: {e}"));
                    continue;
                }
            };
            match dsig::verify(&signed, &options) {
                Ok(v) => {
                    assert_eq!(v.profile, profile, "{label}");
                    assert!(v.signer.subject().contains("ecoc sandbox"), "{label}");
                    eprintln!("{label}: dsig verify ok");
                }
                Err(e) => failures.push(format!("{label}: dsig refused: {e}")),
            }
            let file = out_dir.path().join(format!("{tag}-{case}.xml"));
            std::fs::write(&file, &signed).expect("write signed file");
            let mut referee = |name: &str, out: Output| {
                eprintln!("{label}: {name}: {}", outcome(&out));
                if !out.status.success() {
                    failures.push(format!("{label}: {name} refused: {}", outcome(&out)));
                }
            };
            if have_xmlsec1 {
                referee("xmlsec1", xmlsec1(&state, &file, profile));
            }
            if have_signxml {
                referee("signxml", signxml(&state, &file, profile));
            }
            if have_xmllint {
                referee("xmllint --schema", xmllint(&file));
            }
        }
    }
    (signed_count, failures)
}

#[test]
fn specimens_signed_through_the_sandbox_verify_everywhere() {
    let f = Fixture::start(BIN, Faults::default());
    let (signed, failures) = sign_and_referee(&f, "der", Selection::All);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Every signature came from the sandbox: one signHash signature per signed file.
    let (_, stats) = f.get("/sandbox/stats");
    assert_eq!(stats["signatures"], signed as u64, "{stats}");
    if let Some(all) = specimens() {
        assert_eq!(
            signed,
            CASES.len() * all.len(),
            "every specimen x four cases"
        );
    }
}

#[test]
fn raw_ecdsa_answers_give_the_same_verifiable_result() {
    let f = Fixture::start(
        BIN,
        Faults {
            ecdsa_format: EcdsaFormat::Raw,
            ..Faults::default()
        },
    );
    let (_, failures) = sign_and_referee(&f, "raw", Selection::EveryNth(4));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A small IVI-shaped document for the tests that do not need a specimen.
const DOC: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<InitialVehicleInformation xmlns="http://eu.ereg.initialvehicleinformation.v2"><Header><VehicleIdentificationNumber>VF1AB000000000001</VehicleIdentificationNumber></Header><CocDataGroup><Mass>1500</Mass></CocDataGroup></InitialVehicleInformation>"#;

#[test]
fn the_client_survives_5xx_hangs_and_expired_tokens() {
    let f = Fixture::start(BIN, Faults::default());
    let client = client(&f, Duration::from_millis(1500));
    let options = trust(&f);
    let sign = |profile| sign_through_sandbox(&client, &f, "p256-signer", profile, DOC.as_bytes());

    // Two 503s on signHash: retried.
    f.set_faults(&serde_json::json!({"fail_next": 2, "endpoints": ["signatures/signHash"]}));
    let signed = sign(Profile::XmlDsig).expect("signs despite two 503s");
    dsig::verify(&signed, &options).expect("verifies");
    let (_, stats) = f.get("/sandbox/stats");
    assert_eq!(stats["injected_failures"], 2, "{stats}");

    // One hang longer than the client's timeout: the request is retried.
    f.set_faults(&serde_json::json!({"hang_next": 1, "hang_ms": 4000, "endpoints": ["credentials/authorize"]}));
    let signed = sign(Profile::Xades).expect("signs despite a hang");
    dsig::verify(&signed, &options).expect("verifies");

    // Latency with jitter: slower, still right.
    f.set_faults(&serde_json::json!({"latency_ms": 20, "latency_jitter_ms": 30, "seed": 3}));
    dsig::verify(&sign(Profile::XmlDsig).expect("signs"), &options).expect("verifies");

    // The access token expires between two documents: renewed after the 401.
    f.set_faults(&serde_json::json!({}));
    sign(Profile::XmlDsig).expect("signs");
    assert!(f.sandbox().expire_tokens() >= 1);
    let signed = sign(Profile::XmlDsig).expect("signs with a renewed token");
    dsig::verify(&signed, &options).expect("verifies");

    // A QTSP that refuses every SAD: the client gives up with the QTSP's reason.
    f.set_faults(&serde_json::json!({"reject_sad": true}));
    let err = sign(Profile::XmlDsig).expect_err("no signature without an accepted SAD");
    assert!(err.to_string().contains("SAD"), "{err}");

    // Every answer a 5xx: the client gives up after its retries.
    f.set_faults(&serde_json::json!({"error_rate_percent": 100}));
    let err = sign(Profile::XmlDsig).expect_err("no signature from a broken QTSP");
    assert!(err.to_string().contains("503"), "{err}");
}

/// Signs with a credential through `credentials/authorize` + `signatures/signHash` directly,
/// bypassing `CscSigner`'s own refusal of expired certificates (to build a negative case).
struct RawCredential<'a> {
    client: &'a CscClient<UreqTransport>,
    credential: &'a str,
    auth: AuthData,
}

impl Signer for RawCredential<'_> {
    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::EcdsaP256Sha256
    }

    fn sign_digest(&self, digest: &[u8; 32]) -> dsig::Result<Vec<u8>> {
        let sad = self
            .client
            .authorize(self.credential, &[*digest], &self.auth)?;
        let mut values = self.client.sign_hash(
            self.credential,
            &sad,
            &[*digest],
            sandbox::qtsp::pki::OID_ECDSA_SHA256,
        )?;
        values
            .pop()
            .ok_or_else(|| dsig::Error::Signer("no signature".into()))
    }
}

fn refused(xml: &[u8], options: &VerifyOptions, case: &str, reason: &[&str]) {
    match dsig::verify(xml, options) {
        Ok(v) => panic!("{case}: accepted (signer {})", v.signer.subject()),
        Err(e) => {
            let text = e.to_string();
            eprintln!("{case}: refused: {text}");
            assert!(
                reason.iter().any(|r| text.contains(r)),
                "{case}: refused for an unexpected reason: {text}"
            );
        }
    }
}

fn element(xml: &str, local: &str) -> (usize, usize) {
    let start = xml
        .find(&format!("<ds:{local}"))
        .unwrap_or_else(|| panic!("no ds:{local}"));
    let close = format!("</ds:{local}>");
    let end = xml[start..].find(&close).expect("closing tag") + start + close.len();
    (start, end)
}

fn text_of<'a>(xml: &'a str, local: &str) -> &'a str {
    let (start, end) = element(xml, local);
    let open_end = xml[start..end].find('>').expect("open tag end") + start + 1;
    &xml[open_end..end - format!("</ds:{local}>").len()]
}

#[test]
fn the_verifier_refuses_tampered_wrapped_swapped_expired_and_der_signatures() {
    let f = Fixture::start(BIN, Faults::default());
    let client = client(&f, Duration::from_secs(20));
    let options = trust(&f);
    for (case, credential, profile) in CASES {
        let signed = String::from_utf8(
            sign_through_sandbox(&client, &f, credential, profile, DOC.as_bytes()).expect("sign"),
        )
        .expect("utf-8");
        dsig::verify(signed.as_bytes(), &options).expect("the untouched document verifies");

        // A changed value.
        let changed = signed.replace("<Mass>1500</Mass>", "<Mass>1400</Mass>");
        assert_ne!(changed, signed);
        refused(
            changed.as_bytes(),
            &options,
            &format!("{case} changed value"),
            &["digest mismatch"],
        );

        // The Signature moved into Header (no longer a child of the root).
        let (start, end) = element(&signed, "Signature");
        let signature = &signed[start..end];
        let without = format!("{}{}", &signed[..start], &signed[end..]);
        let moved = without.replacen("</Header>", &format!("{signature}</Header>"), 1);
        refused(
            moved.as_bytes(),
            &options,
            &format!("{case} moved"),
            &["not a child of the root"],
        );

        // A second copy of the Signature (wrapping).
        let duplicated = signed.replacen("</Header>", &format!("{signature}</Header>"), 1);
        refused(
            duplicated.as_bytes(),
            &options,
            &format!("{case} duplicated"),
            &["2 ds:Signature elements"],
        );

        // The signing certificate swapped for another credential's (same key type or not).
        let other = if credential == "rsa-signer" {
            "p256-signer"
        } else {
            "rsa-signer"
        };
        let other_cert = common::b64(
            f.sandbox()
                .pki()
                .credential(other)
                .expect("other credential")
                .certificate_der(),
        );
        let leaf_b64 = text_of(&signed, "X509Certificate").to_owned();
        let swapped = signed.replacen(&leaf_b64, &other_cert, 1);
        assert_ne!(swapped, signed);
        refused(
            swapped.as_bytes(),
            &options,
            &format!("{case} swapped certificate"),
            &[
                "signature value",
                "digest mismatch",
                "xades",
                "unsupported",
                "algorithm",
            ],
        );
    }

    // A DER-encoded ECDSA value in place of raw r||s.
    let signed = String::from_utf8(
        sign_through_sandbox(&client, &f, "p256-signer", Profile::XmlDsig, DOC.as_bytes())
            .expect("sign"),
    )
    .expect("utf-8");
    let raw_b64 = text_of(&signed, "SignatureValue").to_owned();
    let raw = common::unb64(raw_b64.trim());
    assert_eq!(raw.len(), 64, "the client put raw r||s into the document");
    let der = p256::ecdsa::Signature::from_slice(&raw)
        .expect("r||s")
        .to_der();
    let der_doc = signed.replacen(&raw_b64, &common::b64(der.as_bytes()), 1);
    refused(der_doc.as_bytes(), &options, "der ecdsa value", &["der"]);

    // The expired credential: CscSigner refuses it up front ...
    let err = CscSigner::new(&client, "expired-signer", auth(&f, "expired-signer"))
        .expect_err("the client refuses an expired credential");
    assert!(err.to_string().contains("expired"), "{err}");
    // ... and a signature made with it anyway is refused by the verifier.
    let info = client
        .credentials_info("expired-signer")
        .expect("credentials/info");
    let mut sign_options = SignOptions::new(Profile::XmlDsig, info.certificates);
    sign_options.replace_existing = true;
    let raw_signer = RawCredential {
        client: &client,
        credential: "expired-signer",
        auth: auth(&f, "expired-signer"),
    };
    let expired = dsig::sign(DOC.as_bytes(), &sign_options, &raw_signer).expect("sign anyway");
    refused(
        &expired,
        &options,
        "expired certificate",
        &["expired", "not valid", "validity"],
    );
    if tool("xmlsec1", &["--version"]) {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("expired.xml");
        std::fs::write(&file, &expired).expect("write");
        let out = xmlsec1(f.sandbox().state_dir(), &file, Profile::XmlDsig);
        assert!(
            !out.status.success(),
            "xmlsec1 accepted an expired certificate: {}",
            outcome(&out)
        );
    }
}

/// `ecoc sign` / `ecoc verify` as the CLI runs them (dsig's argument structs and runners), with
/// the flags the issue names, against the sandbox.
#[test]
fn ecoc_sign_and_verify_runners_through_the_sandbox() {
    use clap::Parser;

    #[derive(Parser)]
    struct Sign {
        #[command(flatten)]
        args: dsig::cli::SignArgs,
    }
    #[derive(Parser)]
    struct Verify {
        #[command(flatten)]
        args: dsig::cli::VerifyArgs,
    }

    let f = Fixture::start(BIN, Faults::default());
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.xml");
    std::fs::write(&input, DOC).expect("write input");
    let d = f.description().clone();
    let root = f.sandbox().root_ca_pem();
    let mut outputs = Vec::new();
    for (case, credential, profile) in CASES {
        let output = dir.path().join(format!("{case}.xml"));
        let argv = [
            "ecoc-sign",
            "--qtsp",
            &f.sandbox().csc_url(),
            "--client-id",
            &d.client_id,
            "--client-secret",
            &d.client_secret,
            "--credential",
            credential,
            "--pin",
            &f.pin(credential),
            "--profile",
            profile.name(),
            "--trust",
            &root.display().to_string(),
            &input.display().to_string(),
            &output.display().to_string(),
        ];
        let sign = Sign::try_parse_from(argv).expect("ecoc sign arguments");
        let mut log = Vec::new();
        if (credential, profile) == ("p256-signer", Profile::XmlDsig) {
            // The EUCARIS xmldsig profile signs with RSA-SHA256 only (setup manual).
            let refused = dsig::cli::run_sign(&sign.args, &mut log).expect_err("ECDSA xmldsig");
            assert!(refused.to_string().contains("RSA-SHA256"), "{refused}");
            assert!(!output.exists(), "{case}: nothing written");
            continue;
        }
        let code = dsig::cli::run_sign(&sign.args, &mut log).expect("ecoc sign");
        let log = String::from_utf8_lossy(&log);
        assert_eq!(code, std::process::ExitCode::SUCCESS, "{case}: {log}");
        assert!(
            !log.contains(&d.client_secret),
            "{case}: the secret leaked into the output"
        );
        outputs.push(output);
    }
    let tampered = dir.path().join("tampered.xml");
    let signed = std::fs::read_to_string(&outputs[0]).expect("read");
    std::fs::write(&tampered, signed.replace("1500", "1501")).expect("write");

    let mut argv = vec![
        "ecoc-verify".to_owned(),
        "--trust".to_owned(),
        root.display().to_string(),
    ];
    argv.extend(outputs.iter().map(|p| p.display().to_string()));
    let verify = Verify::try_parse_from(&argv).expect("ecoc verify arguments");
    let mut report = Vec::new();
    let code = dsig::cli::run_verify(&verify.args, &mut report).expect("ecoc verify");
    let report = String::from_utf8_lossy(&report);
    assert_eq!(code, std::process::ExitCode::SUCCESS, "{report}");
    assert_eq!(report.matches(": ok").count(), outputs.len(), "{report}");

    argv.push(tampered.display().to_string());
    let verify = Verify::try_parse_from(&argv).expect("ecoc verify arguments");
    let mut report = Vec::new();
    let code = dsig::cli::run_verify(&verify.args, &mut report).expect("ecoc verify");
    let report = String::from_utf8_lossy(&report);
    assert_eq!(code, std::process::ExitCode::FAILURE, "{report}");
    assert!(
        report.contains("tampered.xml: FAILED: digest mismatch"),
        "{report}"
    );
}
