//! A client for the Cloud Signature Consortium API v2 (CSC API 2.0), the HTTP interface through
//! which a QTSP signs a hash with a key that never leaves it.
//!
//! HTTP goes through [`transport::Transport`], the workspace's small blocking trait over
//! `http::Request<Vec<u8>>`: a Spin function passes `transport::SpinTransport`, the CLI and tests
//! `transport::UreqTransport` (feature `native-http` of this crate switches on `transport/native`).
//! Any HTTP status is an answer; only a request that got none is retried as a transport failure.
//!
//! Flow for one signature ([`CscSigner`]): `oauth2/token` (client credentials grant, client
//! authenticated by HTTP Basic as RFC 6749 section 2.3.1 requires servers to support; reused until it
//! expires) -> `credentials/info` (certificate chain, key algorithms) -> per document
//! `credentials/authorize` (explicit PIN/OTP, a SAD bound to exactly the hashes) ->
//! `signatures/signHash`. Retries: transport failures and 5xx/429 answers are retried with a short
//! backoff; an expired or refused access token (401 `invalid_token`) is renewed once; a SAD the
//! QTSP rejects makes the signer authorise again once. CSC error bodies
//! (`{"error", "error_description"}`) become [`Error::Csc`].
//!
//! Secrets (client secret, PIN, OTP, access token, SAD) are never logged or shown in `Debug`.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use base64ct::{Base64, Encoding};
use serde::Deserialize;
use serde_json::{Value, json};
use transport::http::Method;
use transport::{Request, Response, Transport};

use crate::algorithms;
use crate::keys::{SignatureAlgorithm, Signer};
use crate::x509::Certificate;
use crate::{Error, Result};

/// How to reach and authenticate to a QTSP.
#[derive(Clone)]
pub struct CscConfig {
    /// Base URL of the CSC API, e.g. `https://qtsp.example/csc/v2`.
    pub base_url: String,
    /// OAuth2 client id.
    pub client_id: String,
    /// OAuth2 client secret (never printed).
    pub client_secret: String,
    /// Retries after a transport failure or a 5xx/429 answer (default 2).
    pub retries: u32,
    /// Pause before the first retry, doubled each time (default 200 ms).
    pub backoff: Duration,
}

impl CscConfig {
    /// A configuration with default retries.
    pub fn new(
        base_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            retries: 2,
            backoff: Duration::from_millis(200),
        }
    }
}

impl std::fmt::Debug for CscConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CscConfig")
            .field("base_url", &self.base_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("retries", &self.retries)
            .finish()
    }
}

/// `info` answer (CSC v2 section 11.1), the fields this client uses.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct ServiceInfo {
    /// API version, e.g. `2.0.0.0`.
    #[serde(default)]
    pub specs: String,
    /// Service name.
    #[serde(default)]
    pub name: String,
    /// Supported authentication types, e.g. `oauth2client`.
    #[serde(rename = "authType", default)]
    pub auth_type: Vec<String>,
    /// Base URI of the OAuth2 server (`{oauth2}/oauth2/token`).
    #[serde(default)]
    pub oauth2: Option<String>,
    /// Supported methods.
    #[serde(default)]
    pub methods: Vec<String>,
}

/// `credentials/info` answer (CSC v2 section 11.5), the fields this client uses.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CredentialInfo {
    /// The credential id.
    pub credential_id: String,
    /// `key/algo`: OIDs the key signs with.
    pub key_algorithms: Vec<String>,
    /// `key/status`: `enabled` or `disabled`.
    pub key_status: String,
    /// `cert/status`: `valid`, `expired`, `revoked`, `suspended`.
    pub cert_status: Option<String>,
    /// `cert/certificates`: DER, signing certificate first.
    pub certificates: Vec<Vec<u8>>,
    /// `cert/validFrom`, `cert/validTo` as given (GeneralizedTime text).
    pub valid_from: Option<String>,
    /// See `valid_from`.
    pub valid_to: Option<String>,
    /// `authMode` / `auth/mode`: `explicit`, `implicit` or `oauth2code`.
    pub auth_mode: Option<String>,
    /// `multisign`: how many hashes one authorisation may cover.
    pub multisign: u32,
}

/// The signature activation data of `credentials/authorize` (never printed).
#[derive(Clone)]
pub struct Sad {
    value: String,
    /// `expiresIn` in seconds, if given.
    pub expires_in: Option<u64>,
}

