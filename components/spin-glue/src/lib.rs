//! The Spin side shared by every ecoc function (see README.md).

use dsig::csc::{HttpRequest, HttpResponse, HttpTransport, TransportError};
use pipeline::kv::{KeyValue, Stores};
use pipeline::{Error, Result};
use spin_sdk::http::{Fields, Method, OutgoingResponse, Request, Response, ResponseOutparam};
use spin_sdk::key_value::Store;

/// A Spin key-value store as the pipeline's [`KeyValue`].
pub struct SpinKv(Store);

impl std::fmt::Debug for SpinKv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SpinKv")
    }
}

fn kv_error(e: impl std::fmt::Display) -> Error {
    Error::Store(e.to_string())
}

impl KeyValue for SpinKv {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.0.get(key).map_err(kv_error)
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<()> {
        self.0.set(key, value).map_err(kv_error)
    }
    fn delete(&self, key: &str) -> Result<()> {
        self.0.delete(key).map_err(kv_error)
    }
    fn get_keys(&self) -> Result<Vec<String>> {
        self.0.get_keys().map_err(kv_error)
    }
}

/// The pipeline's stores in a Spin component.
pub type SpinStores = Stores<SpinKv>;

/// Opens the pipeline's five stores (each label must be in the component's `key_value_stores`).
pub fn stores() -> Result<Stores<SpinKv>> {
    Stores::open_with(|label| {
        Store::open(label)
            .map(SpinKv)
            .map_err(|e| Error::Store(format!("cannot open store `{label}`: {e}")))
    })
}

/// A Spin variable; a clear error names it when it is missing.
pub fn variable(name: &str) -> Result<String> {
    spin_sdk::variables::get(name).map_err(|e| {
        Error::Config(format!(
            "variable `{name}` is not set ({e}); set it in spin.toml or SPIN_VARIABLE_{}",
            name.to_ascii_uppercase()
        ))
    })
}

