//! Sign in-process and verify with this crate's verifier, both profiles and key types, plus
//! tamper tests that must fail.

mod common;

use std::time::SystemTime;

use common::{IVI_LIKE, Issued, pki};
use dsig::{Certificate, Error, Profile, SignOptions, VerifyOptions};

fn anchors() -> Vec<Certificate> {
    vec![Certificate::from_der(&pki().root.der).expect("root")]
}

fn opts() -> VerifyOptions {
    VerifyOptions {
        trust_anchors: anchors(),
        ..VerifyOptions::default()
    }
}

fn sign_with(leaf: &Issued, profile: Profile, xml: &str) -> Vec<u8> {
    let chain = vec![leaf.der.clone(), pki().issuing.der.clone()];
    dsig::sign(
        xml.as_bytes(),
        &SignOptions::new(profile, chain),
        &leaf.key.signer(),
    )
    .expect("sign")
}

fn all_cases() -> Vec<(&'static str, &'static Issued, Profile)> {
    let p = pki();
    vec![
        ("rsa-xmldsig", &p.rsa_leaf, Profile::XmlDsig),
        ("rsa-xades", &p.rsa_leaf, Profile::Xades),
        ("p256-xmldsig", &p.p256_leaf, Profile::XmlDsig),
        ("p256-xades", &p.p256_leaf, Profile::Xades),
    ]
}

