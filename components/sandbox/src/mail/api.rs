//! The mail sink's HTTP endpoints.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use hyper::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use hyper::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::eml::{self, Mailbox};
use super::{Faults, MailDescription};
use crate::availability::{AvailabilityState, Decision};
use crate::http::{self, BodyError, Response, StreamingRequest, message_error as refuse};
use crate::support::{self, constant_time_eq};

/// Largest request body (1 MiB).
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;
/// Most recipients per message.
pub const MAX_RECIPIENTS: usize = 100;
/// Most extra headers per message.
pub const MAX_HEADERS: usize = 50;
/// Longest subject, in characters.
pub const MAX_SUBJECT_CHARS: usize = 998;

/// A stored message's metadata (`<id>.json` beside `<id>.eml`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Stored {
    seq: u64,
    id: String,
    from: String,
    to: Vec<String>,
    subject: String,
    received_at: String,
    file: String,
    size: usize,
}

#[derive(Debug, Default)]
struct Stats {
    accepted: u64,
    refused: HashMap<String, u64>,
    injected_failures: u64,
    closed_connections: u64,
}

#[derive(Debug)]
struct FaultRuntime {
    faults: Faults,
    availability: AvailabilityState,
}

/// Shared state of a running mail sink.
#[derive(Debug)]
pub(crate) struct State {
    pub base_url: String,
    pub description: MailDescription,
    outbox: PathBuf,
    messages: Mutex<Vec<Stored>>,
    faults: Mutex<FaultRuntime>,
    stats: Mutex<Stats>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Reads the metadata files of an outbox, oldest first (unreadable ones are skipped).
pub(crate) fn load_index(outbox: &Path) -> Vec<Stored> {
    let mut stored: Vec<Stored> = std::fs::read_dir(outbox)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter_map(|text| serde_json::from_str(&text).ok())
        .collect();
    stored.sort_by_key(|s: &Stored| s.seq);
    stored
}

impl State {
    pub fn new(
        base_url: String,
        description: MailDescription,
        outbox: PathBuf,
        messages: Vec<Stored>,
        faults: Faults,
    ) -> Self {
        Self {
            base_url,
            description,
            outbox,
            messages: Mutex::new(messages),
            faults: Mutex::new(FaultRuntime {
                availability: AvailabilityState::new(faults.availability.clone()),
                faults,
            }),
            stats: Mutex::new(Stats::default()),
        }
    }

    pub fn faults(&self) -> Faults {
        lock(&self.faults).faults.clone()
    }

    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.faults) = FaultRuntime {
            availability: AvailabilityState::new(faults.availability.clone()),
            faults,
        };
    }
}

/// Entry point: admin endpoints, then faults, then routing. `None` closes the connection.
pub(crate) async fn handle(state: Arc<State>, request: StreamingRequest) -> Option<Response> {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    let (parts, body) = request.into_parts();
    if let Some(rest) = path.strip_prefix("/sandbox/") {
        return Some(match http::read_body(body, 64 * 1024).await {
            Ok(body) => admin(&state, rest, &method, &body),
            Err(_) => refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "admin body too large",
            ),
        });
    }
    let decision = lock(&state.faults).availability.decide();
    match decision {
        Decision::Close => {
            lock(&state.stats).closed_connections += 1;
            return None;
        }
        Decision::Unavailable => {
            lock(&state.stats).injected_failures += 1;
            let mut r = refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the service is down (sandbox fault mode)",
            );
            r.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            return Some(r);
        }
        Decision::Fail(delay, status) => {
            tokio::time::sleep(delay).await;
            lock(&state.stats).injected_failures += 1;
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            return Some(refuse(
                status,
                "server_error",
                "injected failure (sandbox fault mode)",
            ));
        }
        Decision::Serve(delay) => tokio::time::sleep(delay).await,
    }
    if path != "/v1/messages" {
        return Some(refuse(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no such endpoint {path}"),
        ));
    }
    let authorized = http::bearer_token(&parts.headers)
        .is_some_and(|key| constant_time_eq(key.as_bytes(), state.description.api_key.as_bytes()));
    if !authorized {
        return Some(refuse(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong API key: send Authorization: Bearer <api_key from mail.json>",
        ));
    }
    Some(match method {
        Method::GET => list(&state),
        Method::POST => {
            let is_json = parts
                .headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| {
                    v.split(';')
                        .next()
                        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
                });
            if !is_json {
                count(&state, "unsupported_media_type");
                return Some(refuse(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "send the message as application/json",
                ));
            }
            match http::read_body(body, MAX_MESSAGE_BYTES).await {
                Ok(body) => send(&state, &body).await,
                Err(BodyError::TooLarge) => {
                    count(&state, "too_large");
                    refuse(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "too_large",
                        &format!("message body larger than {MAX_MESSAGE_BYTES} bytes"),
                    )
                }
                Err(BodyError::Unreadable) => refuse(
                    StatusCode::BAD_REQUEST,
                    "unreadable_body",
                    "the body could not be read",
                ),
            }
        }
        _ => refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            &format!("method {method} is not allowed on {path}"),
        ),
    })
}

