//! A loaded app: one engine, every component compiled once and pre-instantiated, and the
//! request path that gives each request a fresh store.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use wasmtime::component::Linker;
use wasmtime::{Engine, Store, StoreLimitsBuilder};
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::{WasiBody, WasiHttpView};

use crate::chaining::{InProcess, InProcessFuture, OutboundHooks};
use crate::compiled;
use crate::component::{CHAIN_DEPTH_HEADER, ComponentInfo};
pub use crate::component::{MAX_CHAIN_DEPTH, Origin};
use crate::error::{Error, Result};
use crate::kv::{Backend, Durability, RedisBackend, SqliteBackend};
use crate::manifest::{Manifest, RouteDecl};
use crate::outbound::AllowList;
use crate::platform;
use crate::request::{RequestState, Shared};
use crate::routing::{RouteMatch, Router, WELL_KNOWN_PREFIX};
use crate::runtime_config::{RuntimeConfig, StoreConfig};
use crate::schedule::Timer;
use crate::variables::{Resolved, env_name};

/// Default cap on a request body.
pub const DEFAULT_MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// Default time a component has to answer.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on one instance's linear memory.
pub const DEFAULT_MAX_MEMORY_BYTES: usize = 256 * 1024 * 1024;
/// Default number of instances alive at once (pooling allocator slots).
pub const DEFAULT_MAX_INSTANCES: u32 = 256;
/// Bytes of each pooled memory slot kept mapped between instances (reset by memset).
const KEEP_RESIDENT_BYTES: usize = 2 * 1024 * 1024;
/// The epoch ticks at this period; deadlines are counted in ticks.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Everything `ecoc up` is told on its command line.
#[derive(Debug, Clone)]
pub struct HostOptions {
    pub manifest: PathBuf,
    pub runtime_config: Option<PathBuf>,
    pub state_dir: PathBuf,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    pub max_memory_bytes: usize,
    pub max_instances: u32,
    /// Keep compiled components between runs.
    pub compile_cache: bool,
    /// Where compiled components are kept; default `<state-dir>/cache`.
    pub cache_dir: Option<PathBuf>,
    /// Variable values supplied by the embedding program (`ecoc up --dev` points the app at its
    /// sandboxes), by variable name; `SPIN_VARIABLE_<NAME>` in the environment still wins.
    pub variables: std::collections::BTreeMap<String, String>,
    /// `[[client_tls]]` entries supplied by the embedding program (TOML, absolute paths), after
    /// the runtime config's own (`ecoc up --dev` links `submit` to its EU NAP sandbox).
    pub client_tls: Option<String>,
}

impl HostOptions {
    /// Defaults for a manifest.
    pub fn new(manifest: impl Into<PathBuf>) -> Self {
        Self {
            manifest: manifest.into(),
            runtime_config: None,
            state_dir: PathBuf::from(".spin"),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_memory_bytes: DEFAULT_MAX_MEMORY_BYTES,
            max_instances: DEFAULT_MAX_INSTANCES,
            compile_cache: true,
            cache_dir: None,
            variables: Default::default(),
            client_tls: None,
        }
    }
}

struct LoadedComponent {
    info: Arc<ComponentInfo>,
    pre: ProxyPre<RequestState>,
}