#[test]
fn sign_then_verify_all_profiles_and_keys() {
    for (name, leaf, profile) in all_cases() {
        let signed = sign_with(leaf, profile, IVI_LIKE);
        let v = dsig::verify(&signed, &opts()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(v.profile, profile, "{name}");
        assert_eq!(v.chain.len(), 3, "{name}");
        assert_eq!(v.signer.der(), leaf.der.as_slice(), "{name}");
        // The original bytes are kept: only the signature was inserted.
        let text = String::from_utf8(signed).expect("utf8");
        let start = text.find("<ds:Signature").expect("sig");
        let end = text.find("</ds:Signature>").expect("sig end") + "</ds:Signature>".len();
        assert_eq!(
            format!("{}{}", &text[..start], &text[end..]),
            IVI_LIKE,
            "{name}"
        );
    }
}

fn expect_err(xml: &[u8], opts: &VerifyOptions, needle: &str) -> Error {
    let err = dsig::verify(xml, opts).expect_err("must be refused");
    assert!(
        err.to_string().contains(needle),
        "expected '{needle}' in: {err}"
    );
    err
}

#[test]
fn a_changed_value_is_a_digest_mismatch() {
    for (name, leaf, profile) in all_cases() {
        let signed = String::from_utf8(sign_with(leaf, profile, IVI_LIKE)).expect("utf8");
        let tampered = signed.replace("WDB12345678901234", "WDB12345678901235");
        let err = expect_err(tampered.as_bytes(), &opts(), "digest mismatch");
        assert!(
            matches!(err, Error::DigestMismatch { ref uri } if uri.is_empty()),
            "{name}: {err}"
        );
    }
}

#[test]
fn a_changed_signed_property_is_refused() {
    let signed =
        String::from_utf8(sign_with(&pki().rsa_leaf, Profile::Xades, IVI_LIKE)).expect("utf8");
    let i = signed.find("<xades:SigningTime>").expect("time") + "<xades:SigningTime>".len();
    let mut tampered = signed.clone();
    tampered.replace_range(i..i + 4, "1999");
    expect_err(
        tampered.as_bytes(),
        &opts(),
        "digest mismatch for reference URI \"#ecoc-sig-",
    );
}

#[test]
fn a_changed_signature_value_is_refused() {
    for (_, leaf, profile) in all_cases() {
        let signed = String::from_utf8(sign_with(leaf, profile, IVI_LIKE)).expect("utf8");
        let i = signed.find("<ds:SignatureValue>").expect("sv") + "<ds:SignatureValue>".len();
        let mut tampered = signed.clone();
        let c = if &signed[i..=i] == "A" { "B" } else { "A" };
        tampered.replace_range(i..=i, c);
        expect_err(tampered.as_bytes(), &opts(), "signature value invalid");
    }
}

#[test]
fn wrapping_is_refused() {
    let signed =
        String::from_utf8(sign_with(&pki().rsa_leaf, Profile::XmlDsig, IVI_LIKE)).expect("utf8");
    let start = signed.find("<ds:Signature").expect("sig");
    let end = signed.find("</ds:Signature>").expect("end") + "</ds:Signature>".len();
    let sig = &signed[start..end];
    // Duplicated.
    let dup = format!("{}{}{}", &signed[..end], sig, &signed[end..]);
    expect_err(dup.as_bytes(), &opts(), "2 ds:Signature elements");
    // Moved into a child element.
    let without = format!("{}{}", &signed[..start], &signed[end..]);
    let moved = without.replacen("</Header>", &format!("{sig}</Header>"), 1);
    expect_err(moved.as_bytes(), &opts(), "not a child of the root");
    // The whole signed document wrapped inside a forged root.
    let body = signed.split_once("?>").expect("declaration").1;
    let wrapped = format!(
        "<Forged><VehicleIdentificationNumber>XXX</VehicleIdentificationNumber>{body}</Forged>"
    );
    expect_err(wrapped.as_bytes(), &opts(), "not a child of the root");
    // A signature hidden in an Object of another one counts too.
    let nested = signed.replacen(
        "</ds:KeyInfo>",
        &format!("</ds:KeyInfo><ds:Object>{sig}</ds:Object>"),
        1,
    );
    expect_err(nested.as_bytes(), &opts(), "2 ds:Signature elements");
}

#[test]
fn a_swapped_certificate_is_refused() {
    let p = pki();
    let signed =
        String::from_utf8(sign_with(&p.rsa_leaf, Profile::XmlDsig, IVI_LIKE)).expect("utf8");
    use base64ct::Encoding;
    let original = base64ct::Base64::encode_string(&p.rsa_leaf.der);
    // Another RSA certificate from the same CA: the signature no longer verifies with its key.
    let other = common::issue(
        "CN=someone else,O=Example Motors,C=NL",
        &common::Key::rsa(3_3),
        Some((common::ISSUING_NAME, &p.issuing.key)),
        false,
        x509_cert::ext::pkix::KeyUsage(x509_cert::ext::pkix::KeyUsages::DigitalSignature.into()),
        (
            SystemTime::now() - common::years(1),
            SystemTime::now() + common::years(1),
        ),
        99,
    );
    let swapped = signed.replace(&original, &base64ct::Base64::encode_string(&other.der));
    expect_err(swapped.as_bytes(), &opts(), "signature value invalid");
    // In XAdES the signed properties pin the certificate too (the KeyInfo reference fails first).
    let signed = String::from_utf8(sign_with(&p.rsa_leaf, Profile::Xades, IVI_LIKE)).expect("utf8");
    let swapped = signed.replace(&original, &base64ct::Base64::encode_string(&other.der));
    expect_err(swapped.as_bytes(), &opts(), "digest mismatch");
}

#[test]
fn an_expired_certificate_is_refused() {
    let p = pki();
    let signed = sign_with(&p.expired_leaf, Profile::XmlDsig, IVI_LIKE);
    expect_err(&signed, &opts(), "expired");
    let signed = sign_with(&p.expired_leaf, Profile::Xades, IVI_LIKE);
    expect_err(&signed, &opts(), "expired");
}

#[test]
fn an_untrusted_chain_is_refused() {
    let signed = sign_with(&pki().p256_leaf, Profile::XmlDsig, IVI_LIKE);
    let other_root = common::issue(
        "CN=other root,C=NL",
        &common::Key::p256(77),
        None,
        true,
        x509_cert::ext::pkix::KeyUsage(x509_cert::ext::pkix::KeyUsages::KeyCertSign.into()),
        (
            SystemTime::now() - common::years(1),
            SystemTime::now() + common::years(1),
        ),
        1,
    );
    let o = VerifyOptions {
        trust_anchors: vec![Certificate::from_der(&other_root.der).expect("cert")],
        ..VerifyOptions::default()
    };
    expect_err(&signed, &o, "chain does not lead to a trust anchor");
    expect_err(&signed, &VerifyOptions::default(), "no trust anchors given");
}

#[test]
fn a_der_ecdsa_value_is_refused() {
    let signed =
        String::from_utf8(sign_with(&pki().p256_leaf, Profile::XmlDsig, IVI_LIKE)).expect("utf8");
    use base64ct::Encoding;
    let open = "<ds:SignatureValue>";
    let i = signed.find(open).expect("sv") + open.len();
    let j = signed.find("</ds:SignatureValue>").expect("sv end");
    let raw = base64ct::Base64::decode_vec(&signed[i..j]).expect("b64");
    let sig = p256::ecdsa::Signature::from_slice(&raw).expect("raw");
    let der = sig.to_der();
    let tampered = format!(
        "{}{}{}",
        &signed[..i],
        base64ct::Base64::encode_string(der.as_bytes()),
        &signed[j..]
    );
    let err = expect_err(tampered.as_bytes(), &opts(), "der-encoded");
    assert!(matches!(err, Error::DerEcdsaValue { .. }));
}

#[test]
fn finish_converts_a_der_ecdsa_value_and_refuses_a_wrong_one() {
    let p = pki();
    let chain = vec![p.p256_leaf.der.clone(), p.issuing.der.clone()];
    let prepared = dsig::prepare(
        IVI_LIKE.as_bytes(),
        &SignOptions::new(Profile::Xades, chain.clone()),
    )
    .expect("prepare");
    let raw =
        dsig::Signer::sign_digest(&p.p256_leaf.key.signer(), &prepared.digest()).expect("sign");
    let der = p256::ecdsa::Signature::from_slice(&raw)
        .expect("raw")
        .to_der();
    let signed = prepared.finish(der.as_bytes()).expect("finish with der");
    dsig::verify(&signed, &opts()).expect("verifies");

    let prepared = dsig::prepare(
        IVI_LIKE.as_bytes(),
        &SignOptions::new(Profile::Xades, chain),
    )
    .expect("prepare");
    let wrong = dsig::Signer::sign_digest(&p.p256_leaf.key.signer(), &[7u8; 32]).expect("sign");
    let err = prepared.finish(&wrong).expect_err("wrong value");
    assert!(err.to_string().contains("does not verify"), "{err}");
    // Unchecked, the wrong value is embedded; the whole-document check after it refuses it.
    let prepared = dsig::prepare(
        IVI_LIKE.as_bytes(),
        &SignOptions::new(
            Profile::Xades,
            vec![p.p256_leaf.der.clone(), p.issuing.der.clone()],
        ),
    )
    .expect("prepare");
    let embedded = prepared.finish_unchecked(&wrong).expect("embedded");
    let err = dsig::verify(&embedded, &opts()).expect_err("wrong value embedded");
    assert!(matches!(err, Error::SignatureValue(_)), "{err}");
}

#[test]
fn refuses_an_already_signed_document_unless_replacing() {
    let p = pki();
    let signed = sign_with(&p.rsa_leaf, Profile::XmlDsig, IVI_LIKE);
    let chain = vec![p.p256_leaf.der.clone(), p.issuing.der.clone()];
    let mut o = SignOptions::new(Profile::Xades, chain);
    let err = dsig::sign(&signed, &o, &p.p256_leaf.key.signer()).expect_err("already signed");
    assert!(err.to_string().contains("already contains"), "{err}");
    o.replace_existing = true;
    let resigned = dsig::sign(&signed, &o, &p.p256_leaf.key.signer()).expect("resign");
    let v = dsig::verify(&resigned, &opts()).expect("verify");
    assert_eq!(v.profile, Profile::Xades);
}

/// Replacing a signature gives, byte for byte, what signing the document without it gives: the
/// old signature is left out of every digest and out of the text, whatever it held (here the
/// new signature's own ids too). RSA PKCS#1 v1.5 is deterministic and the signing time fixed,
/// so the two outputs can be compared whole.
#[test]
fn replacing_a_signature_signs_exactly_the_document_without_it() {
    let p = pki();
    let signed = String::from_utf8(sign_with(&p.rsa_leaf, Profile::Xades, IVI_LIKE)).expect("utf8");
    let chain = vec![p.rsa_leaf.der.clone(), p.issuing.der.clone()];
    for profile in [Profile::XmlDsig, Profile::Xades] {
        let mut o = SignOptions::new(profile, chain.clone());
        o.signing_time =
            Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_780_000_000));
        let fresh = dsig::sign(IVI_LIKE.as_bytes(), &o, &p.rsa_leaf.key.signer()).expect("sign");
        o.replace_existing = true;
        let resigned = dsig::sign(signed.as_bytes(), &o, &p.rsa_leaf.key.signer()).expect("resign");
        assert_eq!(
            String::from_utf8(resigned.clone()).expect("utf8"),
            String::from_utf8(fresh).expect("utf8"),
            "{profile:?}"
        );
        dsig::verify(&resigned, &opts()).expect("verifies");
    }
}

