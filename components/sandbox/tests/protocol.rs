//! CSC API v2 protocol tests over real HTTP against a running QTSP sandbox.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is how a test reports failure"
)]

mod common;

use std::time::{Duration, Instant};

use common::{Fixture, b64, sha256, unb64};
use der::{Decode, DecodePem};
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use sandbox::qtsp::pki::{
    OID_EC_PUBLIC_KEY, OID_ECDSA_SHA256, OID_P256, OID_RSA, OID_SHA256, OID_SHA256_WITH_RSA,
};
use sandbox::qtsp::{Faults, TestPki};
use serde_json::json;
use x509_cert::Certificate;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages};

const BIN: &str = "protocol";

fn quiet() -> Fixture {
    Fixture::start(BIN, Faults::default())
}

fn leaf(fixture: &Fixture, credential: &str) -> Certificate {
    fixture
        .sandbox()
        .pki()
        .credential(credential)
        .expect("credential")
        .certificate()
        .clone()
}

fn verify(cert: &Certificate, hash: &[u8], signature: &[u8]) {
    let spki = cert.tbs_certificate().subject_public_key_info();
    let spki_der = der::Encode::to_der(spki).unwrap();
    if spki.algorithm.oid.to_string() == OID_RSA {
        use rsa::pkcs8::DecodePublicKey;
        let key = rsa::RsaPublicKey::from_public_key_der(&spki_der).unwrap();
        key.verify(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), hash, signature)
            .expect("rsa signature verifies");
    } else {
        use p256::pkcs8::DecodePublicKey;
        let key = p256::ecdsa::VerifyingKey::from_public_key_der(&spki_der).unwrap();
        let signature = if signature.len() == 64 {
            p256::ecdsa::Signature::from_slice(signature).unwrap()
        } else {
            p256::ecdsa::Signature::from_der(signature).unwrap()
        };
        key.verify_prehash(hash, &signature)
            .expect("ecdsa signature verifies");
    }
}

#[test]
fn info_is_public_and_names_the_methods() {
    let f = quiet();
    for (status, body) in [
        f.get("/csc/v2/info"),
        f.post("/csc/v2/info", None, &json!({})),
    ] {
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["specs"], "2.0.0.2");
        assert_eq!(body["authType"], json!(["oauth2client"]));
        assert_eq!(body["oauth2"], f.sandbox().base_url());
        let methods = body["methods"].as_array().unwrap();
        for m in [
            "oauth2/token",
            "credentials/authorize",
            "signatures/signHash",
        ] {
            assert!(methods.contains(&json!(m)), "{m} missing from {body}");
        }
    }
    let (status, body) = f.get("/csc/v2/nothing");
    assert_eq!(status, 404);
    assert_eq!(body["error"], "invalid_request");
    let (status, body) = f.get("/csc/v2/signatures/signHash");
    assert_eq!(
        (status, body["error"].as_str()),
        (405, Some("invalid_request")),
        "{body}"
    );
    // Bodies are bounded.
    let huge = "a".repeat(sandbox::http::MAX_BODY_BYTES + 1);
    let (status, body) = f.post_form("/oauth2/token", None, &huge);
    assert_eq!(status, 413, "{body}");
}

#[test]
fn oauth2_client_credentials_grant() {
    let f = quiet();
    let d = f.description().clone();

    // Body credentials.
    let token = f.token();
    assert_eq!(token.len(), 64);

    // HTTP Basic credentials, also under the CSC base path.
    let (status, body) = f.post_form(
        "/csc/v2/oauth2/token",
        Some((&d.client_id, &d.client_secret)),
        "grant_type=client_credentials",
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);

    // Wrong secret, missing credentials, wrong grant, both methods at once.
    let (status, body) = f.post_form(
        "/oauth2/token",
        None,
        &format!(
            "grant_type=client_credentials&client_id={}&client_secret=nope",
            d.client_id
        ),
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    assert!(
        !body.to_string().contains(&d.client_secret),
        "secret leaked: {body}"
    );
    let (status, body) = f.post_form("/oauth2/token", None, "grant_type=client_credentials");
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    let (status, body) = f.post_form(
        "/oauth2/token",
        Some((&d.client_id, &d.client_secret)),
        "grant_type=password",
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type")),
        "{body}"
    );
    let (status, body) = f.post_form(
        "/oauth2/token",
        Some((&d.client_id, &d.client_secret)),
        &format!(
            "grant_type=client_credentials&client_id={}&client_secret={}",
            d.client_id, d.client_secret
        ),
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );

    // CSC methods need the token.
    let (status, body) = f.post("/csc/v2/credentials/list", None, &json!({}));
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token")),
        "{body}"
    );
    let (status, body) = f.post("/csc/v2/credentials/list", Some("bogus"), &json!({}));
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token")),
        "{body}"
    );
    let (status, body) = f.post("/csc/v2/credentials/list", Some(&token), &json!({}));
    assert_eq!(status, 200, "{body}");
}

