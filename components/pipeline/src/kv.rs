//! The key-value store as the pipeline sees it: Spin's `key-value@2.0.0` operations, per store label.
//!
//! Spin's interface has no compare-and-swap and no prefix listing (`get_keys` returns every key of a
//! store), so the pipeline keeps small, purpose-made stores beside `default` whose whole key list is
//! the index it needs (see [`Stores`]).

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::{Error, Result};

/// One store label's operations (Spin's `key-value` store resource).
pub trait KeyValue {
    /// The value of `key`, if any.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;
    /// Sets `key` (durable when this returns).
    fn set(&self, key: &str, value: &[u8]) -> Result<()>;
    /// Deletes `key` (no error when absent).
    fn delete(&self, key: &str) -> Result<()>;
    /// Every key of the store.
    fn get_keys(&self) -> Result<Vec<String>>;

    /// Reads a JSON value.
    fn get_json<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>>
    where
        Self: Sized,
    {
        self.get(key)?
            .map(|bytes| serde_json::from_slice(&bytes).map_err(|e| Error::corrupt(key, e)))
            .transpose()
    }

    /// Writes a JSON value.
    fn set_json<T: serde::Serialize>(&self, key: &str, value: &T) -> Result<()>
    where
        Self: Sized,
    {
        let bytes = serde_json::to_vec(value).map_err(|e| Error::Internal(e.to_string()))?;
        self.set(key, &bytes)
    }
}

/// The store labels the pipeline uses; each must be declared in `spin.toml` (`key_value_stores`) and,
/// except `default`, configured in `runtime-config.toml`.
#[derive(Debug)]
pub struct Stores<K> {
    /// `default`: tenants, tokens, mappings, approvals, records, XML, duplicate keys.
    pub data: K,
    /// `claims`: in-flight duplicate-key claims only (see [`crate::claims`]).
    pub claims: K,
    /// `work`: one key per record that still needs work (`{tenant}/{record}`): the resume sweep's list.
    pub work: K,
    /// `vins`: one key per record, `{tenant}/{VIN}/{record}`: VIN search without reading records.
    pub vins: K,
    /// `failures`: one key per failure, `{date}/{tenant}/{record}`: the day's digest.
    pub failures: K,
}

/// Label names, in [`Stores`] field order.
pub const STORE_LABELS: [&str; 5] = ["default", "claims", "work", "vins", "failures"];

impl<K> Stores<K> {
    /// Opens every label with `open`.
    pub fn open_with(mut open: impl FnMut(&str) -> Result<K>) -> Result<Self> {
        Ok(Self {
            data: open(STORE_LABELS[0])?,
            claims: open(STORE_LABELS[1])?,
            work: open(STORE_LABELS[2])?,
            vins: open(STORE_LABELS[3])?,
            failures: open(STORE_LABELS[4])?,
        })
    }
}

/// An in-memory store for tests and native tools; thread-safe so concurrency can be tested.
#[derive(Debug, Default)]
pub struct MemoryKv {
    map: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl MemoryKv {
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>>> {
        self.map
            .lock()
            .map_err(|_| Error::Store("memory store poisoned".into()))
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl KeyValue for MemoryKv {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.lock()?.get(key).cloned())
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<()> {
        self.lock()?.insert(key.to_owned(), value.to_vec());
        Ok(())
    }
    fn delete(&self, key: &str) -> Result<()> {
        self.lock()?.remove(key);
        Ok(())
    }
    fn get_keys(&self) -> Result<Vec<String>> {
        Ok(self.lock()?.keys().cloned().collect())
    }
}

impl Stores<MemoryKv> {
    /// Five empty in-memory stores.
    pub fn in_memory() -> Self {
        Self {
            data: MemoryKv::default(),
            claims: MemoryKv::default(),
            work: MemoryKv::default(),
            vins: MemoryKv::default(),
            failures: MemoryKv::default(),
        }
    }
}