/// A loaded, ready-to-serve app.
pub struct App {
    name: String,
    engine: Engine,
    router: Router,
    components: BTreeMap<String, LoadedComponent>,
    shared: Arc<Shared>,
    options: HostOptions,
    settings: toml::Table,
    timers: Vec<Timer>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("name", &self.name)
            .field("components", &self.components.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// A plain host answer (404, 413, 500...).
pub fn plain(status: StatusCode, message: impl Into<String>) -> Response<WasiBody> {
    let mut body = message.into();
    body.push('\n');
    let mut resp = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// The answer when every instance slot of the pooling allocator is taken: 503 with `Retry-After`,
/// in the pipeline's error shape (`{"error": "busy", ...}`), so a step calling another passes it
/// on as the same error and the ERP is told to send again rather than that something broke.
fn busy(component: &str) -> Response<WasiBody> {
    // A component id is kebab-case (the manifest checks it): nothing in it needs JSON escaping.
    let body = format!(
        r#"{{"error":"busy","message":"busy: every instance of component `{component}` is in use; nothing of this request was kept, send it again in a moment"}}"#
    );
    let mut resp = plain(StatusCode::SERVICE_UNAVAILABLE, body);
    let headers = resp.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
    resp
}

impl App {
    /// Loads the manifest, runtime config and variables, opens the stores and compiles and
    /// pre-instantiates every component.
    pub async fn load(options: HostOptions) -> Result<Arc<Self>> {
        let manifest = Manifest::load(&options.manifest)?;
        let mut runtime =
            RuntimeConfig::load(options.runtime_config.as_deref(), &options.state_dir)?;
        if let Some(text) = &options.client_tls {
            runtime.add_client_tls(text)?;
        }
        let supplied: std::collections::BTreeMap<String, String> = options
            .variables
            .iter()
            .map(|(name, value)| (env_name(name), value.clone()))
            .collect();
        let variables = Resolved::resolve(&manifest, |k| {
            std::env::var(k).ok().or_else(|| supplied.get(k).cloned())
        })?;
        let router = Router::build(&manifest.http_triggers)?;
        let timers = Timer::from_settings(&manifest.ecoc_settings())?;
        if let Some(t) = timers
            .iter()
            .find(|t| !manifest.components.contains_key(&t.component))
        {
            return Err(Error::Variable(format!(
                "timer at {} names component `{}`, which is not defined",
                t.path, t.component
            )));
        }
        warn_unknown_tls_components(&manifest, &runtime);
        let stores = open_stores(&manifest, &runtime).await?;
        let engine = build_engine(&options)?;
        start_epoch_ticker(engine.weak());

        let mut linker: Linker<RequestState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| Error::wasmtime("linking WASI", e))?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
            .map_err(|e| Error::wasmtime("linking wasi:http", e))?;
        platform::add_to_linker(&mut linker)
            .map_err(|e| Error::wasmtime("linking the Spin interfaces", e))?;

        let mut components = BTreeMap::new();
        for (id, decl) in &manifest.components {
            let path = manifest.component_path(decl);
            let fail = |message: String| Error::Component {
                component: id.clone(),
                path: path.clone(),
                message,
            };
            let started = std::time::Instant::now();
            let code_in = if profiling() {
                compiled::CodeIn::Memory
            } else {
                compiled::CodeIn::File
            };
            let component = compiled::load(&engine, &path, cache_dir(&options).as_deref(), code_in)
                .map_err(fail)?;
            let pre = linker
                .instantiate_pre(&component)
                .and_then(ProxyPre::new)
                .map_err(|e| fail(format!("cannot be served as a Spin HTTP component: {e:#}")))?;
            let allow = AllowList::parse(id, &decl.allowed_outbound_hosts, |t| {
                variables.expand_for(id, t)
            })?;
            let info = ComponentInfo {
                id: id.clone(),
                kv_labels: decl.key_value_stores.iter().cloned().collect(),
                allow,
                client_tls: runtime.client_tls.for_component(id),
                environment: decl
                    .environment
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            };
            tracing::info!(component = %id, elapsed_ms = started.elapsed().as_millis() as u64, "component ready");
            components.insert(
                id.clone(),
                LoadedComponent {
                    info: Arc::new(info),
                    pre,
                },
            );
        }
        if let Some(dir) = cache_dir(&options) {
            let pruned = compiled::prune(&dir);
            if pruned > 0 {
                tracing::info!(dir = %dir.display(), pruned, "compiled artifacts unused for {} days deleted", compiled::UNUSED_DAYS);
            }
        }
        compiled::release_compile_memory();
        Ok(Arc::new(Self {
            name: manifest.application.name.clone(),
            settings: manifest.ecoc_settings(),
            timers,
            engine,
            router,
            components,
            shared: Arc::new(Shared {
                durability: Durability::over(stores.values()),
                stores,
                variables,
            }),
            options,
        }))
    }

    /// The application's name from the manifest.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `[application.tool.ecoc]`.
    pub fn settings(&self) -> &toml::Table {
        &self.settings
    }

    /// The timers of `[application.tool.ecoc]`, checked against the components when the app
    /// loaded; the `timer` module runs them.
    pub fn timers(&self) -> &[Timer] {
        &self.timers
    }

    /// Whether a component with this id exists.
    pub fn has_component(&self, id: &str) -> bool {
        self.components.contains_key(id)
    }

    /// Public routes, for the start-up banner: (route, component).
    pub fn public_routes(&self, manifest_triggers: &Manifest) -> Vec<(String, String)> {
        manifest_triggers
            .http_triggers
            .iter()
            .filter_map(|t| match &t.route {
                RouteDecl::Pattern(p) => Some((p.clone(), t.component.clone())),
                RouteDecl::Private => None,
            })
            .collect()
    }

    /// Key-value labels and their backends, for the start-up banner.
    pub fn store_summaries(&self) -> Vec<(String, String)> {
        self.shared
            .stores
            .iter()
            .map(|(label, b)| (label.clone(), b.summary()))
            .collect()
    }

    /// Serves a request from outside: host paths, routing, limits.
    pub async fn handle_external<B>(
        self: &Arc<Self>,
        req: Request<B>,
        origin: Origin,
    ) -> Response<WasiBody>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let path = req.uri().path().to_string();
        if let Some(host_path) = path.strip_prefix(WELL_KNOWN_PREFIX) {
            return self.well_known(host_path);
        }
        let Some(matched) = self.router.route(&path) else {
            return plain(StatusCode::NOT_FOUND, format!("no route matches {path}"));
        };
        self.serve(req, matched, origin).await
    }

    /// Holds `answer` until every write made before it is on disk (see [`Durability`]): the
    /// last step before an answer leaves for a client. The head waits here; each piece of the
    /// body waits again as it goes (a streamed answer, one line per batch row, acknowledges
    /// writes made after the head). When the disk refuses, the client gets a 503 instead (or the
    /// body breaks off) and sends again; the writes stay, and the steps that made them are
    /// idempotent.
    pub async fn durable(&self, answer: Response<WasiBody>) -> Response<WasiBody> {
        let durability = self.shared.durability.clone();
        match durability.wait().await {
            Ok(()) => answer.map(|body| DurableBody::new(body, durability).boxed_unsync()),
            Err(e) => {
                tracing::error!(error = %e, "writes could not be made durable; answer withheld");
                plain(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!(
                        "the key-value store could not make this request's writes durable ({e}); send it again"
                    ),
                )
            }
        }
    }

    /// Serves a service-chaining request to `component`.
    pub async fn handle_chained<B>(
        self: &Arc<Self>,
        req: Request<B>,
        component: &str,
        origin: Origin,
    ) -> Response<WasiBody>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let path = req.uri().path().to_string();
        self.serve(req, RouteMatch::synthetic(component, &path), origin)
            .await
    }