#[test]
fn credentials_list_and_info_with_chain() {
    let f = quiet();
    let token = f.token();
    let (status, body) = f.post("/csc/v2/credentials/list", Some(&token), &json!({}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["credentialIDs"],
        json!(["rsa-signer", "p256-signer", "expired-signer"])
    );
    let (_, body) = f.post(
        "/csc/v2/credentials/list",
        Some(&token),
        &json!({"onlyValid": true, "credentialInfo": true, "certificates": "none"}),
    );
    assert_eq!(body["credentialIDs"], json!(["rsa-signer", "p256-signer"]));
    assert_eq!(body["credentialInfos"][1]["credentialID"], "p256-signer");

    // A typo in a field name is refused, naming it.
    let (status, body) = f.post(
        "/csc/v2/credentials/info",
        Some(&token),
        &json!({"credentialId": "rsa-signer"}),
    );
    assert_eq!(status, 400);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("credentialId"),
        "{body}"
    );
    let (status, body) = f.post(
        "/csc/v2/credentials/info",
        Some(&token),
        &json!({"credentialID": "nobody"}),
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );

    let root_pem = std::fs::read_to_string(f.sandbox().root_ca_pem()).unwrap();
    let root = Certificate::from_pem(root_pem.as_bytes()).unwrap();
    for (id, algo, bits, status_word) in [
        ("rsa-signer", OID_RSA, 2048, "valid"),
        ("p256-signer", OID_EC_PUBLIC_KEY, 256, "valid"),
        ("expired-signer", OID_EC_PUBLIC_KEY, 256, "expired"),
    ] {
        let (status, body) = f.post(
            "/csc/v2/credentials/info",
            Some(&token),
            &json!({"credentialID": id, "certificates": "chain", "certInfo": true, "authInfo": true}),
        );
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["key"]["status"], "enabled");
        assert!(
            body["key"]["algo"]
                .as_array()
                .unwrap()
                .contains(&json!(algo)),
            "{body}"
        );
        assert_eq!(body["key"]["len"], bits);
        if algo == OID_EC_PUBLIC_KEY {
            assert_eq!(body["key"]["curve"], OID_P256);
        }
        assert_eq!(body["cert"]["status"], status_word);
        assert_eq!(body["authMode"], "explicit");
        assert_eq!(body["PIN"]["presence"], "true");
        assert_eq!(body["auth"]["mode"], "explicit");
        assert_eq!(body["auth"]["objects"][0]["id"], "PIN");
        assert_eq!(body["scal"], "2");
        assert!(
            body["cert"]["subjectDN"]
                .as_str()
                .unwrap()
                .contains("CN=ecoc sandbox"),
            "{body}"
        );
        assert_eq!(body["cert"]["validTo"].as_str().unwrap().len(), 15);

        let chain: Vec<Certificate> = body["cert"]["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| Certificate::from_der(&unb64(c.as_str().unwrap())).unwrap())
            .collect();
        assert_eq!(chain.len(), 3);
        assert_eq!(chain[0], leaf(&f, id));
        assert_eq!(
            chain[2], root,
            "the chain ends with the root in root-ca.pem"
        );
        // Each certificate names the next as its issuer.
        for pair in chain.windows(2) {
            assert_eq!(
                pair[0].tbs_certificate().issuer(),
                pair[1].tbs_certificate().subject()
            );
        }
        let ku = chain[0]
            .tbs_certificate()
            .get_extension::<KeyUsage>()
            .unwrap()
            .expect("keyUsage");
        assert!(ku.0, "keyUsage is critical");
        assert!(
            ku.1.0.contains(KeyUsages::DigitalSignature)
                && ku.1.0.contains(KeyUsages::NonRepudiation)
        );
        let bc = chain[0]
            .tbs_certificate()
            .get_extension::<BasicConstraints>()
            .unwrap()
            .expect("basicConstraints");
        assert!(!bc.1.ca);

        // "single" (the default) is the leaf alone; "none" omits the list.
        let (_, single) = f.post(
            "/csc/v2/credentials/info",
            Some(&token),
            &json!({"credentialID": id}),
        );
        assert_eq!(single["cert"]["certificates"].as_array().unwrap().len(), 1);
        let (_, none) = f.post(
            "/csc/v2/credentials/info",
            Some(&token),
            &json!({"credentialID": id, "certificates": "none"}),
        );
        assert!(none["cert"].get("certificates").is_none(), "{none}");
    }
}

