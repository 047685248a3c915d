//! The data of one request's store: WASI, `wasi:http` with its outbound hooks, the memory
//! limits, the component being run and what the app shares with every request (stores and
//! variables). It decides what the component reaches through the Spin interfaces: only the
//! key-value stores it declares, and its own variables.

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::chaining::OutboundHooks;
use crate::component::ComponentInfo;
use crate::kv::{Backend, Durability};
use crate::platform::{OpenStore, Platform, key_value, variables};
use crate::variables::{GetError, Resolved};

/// What every request of an app reads beyond its component: the key-value stores by label,
/// their durability barrier and the resolved variables.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) stores: BTreeMap<String, Arc<Backend>>,
    pub(crate) durability: Durability,
    pub(crate) variables: Resolved,
}

/// Per-request store data.
pub struct RequestState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: OutboundHooks,
    limits: StoreLimits,
    component: Arc<ComponentInfo>,
    shared: Arc<Shared>,
}

impl RequestState {
    /// The store data for one request to `component`.
    pub(crate) fn new(
        wasi: WasiCtx,
        hooks: OutboundHooks,
        limits: StoreLimits,
        component: Arc<ComponentInfo>,
        shared: Arc<Shared>,
    ) -> Self {
        Self {
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks,
            limits,
            component,
            shared,
        }
    }

    /// The store's resource limits (for `Store::limiter`).
    pub(crate) fn limits(&mut self) -> &mut StoreLimits {
        &mut self.limits
    }
}

impl std::fmt::Debug for RequestState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestState")
            .field("component", &self.component.id)
            .finish_non_exhaustive()
    }
}

impl WasiView for RequestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for RequestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl Platform for RequestState {
    fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    fn open_store(&mut self, label: String) -> Result<OpenStore, key_value::Error> {
        if !self.component.kv_labels.contains(&label) {
            tracing::warn!(
                component = %self.component.id,
                label = %label,
                "key-value store not declared in key_value_stores: access denied"
            );
            return Err(key_value::Error::AccessDenied);
        }
        let backend = self
            .shared
            .stores
            .get(&label)
            .cloned()
            .ok_or(key_value::Error::NoSuchStore)?;
        Ok(OpenStore::new(label, backend))
    }

    fn variable(&mut self, name: &str) -> Result<String, variables::Error> {
        self.shared
            .variables
            .get(&self.component.id, name)
            .map_err(|e| match e {
                GetError::InvalidName(m) => variables::Error::InvalidName(m),
                GetError::Undefined(m) => variables::Error::Undefined(m),
            })
    }
}