    fn well_known(&self, host_path: &str) -> Response<WasiBody> {
        match host_path {
            "health" => plain(StatusCode::OK, "OK"),
            "info" => {
                let body = format!(
                    "{{\"app\":{:?},\"host\":\"ecoc\",\"version\":{:?}}}",
                    self.name,
                    env!("CARGO_PKG_VERSION")
                );
                let mut resp = plain(StatusCode::OK, body);
                resp.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                resp
            }
            _ => plain(StatusCode::NOT_FOUND, "unknown host path"),
        }
    }

    async fn serve<B>(
        self: &Arc<Self>,
        req: Request<B>,
        matched: RouteMatch,
        origin: Origin,
    ) -> Response<WasiBody>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let limit = self.options.max_body_bytes;
        let (parts, body) = req.into_parts();
        let awaits_continue = parts
            .headers
            .get(http::header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        let body = match read_capped(body, limit, awaits_continue).await {
            Ok(bytes) => bytes,
            Err(BodyRead::TooLarge) => return too_large(limit),
            Err(BodyRead::Broken(e)) => {
                return plain(
                    StatusCode::BAD_REQUEST,
                    format!("cannot read the request body: {e}"),
                );
            }
        };
        let Some(component) = self.components.get(&matched.component) else {
            return plain(
                StatusCode::NOT_FOUND,
                format!("no component named `{}`", matched.component),
            );
        };
        // Cheap (shared bytes): kept for the per-request debug line.
        let uri = parts.uri.clone();
        let req = Request::from_parts(parts, body);
        let timeout = self.options.request_timeout;
        let started = std::time::Instant::now();
        match tokio::time::timeout(
            timeout,
            self.run_component(component, req, &matched, origin),
        )
        .await
        {
            Ok(resp) => {
                // One line per request and hop when `ECOC_LOG` enables `ecoc::request=debug`
                // (the benchmarks read per-hop latency from it).
                tracing::debug!(
                    target: "ecoc::request",
                    component = %matched.component,
                    path = %uri.path(),
                    status = resp.status().as_u16(),
                    head_us = started.elapsed().as_micros() as u64,
                    "answered"
                );
                resp
            }
            Err(_) => {
                tracing::warn!(component = %matched.component, timeout_ms = timeout.as_millis() as u64, "component did not answer in time");
                plain(
                    StatusCode::GATEWAY_TIMEOUT,
                    format!(
                        "component `{}` did not answer within {} ms",
                        matched.component,
                        timeout.as_millis()
                    ),
                )
            }
        }
    }

