//! The NAP's HTTP endpoints: OAuth2 token, submissions, status, and the admin endpoints.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderValue, LOCATION, RETRY_AFTER};
use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::watch;

use super::faults::Faults;
use super::store::{NapDescription, Reserve, Status, Store, Submission};
use super::xml::{self, XmlLimits};
use crate::availability::{AvailabilityState, Decision};
use crate::http::{self, BodyError, Response, StreamingRequest};
use crate::support::{self, SplitMix64, constant_time_eq, fnv1a, rfc3339};

/// Largest accepted eCoC file: the VCA accepts files under 1 MB, so 1,000,000 bytes and more are
/// refused with 413.
pub const MAX_FILE_BYTES: usize = 1_000_000;

/// Largest body of the token endpoint and the admin endpoints.
const MAX_SMALL_BODY: usize = 64 * 1024;

/// How long an expired access token is remembered (to answer "has expired").
const TOKEN_MEMORY: Duration = Duration::from_secs(3600);

/// Submissions API base path.
pub const API_BASE: &str = "/ecoc/v1";

#[derive(Debug)]
struct Token {
    client_id: String,
    expires: Instant,
}

/// Faults plus their random state.
#[derive(Debug)]
pub(crate) struct FaultRuntime {
    pub faults: Faults,
    availability: AvailabilityState,
}

impl FaultRuntime {
    pub fn new(faults: Faults) -> Self {
        Self {
            availability: AvailabilityState::new(faults.availability.clone()),
            faults,
        }
    }
}

/// Counters for `GET /sandbox/stats`.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    requests: HashMap<String, u64>,
    injected_failures: u64,
    closed_connections: u64,
    tokens_issued: u64,
    accepted: u64,
    duplicates_refused: u64,
    lost: u64,
    refused: HashMap<String, u64>,
}

/// Shared state of a running NAP sandbox.
#[derive(Debug)]
pub(crate) struct State {
    pub base_url: String,
    pub description: NapDescription,
    pub store: Store,
    pub faults: Mutex<FaultRuntime>,
    pub limits: XmlLimits,
    /// EU mode: clients known by their certificate, EUCARIS-style answers.
    pub eu: bool,
    tokens: Mutex<HashMap<String, Token>>,
    stats: Mutex<Stats>,
    stop: watch::Receiver<bool>,
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks cannot leave them inconsistent: keep serving.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl State {
    pub fn new(
        base_url: String,
        description: NapDescription,
        store: Store,
        (faults, limits): (Faults, XmlLimits),
        eu: bool,
        stop: watch::Receiver<bool>,
    ) -> Self {
        Self {
            base_url,
            description,
            store,
            faults: Mutex::new(FaultRuntime::new(faults)),
            limits,
            eu,
            tokens: Mutex::new(HashMap::new()),
            stats: Mutex::new(Stats::default()),
            stop,
        }
    }

    pub fn expire_tokens(&self) -> usize {
        let mut tokens = lock(&self.tokens);
        let now = Instant::now();
        for token in tokens.values_mut() {
            token.expires = now;
        }
        tokens.len()
    }
}

/// A NAP error answer: `{"error": code, "message": reason}`.
pub(crate) fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    http::message_error(status, code, message)
}

/// Entry point: admin endpoints, then faults, then routing. `None` closes the connection.
pub(crate) async fn handle(state: Arc<State>, request: StreamingRequest) -> Option<Response> {
    let path = request.uri().path().to_owned();
    if let Some(rest) = path.strip_prefix("/sandbox/") {
        let (parts, body) = request.into_parts();
        // A seeded vehicle file may be as large as a submitted one.
        let limit = if rest == "vehicles" {
            MAX_FILE_BYTES - 1
        } else {
            MAX_SMALL_BODY
        };
        let body = match http::read_body(body, limit).await {
            Ok(body) => body,
            Err(_) => {
                return Some(refuse(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    "admin request body too large or unreadable",
                ));
            }
        };
        return Some(admin(&state, rest, &parts.method, &body));
    }
    *lock(&state.stats).requests.entry(path.clone()).or_default() += 1;
    let decision = lock(&state.faults).availability.decide();
    let delay = match decision {
        Decision::Close => {
            lock(&state.stats).closed_connections += 1;
            tracing::debug!(%path, "down: closing the connection");
            return None;
        }
        Decision::Unavailable => {
            lock(&state.stats).injected_failures += 1;
            let mut response = refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the service is down for maintenance (sandbox fault mode)",
            );
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            return Some(response);
        }
        Decision::Fail(delay, status) => {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            lock(&state.stats).injected_failures += 1;
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            return Some(refuse(
                status,
                "server_error",
                "injected failure (sandbox fault mode)",
            ));
        }
        Decision::Serve(delay) => delay,
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut response = route(&state, &path, request).await;
    response
        .headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    Some(response)
}

