//! The Spin platform interfaces a component may import beyond WASI:
//! `fermyon:spin/key-value@2.0.0` and `fermyon:spin/variables@2.0.0`.

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker, Resource};

use crate::app::RequestState;
use crate::kv::Backend;

mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "ecoc:host/spin-platform",
        imports: { default: async | trappable },
        with: {
            "fermyon:spin/key-value.store": super::OpenStore,
        },
    });
}

use bindings::fermyon::spin::{key_value, variables};

/// An open store: the label the guest opened and the backend behind it.
#[derive(Debug)]
pub struct OpenStore {
    label: String,
    backend: Arc<Backend>,
}

/// Adds both interfaces to `linker`.
pub fn add_to_linker(linker: &mut Linker<RequestState>) -> wasmtime::Result<()> {
    key_value::add_to_linker::<RequestState, HasSelf<RequestState>>(linker, |s| s)?;
    variables::add_to_linker::<RequestState, HasSelf<RequestState>>(linker, |s| s)?;
    Ok(())
}

fn kv_error(e: crate::kv::KvError) -> key_value::Error {
    key_value::Error::Other(e.to_string())
}

impl key_value::Host for RequestState {}

impl key_value::HostStore for RequestState {
    async fn open(
        &mut self,
        label: String,
    ) -> wasmtime::Result<Result<Resource<OpenStore>, key_value::Error>> {
        if !self.component.kv_labels.contains(&label) {
            tracing::warn!(
                component = %self.component.id,
                label = %label,
                "key-value store not declared in key_value_stores: access denied"
            );
            return Ok(Err(key_value::Error::AccessDenied));
        }
        let Some(backend) = self.app.store_backend(&label) else {
            return Ok(Err(key_value::Error::NoSuchStore));
        };
        let handle = self.table.push(OpenStore { label, backend })?;
        Ok(Ok(handle))
    }

    async fn get(
        &mut self,
        store: Resource<OpenStore>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, key_value::Error>> {
        let s = self.table.get(&store)?;
        Ok(s.backend.get(&s.label, &key).await.map_err(kv_error))
    }

    async fn set(
        &mut self,
        store: Resource<OpenStore>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), key_value::Error>> {
        let s = self.table.get(&store)?;
        Ok(s.backend.set(&s.label, &key, value).await.map_err(kv_error))
    }

    async fn delete(
        &mut self,
        store: Resource<OpenStore>,
        key: String,
    ) -> wasmtime::Result<Result<(), key_value::Error>> {
        let s = self.table.get(&store)?;
        Ok(s.backend.delete(&s.label, &key).await.map_err(kv_error))
    }

    async fn exists(
        &mut self,
        store: Resource<OpenStore>,
        key: String,
    ) -> wasmtime::Result<Result<bool, key_value::Error>> {
        let s = self.table.get(&store)?;
        Ok(s.backend.exists(&s.label, &key).await.map_err(kv_error))
    }

    async fn get_keys(
        &mut self,
        store: Resource<OpenStore>,
    ) -> wasmtime::Result<Result<Vec<String>, key_value::Error>> {
        let s = self.table.get(&store)?;
        Ok(s.backend.get_keys(&s.label).await.map_err(kv_error))
    }

    async fn drop(&mut self, store: Resource<OpenStore>) -> wasmtime::Result<()> {
        self.table.delete(store)?;
        Ok(())
    }
}

impl variables::Host for RequestState {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<String, variables::Error>> {
        use crate::variables::GetError;
        Ok(self
            .app
            .variables()
            .get(&self.component.id, &name)
            .map_err(|e| match e {
                GetError::InvalidName(m) => variables::Error::InvalidName(m),
                GetError::Undefined(m) => variables::Error::Undefined(m),
            }))
    }
}