    async fn run_component(
        self: &Arc<Self>,
        component: &LoadedComponent,
        req: Request<Bytes>,
        matched: &RouteMatch,
        origin: Origin,
    ) -> Response<WasiBody> {
        let id = component.info.id.clone();
        match self
            .instantiate_and_call(component, req, matched, origin)
            .await
        {
            Ok(resp) => resp,
            Err(e)
                if e.downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
                    .is_some() =>
            {
                tracing::warn!(component = %id, error = %e, "busy: answered 503");
                busy(&id)
            }
            Err(e) => {
                tracing::error!(component = %id, error = %format!("{e:#}"), "component failed");
                plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("component `{id}` failed while handling the request"),
                )
            }
        }
    }

    async fn instantiate_and_call(
        self: &Arc<Self>,
        component: &LoadedComponent,
        req: Request<Bytes>,
        matched: &RouteMatch,
        origin: Origin,
    ) -> wasmtime::Result<Response<WasiBody>> {
        let mut wasi = WasiCtx::builder();
        wasi.inherit_stdout()
            .inherit_stderr()
            .envs(&component.info.environment);
        let state = RequestState::new(
            wasi.build(),
            OutboundHooks::new(
                self.clone(),
                component.info.clone(),
                origin,
                self.shared.durability.clone(),
            ),
            StoreLimitsBuilder::new()
                .memory_size(self.options.max_memory_bytes)
                .instances(16)
                .build(),
            component.info.clone(),
            self.shared.clone(),
        );
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| s.limits());
        // A guest running on the CPU yields to the runtime at every epoch tick: other requests
        // keep being served on the same worker, and the request timeout (which drops this
        // task) stops a guest that never answers at its next tick.
        store.set_epoch_deadline(1);
        store.epoch_deadline_async_yield_and_update(1);

        let req = with_spin_headers(req, matched, origin);
        let req = req.map(Full::new);
        let incoming = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, req)?;
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let out = store.data_mut().http().new_response_outparam(sender)?;
        let pre = component.pre.clone();
        let task = tokio::task::spawn(async move {
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, incoming, out)
                .await
        });
        let abort = task.abort_handle();
        let mut abort_on_timeout = AbortOnDrop(Some(abort));
        match receiver.await {
            Ok(Ok(resp)) => {
                // The response head is out; the task keeps streaming the body.
                abort_on_timeout.0 = None;
                Ok(resp)
            }
            Ok(Err(code)) => Err(wasmtime::format_err!(
                "component answered with an error: {code:?}"
            )),
            Err(_) => match task.await {
                Ok(Ok(())) => Err(wasmtime::format_err!(
                    "component returned without setting a response"
                )),
                Ok(Err(e)) => Err(e),
                Err(e) => Err(wasmtime::format_err!("component task failed: {e}")),
            },
        }
    }
}

