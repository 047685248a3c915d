//! The CSC API v2 endpoints, the OAuth2 token endpoint and the sandbox's admin endpoints.
//!
//! Field names and error shapes follow the Cloud Signature Consortium "Architectures and protocols
//! for remote signature applications" v2.0 (sections 11.x for the methods, 8.3 for OAuth2, 10 for
//! errors). Request bodies are strict: an unknown field is refused with `invalid_request` naming it,
//! so a client's typo (`credentialId`) shows up here instead of at a real QTSP.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64ct::{Base64, Encoding};
use bytes::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::faults::{FaultState, Faults, Lie};
use super::pki::{self, Credential, HashAlg, TestPki};
use crate::http::{self, Request, Response};

/// Largest `numSignatures` one authorisation may cover (CSC `multisign`).
pub const MULTISIGN: u32 = 100;

/// How long an expired access token is remembered (to answer "has expired" rather than "not valid").
const TOKEN_MEMORY: Duration = Duration::from_secs(3600);

/// The CSC API version this sandbox implements (`specs` in `info`).
pub const CSC_SPECS: &str = "2.0.0.2";

/// Shared state of a running QTSP sandbox.
#[derive(Debug)]
pub(crate) struct State {
    pub pki: Arc<TestPki>,
    pub base_url: String,
    pub faults: Mutex<FaultState>,
    tokens: Mutex<HashMap<String, Token>>,
    sads: Mutex<HashMap<String, Sad>>,
    pub stats: Mutex<Stats>,
}

#[derive(Debug)]
struct Token {
    client_id: String,
    expires: Instant,
}

/// Signature activation data: one authorisation, bound to a credential, a client and hashes.
#[derive(Debug)]
struct Sad {
    credential_id: String,
    client_id: String,
    hash_algo: Option<String>,
    /// Hashes still allowed to be signed (each once).
    hashes: Vec<Vec<u8>>,
    expires: Instant,
}

/// Counters the admin endpoint `GET /sandbox/stats` reports.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub requests: HashMap<String, u64>,
    pub injected_failures: u64,
    pub signatures: u64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks cannot leave the maps inconsistent: keep serving.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl State {
    pub fn new(pki: Arc<TestPki>, base_url: String, faults: Faults) -> Self {
        Self {
            pki,
            base_url,
            faults: Mutex::new(FaultState::new(faults)),
            tokens: Mutex::new(HashMap::new()),
            sads: Mutex::new(HashMap::new()),
            stats: Mutex::new(Stats::default()),
        }
    }

    /// Makes every issued access token expired (admin endpoint, for expiry tests without sleeping).
    pub fn expire_tokens(&self) -> usize {
        let mut tokens = lock(&self.tokens);
        let now = Instant::now();
        for token in tokens.values_mut() {
            token.expires = now;
        }
        tokens.len()
    }
}

/// Entry point: faults first, then routing.
pub(crate) async fn handle(state: Arc<State>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    if let Some(rest) = path.strip_prefix("/sandbox/") {
        return admin(&state, rest, &request);
    }
    *lock(&state.stats).requests.entry(path.clone()).or_default() += 1;
    let decision = lock(&state.faults).decide(&path);
    if !decision.delay.is_zero() {
        tokio::time::sleep(decision.delay).await;
    }
    if let Some(status) = decision.fail {
        lock(&state.stats).injected_failures += 1;
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        tracing::debug!(%path, status = status.as_u16(), "injected failure");
        return http::error_response(
            status,
            if status == StatusCode::SERVICE_UNAVAILABLE {
                "temporarily_unavailable"
            } else {
                "server_error"
            },
            "injected failure (sandbox fault mode)",
        );
    }
    let mut response = route(&state, &path, &request);
    // OAuth2 (RFC 6749 5.1) and CSC answers carry tokens and SADs: never cache them.
    response
        .headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    response
}