async fn route(state: &Arc<State>, path: &str, request: StreamingRequest) -> Response {
    if state.eu {
        return eu_route(state, path, request).await;
    }
    let method = request.method().clone();
    let submissions = format!("{API_BASE}/submissions");
    if path == "/oauth2/token" {
        if method != Method::POST {
            return not_allowed(&method, path);
        }
        return token(state, request).await;
    }
    if path == submissions {
        return match method {
            Method::POST => submit(state, request).await,
            Method::GET => list(state, &request),
            _ => not_allowed(&method, path),
        };
    }
    if let Some((vin, stage)) = path
        .strip_prefix(API_BASE)
        .and_then(|rest| rest.strip_prefix("/vehicles/"))
        .and_then(|rest| rest.split_once("/stages/"))
    {
        return if method == Method::GET {
            retrieve(state, authenticate(state, request.headers()), vin, stage).await
        } else {
            not_allowed(&method, path)
        };
    }
    if let Some(id) = path
        .strip_prefix(submissions.as_str())
        .and_then(|rest| rest.strip_prefix('/'))
        .filter(|id| !id.is_empty() && !id.contains('/'))
    {
        return if method == Method::GET {
            status_of(state, &request, id)
        } else {
            not_allowed(&method, path)
        };
    }
    refuse(
        StatusCode::NOT_FOUND,
        "not_found",
        &format!("no such endpoint {path}"),
    )
}

// ---------------------------------------------------------------------------------------------
// EU mode (EUCARIS-style)

/// EU mode API base path.
pub const EU_BASE: &str = "/eucaris/v1";

/// The EU mode's API, for the account the client certificate names (the TLS layer has already
/// refused a connection without a certificate from the NAP's CA).
async fn eu_route(state: &Arc<State>, path: &str, request: StreamingRequest) -> Response {
    let method = request.method().clone();
    let client = request
        .extensions()
        .get::<http::PeerIdentity>()
        .map(|p| p.0.clone())
        .filter(|id| state.description.client(id).is_some());
    let Some(client) = client else {
        return eu_refusal(
            StatusCode::FORBIDDEN,
            (
                "CERTIFICATE",
                "the client certificate names no account of this NAP",
            ),
        );
    };
    let rest = path.strip_prefix(EU_BASE).unwrap_or_default();
    if rest == "/ivi" {
        return if method == Method::POST {
            eu_submit(state, &client, request).await
        } else {
            not_allowed(&method, path)
        };
    }
    if let Some(id) = rest
        .strip_prefix("/ivi/")
        .filter(|id| !id.is_empty() && !id.contains('/'))
    {
        return match (method, state.store.get(id)) {
            (Method::GET, Some(s)) if s.client_id == client => {
                http::json_response(StatusCode::OK, &eu_answer(&s))
            }
            (Method::GET, _) => eu_refusal(
                StatusCode::NOT_FOUND,
                ("NOT_FOUND", &format!("no message {id:?} of this account")),
            ),
            (other, _) => not_allowed(&other, path),
        };
    }
    if let Some((vin, stage)) = rest
        .strip_prefix("/vehicles/")
        .and_then(|r| r.split_once("/stages/"))
    {
        return if method == Method::GET {
            retrieve(state, Ok(client), vin, stage).await
        } else {
            not_allowed(&method, path)
        };
    }
    eu_refusal(
        StatusCode::NOT_FOUND,
        ("NOT_FOUND", &format!("no such endpoint {path}")),
    )
}