#[test]
fn all_nine_specimens_are_rejected_with_a_digest_mismatch() {
    let Some(dir) = common::specimens_dir() else {
        return;
    };
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "xml") {
            continue;
        }
        let xml = std::fs::read(&path).expect("read");
        let err = dsig::verify(&xml, &opts()).expect_err("specimen must not verify");
        assert!(
            matches!(err, Error::DigestMismatch { ref uri } if uri.is_empty()),
            "{}: {err}",
            path.display()
        );
        n += 1;
    }
    assert_eq!(n, 9, "nine official specimens");
}

#[test]
fn a_specimen_can_be_resigned_replacing_its_placeholder() {
    let Some(dir) = common::specimens_dir() else {
        return;
    };
    let p = pki();
    for entry in std::fs::read_dir(dir).expect("dir") {
        let path = entry.expect("entry").path();
        let xml = std::fs::read(&path).expect("read");
        let chain = vec![p.p256_leaf.der.clone(), p.issuing.der.clone()];
        let mut o = SignOptions::new(Profile::XmlDsig, chain);
        o.replace_existing = true;
        let signed = dsig::sign(&xml, &o, &p.p256_leaf.key.signer()).expect("sign");
        dsig::verify(&signed, &opts()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

#[test]
fn a_signing_time_outside_the_certificate_validity_is_refused() {
    let p = pki();
    let chain = vec![p.rsa_leaf.der.clone(), p.issuing.der.clone()];
    let mut o = SignOptions::new(Profile::Xades, chain);
    // Before the leaf's notBefore (one year ago).
    o.signing_time = Some(SystemTime::now() - common::years(2));
    let signed = dsig::sign(IVI_LIKE.as_bytes(), &o, &p.rsa_leaf.key.signer()).expect("sign");
    let err = expect_err(&signed, &opts(), "at signing time");
    assert!(err.to_string().contains("not yet valid"), "{err}");
    // In the future.
    o.signing_time = Some(SystemTime::now() + common::years(1));
    let signed = dsig::sign(IVI_LIKE.as_bytes(), &o, &p.rsa_leaf.key.signer()).expect("sign");
    expect_err(&signed, &opts(), "lies after the verification time");
}

/// Random single-byte corruptions of signed documents: the verifier must refuse them with an
/// error (never panic), unless the byte landed where it changes nothing signed.
#[test]
fn corrupted_documents_are_refused_without_panics() {
    use rand_chacha::ChaCha20Rng;
    use rand_chacha::rand_core::{Rng, SeedableRng};
    let mut rng = ChaCha20Rng::seed_from_u64(42);
    let mut accepted = 0;
    for (_, leaf, profile) in all_cases() {
        let signed = sign_with(leaf, profile, IVI_LIKE);
        for _ in 0..150 {
            let mut doc = signed.clone();
            let i = (rng.next_u32() as usize) % doc.len();
            doc[i] = (rng.next_u32() & 0xff) as u8;
            if dsig::verify(&doc, &opts()).is_ok() {
                accepted += 1;
            }
            // Truncations too.
            let cut = (rng.next_u32() as usize) % signed.len();
            assert!(dsig::verify(&signed[..cut], &opts()).is_err());
        }
    }
    // Only bytes outside the signed content (e.g. the XML declaration) may be changed harmlessly.
    assert!(accepted < 20, "{accepted} corrupted documents verified");
}

/// One `VerifyOptions` reused for a batch remembers the certificate links it checked; a document
/// whose chain differs is still checked in full: an issuing CA of the same name but another key
/// does not pass on the strength of the cached link.
#[test]
fn a_reused_options_value_still_checks_a_different_chain() {
    let p = pki();
    let shared = opts();
    for _ in 0..3 {
        let signed = sign_with(&p.p256_leaf, Profile::XmlDsig, IVI_LIKE);
        dsig::verify(&signed, &shared).expect("verifies");
    }
    // A forged issuing CA: same name, another key, signing a leaf of its own.
    let forged_ca = common::issue(
        common::ISSUING_NAME,
        &common::Key::p256(91),
        None,
        true,
        x509_cert::ext::pkix::KeyUsage(x509_cert::ext::pkix::KeyUsages::KeyCertSign.into()),
        (
            SystemTime::now() - common::years(1),
            SystemTime::now() + common::years(1),
        ),
        5,
    );
    let key = common::Key::p256(92);
    let leaf = common::issue(
        "CN=forged signer,C=NL",
        &key,
        Some((common::ISSUING_NAME, &forged_ca.key)),
        false,
        x509_cert::ext::pkix::KeyUsage(x509_cert::ext::pkix::KeyUsages::DigitalSignature.into()),
        (
            SystemTime::now() - common::years(1),
            SystemTime::now() + common::years(1),
        ),
        6,
    );
    let chain = vec![leaf.der.clone(), forged_ca.der.clone()];
    let signed = dsig::sign(
        IVI_LIKE.as_bytes(),
        &SignOptions::new(Profile::XmlDsig, chain),
        &leaf.key.signer(),
    )
    .expect("sign");
    expect_err(&signed, &shared, "chain does not lead to a trust anchor");
}