/// Service chaining and `http://self` from a component's outbound HTTP.
impl InProcess for App {
    fn has_component(&self, id: &str) -> bool {
        App::has_component(self, id)
    }

    fn serve_in_process(
        self: Arc<Self>,
        request: Request<WasiBody>,
        target: Option<String>,
        origin: Origin,
    ) -> InProcessFuture {
        Box::pin(async move {
            match target {
                Some(component) => self.handle_chained(request, &component, origin).await,
                None => self.handle_external(request, origin).await,
            }
        })
    }
}

/// A response body whose every frame waits for the durability barrier before it goes out.
struct DurableBody {
    inner: WasiBody,
    durability: Durability,
    /// A frame taken from `inner`, held until its barrier completes.
    held: Option<(http_body::Frame<Bytes>, DurableFuture)>,
}

type DurableFuture =
    std::pin::Pin<Box<dyn Future<Output = std::result::Result<(), crate::kv::KvError>> + Send>>;

impl DurableBody {
    fn new(inner: WasiBody, durability: Durability) -> Self {
        Self {
            inner,
            durability,
            held: None,
        }
    }
}

impl http_body::Body for DurableBody {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<std::result::Result<http_body::Frame<Bytes>, Self::Error>>> {
        use std::task::Poll;
        let this = self.get_mut();
        loop {
            if let Some((_, barrier)) = &mut this.held {
                let done = std::task::ready!(barrier.as_mut().poll(cx));
                let (frame, _) = this.held.take().expect("held frame");
                return Poll::Ready(Some(match done {
                    Ok(()) => Ok(frame),
                    Err(e) => Err(wasmtime_wasi_http::Error::InternalError(Some(format!(
                        "answer broken off: the key-value store could not make its writes durable ({e})"
                    )))),
                }));
            }
            match std::task::ready!(http_body::Body::poll_frame(
                std::pin::Pin::new(&mut this.inner),
                cx
            )) {
                Some(Ok(frame)) => {
                    let durability = this.durability.clone();
                    this.held = Some((frame, Box::pin(async move { durability.wait().await })));
                }
                other => return Poll::Ready(other),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.held.is_none() && http_body::Body::is_end_stream(&self.inner)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        let mut hint = http_body::Body::size_hint(&self.inner);
        let held = self
            .held
            .as_ref()
            .and_then(|(frame, _)| frame.data_ref())
            .map_or(0, |data| data.len() as u64);
        if let Some(upper) = hint.upper() {
            hint.set_upper(upper + held);
        }
        hint.set_lower(hint.lower() + held);
        hint
    }
}

/// Aborts the guest task when the request is dropped (a timeout) before the response head.
struct AbortOnDrop(Option<tokio::task::AbortHandle>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            h.abort();
        }
    }
}

