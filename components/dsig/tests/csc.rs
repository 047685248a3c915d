//! The CSC API v2 client against an in-process fake QTSP behind `transport::Transport`: request shapes,
//! token reuse and renewal, retries, SAD handling, error mapping, and a signature that verifies.

mod common;

use std::cell::RefCell;
use std::time::{Duration, SystemTime};

use base64ct::{Base64, Encoding};
use common::{IVI_LIKE, Issued, pki};
use dsig::csc::{AuthData, CscClient, CscConfig, CscSigner};
use dsig::{Certificate, Error, Profile, SignOptions, Signer, VerifyOptions};
use serde_json::{Value, json};
use transport::http::{Method, StatusCode};
use transport::{Request, Response, Transport};

#[derive(Default)]
struct Faults {
    /// Answer 503 to this many requests first.
    unavailable: u32,
    /// Fail this many requests at the transport level first.
    transport: u32,
    /// Reject the next signHash SAD this many times.
    bad_sad: u32,
    /// Answer ECDSA as DER.
    der: bool,
    /// Token lifetime in seconds.
    token_lifetime: u64,
}

struct Fake {
    leaf: &'static Issued,
    faults: RefCell<Faults>,
    log: RefCell<Vec<String>>,
    tokens: RefCell<Vec<String>>,
    sads: RefCell<Vec<(String, Vec<String>)>>,
}

fn answer(status: u16, v: &Value) -> Response {
    let mut resp = Response::new(serde_json::to_vec(v).expect("json"));
    *resp.status_mut() = StatusCode::from_u16(status).expect("status");
    resp
}

fn ok(v: Value) -> Response {
    answer(200, &v)
}

fn err(status: u16, code: &str, description: &str) -> Response {
    answer(
        status,
        &json!({"error": code, "error_description": description}),
    )
}

/// A request header as text (names are case-insensitive).
fn header<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

impl Fake {
    fn new(leaf: &'static Issued) -> Self {
        Self {
            leaf,
            faults: RefCell::new(Faults {
                token_lifetime: 3600,
                ..Faults::default()
            }),
            log: RefCell::new(Vec::new()),
            tokens: RefCell::new(Vec::new()),
            sads: RefCell::new(Vec::new()),
        }
    }

    fn count(&self, path: &str) -> usize {
        self.log
            .borrow()
            .iter()
            .filter(|p| p.ends_with(path))
            .count()
    }
}