/// A Spin variable that may be absent or empty.
pub fn optional_variable(name: &str) -> Option<String> {
    spin_sdk::variables::get(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
}

/// Outbound HTTP through Spin, blocking: dsig's transport for the CSC client, the NAP and the ERP.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpinHttp;

impl HttpTransport for SpinHttp {
    fn send(&self, req: HttpRequest) -> std::result::Result<HttpResponse, TransportError> {
        let method = match req.method.as_str() {
            "GET" => Method::Get,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            _ => Method::Post,
        };
        let mut builder = Request::builder();
        builder.method(method).uri(req.url.as_str());
        for (k, v) in &req.headers {
            builder.header(k.as_str(), v.as_str());
        }
        let outgoing = builder.body(req.body).build();
        let resp: Response = spin_sdk::http::run(spin_sdk::http::send(outgoing))
            .map_err(|e| TransportError(format!("{} {}: {e}", req.method, req.url)))?;
        let headers = resp
            .headers()
            .filter_map(|(k, v)| Some((k.to_owned(), v.as_str()?.to_owned())))
            .collect();
        Ok(HttpResponse {
            status: *resp.status(),
            headers,
            body: resp.into_body(),
        })
    }
}

/// Calls a private route of another component (`http://<component>.spin.internal<path>`) with a JSON
/// body; returns the status and the JSON answer.
pub fn call(
    component: &str,
    path: &str,
    body: &serde_json::Value,
) -> Result<(u16, serde_json::Value)> {
    spin_sdk::http::run(call_async(component, path, body))
}

/// Several [`call`]s, at most `in_flight` at a time (each in its own instance of the callee, so
/// they run in parallel on the host); one answer per call, in order.
pub fn call_all(
    calls: &[(&str, &str, serde_json::Value)],
    in_flight: usize,
) -> Vec<Result<(u16, serde_json::Value)>> {
    use futures::stream::{self, StreamExt};
    spin_sdk::http::run(
        stream::iter(
            calls
                .iter()
                .map(|(component, path, body)| call_async(component, path, body)),
        )
        .buffered(in_flight.max(1))
        .collect(),
    )
}

async fn call_async(
    component: &str,
    path: &str,
    body: &serde_json::Value,
) -> Result<(u16, serde_json::Value)> {
    let request = Request::builder()
        .method(Method::Post)
        .uri(format!("http://{component}.spin.internal{path}"))
        .header("content-type", "application/json")
        .body(body.to_string().into_bytes())
        .build();
    let resp: Response = spin_sdk::http::send(request)
        .await
        .map_err(|e| Error::Internal(format!("chained call to {component}{path}: {e}")))?;
    let status = *resp.status();
    let body = resp.into_body();
    let value = serde_json::from_slice(&body).unwrap_or_else(
        |_| serde_json::json!({"error": "internal", "message": String::from_utf8_lossy(&body)}),
    );
    Ok((status, value))
}

/// The record ids of a chained call's body: `{"ids": [...]}`, or `{"id": ...}` as a list of one
/// (empty when missing, so the lookup answers 404). `single` says which form was used.
pub fn record_ids(body: &serde_json::Value) -> (Vec<&str>, bool) {
    match body["ids"].as_array() {
        Some(ids) => (
            ids.iter().filter_map(serde_json::Value::as_str).collect(),
            false,
        ),
        None => (vec![body["id"].as_str().unwrap_or_default()], true),
    }
}

/// Turns a chained call's error answer back into the pipeline error it was made from, so the caller
/// answers its own client with the same status and body.
pub fn relay(status: u16, body: serde_json::Value) -> Error {
    let message = body["message"].as_str().unwrap_or("").to_owned();
    match status {
        422 => Error::Fields(serde_json::from_value(body["errors"].clone()).unwrap_or_default()),
        409 if body["error"] == "duplicate" => Error::Duplicate {
            message,
            existing: body["duplicate_of"].as_str().unwrap_or("").to_owned(),
        },
        409 => Error::Conflict(message),
        413 => Error::TooLarge(message),
        404 => Error::NotFound(message),
        400 => Error::BadRequest(message),
        502 => Error::Upstream {
            service: "upstream",
            message,
            retryable: true,
        },
        503 => Error::Config(message),
        _ => Error::Internal(format!("{status}: {message}")),
    }
}

/// A request header as text.
pub fn header(req: &Request, name: &str) -> Option<String> {
    req.header(name).and_then(|v| v.as_str()).map(str::to_owned)
}

/// Reads a JSON body, refusing other content types.
pub fn json_body<T: serde::de::DeserializeOwned>(req: &Request) -> Result<T> {
    require_content_type(req, "application/json")?;
    let value = pipeline::json::parse(req.body())
        .map_err(|e| Error::BadRequest(format!("the body is not valid JSON: {e}")))?;
    serde_json::from_value(value)
        .map_err(|e| Error::BadRequest(format!("the body is not the JSON expected: {e}")))
}

/// Refuses a body whose `Content-Type` is not `expected` (parameters such as charset allowed).
pub fn require_content_type(req: &Request, expected: &str) -> Result<()> {
    let given = header(req, "content-type").unwrap_or_default();
    let essence = given
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == expected {
        Ok(())
    } else {
        Err(Error::UnsupportedMediaType(format!(
            "this route takes Content-Type {expected}, not `{given}`"
        )))
    }
}

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Content type.
    pub content_type: &'static str,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            headers: Vec::new(),
            body: value.to_string().into_bytes(),
        }
    }

    /// An XML answer.
    pub fn xml(body: Vec<u8>) -> Self {
        Self {
            status: 200,
            content_type: "application/xml",
            headers: Vec::new(),
            body,
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// The one place a pipeline error becomes an HTTP answer. 5xx are logged (to the component's
/// stderr) with their detail; the body of a 500 has none.
pub fn reply_error(component: &str, error: &Error) -> Reply {
    if error.status() >= 500 {
        eprintln!("{component}: {} {error}", error.status());
    }
    let mut reply = Reply::json(error.status(), &error.to_json());
    if error.status() == 401 {
        reply = reply.with_header("www-authenticate", "Bearer");
    }
    reply
}

/// Turns a handler's result into an answer.
pub fn reply(component: &str, result: Result<Reply>) -> Reply {
    result.unwrap_or_else(|e| reply_error(component, &e))
}

fn outgoing(status: u16, content_type: &str, headers: &[(String, String)]) -> OutgoingResponse {
    let mut list = vec![("content-type".to_owned(), content_type.as_bytes().to_vec())];
    list.extend(
        headers
            .iter()
            .map(|(k, v)| (k.clone(), v.as_bytes().to_vec())),
    );
    let response =
        OutgoingResponse::new(Fields::from_list(&list).unwrap_or_else(|_| Fields::new()));
    let _ = response.set_status_code(status);
    response
}

/// Sends the whole answer now; the handler may go on working after this returns (the client already
/// has its answer).
pub fn respond(out: ResponseOutparam, reply: Reply) {
    let response = outgoing(reply.status, reply.content_type, &reply.headers);
    if let Err(e) = spin_sdk::http::run(out.set_with_body(response, reply.body)) {
        eprintln!("could not send the answer: {e}");
    }
}

type BodySink = std::pin::Pin<Box<dyn futures::Sink<Vec<u8>, Error = ()>>>;

/// An answer written piece by piece (one JSON line per batch row, so the caller sees progress).
pub struct Streaming {
    sink: BodySink,
}

impl std::fmt::Debug for Streaming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Streaming")
    }
}

impl Streaming {
    /// Sends the head now (status, content type); the body follows with [`Streaming::write`].
    pub fn start(out: ResponseOutparam, status: u16, content_type: &str) -> Self {
        let response = outgoing(status, content_type, &[]);
        use futures::SinkExt;
        let sink: BodySink = Box::pin(response.take_body().sink_map_err(|_| ()));
        out.set(response);
        Self { sink }
    }

    /// Writes one piece. Returns false when the client has gone.
    pub fn write(&mut self, bytes: Vec<u8>) -> bool {
        use futures::SinkExt;
        spin_sdk::http::run(self.sink.send(bytes)).is_ok()
    }
}