fn too_large(limit: usize) -> Response<WasiBody> {
    let mut resp = plain(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("request body exceeds the limit of {limit} bytes"),
    );
    resp.headers_mut()
        .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// What the client still sends after its body went over the limit is read and dropped, up to
/// this many bytes...
const DRAIN_BYTES: u64 = 64 * 1024 * 1024;
/// ...and for at most this long.
const DRAIN_TIME: Duration = Duration::from_secs(2);

enum BodyRead {
    TooLarge,
    Broken(Box<dyn std::error::Error + Send + Sync>),
}

/// Reads a request body of at most `limit` bytes.
///
/// A body over the limit (declared or counted) is not kept, but what the client still sends is
/// read and dropped (within [`DRAIN_BYTES`] and [`DRAIN_TIME`]) before the 413 goes out. A server
/// that closes the connection with the client's bytes unread makes the kernel answer them with a
/// reset, and the reset can destroy the 413 before the client has read it: the client then sees
/// only a broken connection and never learns why. A client that declared too much and waits for
/// `100 Continue` has sent nothing yet: it gets its 413 at once (reading would invite the upload).
async fn read_capped<B>(
    body: B,
    limit: usize,
    awaits_continue: bool,
) -> std::result::Result<Bytes, BodyRead>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut body = std::pin::pin!(body);
    let declared_over = body.size_hint().exact().is_some_and(|n| n > limit as u64);
    if declared_over && awaits_continue {
        return Err(BodyRead::TooLarge);
    }
    if !declared_over {
        let mut kept = bytes::BytesMut::new();
        loop {
            let Some(frame) = body.frame().await else {
                return Ok(kept.freeze());
            };
            let frame = frame.map_err(|e| BodyRead::Broken(e.into()))?;
            if let Ok(data) = frame.into_data() {
                if kept.len() + data.len() > limit {
                    break;
                }
                kept.extend_from_slice(&data);
            }
        }
    }
    let drain = async {
        let mut dropped: u64 = 0;
        while dropped <= DRAIN_BYTES {
            match body.frame().await {
                Some(Ok(frame)) => {
                    dropped += frame.data_ref().map_or(0, |d| d.len() as u64);
                }
                Some(Err(_)) | None => break,
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, drain).await;
    Err(BodyRead::TooLarge)
}

/// Adds the headers Spin gives a component about its route and caller.
fn with_spin_headers(
    mut req: Request<Bytes>,
    matched: &RouteMatch,
    origin: Origin,
) -> Request<Bytes> {
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .unwrap_or("localhost")
        .to_string();
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let scheme = req.uri().scheme_str().unwrap_or("http").to_string();
    let mut pairs = vec![
        (
            "spin-full-url".to_string(),
            format!("{scheme}://{host}{path_and_query}"),
        ),
        ("spin-path-info".to_string(), matched.path_info.clone()),
        ("spin-matched-route".to_string(), matched.raw_route.clone()),
        ("spin-base-path".to_string(), "/".to_string()),
        (
            "spin-raw-component-route".to_string(),
            matched.raw_route.clone(),
        ),
        (
            "spin-component-route".to_string(),
            matched.component_route().to_string(),
        ),
        (
            "spin-client-addr".to_string(),
            origin.client_addr.to_string(),
        ),
        (CHAIN_DEPTH_HEADER.to_string(), origin.depth.to_string()),
    ];
    for (name, value) in &matched.named {
        pairs.push((
            format!("spin-path-match-{}", name.to_ascii_lowercase()),
            value.clone(),
        ));
    }
    let headers = req.headers_mut();
    headers.remove(http::header::CONNECTION);
    for (name, value) in pairs {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.insert(name, value);
        }
    }
    if !headers.contains_key(http::header::HOST)
        && let Ok(v) = HeaderValue::from_str(&host)
    {
        headers.insert(http::header::HOST, v);
    }
    req
}

/// Whether `ECOC_PERFMAP` asks for a host `perf` can profile (see [`build_engine`]).
fn profiling() -> bool {
    std::env::var_os("ECOC_PERFMAP").is_some()
}

fn build_engine(options: &HostOptions) -> Result<Engine> {
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    if profiling() {
        // Names JIT code in `perf report` (/tmp/perf-<pid>.map); for profiling runs only.
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    let mut pooling = wasmtime::PoolingAllocationConfig::default();
    pooling
        .total_component_instances(options.max_instances)
        .total_core_instances(options.max_instances * 4)
        .total_memories(options.max_instances * 2)
        .total_tables(options.max_instances * 4)
        .max_memory_size(options.max_memory_bytes)
        // Reset the first pages of a slot by memset instead of madvise: a fresh instance per
        // request otherwise pays page faults and TLB shootdowns on every request.
        .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
        .table_keep_resident(KEEP_RESIDENT_BYTES / 16);
    config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pooling));
    Engine::new(&config).map_err(|e| Error::wasmtime("creating the wasmtime engine", e))
}