/// `POST /eucaris/v1/ivi`: as a VCA submission, answered the EUCARIS way.
async fn eu_submit(state: &Arc<State>, client: &str, request: StreamingRequest) -> Response {
    match accept(state, client, request).await {
        Ok(submission) => http::json_response(StatusCode::ACCEPTED, &eu_answer(&submission)),
        Err(refusal) => {
            let code = refusal.code.to_ascii_uppercase();
            match &refusal.earlier {
                Some(earlier) => {
                    let mut answer = eu_answer(earlier);
                    answer["errors"] = json!([{"code": "DUPLICATE", "text": refusal.message}]);
                    http::json_response(StatusCode::CONFLICT, &answer)
                }
                None => eu_refusal(refusal.status, (&code, &refusal.message)),
            }
        }
    }
}

/// A message's state: `messageId`, `status` (RECEIVED, PROCESSING, ACCEPTED, REJECTED), the
/// vehicle's key, times, and `errors` when rejected.
fn eu_answer(s: &Submission) -> Value {
    let status = match s.status {
        Status::Received => "RECEIVED",
        Status::Processing => "PROCESSING",
        Status::Succeeded => "ACCEPTED",
        Status::Failed => "REJECTED",
    };
    let errors: Vec<Value> = s
        .reason
        .iter()
        .map(|r| json!({"code": "REJECTED", "text": r}))
        .collect();
    json!({
        "messageId": s.submission_id,
        "status": status,
        "vin": s.vin,
        "version": s.version,
        "stage": s.stage,
        "receivedAt": s.received_at,
        "updatedAt": s.updated_at,
        "errors": errors,
    })
}

/// A refusal the EUCARIS way: `{"status": "REJECTED", "errors": [{"code", "text"}]}`.
fn eu_refusal(status: StatusCode, (code, text): (&str, &str)) -> Response {
    http::json_response(
        status,
        &json!({"status": "REJECTED", "errors": [{"code": code, "text": text}]}),
    )
}

fn not_allowed(method: &Method, path: &str) -> Response {
    refuse(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        &format!("method {method} is not allowed on {path}"),
    )
}

// ---------------------------------------------------------------------------------------------
// OAuth2

/// `POST /oauth2/token`: client credentials grant (RFC 6749 4.4), client authenticated by HTTP
/// Basic or by `client_id` / `client_secret` in the form body (2.3.1). Errors use RFC 6749 5.2's
/// shape (`error`, `error_description`).
async fn token(state: &State, request: StreamingRequest) -> Response {
    let (parts, body) = request.into_parts();
    let body = match http::read_body(body, MAX_SMALL_BODY).await {
        Ok(body) => body,
        Err(_) => {
            return http::error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                &format!("token request body larger than {MAX_SMALL_BODY} bytes"),
            );
        }
    };
    match token_grant(state, &parts.headers, &body) {
        Ok(value) => http::json_response(StatusCode::OK, &value),
        Err((status, code, description)) => http::error_response(status, code, &description),
    }
}

type OAuthError = (StatusCode, &'static str, String);

fn token_grant(
    state: &State,
    headers: &hyper::HeaderMap,
    body: &[u8],
) -> Result<Value, OAuthError> {
    let bad = |d: String| (StatusCode::BAD_REQUEST, "invalid_request", d);
    let fields = http::parse_form(body).map_err(bad)?;
    let field = |name: &str| -> Result<Option<String>, OAuthError> {
        let mut values = fields.iter().filter(|(n, _)| n == name).map(|(_, v)| v);
        let first = values.next().cloned();
        if values.next().is_some() {
            return Err(bad(format!("parameter {name} given more than once")));
        }
        Ok(first)
    };
    match field("grant_type")?.as_deref() {
        Some("client_credentials") => {}
        Some(other) => {
            return Err((
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!("grant_type {other:?} is not supported; use client_credentials"),
            ));
        }
        None => return Err(bad("missing parameter grant_type".into())),
    }
    let invalid_client = |d: String| (StatusCode::UNAUTHORIZED, "invalid_client", d);
    let (form_id, form_secret) = (field("client_id")?, field("client_secret")?);
    let (client_id, secret) = match (http::basic_auth(headers), form_id, form_secret) {
        (Some(_), _, Some(_)) => {
            return Err(bad(
                "client authenticated both by HTTP Basic and in the body".into(),
            ));
        }
        (Some((id, secret)), form_id, None) => {
            if form_id.as_ref().is_some_and(|f| f != &id) {
                return Err(bad("client_id in the body differs from HTTP Basic".into()));
            }
            (id, secret)
        }
        (None, Some(id), Some(secret)) => (id, secret),
        _ => {
            return Err(invalid_client(
                "client authentication missing: use HTTP Basic or client_id and client_secret"
                    .into(),
            ));
        }
    };
    let known = state
        .description
        .client(&client_id)
        .is_some_and(|c| constant_time_eq(c.client_secret.as_bytes(), secret.as_bytes()));
    if !known {
        tracing::info!(client_id = %client_id, "refused client credentials");
        return Err(invalid_client(format!(
            "client authentication failed for client_id {client_id:?}"
        )));
    }
    let lifetime = lock(&state.faults).faults.token_lifetime_secs;
    let access_token = support::random_hex(32).map_err(|e| {
        tracing::error!(error = %e, "cannot make a token");
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "the sandbox failed internally".to_owned(),
        )
    })?;
    let now = Instant::now();
    let mut tokens = lock(&state.tokens);
    tokens.retain(|_, t| now.saturating_duration_since(t.expires) < TOKEN_MEMORY);
    tokens.insert(
        access_token.clone(),
        Token {
            client_id,
            expires: now + Duration::from_secs(lifetime),
        },
    );
    drop(tokens);
    lock(&state.stats).tokens_issued += 1;
    Ok(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": lifetime,
    }))
}