fn route(state: &State, path: &str, request: &Request) -> Response {
    let method = request.method();
    let endpoint = path.strip_prefix("/csc/v2/").unwrap_or(path);
    match (endpoint, method) {
        ("info", m) if m == Method::GET || m == Method::POST => info(state),
        ("/oauth2/token" | "oauth2/token", m) if http::is_post(m) => token(state, request),
        ("credentials/list", m) if http::is_post(m) => authorized(state, request, credentials_list),
        ("credentials/info", m) if http::is_post(m) => authorized(state, request, credentials_info),
        ("credentials/authorize", m) if http::is_post(m) => {
            authorized(state, request, credentials_authorize)
        }
        ("signatures/signHash", m) if http::is_post(m) => authorized(state, request, sign_hash),
        (
            "info"
            | "/oauth2/token"
            | "oauth2/token"
            | "credentials/list"
            | "credentials/info"
            | "credentials/authorize"
            | "signatures/signHash",
            _,
        ) => http::error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            &format!("method {method} is not allowed on {path}"),
        ),
        _ => http::error_response(
            StatusCode::NOT_FOUND,
            "invalid_request",
            &format!("no such endpoint {path}"),
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// info and oauth2/token

fn info(state: &State) -> Response {
    http::json_response(
        StatusCode::OK,
        &json!({
            "specs": CSC_SPECS,
            "name": "ecoc QTSP sandbox",
            "region": "EU",
            "lang": "en-US",
            "description": "Local CSC API v2 test service with a generated test PKI. Not a trust service.",
            "authType": ["oauth2client"],
            "oauth2": state.base_url,
            "oauth2Issuer": state.base_url,
            "asynchronousOperationMode": false,
            "methods": [
                "oauth2/token",
                "credentials/list",
                "credentials/info",
                "credentials/authorize",
                "signatures/signHash"
            ],
            "validationInfo": false,
            "signAlgorithms": {
                "algos": [
                    pki::OID_RSA,
                    pki::OID_SHA256_WITH_RSA,
                    pki::OID_SHA384_WITH_RSA,
                    pki::OID_SHA512_WITH_RSA,
                    pki::OID_EC_PUBLIC_KEY,
                    pki::OID_ECDSA_SHA256
                ]
            },
            "signature_formats": { "formats": [] },
            "conformance_levels": []
        }),
    )
}

/// `POST /oauth2/token`: the client credentials grant (RFC 6749 section 4.4), with the client
/// authenticated by HTTP Basic or by `client_id` / `client_secret` in the body (section 2.3.1).
fn token(state: &State, request: &Request) -> Response {
    match token_grant(state, request) {
        Ok(value) => http::json_response(StatusCode::OK, &value),
        Err(refusal) => refusal.render(),
    }
}

fn token_grant(state: &State, request: &Request) -> Result<Value, Refusal> {
    let is_json = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let fields: Vec<(String, String)> = if is_json {
        serde_json::from_slice::<HashMap<String, String>>(request.body())
            .map_err(|e| invalid_request(&format!("invalid JSON body: {e}")))?
            .into_iter()
            .collect()
    } else {
        http::parse_form(request.body()).map_err(|e| invalid_request(&e))?
    };
    let field = |name: &str| -> Result<Option<String>, Refusal> {
        let mut values = fields.iter().filter(|(n, _)| n == name).map(|(_, v)| v);
        let first = values.next().cloned();
        if values.next().is_some() {
            return Err(invalid_request(&format!(
                "parameter {name} given more than once"
            )));
        }
        Ok(first)
    };
    match field("grant_type")?.as_deref() {
        Some("client_credentials") => {}
        Some(other) => {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("grant_type {other:?} is not supported; use client_credentials"),
            ));
        }
        None => return Err(invalid_request("missing parameter grant_type")),
    }
    let (form_id, form_secret) = (field("client_id")?, field("client_secret")?);
    let (client_id, client_secret) =
        match (http::basic_auth(request.headers()), form_id, form_secret) {
            (Some(_), _, Some(_)) => {
                // RFC 6749 2.3: a client MUST NOT use more than one authentication method.
                return Err(invalid_request(
                    "client authenticated both by HTTP Basic and in the body",
                ));
            }
            (Some((id, secret)), form_id, None) => {
                if form_id.as_ref().is_some_and(|f| f != &id) {
                    return Err(invalid_request(
                        "client_id in the body differs from HTTP Basic",
                    ));
                }
                (id, secret)
            }
            (None, Some(id), Some(secret)) => (id, secret),
            _ => {
                return Err(Refusal::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "client authentication missing: use HTTP Basic or client_id and client_secret",
                ));
            }
        };
    let description = state.pki.description();
    let known = description.client_secret(&client_id);
    if !known.is_some_and(|secret| constant_time_eq(client_secret.as_bytes(), secret.as_bytes())) {
        tracing::info!(client_id = %client_id, "refused client credentials");
        return Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            &format!("client authentication failed for client_id {client_id:?}"),
        ));
    }
    let lifetime = lock(&state.faults).faults.token_lifetime_secs;
    let access_token = pki::random_hex(32).map_err(|e| internal_refusal(&e.to_string()))?;
    let now = Instant::now();
    let mut tokens = lock(&state.tokens);
    // Forget tokens expired for over an hour; recently expired ones still get "has expired".
    tokens.retain(|_, t| now.saturating_duration_since(t.expires) < TOKEN_MEMORY);
    tokens.insert(
        access_token.clone(),
        Token {
            client_id,
            expires: now + Duration::from_secs(lifetime),
        },
    );
    drop(tokens);
    Ok(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": lifetime,
        "scope": "service"
    }))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn internal_refusal(reason: &str) -> Refusal {
    tracing::error!(reason, "internal sandbox error");
    Refusal {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        code: "server_error",
        description: "the sandbox failed internally".to_owned(),
    }
}

