//! The Spin platform interfaces a component may import beyond WASI:
//! `fermyon:spin/key-value@2.0.0` and `fermyon:spin/variables@2.0.0`.
//!
//! The calls are written once, over the [`Platform`] trait; each kind of store decides what a
//! component may reach: a request's store (`RequestState`, in `request.rs`) its declared stores
//! and its variables, a component being pre-initialised (`InitState`, in `preinit.rs`) nothing.

use std::sync::Arc;

use wasmtime::component::{HasData, Linker, Resource};

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

pub(crate) use bindings::fermyon::spin::{key_value, variables};

/// An open store: the label the guest opened and the backend behind it.
#[derive(Debug)]
pub struct OpenStore {
    label: String,
    backend: Arc<Backend>,
}

impl OpenStore {
    /// Store `label`, kept in `backend`.
    pub(crate) fn new(label: String, backend: Arc<Backend>) -> Self {
        Self { label, backend }
    }
}

/// What a store's owner decides for the Spin interfaces; the calls themselves are shared.
pub(crate) trait Platform: Send {
    /// The store's resource table.
    fn table(&mut self) -> &mut wasmtime::component::ResourceTable;
    /// Opens key-value store `label`, or says why not.
    fn open_store(&mut self, label: String) -> Result<OpenStore, key_value::Error>;
    /// The value of variable `name`.
    fn variable(&mut self, name: &str) -> Result<String, variables::Error>;
}

/// A store's state seen through [`Platform`] (the interfaces' calls are written once for all).
pub(crate) struct View<'a, T>(&'a mut T);

struct Viewed<T>(std::marker::PhantomData<T>);

impl<T: 'static> HasData for Viewed<T> {
    type Data<'a> = View<'a, T>;
}

/// Adds both interfaces to `linker`.
pub(crate) fn add_to_linker<T: Platform + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    fn view<T>(state: &mut T) -> View<'_, T> {
        View(state)
    }
    key_value::add_to_linker::<T, Viewed<T>>(linker, view)?;
    variables::add_to_linker::<T, Viewed<T>>(linker, view)?;
    Ok(())
}

fn kv_error(e: crate::kv::KvError) -> key_value::Error {
    key_value::Error::Other(e.to_string())
}

impl<T: Platform> key_value::Host for View<'_, T> {}

impl<T: Platform> key_value::HostStore for View<'_, T> {
    async fn open(
        &mut self,
        label: String,
    ) -> wasmtime::Result<Result<Resource<OpenStore>, key_value::Error>> {
        match self.0.open_store(label) {
            Ok(store) => Ok(Ok(self.0.table().push(store)?)),
            Err(e) => Ok(Err(e)),
        }
    }

    async fn get(
        &mut self,
        store: Resource<OpenStore>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, key_value::Error>> {
        let s = self.0.table().get(&store)?;
        Ok(s.backend.get(&s.label, &key).await.map_err(kv_error))
    }

    async fn set(
        &mut self,
        store: Resource<OpenStore>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), key_value::Error>> {
        let s = self.0.table().get(&store)?;
        Ok(s.backend.set(&s.label, &key, value).await.map_err(kv_error))
    }

    async fn delete(
        &mut self,
        store: Resource<OpenStore>,
        key: String,
    ) -> wasmtime::Result<Result<(), key_value::Error>> {
        let s = self.0.table().get(&store)?;
        Ok(s.backend.delete(&s.label, &key).await.map_err(kv_error))
    }

    async fn exists(
        &mut self,
        store: Resource<OpenStore>,
        key: String,
    ) -> wasmtime::Result<Result<bool, key_value::Error>> {
        let s = self.0.table().get(&store)?;
        Ok(s.backend.exists(&s.label, &key).await.map_err(kv_error))
    }

    async fn get_keys(
        &mut self,
        store: Resource<OpenStore>,
    ) -> wasmtime::Result<Result<Vec<String>, key_value::Error>> {
        let s = self.0.table().get(&store)?;
        Ok(s.backend.get_keys(&s.label).await.map_err(kv_error))
    }

    async fn drop(&mut self, store: Resource<OpenStore>) -> wasmtime::Result<()> {
        self.0.table().delete(store)?;
        Ok(())
    }
}

impl<T: Platform> variables::Host for View<'_, T> {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<String, variables::Error>> {
        Ok(self.0.variable(&name))
    }
}