/// The client id behind the request's bearer token, or why there is none.
fn authenticate(state: &State, headers: &hyper::HeaderMap) -> Result<String, &'static str> {
    let Some(token) = http::bearer_token(headers) else {
        return Err(
            "missing access token: send Authorization: Bearer <access_token> from POST /oauth2/token",
        );
    };
    match lock(&state.tokens).get(token) {
        None => Err("the access token is not valid"),
        Some(t) if Instant::now() >= t.expires => Err("the access token has expired"),
        Some(t) => Ok(t.client_id.clone()),
    }
}

/// The 401 for an [`authenticate`] refusal.
fn unauthorized(message: &str) -> Response {
    refuse(StatusCode::UNAUTHORIZED, "invalid_token", message)
}

// ---------------------------------------------------------------------------------------------
// Submissions

fn count_refusal(state: &State, code: &str) {
    *lock(&state.stats)
        .refused
        .entry(code.to_owned())
        .or_default() += 1;
}

/// `true` for `application/xml`, optionally with `charset=utf-8`.
fn is_xml(content_type: Option<&HeaderValue>) -> bool {
    let Some(value) = content_type.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mut parts = value.split(';').map(str::trim);
    let media = parts.next().unwrap_or_default();
    if !media.eq_ignore_ascii_case("application/xml") {
        return false;
    }
    parts.all(|p| {
        p.split_once('=').is_some_and(|(name, v)| {
            name.trim().eq_ignore_ascii_case("charset")
                && matches!(
                    v.trim().trim_matches('"').to_ascii_lowercase().as_str(),
                    "utf-8" | "utf8"
                )
        })
    })
}

/// Why a file was not accepted: the answer's status, code and reason; for a duplicate, the
/// submission that holds the key.
struct NotAccepted {
    status: StatusCode,
    code: String,
    message: String,
    earlier: Option<Submission>,
}

impl NotAccepted {
    fn new(status: StatusCode, code: &str, message: &str) -> Self {
        Self {
            status,
            code: code.to_owned(),
            message: message.to_owned(),
            earlier: None,
        }
    }
}

