//! `ecoc preinit`: pre-initialises a component (wasmtime's Wizer): instantiates it once, calls
//! its `wizer-initialize` export, and writes a new component whose memory starts as that call
//! left it. A function whose start-up work is large and always the same (`validate` compiling the
//! official schema) then begins every request with that work done, on any runtime: the result is
//! an ordinary component, for Spin as for `ecoc up`.
//!
//! During the call the component has WASI (clocks, random) and nothing else: opening a key-value
//! store, reading a variable or sending a request is refused, so no deployment state can end up
//! in the snapshot.

use std::path::Path;

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{
    Error as HttpError, RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks,
    WasiHttpView,
};

use crate::error::{Error, Result};
use crate::platform::{self, OpenStore, Platform, key_value, variables};

pub(crate) struct InitState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: NoOutbound,
}

/// Every outbound request of a component being pre-initialised is denied.
struct NoOutbound;

type IoFuture = Box<dyn Future<Output = std::result::Result<(), HttpError>> + Send>;

impl WasiHttpHooks for NoOutbound {
    fn send_request(
        &mut self,
        _request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> Box<
        dyn Future<Output = std::result::Result<(http::Response<WasiBody>, IoFuture), HttpError>>
            + Send,
    > {
        Box::new(async { Err(HttpError::HttpRequestDenied) })
    }
}

impl WasiView for InitState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for InitState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// A component being pre-initialised reaches no store and no variable: nothing of a deployment
/// may end up in its snapshot.
impl Platform for InitState {
    fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    fn open_store(&mut self, _label: String) -> std::result::Result<OpenStore, key_value::Error> {
        Err(key_value::Error::AccessDenied)
    }

    fn variable(&mut self, name: &str) -> std::result::Result<String, variables::Error> {
        Err(variables::Error::Undefined(format!(
            "`{name}`: no variables while pre-initialising"
        )))
    }
}

/// The export `ecoc preinit` calls.
pub const INIT_EXPORT: &str = "wizer-initialize";

/// What [`preinit`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preinit {
    /// The snapshot was written.
    Done,
    /// The component has no `wizer-initialize` export (not made for it, or pre-initialised
    /// already): nothing was written.
    NotApplicable,
}

/// [`preinit`] on a runtime of its own, for callers outside one (`ecoc build`).
pub fn preinit_blocking(input: &Path, output: &Path) -> Result<Preinit> {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| Error::Component {
            component: "preinit".into(),
            path: input.to_owned(),
            message: format!("cannot start a runtime: {e}"),
        })?
        .block_on(preinit(input, output))
}

/// Pre-initialises the component at `input` and writes the result to `output` (which may be
/// `input`).
pub async fn preinit(input: &Path, output: &Path) -> Result<Preinit> {
    let fail = |message: String| Error::Component {
        component: "preinit".into(),
        path: input.to_owned(),
        message,
    };
    let wasm = std::fs::read(input).map_err(|e| fail(format!("cannot read: {e}")))?;
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true);
    let engine = Engine::new(&config).map_err(|e| Error::wasmtime("creating the engine", e))?;
    let component = Component::new(&engine, &wasm).map_err(|e| fail(format!("{e:#}")))?;
    if component.get_export(None, INIT_EXPORT).is_none() {
        return Ok(Preinit::NotApplicable);
    }
    let mut store = Store::new(
        &engine,
        InitState {
            wasi: WasiCtx::builder().inherit_stderr().build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks: NoOutbound,
        },
    );
    let mut wizer = wasmtime_wizer::Wizer::new();
    wizer.init_func(INIT_EXPORT);
    // The component-level export stays (it lifts the core export); calling it again is harmless.
    wizer.keep_init_func(true);
    let (snapshot, _) = wizer
        .run_component(&mut store, &wasm, async |store, component: &Component| {
            let mut linker: Linker<InitState> = Linker::new(store.engine());
            wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
            // Present (a component may import it) but any request it sends fails: see above.
            wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
            platform::add_to_linker(&mut linker)?;
            linker.instantiate_async(store, component).await
        })
        .await
        .map_err(|e| fail(format!("{e:#}")))?;
    // Written beside and renamed over: `output` may be cargo's hard link to its own artifact.
    let partial = output.with_extension("wasm.partial");
    std::fs::write(&partial, &snapshot)
        .and_then(|()| std::fs::rename(&partial, output))
        .map_err(|e| fail(format!("cannot write {}: {e}", output.display())))?;
    Ok(Preinit::Done)
}