#[test]
fn sad_is_bound_to_hashes_credential_and_use() {
    let f = quiet();
    let token = f.token();
    let hash_a = sha256(b"document a");
    let hash_b = sha256(b"document b");

    // Wrong PIN, missing PIN, count mismatch.
    let (status, body) = f.post(
        "/csc/v2/credentials/authorize",
        Some(&token),
        &json!({"credentialID": "rsa-signer", "numSignatures": 1, "hashes": [b64(&hash_a)],
                "authData": [{"id": "PIN", "value": "not-the-pin"}]}),
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_pin")),
        "{body}"
    );
    let (status, _) = f.post(
        "/csc/v2/credentials/authorize",
        Some(&token),
        &json!({"credentialID": "rsa-signer", "numSignatures": 1, "hashes": [b64(&hash_a)]}),
    );
    assert_eq!(status, 400);
    let (status, body) = f.post(
        "/csc/v2/credentials/authorize",
        Some(&token),
        &json!({"credentialID": "rsa-signer", "numSignatures": 2, "hashes": [b64(&hash_a)],
                "PIN": f.pin("rsa-signer")}),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("numSignatures"),
        "{body}"
    );

    let sad = f.authorize(&token, "rsa-signer", std::slice::from_ref(&hash_a));
    let sign = |credential: &str, sad: &str, hash: &[u8], algo: &str| {
        f.post(
            "/csc/v2/signatures/signHash",
            Some(&token),
            &json!({"credentialID": credential, "SAD": sad, "hashes": [b64(hash)],
                    "hashAlgorithmOID": OID_SHA256, "signAlgo": algo}),
        )
    };
    // Another hash, another credential, an unknown SAD: refused.
    let (status, body) = sign("rsa-signer", &sad, &hash_b, OID_SHA256_WITH_RSA);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("not authorized"),
        "{body}"
    );
    let (status, body) = sign("p256-signer", &sad, &hash_a, OID_ECDSA_SHA256);
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("rsa-signer"),
        "{body}"
    );
    let (status, body) = sign("rsa-signer", "00ff", &hash_a, OID_SHA256_WITH_RSA);
    assert_eq!(
        (status, body["error_description"].as_str()),
        (400, Some("invalid parameter SAD"))
    );
    // An algorithm that does not fit the key.
    let (status, body) = sign("rsa-signer", &sad, &hash_a, OID_ECDSA_SHA256);
    assert_eq!(status, 400, "{body}");

    // The authorised hash: signed, and the signature verifies with the leaf key.
    let (status, body) = sign("rsa-signer", &sad, &hash_a, OID_SHA256_WITH_RSA);
    assert_eq!(status, 200, "{body}");
    let signature = unb64(body["signatures"][0].as_str().unwrap());
    assert_eq!(signature.len(), 256);
    verify(&leaf(&f, "rsa-signer"), &hash_a, &signature);

    // The SAD is spent.
    let (status, body) = sign("rsa-signer", &sad, &hash_a, OID_SHA256_WITH_RSA);
    assert_eq!(status, 400, "{body}");

    // rsaEncryption + hashAlgorithmOID means the same as sha256WithRSAEncryption.
    let sad = f.authorize(&token, "rsa-signer", std::slice::from_ref(&hash_b));
    let (status, body) = sign("rsa-signer", &sad, &hash_b, OID_RSA);
    assert_eq!(status, 200, "{body}");
    verify(
        &leaf(&f, "rsa-signer"),
        &hash_b,
        &unb64(body["signatures"][0].as_str().unwrap()),
    );

    // Several hashes in one authorisation, signed in two calls.
    let hashes: Vec<Vec<u8>> = (0..3)
        .map(|i| sha256(format!("doc {i}").as_bytes()))
        .collect();
    let sad = f.authorize(&token, "p256-signer", &hashes);
    let (status, body) = f.post(
        "/csc/v2/signatures/signHash",
        Some(&token),
        &json!({"credentialID": "p256-signer", "SAD": sad, "hashes": [b64(&hashes[2]), b64(&hashes[0])],
                "signAlgo": OID_ECDSA_SHA256}),
    );
    assert_eq!(status, 200, "{body}");
    verify(
        &leaf(&f, "p256-signer"),
        &hashes[2],
        &unb64(body["signatures"][0].as_str().unwrap()),
    );
    verify(
        &leaf(&f, "p256-signer"),
        &hashes[0],
        &unb64(body["signatures"][1].as_str().unwrap()),
    );
    let (status, body) = sign("p256-signer", &sad, &hashes[1], OID_ECDSA_SHA256);
    assert_eq!(status, 200, "{body}");
    verify(
        &leaf(&f, "p256-signer"),
        &hashes[1],
        &unb64(body["signatures"][0].as_str().unwrap()),
    );
}