impl Transport for Fake {
    fn send(&self, req: Request) -> transport::Result<Response> {
        assert_eq!(req.uri().authority().map(|a| a.as_str()), Some("qtsp.test"));
        let path = req.uri().path().to_owned();
        self.log.borrow_mut().push(path.clone());
        {
            let mut f = self.faults.borrow_mut();
            if f.transport > 0 {
                f.transport -= 1;
                return Err(transport::Error("connection reset".into()));
            }
            if f.unavailable > 0 {
                f.unavailable -= 1;
                return Ok(err(503, "temporarily_unavailable", "try later"));
            }
        }
        assert_eq!(req.method(), Method::POST);
        assert_eq!(header(&req, "accept"), Some("application/json"));
        if path == "/csc/v2/info" {
            return Ok(ok(
                json!({"specs": "2.0.0.0", "name": "fake", "authType": ["oauth2client"],
                "oauth2": "http://qtsp.test", "methods": ["signatures/signHash"]}),
            ));
        }
        if path == "/oauth2/token" {
            assert_eq!(
                header(&req, "Content-Type"),
                Some("application/x-www-form-urlencoded")
            );
            let body = String::from_utf8(req.body().clone()).expect("utf8");
            assert_eq!(body, "grant_type=client_credentials");
            // HTTP Basic over the form-urlencoded id and secret (RFC 6749 section 2.3.1).
            let basic = header(&req, "Authorization")
                .and_then(|v| v.strip_prefix("Basic "))
                .map(|b| String::from_utf8(Base64::decode_vec(b).expect("b64")).expect("utf8"))
                .unwrap_or_default();
            if basic != "client-1:s%26cret" {
                return Ok(err(401, "invalid_client", "bad secret"));
            }
            let t = format!("tok{}", self.tokens.borrow().len());
            self.tokens.borrow_mut().push(t.clone());
            return Ok(ok(json!({"access_token": t, "token_type": "Bearer",
                "expires_in": self.faults.borrow().token_lifetime})));
        }
        assert_eq!(header(&req, "content-type"), Some("application/json"));
        let bearer = header(&req, "authorization").unwrap_or_default().to_owned();
        let last = self.tokens.borrow().last().cloned().unwrap_or_default();
        if bearer != format!("Bearer {last}") {
            return Ok(err(401, "invalid_token", "expired"));
        }
        let body: Value = serde_json::from_slice(req.body()).expect("json body");
        match path.as_str() {
            "/csc/v2/credentials/list" => Ok(ok(json!({"credentialIDs": ["cred-1"]}))),
            "/csc/v2/credentials/info" => {
                assert_eq!(body["credentialID"], "cred-1");
                assert_eq!(body["certificates"], "chain");
                let algo = match self.leaf.key {
                    common::Key::Rsa(_) => json!(["1.2.840.113549.1.1.11", "1.2.840.113549.1.1.1"]),
                    common::Key::P256(_) => json!(["1.2.840.10045.4.3.2", "1.2.840.10045.2.1"]),
                };
                Ok(ok(json!({
                    "key": {"status": "enabled", "algo": algo},
                    "cert": {"status": "valid", "certificates": [
                        Base64::encode_string(&self.leaf.der), Base64::encode_string(&pki().issuing.der)]},
                    "authMode": "explicit", "multisign": 5
                })))
            }
            "/csc/v2/credentials/authorize" => {
                assert_eq!(body["hashAlgorithmOID"], "2.16.840.1.101.3.4.2.1");
                let hashes: Vec<String> =
                    serde_json::from_value(body["hashes"].clone()).expect("hashes");
                assert_eq!(body["numSignatures"], hashes.len());
                if body["authData"][0]["id"] != "PIN" || body["authData"][0]["value"] != "123456" {
                    return Ok(err(400, "invalid_pin", "wrong PIN"));
                }
                let sad = format!("sad{}", self.sads.borrow().len());
                self.sads.borrow_mut().push((sad.clone(), hashes));
                Ok(ok(json!({"SAD": sad, "expiresIn": 300})))
            }
            "/csc/v2/signatures/signHash" => {
                let hashes: Vec<String> =
                    serde_json::from_value(body["hashes"].clone()).expect("hashes");
                let sad = body["SAD"].as_str().expect("SAD").to_owned();
                let bound = self
                    .sads
                    .borrow()
                    .iter()
                    .any(|(s, h)| *s == sad && *h == hashes);
                if !bound {
                    return Ok(err(400, "invalid_request", "SAD not bound to these hashes"));
                }
                {
                    let mut f = self.faults.borrow_mut();
                    if f.bad_sad > 0 {
                        f.bad_sad -= 1;
                        return Ok(err(400, "invalid_request", "invalid SAD"));
                    }
                }
                let signer = self.leaf.key.signer();
                assert_eq!(body["signAlgo"], signer.algorithm().sign_algo_oid());
                let mut out = Vec::new();
                for h in hashes {
                    let digest: [u8; 32] =
                        Base64::decode_vec(&h).expect("b64").try_into().expect("32");
                    let mut v = signer.sign_digest(&digest).expect("sign");
                    if self.faults.borrow().der && v.len() == 64 {
                        v = p256::ecdsa::Signature::from_slice(&v)
                            .expect("raw")
                            .to_der()
                            .as_bytes()
                            .to_vec();
                    }
                    out.push(Base64::encode_string(&v));
                }
                Ok(ok(json!({"signatures": out})))
            }
            other => Ok(err(404, "invalid_request", &format!("no method {other}"))),
        }
    }
}

fn config() -> CscConfig {
    let mut c = CscConfig::new("http://qtsp.test/csc/v2/", "client-1", "s&cret");
    c.backoff = Duration::from_millis(1);
    c
}

fn pin() -> AuthData {
    AuthData {
        pin: Some("123456".into()),
        otp: None,
    }
}

fn verify_opts() -> VerifyOptions {
    VerifyOptions {
        trust_anchors: vec![Certificate::from_der(&pki().root.der).expect("root")],
        ..VerifyOptions::default()
    }
}

fn sign_through(fake: &Fake, profile: Profile) -> dsig::Result<Vec<u8>> {
    let client = CscClient::new(fake, config());
    let signer = CscSigner::new(&client, "cred-1", pin())?;
    let opts = SignOptions::new(profile, signer.certificates().to_vec());
    dsig::sign(IVI_LIKE.as_bytes(), &opts, &signer)
}

#[test]
fn signs_through_the_csc_api_with_both_key_types() {
    for leaf in [&pki().rsa_leaf, &pki().p256_leaf] {
        for profile in [Profile::XmlDsig, Profile::Xades] {
            let fake = Fake::new(leaf);
            let signed = sign_through(&fake, profile).expect("sign");
            dsig::verify(&signed, &verify_opts()).expect("verify");
            assert_eq!(fake.count("/oauth2/token"), 1);
        }
    }
}

#[test]
fn a_der_ecdsa_answer_is_converted_to_raw() {
    let fake = Fake::new(&pki().p256_leaf);
    fake.faults.borrow_mut().der = true;
    let signed = sign_through(&fake, Profile::Xades).expect("sign");
    dsig::verify(&signed, &verify_opts()).expect("verify");
}