fn count(state: &State, code: &str) {
    *lock(&state.stats)
        .refused
        .entry(code.to_owned())
        .or_default() += 1;
}

/// `POST /v1/messages` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewMessage {
    from: String,
    to: Vec<String>,
    subject: String,
    text: String,
    html: Option<String>,
    headers: Option<BTreeMap<String, String>>,
}

/// A 422 naming the field.
fn invalid(field: &str, reason: &str) -> (StatusCode, &'static str, String) {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        format!("{field}: {reason}"),
    )
}

type Refusal = (StatusCode, &'static str, String);

/// Sender, recipients and extra headers of a checked message.
type Checked = (Mailbox, Vec<Mailbox>, Vec<(String, String)>);

fn check(m: &NewMessage) -> Result<Checked, Refusal> {
    let from = eml::parse_mailbox(&m.from).map_err(|r| invalid("from", &r))?;
    if m.to.is_empty() {
        return Err(invalid("to", "at least one recipient is required"));
    }
    if m.to.len() > MAX_RECIPIENTS {
        return Err(invalid(
            "to",
            &format!("{} recipients, at most {MAX_RECIPIENTS}", m.to.len()),
        ));
    }
    let to =
        m.to.iter()
            .enumerate()
            .map(|(i, t)| eml::parse_mailbox(t).map_err(|r| invalid(&format!("to[{i}]"), &r)))
            .collect::<Result<Vec<_>, _>>()?;
    if m.subject.chars().any(char::is_control) {
        return Err(invalid(
            "subject",
            "contains line breaks or control characters",
        ));
    }
    if m.subject.chars().count() > MAX_SUBJECT_CHARS {
        return Err(invalid(
            "subject",
            &format!("longer than {MAX_SUBJECT_CHARS} characters"),
        ));
    }
    let mut headers = Vec::new();
    if let Some(map) = &m.headers {
        if map.len() > MAX_HEADERS {
            return Err(invalid(
                "headers",
                &format!("{} headers, at most {MAX_HEADERS}", map.len()),
            ));
        }
        for (name, value) in map {
            let field = format!("headers[{name:?}]");
            // RFC 5322 3.6.8 field names are printable ASCII except colon; we also exclude spaces.
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(invalid(
                    &field,
                    "a header name is letters, digits and hyphens",
                ));
            }
            if eml::RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                return Err(invalid(&field, "this header is set by the mail service"));
            }
            if value.chars().any(char::is_control) {
                return Err(invalid(
                    &field,
                    "the value contains line breaks or control characters",
                ));
            }
            headers.push((name.clone(), value.clone()));
        }
    }
    Ok((from, to, headers))
}