/// Where compiled components are kept, if they are ([`crate::compiled`]).
fn cache_dir(options: &HostOptions) -> Option<PathBuf> {
    options.compile_cache.then(|| {
        let dir = options
            .cache_dir
            .clone()
            .unwrap_or_else(|| options.state_dir.join("cache"));
        std::path::absolute(&dir).unwrap_or(dir)
    })
}

/// Advances the engine's epoch so deadlines fire; stops when the engine is gone.
fn start_epoch_ticker(engine: wasmtime::EngineWeak) {
    std::thread::Builder::new()
        .name("epoch-ticker".into())
        .spawn(move || {
            while let Some(engine) = engine.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .ok();
}

/// A `[[client_tls]]` entry naming a component the app does not have is allowed (Spin allows it:
/// one runtime config may serve several apps), but worth a warning: it is often a typo.
fn warn_unknown_tls_components(manifest: &Manifest, runtime: &RuntimeConfig) {
    for entry in runtime.client_tls.entries() {
        for id in entry.component_ids() {
            if !manifest.components.contains_key(id) {
                tracing::warn!(
                    entry = entry.entry(),
                    component = %id,
                    "runtime config: [[client_tls]] names a component this app does not have"
                );
            }
        }
    }
}

async fn open_stores(
    manifest: &Manifest,
    runtime: &RuntimeConfig,
) -> Result<BTreeMap<String, Arc<Backend>>> {
    let mut used: BTreeMap<&str, &str> = BTreeMap::new();
    for (id, decl) in &manifest.components {
        for label in &decl.key_value_stores {
            used.entry(label.as_str()).or_insert(id.as_str());
        }
    }
    let mut stores = BTreeMap::new();
    let mut sqlite_by_path: BTreeMap<PathBuf, Arc<Backend>> = BTreeMap::new();
    for (label, component) in used {
        let fail = |message: String| Error::KeyValue {
            label: label.to_string(),
            message,
        };
        let config = runtime.key_value_stores.get(label).ok_or_else(|| {
            fail(format!(
                "used by component `{component}` but not configured in the runtime config (add [key_value_store.{label}])"
            ))
        })?;
        let backend = match config {
            StoreConfig::Sqlite { path } => {
                if let Some(b) = sqlite_by_path.get(path) {
                    b.clone()
                } else {
                    let b = Arc::new(Backend::Sqlite(SqliteBackend::open(path).map_err(fail)?));
                    sqlite_by_path.insert(path.clone(), b.clone());
                    b
                }
            }
            StoreConfig::Redis { url } => Arc::new(Backend::Redis(
                RedisBackend::connect(url).await.map_err(fail)?,
            )),
        };
        stores.insert(label.to_string(), backend);
    }
    Ok(stores)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write made after the answer's head (as a streamed batch answer makes them) is on disk
    /// before the body that follows it goes out.
    #[tokio::test(flavor = "multi_thread")]
    async fn each_piece_of_an_answer_waits_for_the_writes_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = SqliteBackend::open(&dir.path().join("kv.db")).unwrap();
        let backend = Arc::new(Backend::Sqlite(sqlite));
        let body: WasiBody = Full::new(Bytes::from_static(b"row 1 accepted\n"))
            .map_err(|never| match never {})
            .boxed_unsync();
        let durable = DurableBody::new(body, Durability::over([&backend]));
        backend
            .set("default", "row-1", b"x".to_vec())
            .await
            .unwrap();
        let Backend::Sqlite(sqlite) = &*backend else {
            unreachable!()
        };
        assert_eq!(sqlite.fsyncs(), 0);
        let sent = durable.collect().await.unwrap().to_bytes();
        assert_eq!(&sent[..], b"row 1 accepted\n");
        assert_eq!(
            sqlite.fsyncs(),
            1,
            "the write was synced before the piece went out"
        );
    }
}