/// An error answer not yet rendered (small enough to travel in a `Result`).
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    code: &'static str,
    description: String,
}

impl Refusal {
    fn new(status: StatusCode, code: &'static str, description: &str) -> Self {
        Self {
            status,
            code,
            description: description.to_owned(),
        }
    }

    fn render(&self) -> Response {
        http::error_response(self.status, self.code, &self.description)
    }
}

// ---------------------------------------------------------------------------------------------
// Authenticated CSC methods

/// Checks the bearer token and the JSON body, then runs `method`.
fn authorized<B: DeserializeOwned>(
    state: &State,
    request: &Request,
    method: fn(&State, &str, B) -> Result<Value, Refusal>,
) -> Response {
    let answer = check_token(state, request).and_then(|client_id| {
        let body = parse_body::<B>(request.body())?;
        method(state, &client_id, body)
    });
    match answer {
        Ok(value) => http::json_response(StatusCode::OK, &value),
        Err(refusal) => refusal.render(),
    }
}

fn check_token(state: &State, request: &Request) -> Result<String, Refusal> {
    let unauthorized =
        |description: &str| Refusal::new(StatusCode::UNAUTHORIZED, "invalid_token", description);
    let Some(token) = http::bearer_token(request.headers()) else {
        return Err(unauthorized(
            "missing access token: send Authorization: Bearer <access_token>",
        ));
    };
    let tokens = lock(&state.tokens);
    match tokens.get(token) {
        None => Err(unauthorized("the access token is not valid")),
        Some(t) if Instant::now() >= t.expires => Err(unauthorized("the access token has expired")),
        Some(t) => Ok(t.client_id.clone()),
    }
}

fn parse_body<B: DeserializeOwned>(body: &Bytes) -> Result<B, Refusal> {
    // An empty body is an empty object (credentials/list has no required parameter).
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| invalid_request(&format!("invalid request body: {e}")))
}

fn invalid_request(description: &str) -> Refusal {
    Refusal::new(StatusCode::BAD_REQUEST, "invalid_request", description)
}

/// The credential `id` of `client`: another client's credential is as unknown as one that does not
/// exist (its existence is not revealed).
fn find_credential<'a>(
    state: &'a State,
    client: &str,
    id: &str,
) -> Result<&'a Credential, Refusal> {
    let description = state.pki.description();
    state
        .pki
        .credential(id)
        .filter(|c| description.owns(client, c.entry()))
        .ok_or_else(|| {
            invalid_request(&format!(
                "invalid parameter credentialID: {id:?} is unknown"
            ))
        })
}

/// `credentials/list` request (CSC v2 11.4).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListRequest {
    #[serde(rename = "userID")]
    user_id: Option<String>,
    #[serde(rename = "credentialInfo", default)]
    credential_info: bool,
    #[serde(default)]
    certificates: Option<String>,
    #[serde(rename = "certInfo", default)]
    cert_info: bool,
    #[serde(rename = "authInfo", default)]
    auth_info: bool,
    #[serde(rename = "onlyValid", default)]
    only_valid: bool,
    lang: Option<String>,
    #[serde(rename = "maxResults")]
    max_results: Option<u32>,
    #[serde(rename = "pageToken")]
    page_token: Option<String>,
    #[serde(rename = "clientData")]
    client_data: Option<String>,
}

