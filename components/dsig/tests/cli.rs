//! `ecoc verify` runner: exit status and one reason per failing file.
#![cfg(feature = "cli")]

mod common;

use std::process::ExitCode;

use common::{IVI_LIKE, pki};
use dsig::cli::{VerifyArgs, run_verify};
use dsig::{Profile, SignOptions};

#[test]
fn verify_reports_each_file_and_fails_if_any_fails() {
    let p = pki();
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("ca.pem");
    // Issuing CA first, root second: every certificate of the file is read.
    std::fs::write(&ca, format!("{}{}", p.issuing.pem(), p.root.pem())).expect("pem");
    let chain = vec![p.p256_leaf.der.clone(), p.issuing.der.clone()];
    let signed = dsig::sign(
        IVI_LIKE.as_bytes(),
        &SignOptions::new(Profile::Xades, chain),
        &p.p256_leaf.key.signer(),
    )
    .expect("sign");
    let good = dir.path().join("good.xml");
    std::fs::write(&good, &signed).expect("write");
    let bad = dir.path().join("bad.xml");
    let tampered = String::from_utf8(signed)
        .expect("utf8")
        .replace("WDB12345678901234", "WDB00000000000000");
    std::fs::write(&bad, tampered).expect("write");

    let mut out = Vec::new();
    let args = VerifyArgs {
        trust: vec![ca.clone()],
        at: None,
        files: vec![good.clone()],
    };
    assert_eq!(run_verify(&args, &mut out).expect("run"), ExitCode::SUCCESS);
    let text = String::from_utf8(out).expect("utf8");
    assert!(text.contains("good.xml: ok (xades"), "{text}");

    let mut out = Vec::new();
    let args = VerifyArgs {
        trust: vec![ca],
        at: None,
        files: vec![good, bad],
    };
    assert_eq!(run_verify(&args, &mut out).expect("run"), ExitCode::FAILURE);
    let text = String::from_utf8(out).expect("utf8");
    assert!(
        text.contains("bad.xml: FAILED: digest mismatch for reference URI \"\""),
        "{text}"
    );
}