impl std::fmt::Debug for Sad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sad")
            .field("value", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// Explicit authorisation data for `credentials/authorize` (never printed).
#[derive(Clone, Default)]
pub struct AuthData {
    /// The credential PIN.
    pub pin: Option<String>,
    /// A one-time password.
    pub otp: Option<String>,
}

impl std::fmt::Debug for AuthData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthData")
            .field("pin", &self.pin.as_ref().map(|_| "<redacted>"))
            .field("otp", &self.otp.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

struct Token {
    value: String,
    expires: SystemTime,
}

/// Renew an access token this long before it expires.
pub const TOKEN_MARGIN: Duration = Duration::from_secs(10);

/// A CSC API v2 client over a [`Transport`].
pub struct CscClient<T> {
    transport: T,
    config: CscConfig,
    clock: fn() -> SystemTime,
    token: Mutex<Option<Token>>,
    token_url: Mutex<Option<String>>,
}

impl<T> std::fmt::Debug for CscClient<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CscClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Auth {
    None,
    Bearer,
}

fn protocol(msg: impl Into<String>) -> Error {
    Error::CscProtocol(msg.into())
}

/// A request that could not be built (a bad base URL, say): as the transport failure it would
/// have been.
fn unsendable(e: transport::Error) -> Error {
    Error::Transport(e.0)
}

fn success(resp: &Response) -> bool {
    resp.status().is_success()
}

/// Maps a non-2xx answer to [`Error::Csc`], reading the CSC error body when there is one.
fn csc_error(resp: &Response) -> Error {
    #[derive(Deserialize)]
    struct Body {
        error: String,
        #[serde(default)]
        error_description: String,
    }
    let status = resp.status().as_u16();
    match serde_json::from_slice::<Body>(resp.body()) {
        Ok(b) => Error::Csc {
            status,
            error: b.error,
            description: b.error_description,
        },
        Err(_) => {
            let text: String = String::from_utf8_lossy(resp.body())
                .chars()
                .take(200)
                .collect();
            Error::Csc {
                status,
                error: format!("http_{status}"),
                description: text,
            }
        }
    }
}

fn retryable_status(status: transport::http::StatusCode) -> bool {
    status == transport::http::StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

impl<T: Transport> CscClient<T> {
    /// A client; time comes from [`SystemTime::now`].
    pub fn new(transport: T, config: CscConfig) -> Self {
        Self::with_clock(transport, config, SystemTime::now)
    }

    /// A client with an explicit clock (for token expiry; tests).
    pub fn with_clock(transport: T, config: CscConfig, clock: fn() -> SystemTime) -> Self {
        Self {
            transport,
            config,
            clock,
            token: Mutex::new(None),
            token_url: Mutex::new(None),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &CscConfig {
        &self.config
    }

    fn send_with_retries(&self, make: &dyn Fn() -> Result<Request>) -> Result<Response> {
        let mut attempt = 0u32;
        loop {
            let result = self.transport.send(make()?);
            let retry = match &result {
                Err(_) => true,
                Ok(r) => retryable_status(r.status()),
            };
            if !retry || attempt >= self.config.retries {
                return match result {
                    Ok(r) => Ok(r),
                    Err(e) => Err(Error::Transport(e.0)),
                };
            }
            std::thread::sleep(self.config.backoff * 2u32.saturating_pow(attempt));
            attempt += 1;
        }
    }

    /// POSTs a JSON body to `{base}/{method}`, with the bearer token when `auth` asks for it.
    fn call(&self, method: &str, body: &Value, auth: Auth) -> Result<Value> {
        let url = format!("{}/{method}", self.config.base_url);
        let payload = serde_json::to_vec(body).map_err(|e| protocol(e.to_string()))?;
        let mut renewed = false;
        loop {
            let make = || -> Result<Request> {
                let bearer = match auth {
                    Auth::Bearer => Some(format!("Bearer {}", self.access_token()?)),
                    Auth::None => None,
                };
                let mut headers = vec![
                    ("content-type", "application/json"),
                    ("accept", "application/json"),
                ];
                if let Some(bearer) = &bearer {
                    headers.push(("authorization", bearer.as_str()));
                }
                transport::request(Method::POST, &url, &headers, payload.clone())
                    .map_err(unsendable)
            };
            let resp = self.send_with_retries(&make)?;
            if success(&resp) {
                return serde_json::from_slice(resp.body())
                    .map_err(|e| protocol(format!("{method}: answer is not json: {e}")));
            }
            let err = csc_error(&resp);
            // CSC v2 section 10: 401 invalid_token when the access token expired or was revoked.
            if auth == Auth::Bearer && resp.status() == 401 && !renewed {
                renewed = true;
                self.forget_token();
                continue;
            }
            return Err(err);
        }
    }

    /// `info` (CSC v2 section 11.1).
    pub fn info(&self) -> Result<ServiceInfo> {
        let v = self.call("info", &json!({}), Auth::None)?;
        serde_json::from_value(v).map_err(|e| protocol(format!("info: {e}")))
    }

    fn forget_token(&self) {
        if let Ok(mut t) = self.token.lock() {
            *t = None;
        }
    }

    fn token_url(&self) -> Result<String> {
        if let Some(u) = self.token_url.lock().ok().and_then(|u| u.clone()) {
            return Ok(u);
        }
        // info/oauth2 names the OAuth2 server's base URI (CSC v2 section 11.1); without it the
        // token endpoint sits under the API base.
        let base = match self.info() {
            Ok(info) => info.oauth2.filter(|o| !o.is_empty()),
            Err(Error::Transport(e)) => return Err(Error::Transport(e)),
            Err(_) => None,
        }
        .unwrap_or_else(|| self.config.base_url.clone());
        let url = format!("{}/oauth2/token", base.trim_end_matches('/'));
        if let Ok(mut u) = self.token_url.lock() {
            *u = Some(url.clone());
        }
        Ok(url)
    }

    /// A valid access token: the cached one until [`TOKEN_MARGIN`] before it expires, else a
    /// new one from `oauth2/token` (client credentials grant, RFC 6749 section 4.4).
    pub fn access_token(&self) -> Result<String> {
        let now = (self.clock)();
        if let Ok(t) = self.token.lock()
            && let Some(t) = t.as_ref()
            && now + TOKEN_MARGIN < t.expires
        {
            return Ok(t.value.clone());
        }
        let url = self.token_url()?;
        // RFC 6749 section 2.3.1: HTTP Basic is the client authentication every authorization
        // server must support; id and secret are form-urlencoded first.
        let basic = Base64::encode_string(
            format!(
                "{}:{}",
                transport::form_value(&self.config.client_id),
                transport::form_value(&self.config.client_secret)
            )
            .as_bytes(),
        );
        let authorization = format!("Basic {basic}");
        let make = || {
            transport::request(
                Method::POST,
                &url,
                &[
                    ("content-type", "application/x-www-form-urlencoded"),
                    ("accept", "application/json"),
                    ("authorization", &authorization),
                ],
                b"grant_type=client_credentials".to_vec(),
            )
            .map_err(unsendable)
        };
        let resp = self.send_with_retries(&make)?;
        if !success(&resp) {
            return Err(csc_error(&resp));
        }
        #[derive(Deserialize)]
        struct TokenAnswer {
            access_token: String,
            #[serde(default)]
            token_type: String,
            expires_in: Option<u64>,
        }
        let a: TokenAnswer = serde_json::from_slice(resp.body())
            .map_err(|e| protocol(format!("oauth2/token answer: {e}")))?;
        if !a.token_type.is_empty() && !a.token_type.eq_ignore_ascii_case("bearer") {
            return Err(protocol(format!(
                "oauth2/token: token_type {} is not Bearer",
                a.token_type
            )));
        }
        // RFC 6749 section 5.1: expires_in is recommended; assume an hour when absent.
        let expires = now + Duration::from_secs(a.expires_in.unwrap_or(3600));
        if let Ok(mut t) = self.token.lock() {
            *t = Some(Token {
                value: a.access_token.clone(),
                expires,
            });
        }
        Ok(a.access_token)
    }

    /// `credentials/list` (CSC v2 section 11.4): the credential ids.
    pub fn credentials_list(&self) -> Result<Vec<String>> {
        let v = self.call("credentials/list", &json!({}), Auth::Bearer)?;
        let ids = v
            .get("credentialIDs")
            .and_then(Value::as_array)
            .ok_or_else(|| protocol("credentials/list: no credentialIDs"))?;
        Ok(ids
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect())
    }

    /// `credentials/info` (CSC v2 section 11.5) with the whole certificate chain.
    pub fn credentials_info(&self, credential_id: &str) -> Result<CredentialInfo> {
        let v = self.call(
            "credentials/info",
            &json!({
                "credentialID": credential_id,
                "certificates": "chain",
                "certInfo": true,
                "authInfo": true,
            }),
            Auth::Bearer,
        )?;
        let s = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_owned);
        let key_algorithms: Vec<String> = v
            .pointer("/key/algo")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let mut certificates = Vec::new();
        for (i, c) in v
            .pointer("/cert/certificates")
            .and_then(Value::as_array)
            .ok_or_else(|| protocol("credentials/info: no cert/certificates"))?
            .iter()
            .enumerate()
        {
            let text = c.as_str().ok_or_else(|| {
                protocol(format!(
                    "credentials/info: certificate #{i} is not a string"
                ))
            })?;
            let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            certificates.push(
                Base64::decode_vec(&compact)
                    .map_err(|_| Error::Base64(format!("cert/certificates #{i}")))?,
            );
        }
        Ok(CredentialInfo {
            credential_id: credential_id.to_owned(),
            key_algorithms,
            key_status: s("/key/status").unwrap_or_default(),
            cert_status: s("/cert/status"),
            certificates,
            valid_from: s("/cert/validFrom"),
            valid_to: s("/cert/validTo"),
            auth_mode: s("/authMode").or_else(|| s("/auth/mode")),
            multisign: v
                .get("multisign")
                .and_then(|m| {
                    m.as_u64()
                        .or_else(|| m.as_str().and_then(|x| x.parse().ok()))
                })
                .map_or(1, |m| u32::try_from(m).unwrap_or(u32::MAX)),
        })
    }

    /// `credentials/authorize` (CSC v2 section 11.6), explicit mode: a SAD for exactly `hashes`
    /// (SHA-256).
    pub fn authorize(
        &self,
        credential_id: &str,
        hashes: &[[u8; 32]],
        auth: &AuthData,
    ) -> Result<Sad> {
        let mut auth_data = Vec::new();
        if let Some(pin) = &auth.pin {
            auth_data.push(json!({"id": "PIN", "value": pin}));
        }
        if let Some(otp) = &auth.otp {
            auth_data.push(json!({"id": "OTP", "value": otp}));
        }
        let mut body = json!({
            "credentialID": credential_id,
            "numSignatures": hashes.len(),
            "hashes": hashes.iter().map(|h| Base64::encode_string(h)).collect::<Vec<_>>(),
            "hashAlgorithmOID": algorithms::OID_SHA256,
        });
        if !auth_data.is_empty() {
            body["authData"] = Value::Array(auth_data);
        }
        let v = self.call("credentials/authorize", &body, Auth::Bearer)?;
        let value = v
            .get("SAD")
            .and_then(Value::as_str)
            .ok_or_else(|| protocol("credentials/authorize: no SAD"))?
            .to_owned();
        Ok(Sad {
            value,
            expires_in: v.get("expiresIn").and_then(Value::as_u64),
        })
    }

    /// `signatures/signHash` (CSC v2 section 11.9): one signature value per hash, in order.
    pub fn sign_hash(
        &self,
        credential_id: &str,
        sad: &Sad,
        hashes: &[[u8; 32]],
        sign_algo: &str,
    ) -> Result<Vec<Vec<u8>>> {
        let body = json!({
            "credentialID": credential_id,
            "SAD": sad.value,
            "hashes": hashes.iter().map(|h| Base64::encode_string(h)).collect::<Vec<_>>(),
            "hashAlgorithmOID": algorithms::OID_SHA256,
            "signAlgo": sign_algo,
        });
        let v = self.call("signatures/signHash", &body, Auth::Bearer)?;
        let sigs = v
            .get("signatures")
            .and_then(Value::as_array)
            .ok_or_else(|| protocol("signatures/signHash: no signatures"))?;
        if sigs.len() != hashes.len() {
            return Err(protocol(format!(
                "signatures/signHash: {} signatures for {} hashes",
                sigs.len(),
                hashes.len()
            )));
        }
        sigs.iter()
            .enumerate()
            .map(|(i, s)| {
                let text = s.as_str().ok_or_else(|| {
                    protocol(format!(
                        "signatures/signHash: signature #{i} is not a string"
                    ))
                })?;
                Base64::decode_vec(text.trim())
                    .map_err(|_| Error::Base64(format!("signatures #{i}")))
            })
            .collect()
    }
}

/// A [`Signer`] backed by one QTSP credential.
pub struct CscSigner<'c, T> {
    client: &'c CscClient<T>,
    credential_id: String,
    auth: AuthData,
    algorithm: SignatureAlgorithm,
    sign_algo: String,
    certificates: Vec<Vec<u8>>,
    multisign: u32,
}

impl<T> std::fmt::Debug for CscSigner<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CscSigner")
            .field("credential_id", &self.credential_id)
            .field("auth", &self.auth)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl<'c, T: Transport> CscSigner<'c, T> {
    /// Reads the credential (`credentials/info`): its certificate chain and the algorithm to ask
    /// for. Refuses a disabled key or a certificate the QTSP reports as not valid.
    pub fn new(client: &'c CscClient<T>, credential_id: &str, auth: AuthData) -> Result<Self> {
        let info = client.credentials_info(credential_id)?;
        if !info.key_status.is_empty() && info.key_status != "enabled" {
            return Err(Error::Signer(format!(
                "credential {credential_id}: key is {}",
                info.key_status
            )));
        }
        if let Some(status) = info.cert_status.as_deref()
            && status != "valid"
        {
            return Err(Error::Signer(format!(
                "credential {credential_id}: certificate is {status}"
            )));
        }
        let leaf = info.certificates.first().ok_or_else(|| {
            protocol(format!(
                "credentials/info: no certificate for {credential_id}"
            ))
        })?;
        let algorithm = Certificate::from_der(leaf)?.key_algorithm()?;
        let has = |oid: &str| info.key_algorithms.iter().any(|a| a == oid);
        let sign_algo = match algorithm {
            SignatureAlgorithm::RsaSha256
                if has(algorithms::OID_SHA256_WITH_RSA) || info.key_algorithms.is_empty() =>
            {
                algorithms::OID_SHA256_WITH_RSA
            }
            // rsaEncryption with hashAlgorithmOID names the same PKCS#1 v1.5 signature.
            SignatureAlgorithm::RsaSha256 if has(algorithms::OID_RSA_ENCRYPTION) => {
                algorithms::OID_RSA_ENCRYPTION
            }
            SignatureAlgorithm::EcdsaP256Sha256
                if has(algorithms::OID_ECDSA_SHA256)
                    || has(algorithms::OID_EC_PUBLIC_KEY)
                    || info.key_algorithms.is_empty() =>
            {
                algorithms::OID_ECDSA_SHA256
            }
            _ => {
                return Err(Error::Signer(format!(
                    "credential {credential_id}: key algorithms {:?} offer no {:?}",
                    info.key_algorithms, algorithm
                )));
            }
        };
        Ok(Self {
            client,
            credential_id: credential_id.to_owned(),
            auth,
            algorithm,
            sign_algo: sign_algo.to_owned(),
            certificates: info.certificates,
            multisign: info.multisign,
        })
    }

    /// The certificate chain the QTSP reported, signing certificate first (for [`crate::SignOptions`]).
    pub fn certificates(&self) -> &[Vec<u8>] {
        &self.certificates
    }

    /// How many hashes one authorisation may cover (`multisign` of `credentials/info`, at least 1).
    pub fn multisign(&self) -> u32 {
        self.multisign.max(1)
    }

    /// Signs several digests with one authorisation (up to the credential's `multisign`).
    pub fn sign_digests(&self, digests: &[[u8; 32]]) -> Result<Vec<Vec<u8>>> {
        let mut reauthorized = false;
        loop {
            let sad = self
                .client
                .authorize(&self.credential_id, digests, &self.auth)?;
            match self
                .client
                .sign_hash(&self.credential_id, &sad, digests, &self.sign_algo)
            {
                // A SAD the QTSP no longer accepts (expired, consumed by a half-failed attempt):
                // authorise once more (CSC v2 section 11.9 answers invalid_request).
                Err(Error::Csc {
                    status: 400,
                    ref error,
                    ..
                }) if error == "invalid_request" && !reauthorized => {
                    reauthorized = true;
                }
                other => return other,
            }
        }
    }
}

impl<T: Transport> Signer for CscSigner<'_, T> {
    fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    fn sign_digest(&self, digest: &[u8; 32]) -> Result<Vec<u8>> {
        let mut values = self.sign_digests(std::slice::from_ref(digest))?;
        values
            .pop()
            .ok_or_else(|| protocol("signatures/signHash: empty answer"))
    }
}