#[test]
fn ecdsa_values_are_der_by_default_and_raw_on_request() {
    let f = quiet();
    let token = f.token();
    let hash = sha256(b"ecdsa format");
    let sign = || {
        let sad = f.authorize(&token, "p256-signer", std::slice::from_ref(&hash));
        let (status, body) = f.post(
            "/csc/v2/signatures/signHash",
            Some(&token),
            &json!({"credentialID": "p256-signer", "SAD": sad, "hashes": [b64(&hash)],
                    "hashAlgorithmOID": OID_SHA256, "signAlgo": OID_EC_PUBLIC_KEY}),
        );
        assert_eq!(status, 200, "{body}");
        unb64(body["signatures"][0].as_str().unwrap())
    };
    let der_value = sign();
    assert_eq!(der_value[0], 0x30, "DER SEQUENCE");
    assert!(p256::ecdsa::Signature::from_der(&der_value).is_ok());
    verify(&leaf(&f, "p256-signer"), &hash, &der_value);

    let (status, body) = f.set_faults(&json!({"ecdsa_format": "raw"}));
    assert_eq!(status, 200, "{body}");
    let raw = sign();
    assert_eq!(raw.len(), 64);
    verify(&leaf(&f, "p256-signer"), &hash, &raw);
    // RFC 6979 signatures are deterministic: same r and s, two encodings.
    assert_eq!(
        p256::ecdsa::Signature::from_der(&der_value)
            .unwrap()
            .to_bytes()
            .to_vec(),
        raw
    );
}

#[test]
fn expired_tokens_are_refused() {
    let f = quiet();
    let token = f.token();
    let (status, _) = f.post("/csc/v2/credentials/list", Some(&token), &json!({}));
    assert_eq!(status, 200);
    let (status, body) = f.post("/sandbox/tokens/expire", None, &json!({}));
    assert_eq!(status, 200, "{body}");
    let (status, body) = f.post("/csc/v2/credentials/list", Some(&token), &json!({}));
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token")),
        "{body}"
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{body}"
    );

    // Short-lived tokens by configuration.
    f.set_faults(&json!({"token_lifetime_secs": 1}));
    let d = f.description().clone();
    let (_, body) = f.post_form(
        "/oauth2/token",
        Some((&d.client_id, &d.client_secret)),
        "grant_type=client_credentials",
    );
    assert_eq!(body["expires_in"], 1);
    let token = body["access_token"].as_str().unwrap().to_owned();
    let (status, _) = f.post("/csc/v2/credentials/list", Some(&token), &json!({}));
    assert_eq!(status, 200);
    std::thread::sleep(Duration::from_millis(1100));
    let (status, body) = f.post("/csc/v2/credentials/list", Some(&token), &json!({}));
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token")),
        "{body}"
    );
}

#[test]
fn wrong_sad_mode_refuses_valid_sads() {
    let f = quiet();
    let token = f.token();
    let hash = sha256(b"x");
    let sad = f.authorize(&token, "p256-signer", std::slice::from_ref(&hash));
    f.set_faults(&json!({"reject_sad": true}));
    let request = json!({"credentialID": "p256-signer", "SAD": sad, "hashes": [b64(&hash)],
                         "signAlgo": OID_ECDSA_SHA256});
    let (status, body) = f.post("/csc/v2/signatures/signHash", Some(&token), &request);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    assert!(
        body["error_description"].as_str().unwrap().contains("SAD"),
        "{body}"
    );
    // Switching back: the same SAD is still good (the refusal did not spend it).
    f.set_faults(&json!({}));
    let (status, body) = f.post("/csc/v2/signatures/signHash", Some(&token), &request);
    assert_eq!(status, 200, "{body}");
}

