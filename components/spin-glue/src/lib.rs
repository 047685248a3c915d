//! The Spin side shared by every ecoc function (see README.md): the pipeline's stores over Spin's
//! key-value store, variables, typed calls to the other steps, route tables, and the one place a
//! pipeline error becomes an HTTP answer.

pub mod router;

use std::future::Future;
use std::pin::Pin;

use pipeline::calls::Call;
use pipeline::kv::{KeyValue, Stores};
use pipeline::{Error, Result};
use spin_sdk::http::{Fields, Method, OutgoingResponse, Request, Response, ResponseOutparam};
use spin_sdk::key_value::Store;

pub use router::{Params, Route, route};
pub use transport::SpinTransport;

/// A Spin key-value store as the pipeline's [`KeyValue`].
pub struct SpinKv(Store);

impl std::fmt::Debug for SpinKv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SpinKv")
    }
}

/// The store's refusal in words (the SDK's `Display` spells the variant, `Error::Other("...")`):
/// a full disk reads "database or disk is full", a 503 with that reason.
fn kv_error(e: spin_sdk::key_value::Error) -> Error {
    use spin_sdk::key_value::Error as Kv;
    Error::Store(match e {
        Kv::Other(message) => message,
        Kv::StoreTableFull => "too many stores open".into(),
        Kv::NoSuchStore => "no such store".into(),
        Kv::AccessDenied => "access to the store denied".into(),
    })
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

/// The pipeline's stores, each label opened when first used: a component needs in its
/// `key_value_stores` only the labels its requests touch (Spin refuses the others).
pub fn stores() -> SpinStores {
    Stores::lazy(|label| {
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

/// The deployment's audit checkpoint key (variable `audit_signing_key`), if it set one.
pub fn audit_key() -> Result<Option<pipeline::audit::SigningKey>> {
    optional_variable("audit_signing_key")
        .map(|text| pipeline::audit::signing_key(&text))
        .transpose()
}

/// Sends `request` to its step (`http://<step>.spin.internal<path>`) and waits: the answer, or the
/// error the step raised, as it raised it.
pub fn call<C: Call>(request: &C) -> Result<C::Answer> {
    spin_sdk::http::run(call_async(request))
}

/// [`call`], to be awaited (several at once with [`all`]).
pub async fn call_async<C: Call>(request: &C) -> Result<C::Answer> {
    let body = serde_json::to_vec(request).map_err(|e| Error::Internal(e.to_string()))?;
    let outgoing = Request::builder()
        .method(Method::Post)
        .uri(format!("http://{}.spin.internal{}", C::STEP, C::PATH))
        .header("content-type", "application/json")
        .body(body)
        .build();
    let what = || format!("{}{}", C::STEP, C::PATH);
    let answer: Response = spin_sdk::http::send(outgoing)
        .await
        .map_err(|e| Error::Internal(format!("chained call to {}: {e}", what())))?;
    let status = *answer.status();
    if !(200..300).contains(&status) {
        return Err(Error::from_answer(status, answer.body()));
    }
    serde_json::from_slice(answer.body()).map_err(|e| {
        Error::Internal(format!(
            "{} answered {status} with a body not of its contract: {e}",
            what()
        ))
    })
}

/// A call in flight (see [`all`]).
pub type Pending<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + 'a>>;

/// Runs `calls`, at most `in_flight` at once (each in its own instance of its step, so they run in
/// parallel on the host); one answer per call, in order.
pub fn all<T>(calls: Vec<Pending<'_, T>>, in_flight: usize) -> Vec<Result<T>> {
    use futures::stream::{self, StreamExt};
    spin_sdk::http::run(stream::iter(calls).buffered(in_flight.max(1)).collect())
}

/// A request header as text.
pub fn header(req: &Request, name: &str) -> Option<String> {
    req.header(name).and_then(|v| v.as_str()).map(str::to_owned)
}

/// The request's method as text (`GET`, `POST`, ...), for route tables.
pub fn method_name(req: &Request) -> String {
    match req.method() {
        Method::Get => "GET".into(),
        Method::Head => "HEAD".into(),
        Method::Post => "POST".into(),
        Method::Put => "PUT".into(),
        Method::Delete => "DELETE".into(),
        Method::Patch => "PATCH".into(),
        Method::Options => "OPTIONS".into(),
        Method::Connect => "CONNECT".into(),
        Method::Trace => "TRACE".into(),
        Method::Other(other) => other.to_ascii_uppercase(),
    }
}

/// Which route of `table` the request is for (405 with the methods allowed, 404 for no such path).
pub fn find_route<'r, R: Copy>(table: &[Route<R>], req: &'r Request) -> Result<(R, Params<'r>)> {
    router::find(table, &method_name(req), req.path())
}

/// Reads a JSON body, refusing other content types.
pub fn json_body<T: serde::de::DeserializeOwned>(req: &Request) -> Result<T> {
    require_content_type(req, "application/json")?;
    let value = pipeline::json::parse(req.body())
        .map_err(|e| Error::BadRequest(format!("the body is not valid JSON: {e}")))?;
    serde_json::from_value(value)
        .map_err(|e| Error::BadRequest(format!("the body is not the JSON expected: {e}")))
}

/// The tenant's mapper component, when its settings name one: refused unless the deployment
/// declares it (the `mappers` variable), then called over `http://<id>.spin.internal`.
pub fn tenant_mapper(
    tenant: &pipeline::tenant::Tenant,
) -> Result<Option<Box<pipeline::mapper::Call<'static>>>> {
    use pipeline::mapper;
    use transport::Transport as _;
    let Some(id) = tenant.mapper.clone() else {
        return Ok(None);
    };
    mapper::check_declared(&id, &optional_variable("mappers").unwrap_or_default())?;
    Ok(Some(Box::new(move |payload: &[u8]| {
        let answer = SpinTransport::INTERNAL
            .send(mapper::request(&id, payload)?)
            .map_err(|e| Error::Upstream {
                service: pipeline::Service::Mapper,
                message: format!("mapper `{id}` did not answer: {e}"),
                retryable: true,
            })?;
        mapper::read_answer(&id, &answer)
    })))
}

/// The deployment's sealing key ring (the secret variable `sealing_keys`), if it has one.
pub fn key_ring() -> Result<Option<pipeline::sealing::KeyRing>> {
    optional_variable("sealing_keys")
        .map(|text| pipeline::sealing::KeyRing::parse(&text))
        .transpose()
}

/// A tenant's secrets in this component: stored ones opened with [`key_ring`], named variables
/// read with [`optional_variable`].
pub fn with_secrets<K: KeyValue, T>(
    kv: &K,
    tenant: &str,
    f: impl FnOnce(&pipeline::identity::Secrets<'_, K>) -> Result<T>,
) -> Result<T> {
    let ring = key_ring()?;
    let variable = |name: &str| optional_variable(name);
    f(&pipeline::identity::Secrets::new(
        kv,
        tenant,
        ring.as_ref(),
        &variable,
    ))
}

/// Refuses (422, with the settings' JSON pointers) a tenant's `signer` or `destinations` naming a
/// QTSP or NAP the deployment does not declare (variables `qtsps`, `naps`).
pub fn check_tenant_identity(tenant: &pipeline::tenant::Tenant) -> Result<()> {
    use pipeline::identity::{Declared, declared_problems};
    if tenant.signer.is_none() && tenant.destinations.is_empty() {
        return Ok(());
    }
    let qtsps = Declared::parse("qtsps", &optional_variable("qtsps").unwrap_or_default())?;
    let naps = Declared::parse("naps", &optional_variable("naps").unwrap_or_default())?;
    let problems: Vec<pipeline::FieldError> =
        declared_problems(tenant.signer.as_ref(), &tenant.destinations, &qtsps, &naps)
            .into_iter()
            .map(|(at, message)| pipeline::FieldError::new(at, "TENANT-INVALID", message))
            .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Fields(problems))
    }
}

/// Reads a document a user writes (tenant settings, ...): every mistake at once, each with its JSON
/// pointer (422), see [`pipeline::document`].
pub fn document_body<T: pipeline::document::Document>(req: &Request) -> Result<T> {
    require_content_type(req, "application/json")?;
    T::from_json(req.body())
}

/// Reads a step's request: JSON, or an empty body for a request type whose fields all have
/// defaults (a scheduler's bare `POST`).
pub fn call_body<T: serde::de::DeserializeOwned + Default>(req: &Request) -> Result<T> {
    if req.body().is_empty() {
        return Ok(T::default());
    }
    json_body(req)
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
    /// A JSON answer (a value that cannot be written as JSON is a bug: a 500, logged).
    pub fn json(status: u16, value: &impl serde::Serialize) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => Self {
                status,
                content_type: "application/json",
                headers: Vec::new(),
                body,
            },
            Err(e) => reply_error("reply", &Error::Internal(format!("answer not JSON: {e}"))),
        }
    }

    /// An answer of any type.
    pub fn new(status: u16, content_type: &'static str, body: Vec<u8>) -> Self {
        Self {
            status,
            content_type,
            headers: Vec::new(),
            body,
        }
    }

    /// An XML answer.
    pub fn xml(body: Vec<u8>) -> Self {
        Self::new(200, "application/xml", body)
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// The one place a pipeline error becomes an HTTP answer: its status, its [`pipeline::ErrorBody`],
/// `WWW-Authenticate` on a 401 and `Allow` on a 405. 5xx are logged (to the component's stderr)
/// with their detail; the body of a 500 has none.
pub fn reply_error(component: &str, error: &Error) -> Reply {
    let status = error.status();
    if status >= 500 {
        eprintln!("{component}: {status} {error}");
    }
    let body = error.to_body();
    let mut reply = Reply::json(status, &body);
    if status == 401 {
        reply = reply.with_header("www-authenticate", "Bearer");
    }
    if status == 405 {
        reply = reply.with_header("allow", &body.allow.join(", "));
    }
    if matches!(error, Error::Busy(_)) {
        reply = reply.with_header("retry-after", "1");
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

    /// Writes one JSON line (`value` and a line feed).
    pub fn line(&mut self, value: &impl serde::Serialize) -> bool {
        let mut bytes = serde_json::to_vec(value).unwrap_or_default();
        bytes.push(b'\n');
        self.write(bytes)
    }
}