fn credentials_list(state: &State, client: &str, body: ListRequest) -> Result<Value, Refusal> {
    let _ = (
        &body.user_id,
        &body.lang,
        &body.client_data,
        &body.page_token,
    );
    let certificates = certificates_mode(body.certificates.as_deref())?;
    let listed: Vec<&Credential> = state
        .pki
        .credentials()
        .iter()
        .filter(|c| state.pki.description().owns(client, c.entry()))
        .filter(|c| !(body.only_valid && c.entry().expired))
        .take(body.max_results.map_or(usize::MAX, |m| m as usize))
        .collect();
    let mut answer = json!({
        "credentialIDs": listed.iter().map(|c| c.id()).collect::<Vec<_>>(),
        "onlyValid": body.only_valid,
    });
    if body.credential_info {
        answer["credentialInfos"] = listed
            .iter()
            .map(|c| {
                let mut info = describe(state, c, certificates, body.cert_info, body.auth_info);
                info["credentialID"] = json!(c.id());
                info
            })
            .collect();
    }
    Ok(answer)
}

/// `credentials/info` request (CSC v2 11.5).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InfoRequest {
    #[serde(rename = "credentialID")]
    credential_id: String,
    certificates: Option<String>,
    #[serde(rename = "certInfo", default)]
    cert_info: bool,
    #[serde(rename = "authInfo", default)]
    auth_info: bool,
    lang: Option<String>,
    #[serde(rename = "clientData")]
    client_data: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Certificates {
    None,
    Single,
    Chain,
}

fn certificates_mode(value: Option<&str>) -> Result<Certificates, Refusal> {
    match value {
        None | Some("single") => Ok(Certificates::Single),
        Some("none") => Ok(Certificates::None),
        Some("chain") => Ok(Certificates::Chain),
        Some(other) => Err(invalid_request(&format!(
            "invalid parameter certificates: {other:?} is not none, single or chain"
        ))),
    }
}

fn credentials_info(state: &State, client: &str, body: InfoRequest) -> Result<Value, Refusal> {
    let _ = (&body.lang, &body.client_data);
    let credential = find_credential(state, client, &body.credential_id)?;
    let certificates = certificates_mode(body.certificates.as_deref())?;
    Ok(describe(
        state,
        credential,
        certificates,
        body.cert_info,
        body.auth_info,
    ))
}

/// The leaf and issuing CA certificates `credentials/info` shows for `credential`: its own, or
/// those a [`Lie`] puts in their place.
fn shown_chain<'a>(
    state: &'a State,
    credential: &'a Credential,
    lie: Option<Lie>,
) -> (&'a [u8], &'a [u8]) {
    let credentials = state.pki.credentials();
    let own = credential.certificate_der();
    let leaf = match lie {
        // Another account's credential of the same key type when there is one (`rsa-signer-b`).
        Some(Lie::OtherCertificate) => {
            let others = || {
                credentials
                    .iter()
                    .filter(|c| c.id() != credential.id() && !c.entry().expired)
            };
            others()
                .find(|c| c.key_type() == credential.key_type())
                .or_else(|| others().next())
                .map_or(own, Credential::certificate_der)
        }
        Some(Lie::ExpiredCertificate) => credentials
            .iter()
            .find(|c| c.entry().expired)
            .map_or(own, Credential::certificate_der),
        _ => own,
    };
    let issuing = match lie {
        Some(Lie::ChangedChain) => state.pki.root_der(),
        _ => state.pki.issuing_der(),
    };
    (leaf, issuing)
}