#[test]
fn injected_5xx_are_counted_deterministic_and_scoped() {
    let f = quiet();
    let token = f.token();

    // The next two signHash calls fail; other endpoints are unaffected.
    f.set_faults(&json!({"fail_next": 2, "endpoints": ["signatures/signHash"]}));
    let (status, _) = f.post("/csc/v2/credentials/list", Some(&token), &json!({}));
    assert_eq!(status, 200);
    let hash = sha256(b"retry me");
    let sad = f.authorize(&token, "rsa-signer", std::slice::from_ref(&hash));
    let request = json!({"credentialID": "rsa-signer", "SAD": sad, "hashes": [b64(&hash)],
                         "signAlgo": OID_SHA256_WITH_RSA});
    for _ in 0..2 {
        let (status, body) = f.post("/csc/v2/signatures/signHash", Some(&token), &request);
        assert_eq!(
            (status, body["error"].as_str()),
            (503, Some("temporarily_unavailable")),
            "{body}"
        );
    }
    let (status, body) = f.post("/csc/v2/signatures/signHash", Some(&token), &request);
    assert_eq!(status, 200, "a retry after the failures succeeds: {body}");
    let (_, stats) = f.get("/sandbox/stats");
    assert_eq!(stats["injected_failures"], 2, "{stats}");
    assert_eq!(
        stats["requests"]["/csc/v2/signatures/signHash"], 3,
        "{stats}"
    );

    // A seeded failure rate gives the same pattern every time it is switched on.
    let pattern = || {
        f.set_faults(&json!({"error_rate_percent": 50, "error_status": 500, "seed": 7}));
        (0..24).map(|_| f.get("/csc/v2/info").0).collect::<Vec<_>>()
    };
    let first = pattern();
    assert_eq!(first, pattern());
    assert!(first.contains(&500) && first.contains(&200), "{first:?}");

    let (status, body) = f.set_faults(&json!({"error_rate_percent": 150}));
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error_description"].as_str().unwrap().contains("150"),
        "{body}"
    );
}

#[test]
fn latency_and_hangs_delay_answers() {
    let f = quiet();
    f.set_faults(&json!({"latency_ms": 300}));
    let started = Instant::now();
    assert_eq!(f.get("/csc/v2/info").0, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );

    // A hang outlasts a client's timeout.
    f.set_faults(&json!({"hang_ms": 5000}));
    let impatient = common::agent(Duration::from_millis(400));
    let started = Instant::now();
    let result = impatient.get(f.url("/csc/v2/info")).call();
    assert!(result.is_err(), "the client should time out");
    assert!(started.elapsed() < Duration::from_secs(3));
    // Admin endpoints stay responsive.
    assert_eq!(f.set_faults(&json!({})).0, 200);
    assert_eq!(f.get("/csc/v2/info").0, 200);
}

#[test]
fn state_dir_is_reused_across_restarts_and_holds_the_trust_files() {
    let dir = tempfile::tempdir().unwrap();
    let first = Fixture::start_in(dir.path(), Faults::default());
    let root = std::fs::read(dir.path().join("root-ca.pem")).unwrap();
    let secret = first.description().client_secret.clone();
    drop(first);
    let second = Fixture::start_in(dir.path(), Faults::default());
    assert_eq!(std::fs::read(dir.path().join("root-ca.pem")).unwrap(), root);
    assert_eq!(second.description().client_secret, secret);
    // Tokens from the restarted server work with the same credentials.
    let _ = second.token();

    assert_eq!(std::fs::read(dir.path().join("ca.pem")).unwrap(), root);
    let chain = std::fs::read_to_string(dir.path().join("chain.pem")).unwrap();
    let chain = Certificate::load_pem_chain(chain.as_bytes()).unwrap();
    assert_eq!(chain.len(), 2);
    assert_eq!(
        chain[1],
        Certificate::from_pem(&root).unwrap(),
        "chain.pem is issuing CA then root"
    );
    #[cfg(unix)]
    for name in ["rsa-signer.key.pem", "p256-signer.key.pem", "sandbox.json"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{name} is readable by others: {mode:o}");
    }
    // The reloaded PKI signs the same way as the served one.
    let pki = TestPki::load(dir.path()).unwrap();
    assert_eq!(pki.credentials().len(), 4);
}