/// Takes one file of `client_id`: XML only, under 1 MB, one vehicle, its key not yet taken by
/// the client; stores it in the inbox and starts its processing.
async fn accept(
    state: &Arc<State>,
    client_id: &str,
    request: StreamingRequest,
) -> Result<Submission, NotAccepted> {
    let (parts, body) = request.into_parts();
    if !is_xml(parts.headers.get(CONTENT_TYPE)) {
        count_refusal(state, "unsupported_media_type");
        let given = parts
            .headers
            .get(CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        return Err(NotAccepted::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            &format!("Content-Type {given:?} is not accepted: send application/xml (XML only)"),
        ));
    }
    // Read at most MAX_FILE_BYTES - 1 bytes: one more means the file is not under 1 MB.
    let body = match http::read_body(body, MAX_FILE_BYTES - 1).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            count_refusal(state, "too_large");
            return Err(NotAccepted::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                &format!(
                    "the file is {MAX_FILE_BYTES} bytes or more: each file must be under 1 MB"
                ),
            ));
        }
        Err(BodyError::Unreadable) => {
            return Err(NotAccepted::new(
                StatusCode::BAD_REQUEST,
                "unreadable_body",
                "the request body could not be read",
            ));
        }
    };
    let envelope = xml::inspect(&body, state.limits).map_err(|refused| {
        count_refusal(state, refused.code);
        let status = if refused.is_syntax() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        NotAccepted::new(status, refused.code, &refused.message)
    })?;
    let id = support::uuid_v4().map_err(|e| internal_refusal(&e.to_string()))?;
    let now = rfc3339(SystemTime::now());
    let candidate = Submission::received(id, client_id, envelope, body.len(), now);
    let submission = match state.store.reserve(candidate) {
        Reserve::Reserved(s) if take_loss(state) => {
            // Answered as taken, then forgotten.
            state.store.release(&s.submission_id);
            lock(&state.stats).lost += 1;
            tracing::warn!(id = %s.submission_id, vin = %s.vin, "submission lost (fault lose_next)");
            return Ok(s);
        }
        Reserve::Reserved(s) => s,
        Reserve::Duplicate(earlier) => {
            lock(&state.stats).duplicates_refused += 1;
            let mut refusal = NotAccepted::new(
                StatusCode::CONFLICT,
                "duplicate",
                &format!(
                    "VIN {} with IviVersionNumber {} at stage {} was already submitted as {} ({}): a correction must bump IviVersionNumber",
                    earlier.vin,
                    earlier.version,
                    earlier.stage,
                    earlier.submission_id,
                    earlier.status_name()
                ),
            );
            refusal.earlier = Some(earlier);
            return Err(refusal);
        }
    };
    let stored = {
        let state = Arc::clone(state);
        let submission = submission.clone();
        tokio::task::spawn_blocking(move || state.store.persist_new(&submission, &body)).await
    };
    let failed = match stored {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(e) => Some(e.to_string()),
    };
    if let Some(e) = failed {
        state.store.release(&submission.submission_id);
        return Err(internal_refusal(&e));
    }
    lock(&state.stats).accepted += 1;
    tracing::info!(
        id = %submission.submission_id,
        client = %client_id,
        vin = %submission.vin,
        version = submission.version,
        stage = submission.stage,
        "submission received"
    );
    spawn_processing(Arc::clone(state), submission.submission_id.clone());
    Ok(submission)
}

/// Whether the `lose_next` fault takes this submission (and spends one of its count).
fn take_loss(state: &State) -> bool {
    let mut faults = lock(&state.faults);
    if faults.faults.lose_next == 0 {
        return false;
    }
    faults.faults.lose_next -= 1;
    true
}

fn internal_refusal(reason: &str) -> NotAccepted {
    tracing::error!(reason, "internal NAP sandbox error");
    NotAccepted::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "the sandbox failed internally",
    )
}