/// The `credentials/info` answer for one credential.
fn describe(
    state: &State,
    credential: &Credential,
    certificates: Certificates,
    cert_info: bool,
    auth_info: bool,
) -> Value {
    let mut key = json!({
        "status": "enabled",
        "algo": credential.key_algorithms(),
        "len": credential.key_bits(),
    });
    if credential.key_type() == pki::KeyType::P256 {
        key["curve"] = json!(pki::OID_P256);
    }
    let cert_status = if credential.entry().expired {
        "expired"
    } else {
        "valid"
    };
    let mut cert = json!({ "status": cert_status });
    let (leaf, issuing) = shown_chain(state, credential, lock(&state.faults).faults.lie);
    let chain: Vec<&[u8]> = match certificates {
        Certificates::None => vec![],
        Certificates::Single => vec![leaf],
        Certificates::Chain => vec![leaf, issuing, state.pki.root_der()],
    };
    if certificates != Certificates::None {
        cert["certificates"] = chain.iter().map(|der| Base64::encode_string(der)).collect();
    }
    if cert_info {
        let tbs = credential.certificate().tbs_certificate();
        let serial: String = tbs
            .serial_number()
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        cert["issuerDN"] = json!(tbs.issuer().to_string());
        cert["subjectDN"] = json!(tbs.subject().to_string());
        cert["serialNumber"] = json!(serial);
        cert["validFrom"] = json!(pki::generalized_time(&tbs.validity().not_before));
        cert["validTo"] = json!(pki::generalized_time(&tbs.validity().not_after));
    }
    let mut answer = json!({
        "description": credential.entry().description,
        "key": key,
        "cert": cert,
        // SCAL2: the SAD is bound to the hashes given to credentials/authorize.
        "scal": "2",
        "multisign": MULTISIGN,
        "lang": "en-US",
        // CSC v1 spelling, still read by many clients.
        "authMode": "explicit",
    });
    if auth_info {
        answer["auth"] = json!({
            "mode": "explicit",
            "expression": "PIN",
            "objects": [{
                "type": "Password",
                "id": "PIN",
                "format": "N",
                "label": "PIN",
                "description": "Six-digit PIN of the credential (see sandbox.json)"
            }]
        });
        answer["PIN"] = json!({
            "presence": "true",
            "format": "N",
            "label": "PIN",
            "description": "Six-digit PIN of the credential (see sandbox.json)"
        });
    }
    answer
}

/// One `authData` entry of `credentials/authorize` (CSC v2 11.6).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthData {
    id: String,
    value: String,
}

/// `credentials/authorize` request (CSC v2 11.6; `PIN` / `OTP` as in v1 also accepted).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthorizeRequest {
    #[serde(rename = "credentialID")]
    credential_id: String,
    #[serde(rename = "numSignatures")]
    num_signatures: u32,
    hashes: Option<Vec<String>>,
    #[serde(rename = "hashAlgorithmOID")]
    hash_algorithm_oid: Option<String>,
    #[serde(rename = "authData")]
    auth_data: Option<Vec<AuthData>>,
    #[serde(rename = "PIN")]
    pin: Option<String>,
    #[serde(rename = "OTP")]
    otp: Option<String>,
    description: Option<String>,
    #[serde(rename = "clientData")]
    client_data: Option<String>,
}

fn decode_hashes(hashes: &[String], hash_alg: Option<HashAlg>) -> Result<Vec<Vec<u8>>, Refusal> {
    hashes
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let bytes = Base64::decode_vec(h).map_err(|_| {
                invalid_request(&format!("invalid parameter hashes: #{i} is not base64"))
            })?;
            let ok = match hash_alg {
                Some(alg) => bytes.len() == alg.len(),
                None => matches!(bytes.len(), 32 | 48 | 64),
            };
            if !ok {
                return Err(invalid_request(&format!(
                    "invalid parameter hashes: #{i} has {} bytes, not a hash of the named algorithm",
                    bytes.len()
                )));
            }
            Ok(bytes)
        })
        .collect()
}