#[test]
fn openssl_accepts_the_chain_and_rejects_the_expired_leaf() {
    let dir = common::shared_state_dir(BIN);
    let verify = |leaf: &str| {
        std::process::Command::new("openssl")
            .args([
                "verify",
                "-CAfile",
                "root-ca.pem",
                "-untrusted",
                "issuing-ca.pem",
                leaf,
            ])
            .current_dir(&dir)
            .output()
    };
    let Ok(ok) = verify("rsa-signer.pem") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "openssl is required in CI"
        );
        eprintln!("skipped: openssl not installed");
        return;
    };
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    assert!(verify("p256-signer.pem").unwrap().status.success());
    let expired = verify("expired-signer.pem").unwrap();
    assert!(!expired.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&expired.stdout),
        String::from_utf8_lossy(&expired.stderr)
    );
    assert!(text.contains("expired"), "{text}");
}

#[test]
fn each_client_sees_and_uses_only_its_own_credentials() {
    let f = quiet();
    let d = f.description();
    let second = sandbox::qtsp::pki::SECOND_CLIENT;
    let secret_b = d.client_secret(second).expect("a second client").to_owned();
    let (status, body) = f.post_form(
        "/oauth2/token",
        None,
        &format!("grant_type=client_credentials&client_id={second}&client_secret={secret_b}"),
    );
    assert_eq!(status, 200, "{body}");
    let token_b = body["access_token"].as_str().unwrap().to_owned();
    let token_a = f.token();
    let listed = |token: &str| {
        let (status, body) = f.post("/csc/v2/credentials/list", Some(token), &json!({}));
        assert_eq!(status, 200, "{body}");
        body["credentialIDs"].clone()
    };
    assert_eq!(listed(&token_b), json!(["rsa-signer-b"]));
    let of_a = listed(&token_a);
    assert!(
        of_a.as_array().unwrap().iter().all(|c| c != "rsa-signer-b")
            && of_a.as_array().unwrap().iter().any(|c| c == "rsa-signer"),
        "{of_a}"
    );
    // B signs with its own credential, and its certificate is its own.
    let hash = sha256(b"a second manufacturer's document");
    let sad = f.authorize(&token_b, "rsa-signer-b", std::slice::from_ref(&hash));
    let (status, body) = f.post(
        "/csc/v2/signatures/signHash",
        Some(&token_b),
        &json!({"credentialID": "rsa-signer-b", "SAD": sad, "hashes": [b64(&hash)],
                "hashAlgorithmOID": OID_SHA256, "signAlgo": OID_SHA256_WITH_RSA}),
    );
    assert_eq!(status, 200, "{body}");
    let cert = leaf(&f, "rsa-signer-b");
    verify(
        &cert,
        &hash,
        &unb64(body["signatures"][0].as_str().unwrap()),
    );
    assert!(
        cert.tbs_certificate()
            .subject()
            .to_string()
            .contains("signer B")
    );
    // Another client's credential is as unknown as one that does not exist, for every call.
    for (token, credential) in [(&token_b, "rsa-signer"), (&token_a, "rsa-signer-b")] {
        for path in ["/csc/v2/credentials/info", "/csc/v2/credentials/authorize"] {
            let (status, body) = f.post(
                path,
                Some(token),
                &json!({"credentialID": credential, "numSignatures": 1, "hashes": [b64(&hash)],
                        "authData": [{"id": "PIN", "value": f.pin(credential)}]}),
            );
            assert_eq!(
                (status, body["error"].as_str()),
                (400, Some("invalid_request")),
                "{path}: {body}"
            );
            assert!(
                body["error_description"]
                    .as_str()
                    .unwrap()
                    .contains("unknown"),
                "{body}"
            );
        }
    }
    let (status, body) = f.post(
        "/csc/v2/signatures/signHash",
        Some(&token_a),
        &json!({"credentialID": "rsa-signer-b", "SAD": sad, "hashes": [b64(&hash)],
                "hashAlgorithmOID": OID_SHA256, "signAlgo": OID_SHA256_WITH_RSA}),
    );
    assert_eq!(status, 400, "{body}");
}