/// `POST /ecoc/v1/submissions`.
async fn submit(state: &Arc<State>, request: StreamingRequest) -> Response {
    let client_id = match authenticate(state, request.headers()) {
        Ok(id) => id,
        Err(message) => return unauthorized(message),
    };
    let submission = match accept(state, &client_id, request).await {
        Ok(submission) => submission,
        Err(refusal) => {
            let mut response = refuse(refusal.status, &refusal.code, &refusal.message);
            if let Some(earlier) = refusal.earlier
                && let Ok(value) = HeaderValue::from_str(&earlier.submission_id)
            {
                response.headers_mut().insert("x-duplicate-of", value);
            }
            return response;
        }
    };
    let location = format!(
        "{}{API_BASE}/submissions/{}",
        state.base_url, submission.submission_id
    );
    let mut response = http::json_response(
        StatusCode::ACCEPTED,
        &json!({ "submission_id": submission.submission_id, "status": "Received" }),
    );
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

/// `GET /ecoc/v1/vehicles/{vin}/stages/{stage}`: the VCA's Phase 2 retrieval. Any authenticated
/// manufacturer may retrieve a vehicle's accepted eCoC of a stage by VIN (a body builder needs the
/// chassis maker's stage 1): the newest version among the Succeeded submissions, from any client.
/// A Failed file never entered the database; one still Received or Processing is not in it yet.
async fn retrieve(
    state: &Arc<State>,
    client: Result<String, &str>,
    vin: &str,
    stage: &str,
) -> Response {
    if let Err(message) = client {
        return unauthorized(message);
    }
    let valid_vin = vin.len() == 17
        && vin.bytes().all(|b| {
            b.is_ascii_digit() || (b.is_ascii_uppercase() && !matches!(b, b'I' | b'O' | b'Q'))
        });
    let Some(stage) = stage.parse::<u32>().ok().filter(|s| *s >= 1 && valid_vin) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!(
                "`{vin}` / `{stage}` is not a VIN (17 characters of A-H, J-N, P, R-Z, 0-9) and a stage number"
            ),
        );
    };
    let Some(found) = state
        .store
        .all()
        .into_iter()
        .filter(|s| s.vin == vin && s.stage == stage && s.status == Status::Succeeded)
        .max_by_key(|s| (s.version, s.seq))
    else {
        return refuse(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no accepted eCoC of VIN {vin} at stage {stage}"),
        );
    };
    let path = state
        .store
        .inbox()
        .join(format!("{}.xml", found.submission_id));
    let file = match tokio::fs::read(&path).await {
        Ok(bytes) => bytes,
        Err(e) => return internal(&format!("{}: {e}", path.display())),
    };
    let mut response = Response::new(http_body_util::Full::new(Bytes::from(file)));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    for (name, value) in [
        ("x-submission-id", found.submission_id.clone()),
        ("x-ivi-version-number", found.version.to_string()),
        ("x-submitted-by", found.client_id.clone()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// `POST /sandbox/vehicles`: puts a vehicle file at the authority as if another manufacturer (one
/// not on ecoc) had delivered it and it had been accepted: client `authority-seed`, Succeeded.
fn seed(state: &State, body: &Bytes) -> Response {
    let envelope = match xml::inspect(body, state.limits) {
        Ok(envelope) => envelope,
        Err(refused) => {
            return refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                refused.code,
                &refused.message,
            );
        }
    };
    let id = match support::uuid_v4() {
        Ok(id) => id,
        Err(e) => return internal(&e.to_string()),
    };
    let now = rfc3339(SystemTime::now());
    let candidate = Submission::received(id, SEED_CLIENT, envelope, body.len(), now.clone());
    let submission = match state.store.reserve(candidate) {
        Reserve::Reserved(s) => s,
        Reserve::Duplicate(earlier) => {
            return refuse(
                StatusCode::CONFLICT,
                "duplicate",
                &format!(
                    "the authority already holds this key as {}",
                    earlier.submission_id
                ),
            );
        }
    };
    let stored = state.store.persist_new(&submission, body).and_then(|()| {
        state
            .store
            .set_status(&submission.submission_id, Status::Succeeded, None, now)
    });
    match stored {
        Ok(Some(done)) => http::json_response(StatusCode::CREATED, &done.to_status_json()),
        Ok(None) => internal("the seeded submission vanished"),
        Err(e) => {
            state.store.release(&submission.submission_id);
            internal(&e.to_string())
        }
    }
}

/// The client of the files `POST /sandbox/vehicles` puts at the authority.
pub const SEED_CLIENT: &str = "authority-seed";

impl Submission {
    /// A file of `client_id` just received (`seq` is given when it is reserved).
    fn received(
        id: String,
        client_id: &str,
        envelope: xml::Envelope,
        size: usize,
        now: String,
    ) -> Self {
        Self {
            seq: 0,
            submission_id: id,
            client_id: client_id.to_owned(),
            status: Status::Received,
            reason: None,
            received_at: now.clone(),
            updated_at: now,
            vin: envelope.vin,
            version: envelope.version,
            stage: envelope.stage,
            reference_id: envelope.reference_id,
            approval_number: envelope.approval_number,
            size,
        }
    }

    /// The status as the API spells it.
    pub fn status_name(&self) -> &'static str {
        status_name(self.status)
    }

    /// The status answer of `GET /ecoc/v1/submissions/{id}`.
    pub fn to_status_json(&self) -> Value {
        let mut value = json!({
            "submission_id": self.submission_id,
            "status": self.status_name(),
            "received_at": self.received_at,
            "updated_at": self.updated_at,
            "vin": self.vin,
            "version": self.version,
            "stage": self.stage,
        });
        if let Some(reason) = &self.reason {
            value["reason"] = json!(reason);
        }
        value
    }
}