fn credentials_authorize(
    state: &State,
    client: &str,
    body: AuthorizeRequest,
) -> Result<Value, Refusal> {
    let _ = (&body.description, &body.client_data);
    let credential = find_credential(state, client, &body.credential_id)?;
    if body.num_signatures == 0 || body.num_signatures > MULTISIGN {
        return Err(invalid_request(&format!(
            "invalid parameter numSignatures: {} is not in 1..={MULTISIGN}",
            body.num_signatures
        )));
    }
    let hash_alg = match body.hash_algorithm_oid.as_deref() {
        None => None,
        Some(oid) => match HashAlg::from_oid(oid) {
            Some(alg) => Some(alg),
            None => {
                return Err(invalid_request(&format!(
                    "invalid parameter hashAlgorithmOID: {oid:?} is not supported"
                )));
            }
        },
    };
    // SCAL2 (credentials/info "scal": "2"): the hashes are required and bind the SAD.
    let Some(hashes) = body.hashes.as_deref() else {
        return Err(invalid_request(
            "missing parameter hashes (this service binds the SAD to the hashes)",
        ));
    };
    if hashes.len() != body.num_signatures as usize {
        return Err(invalid_request(&format!(
            "numSignatures {} does not match the {} hashes given",
            body.num_signatures,
            hashes.len()
        )));
    }
    let hashes = decode_hashes(hashes, hash_alg)?;
    // The PIN: CSC v2 authData [{"id": "PIN", "value": ...}], or the v1 "PIN" field.
    let from_auth_data = body
        .auth_data
        .as_deref()
        .and_then(|data| data.iter().find(|d| d.id == "PIN"))
        .map(|d| d.value.as_str());
    if body.otp.is_some() {
        return Err(invalid_request(
            "invalid parameter OTP: this credential uses a PIN only",
        ));
    }
    let Some(pin) = from_auth_data.or(body.pin.as_deref()) else {
        return Err(invalid_request(
            "missing PIN: send authData [{\"id\": \"PIN\", \"value\": ...}]",
        ));
    };
    if !constant_time_eq(pin.as_bytes(), credential.entry().pin.as_bytes()) {
        tracing::info!(credential = credential.id(), "refused PIN");
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "invalid_pin",
            &format!("the PIN is invalid for credential {:?}", credential.id()),
        ));
    }
    let lifetime = lock(&state.faults).faults.sad_lifetime_secs;
    let sad = match pki::random_hex(32) {
        Ok(s) => s,
        Err(e) => return Err(internal_refusal(&e.to_string())),
    };
    let now = Instant::now();
    let mut sads = lock(&state.sads);
    sads.retain(|_, s| s.expires > now);
    sads.insert(
        sad.clone(),
        Sad {
            credential_id: credential.id().to_owned(),
            client_id: client.to_owned(),
            hash_algo: body.hash_algorithm_oid.clone(),
            hashes,
            expires: now + Duration::from_secs(lifetime),
        },
    );
    Ok(json!({ "SAD": sad, "expiresIn": lifetime }))
}

/// `signatures/signHash` request (CSC v2 11.9).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignHashRequest {
    #[serde(rename = "credentialID")]
    credential_id: String,
    #[serde(rename = "SAD")]
    sad: Option<String>,
    hashes: Vec<String>,
    #[serde(rename = "hashAlgorithmOID")]
    hash_algorithm_oid: Option<String>,
    #[serde(rename = "signAlgo")]
    sign_algo: String,
    #[serde(rename = "signAlgoParams")]
    sign_algo_params: Option<String>,
    #[serde(rename = "operationMode")]
    operation_mode: Option<String>,
    validity_period: Option<u64>,
    response_uri: Option<String>,
    #[serde(rename = "clientData")]
    client_data: Option<String>,
}