#[test]
fn the_token_is_reused_until_it_expires() {
    let fake = Fake::new(&pki().rsa_leaf);
    let client = CscClient::new(&fake, config());
    let signer = CscSigner::new(&client, "cred-1", pin()).expect("signer");
    for _ in 0..3 {
        signer.sign_digest(&[1u8; 32]).expect("sign");
    }
    assert_eq!(fake.count("/oauth2/token"), 1, "{:?}", fake.log.borrow());
    assert_eq!(
        client.credentials_list().expect("list"),
        vec!["cred-1".to_owned()]
    );

    // A token that expires within the margin is renewed before use.
    let fake = Fake::new(&pki().rsa_leaf);
    fake.faults.borrow_mut().token_lifetime = 5;
    let client = CscClient::new(&fake, config());
    client.credentials_list().expect("list");
    client.credentials_list().expect("list");
    assert_eq!(fake.count("/oauth2/token"), 2);
}

#[test]
fn an_expired_token_is_renewed_once() {
    let fake = Fake::new(&pki().rsa_leaf);
    let client = CscClient::new(&fake, config());
    client.credentials_list().expect("list");
    // The server forgets the token (as after expiry): 401 invalid_token, then a new token.
    fake.tokens.borrow_mut().push("revoked-by-server".into());
    client.credentials_list().expect("list after renewal");
    assert_eq!(fake.count("/oauth2/token"), 2);
}

#[test]
fn unavailable_and_transport_failures_are_retried() {
    let fake = Fake::new(&pki().p256_leaf);
    fake.faults.borrow_mut().unavailable = 2;
    let signed = sign_through(&fake, Profile::XmlDsig).expect("sign after 503s");
    dsig::verify(&signed, &verify_opts()).expect("verify");

    let fake = Fake::new(&pki().p256_leaf);
    fake.faults.borrow_mut().transport = 1;
    sign_through(&fake, Profile::XmlDsig).expect("sign after a reset");

    let fake = Fake::new(&pki().p256_leaf);
    fake.faults.borrow_mut().unavailable = 10;
    let err = sign_through(&fake, Profile::XmlDsig).expect_err("gives up");
    assert!(
        matches!(err, Error::Csc { status: 503, ref error, .. } if error == "temporarily_unavailable"),
        "{err}"
    );
}

#[test]
fn a_rejected_sad_is_authorised_again_once() {
    let fake = Fake::new(&pki().rsa_leaf);
    fake.faults.borrow_mut().bad_sad = 1;
    sign_through(&fake, Profile::XmlDsig).expect("sign");
    assert_eq!(fake.count("/credentials/authorize"), 2);

    let fake = Fake::new(&pki().rsa_leaf);
    fake.faults.borrow_mut().bad_sad = 2;
    let err = sign_through(&fake, Profile::XmlDsig).expect_err("second refusal is final");
    assert!(err.to_string().contains("invalid SAD"), "{err}");
}

#[test]
fn csc_errors_are_typed_and_secrets_stay_hidden() {
    let fake = Fake::new(&pki().rsa_leaf);
    let client = CscClient::new(&fake, config());
    let signer = CscSigner::new(
        &client,
        "cred-1",
        AuthData {
            pin: Some("999999".into()),
            otp: None,
        },
    )
    .expect("signer");
    let err = signer.sign_digest(&[0u8; 32]).expect_err("wrong pin");
    assert!(
        matches!(err, Error::Csc { status: 400, ref error, .. } if error == "invalid_pin"),
        "{err}"
    );
    assert_eq!(err.to_string(), "qtsp error 400 invalid_pin: wrong PIN");
    let shown = format!("{signer:?} {client:?}");
    assert!(
        !shown.contains("999999") && !shown.contains("s&cret"),
        "{shown}"
    );

    let mut bad = config();
    bad.client_secret = "wrong".into();
    let client = CscClient::new(&fake, bad);
    let err = client.credentials_list().expect_err("bad secret");
    assert!(
        matches!(err, Error::Csc { status: 401, ref error, .. } if error == "invalid_client"),
        "{err}"
    );
}

#[test]
fn the_token_clock_is_the_callers() {
    fn frozen() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000)
    }
    let fake = Fake::new(&pki().rsa_leaf);
    let client = CscClient::with_clock(&fake, config(), frozen);
    client.credentials_list().expect("list");
    client.credentials_list().expect("list");
    assert_eq!(fake.count("/oauth2/token"), 1);
}

#[test]
fn a_base_url_no_request_can_be_built_for_is_a_transport_error() {
    let fake = Fake::new(&pki().rsa_leaf);
    let client = CscClient::new(
        &fake,
        CscConfig::new("qtsp.test/csc v2", "client-1", "s&cret"),
    );
    let err = client.info().expect_err("no request");
    assert!(
        matches!(err, Error::Transport(ref m) if m.contains("qtsp.test/csc v2/info")),
        "{err}"
    );
    assert!(fake.log.borrow().is_empty(), "nothing was sent");
}