async fn send(state: &Arc<State>, body: &[u8]) -> Response {
    let message: NewMessage = match serde_json::from_slice(body) {
        Ok(m) => m,
        Err(e) => {
            count(state, "invalid_json");
            return refuse(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                &format!("invalid message: {e}"),
            );
        }
    };
    let (from, to, headers) = match check(&message) {
        Ok(checked) => checked,
        Err((status, code, reason)) => {
            count(state, code);
            return refuse(status, code, &reason);
        }
    };
    let (id, boundary) = match (support::uuid_v4(), support::random_hex(12)) {
        (Ok(id), Ok(b)) => (id, format!("=_ecoc_{b}")),
        _ => return internal("no randomness"),
    };
    let now = SystemTime::now();
    let message_id = format!("{id}@sandbox.ecoc.invalid");
    let date = support::rfc5322_date(now);
    let text = eml::render(&eml::Message {
        from: &from,
        to: &to,
        subject: &message.subject,
        text: &message.text,
        html: message.html.as_deref(),
        headers: &headers,
        date: &date,
        message_id: &message_id,
        boundary: &boundary,
    });
    let file = format!("{id}.eml");
    let result = {
        let state = Arc::clone(state);
        let file = file.clone();
        let id = id.clone();
        let to: Vec<String> = to.iter().map(|m| m.address.clone()).collect();
        let subject = message.subject.clone();
        let from = from.address.clone();
        tokio::task::spawn_blocking(move || -> crate::Result<()> {
            support::write_atomic(&state.outbox.join(&file), text.as_bytes(), false)?;
            let mut messages = lock(&state.messages);
            let stored = Stored {
                seq: messages.last().map_or(0, |m| m.seq + 1),
                id: id.clone(),
                from,
                to,
                subject,
                received_at: support::rfc3339(now),
                file: format!("{}/{file}", super::OUTBOX),
                size: text.len(),
            };
            let meta =
                serde_json::to_vec_pretty(&stored).map_err(|e| crate::Error::StateFormat {
                    path: state.outbox.join(format!("{id}.json")),
                    reason: e.to_string(),
                })?;
            support::write_atomic(&state.outbox.join(format!("{id}.json")), &meta, false)?;
            messages.push(stored);
            Ok(())
        })
        .await
    };
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return internal(&e.to_string()),
        Err(e) => return internal(&e.to_string()),
    }
    lock(&state.stats).accepted += 1;
    tracing::info!(%id, recipients = to.len(), "mail stored");
    http::json_response(StatusCode::ACCEPTED, &json!({ "id": id }))
}

fn internal(reason: &str) -> Response {
    tracing::error!(reason, "internal mail sandbox error");
    refuse(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "the sandbox failed internally",
    )
}

fn list(state: &State) -> Response {
    let messages = lock(&state.messages).clone();
    http::json_response(StatusCode::OK, &json!({ "messages": messages }))
}

fn admin(state: &State, rest: &str, method: &Method, body: &[u8]) -> Response {
    match (rest, method) {
        ("faults", &Method::GET) => http::json_response(StatusCode::OK, &json!(state.faults())),
        ("faults", &Method::POST) => {
            let text = String::from_utf8_lossy(body);
            let text = if text.trim().is_empty() { "{}" } else { &text };
            match Faults::from_json(text) {
                Ok(faults) => {
                    state.set_faults(faults.clone());
                    http::json_response(StatusCode::OK, &json!(faults))
                }
                Err(e) => refuse(StatusCode::BAD_REQUEST, "invalid_faults", &e.to_string()),
            }
        }
        ("stats", &Method::GET) => {
            let stats = lock(&state.stats);
            let value: Value = json!({
                "accepted": stats.accepted,
                "refused": stats.refused,
                "injected_failures": stats.injected_failures,
                "closed_connections": stats.closed_connections,
                "stored": lock(&state.messages).len(),
            });
            http::json_response(StatusCode::OK, &value)
        }
        _ => refuse(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no such admin endpoint /sandbox/{rest}"),
        ),
    }
}