pub(crate) fn status_name(status: Status) -> &'static str {
    match status {
        Status::Received => "Received",
        Status::Processing => "Processing",
        Status::Succeeded => "Succeeded",
        Status::Failed => "Failed",
    }
}

fn internal(reason: &str) -> Response {
    tracing::error!(reason, "internal NAP sandbox error");
    refuse(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "the sandbox failed internally",
    )
}

/// `GET /ecoc/v1/submissions/{id}`: only the submitting client sees it.
fn status_of(state: &State, request: &StreamingRequest, id: &str) -> Response {
    let client_id = match authenticate(state, request.headers()) {
        Ok(id) => id,
        Err(message) => return unauthorized(message),
    };
    match state.store.get(id) {
        Some(s) if s.client_id == client_id => {
            http::json_response(StatusCode::OK, &s.to_status_json())
        }
        // Another manufacturer's submission does not exist for this client.
        _ => refuse(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no submission {id:?} for this client"),
        ),
    }
}

/// `GET /ecoc/v1/submissions[?status=Failed]`: the client's own submissions, oldest first.
fn list(state: &State, request: &StreamingRequest) -> Response {
    let client_id = match authenticate(state, request.headers()) {
        Ok(id) => id,
        Err(message) => return unauthorized(message),
    };
    let mut filter = None;
    for (name, value) in request
        .uri()
        .query()
        .map(|q| http::parse_form(q.as_bytes()).unwrap_or_default())
        .unwrap_or_default()
    {
        if name != "status" {
            return refuse(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                &format!("unknown query parameter {name:?}"),
            );
        }
        match Status::ALL.iter().find(|s| status_name(**s) == value) {
            Some(s) => filter = Some(*s),
            None => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    "invalid_query",
                    &format!("status {value:?} is not Received, Processing, Succeeded or Failed"),
                );
            }
        }
    }
    let submissions: Vec<Value> = state
        .store
        .all()
        .iter()
        .filter(|s| s.client_id == client_id && filter.is_none_or(|f| s.status == f))
        .map(Submission::to_status_json)
        .collect();
    http::json_response(StatusCode::OK, &json!({ "submissions": submissions }))
}

// ---------------------------------------------------------------------------------------------
// Asynchronous processing

/// Received -> (processing_ms) -> Processing -> (processing_ms) -> Succeeded or Failed.
pub(crate) fn spawn_processing(state: Arc<State>, id: String) {
    tokio::spawn(async move {
        let mut stop = state.stop.clone();
        loop {
            let Some(current) = state.store.get(&id) else {
                return;
            };
            if !current.status.is_pending() {
                return;
            }
            let wait = Duration::from_millis(lock(&state.faults).faults.processing_ms);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
            let (next, reason) = match current.status {
                Status::Received => (Status::Processing, None),
                _ => outcome(&state, &current),
            };
            let now = rfc3339(SystemTime::now());
            let store_state = Arc::clone(&state);
            let id_for_task = id.clone();
            let result = tokio::task::spawn_blocking(move || {
                store_state
                    .store
                    .set_status(&id_for_task, next, reason, now)
            })
            .await;
            match result {
                Ok(Ok(_)) => {
                    tracing::debug!(%id, status = status_name(next), "submission status changed");
                }
                Ok(Err(e)) => {
                    tracing::error!(%id, error = %e, "cannot record a status change");
                    return;
                }
                Err(e) => {
                    tracing::error!(%id, error = %e, "status task failed");
                    return;
                }
            }
        }
    });
}