fn sign_hash(state: &State, client: &str, body: SignHashRequest) -> Result<Value, Refusal> {
    let _ = (&body.validity_period, &body.response_uri, &body.client_data);
    let credential = find_credential(state, client, &body.credential_id)?;
    if let Some(mode) = body.operation_mode.as_deref()
        && mode != "S"
    {
        return Err(invalid_request(&format!(
            "invalid parameter operationMode: {mode:?} (this service signs synchronously only, \"S\")"
        )));
    }
    if body.sign_algo_params.is_some() {
        return Err(invalid_request(
            "invalid parameter signAlgoParams: no parameters for these algorithms",
        ));
    }
    if body.hashes.is_empty() {
        return Err(invalid_request("invalid parameter hashes: empty"));
    }
    let Some(hash_alg) =
        pki::resolve_hash_algorithm(&body.sign_algo, body.hash_algorithm_oid.as_deref())
    else {
        return Err(invalid_request(&format!(
            "invalid parameter signAlgo: {:?} with hashAlgorithmOID {:?} is not supported",
            body.sign_algo, body.hash_algorithm_oid
        )));
    };
    if !credential.supports(&body.sign_algo) {
        return Err(invalid_request(&format!(
            "invalid parameter signAlgo: {:?} does not fit the key of credential {:?}",
            body.sign_algo,
            credential.id()
        )));
    }
    let hashes = decode_hashes(&body.hashes, Some(hash_alg))?;
    let (reject_sad, ecdsa_format, lie) = {
        let faults = lock(&state.faults);
        (
            faults.faults.reject_sad,
            faults.faults.ecdsa_format,
            faults.faults.lie,
        )
    };

    // The SAD: present, known, fresh, this client's, this credential's, covering these hashes.
    let Some(sad_value) = body.sad.as_deref() else {
        return Err(invalid_request("missing parameter SAD"));
    };
    {
        let mut sads = lock(&state.sads);
        let sad_error = invalid_request;
        if reject_sad {
            return Err(sad_error(
                "invalid parameter SAD (refused by sandbox fault mode)",
            ));
        }
        let Some(sad) = sads.get_mut(sad_value) else {
            return Err(sad_error("invalid parameter SAD"));
        };
        if Instant::now() >= sad.expires {
            sads.remove(sad_value);
            return Err(sad_error("SAD expired"));
        }
        if sad.client_id != client {
            return Err(sad_error("invalid parameter SAD: issued to another client"));
        }
        if sad.credential_id != credential.id() {
            return Err(sad_error(&format!(
                "invalid parameter SAD: issued for credential {:?}, not {:?}",
                sad.credential_id,
                credential.id()
            )));
        }
        if let Some(authorized) = sad.hash_algo.as_deref()
            && authorized != hash_alg.oid()
        {
            return Err(sad_error(&format!(
                "hashAlgorithmOID {} differs from {authorized} given to credentials/authorize",
                hash_alg.oid()
            )));
        }
        // Every hash must be one the SAD authorised, each at most once.
        let mut remaining = sad.hashes.clone();
        for (i, hash) in hashes.iter().enumerate() {
            match remaining.iter().position(|h| h == hash) {
                Some(at) => {
                    remaining.swap_remove(at);
                }
                None => {
                    return Err(sad_error(&format!(
                        "hashes #{i} is not authorized by the SAD (SAD bound to other hashes or already used)"
                    )));
                }
            }
        }
        if remaining.is_empty() {
            sads.remove(sad_value);
        } else {
            sad.hashes = remaining;
        }
    }

    let mut signatures = Vec::with_capacity(hashes.len());
    for hash in &hashes {
        let mut hash = hash.clone();
        if lie == Some(Lie::OtherHashes) {
            hash[0] ^= 0xff;
        }
        match credential.sign_hash(&hash, &body.sign_algo, Some(hash_alg.oid()), ecdsa_format) {
            Ok(signature) => signatures.push(Base64::encode_string(&signature)),
            Err(e) => return Err(internal_refusal(&e.to_string())),
        }
    }
    lock(&state.stats).signatures += signatures.len() as u64;
    Ok(json!({ "signatures": signatures }))
}

// ---------------------------------------------------------------------------------------------
// Admin endpoints (not CSC): switch faults, expire tokens, read counters.

fn admin(state: &State, rest: &str, request: &Request) -> Response {
    match (rest, request.method()) {
        ("faults", m) if m == Method::GET => {
            let faults = lock(&state.faults).faults.clone();
            http::json_response(StatusCode::OK, &json!(faults))
        }
        ("faults", m) if m == Method::POST || m == Method::PUT => {
            let text = String::from_utf8_lossy(request.body());
            let text = if text.trim().is_empty() {
                "{}"
            } else {
                text.trim()
            };
            match Faults::from_json(text) {
                Ok(faults) => {
                    tracing::info!(?faults, "sandbox faults switched");
                    *lock(&state.faults) = FaultState::new(faults.clone());
                    http::json_response(StatusCode::OK, &json!(faults))
                }
                Err(e) => invalid_request(&e.to_string()).render(),
            }
        }
        ("tokens/expire", m) if m == Method::POST => {
            let expired = state.expire_tokens();
            http::json_response(StatusCode::OK, &json!({ "expired": expired }))
        }
        ("stats", m) if m == Method::GET => {
            let stats = lock(&state.stats);
            http::json_response(
                StatusCode::OK,
                &json!({
                    "requests": stats.requests,
                    "injected_failures": stats.injected_failures,
                    "signatures": stats.signatures,
                }),
            )
        }
        _ => http::error_response(
            StatusCode::NOT_FOUND,
            "invalid_request",
            &format!(
                "no such sandbox admin endpoint /sandbox/{rest} for {}",
                request.method()
            ),
        ),
    }
}