/// Decides Succeeded or Failed. With a seed the decision depends only on the seed and the
/// submission's key, so it repeats across runs and restarts.
fn outcome(state: &State, s: &Submission) -> (Status, Option<String>) {
    let (rate, seed) = {
        let f = lock(&state.faults);
        (f.faults.failure_rate_percent, f.faults.availability.seed)
    };
    let key = format!("{}|{}|{}|{}", s.client_id, s.vin, s.version, s.stage);
    let mut rng = SplitMix64(seed.unwrap_or_else(support::os_seed) ^ fnv1a(key.as_bytes()));
    if !rng.percent(rate) {
        return (Status::Succeeded, None);
    }
    let approval = s.approval_number.as_deref().unwrap_or("(none given)");
    let reasons = [
        format!("approval number {approval} not found in the type-approval register"),
        format!(
            "approval number {approval} does not cover stage {} vehicles of this manufacturer",
            s.stage
        ),
        format!(
            "VehicleIdentificationNumber {}: the world manufacturer identifier {} is not registered to this manufacturer",
            s.vin,
            s.vin.get(..3).unwrap_or(&s.vin)
        ),
    ];
    let pick = usize::try_from(rng.below(reasons.len() as u64)).unwrap_or(0);
    let reason = reasons.into_iter().nth(pick).unwrap_or_default();
    (Status::Failed, Some(reason))
}

// ---------------------------------------------------------------------------------------------
// Admin

fn admin(state: &State, rest: &str, method: &Method, body: &Bytes) -> Response {
    match (rest, method) {
        ("faults", &Method::GET) => {
            let faults = lock(&state.faults).faults.clone();
            http::json_response(StatusCode::OK, &json!(faults))
        }
        ("faults", &Method::POST) => {
            let text = String::from_utf8_lossy(body);
            let text = if text.trim().is_empty() { "{}" } else { &text };
            match Faults::from_json(text) {
                Ok(faults) => {
                    tracing::info!(?faults, "NAP sandbox faults replaced");
                    *lock(&state.faults) = FaultRuntime::new(faults.clone());
                    http::json_response(StatusCode::OK, &json!(faults))
                }
                Err(e) => refuse(StatusCode::BAD_REQUEST, "invalid_faults", &e.to_string()),
            }
        }
        ("tokens/expire", &Method::POST) => {
            let expired = state.expire_tokens();
            http::json_response(StatusCode::OK, &json!({ "expired": expired }))
        }
        ("stats", &Method::GET) => stats(state),
        ("inbox", &Method::GET) => inbox(state),
        ("vehicles", &Method::POST) => seed(state, body),
        ("faults" | "tokens/expire" | "stats" | "inbox" | "vehicles", _) => {
            not_allowed(method, rest)
        }
        _ => refuse(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no such admin endpoint /sandbox/{rest}"),
        ),
    }
}

fn stats(state: &State) -> Response {
    let mut statuses: HashMap<&str, u64> =
        Status::ALL.iter().map(|s| (status_name(*s), 0)).collect();
    for s in state.store.all() {
        *statuses.entry(status_name(s.status)).or_default() += 1;
    }
    let stats = lock(&state.stats);
    http::json_response(
        StatusCode::OK,
        &json!({
            "accepted": stats.accepted,
            "duplicates_refused": stats.duplicates_refused,
            "lost": stats.lost,
            "refused": stats.refused,
            "statuses": statuses,
            "tokens_issued": stats.tokens_issued,
            "injected_failures": stats.injected_failures,
            "closed_connections": stats.closed_connections,
            "requests": stats.requests,
        }),
    )
}

/// `GET /sandbox/inbox`: the `.xml` files actually in the inbox folder, with their records.
fn inbox(state: &State) -> Response {
    let dir = state.store.inbox();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => return internal(&format!("inbox {}: {e}", dir.display())),
    };
    let mut files: Vec<(u64, Value)> = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(id) = name.strip_suffix(".xml") else {
            continue;
        };
        if id.starts_with('.') {
            continue;
        }
        let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
        let record = state.store.get(id);
        files.push((
            record.as_ref().map_or(u64::MAX, |r| r.seq),
            json!({
                "submission_id": id,
                "file": format!("inbox/{name}"),
                "size": size,
                "client_id": record.as_ref().map(|r| r.client_id.clone()),
                "status": record.as_ref().map(Submission::status_name),
                "vin": record.as_ref().map(|r| r.vin.clone()),
                "version": record.as_ref().map(|r| r.version),
                "stage": record.as_ref().map(|r| r.stage),
            }),
        ));
    }
    files.sort_by_key(|(seq, _)| *seq);
    http::json_response(
        StatusCode::OK,
        &json!({ "files": files.into_iter().map(|(_, v)| v).collect::<Vec<_>>() }),
    )
}
