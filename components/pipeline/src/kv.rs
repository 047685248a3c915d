//! The key-value store as the pipeline sees it: Spin's `key-value@2.0.0` operations, per store label.
//!
//! Spin's interface has no compare-and-swap and no prefix listing (`get_keys` returns every key of a
//! store), so the pipeline keeps small, purpose-made stores beside `default` whose whole key list is
//! the index it needs (see [`Stores`]).

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

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

/// The store labels the pipeline uses; a component declares in `spin.toml` (`key_value_stores`)
/// only those it touches, and every label but `default` is configured in `runtime-config.toml`.
#[derive(Debug)]
pub struct Stores<K> {
    /// `default`: tenants, tokens, mappings, approvals, records, XML, duplicate keys.
    pub data: LazyStore<K>,
    /// `claims`: in-flight claims only (see [`crate::claims`]).
    pub claims: LazyStore<K>,
    /// `work`: one key per record that still needs work: the resume sweep's list.
    pub work: LazyStore<K>,
    /// `vins`: one key per record: VIN search without reading records.
    pub vins: LazyStore<K>,
    /// `failures`: one key per failure and day: the day's digest.
    pub failures: LazyStore<K>,
    /// `audit`: one key per record event or settings change not yet in the tenant's audit chain
    /// ([`crate::audit`]).
    pub audit: LazyStore<K>,
    /// `seen`: one key per webhook signature already used, keyed by its timestamp so the
    /// digest run prunes those past any replay window ([`crate::tenant::prune_webhook_marks`]).
    pub seen: LazyStore<K>,
}

/// Label names, in [`Stores`] field order.
pub const STORE_LABELS: [&str; 7] = [
    "default", "claims", "work", "vins", "failures", "audit", "seen",
];

/// How a label is opened.
pub type Opener<K> = fn(&str) -> Result<K>;

/// One label, opened the first time it is used: a component that never touches a label never
/// opens it, so it needs only the labels it uses (Spin refuses a label a component did not declare).
pub struct LazyStore<K> {
    label: &'static str,
    open: Opener<K>,
    opened: OnceLock<K>,
}

impl<K> std::fmt::Debug for LazyStore<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyStore")
            .field("label", &self.label)
            .field("opened", &self.opened.get().is_some())
            .finish()
    }
}

impl<K> LazyStore<K> {
    /// A label that `open` opens on first use.
    pub fn new(label: &'static str, open: Opener<K>) -> Self {
        Self {
            label,
            open,
            opened: OnceLock::new(),
        }
    }

    /// A label already open.
    pub fn opened(label: &'static str, store: K) -> Self {
        let opened = OnceLock::new();
        let _ = opened.set(store);
        Self {
            label,
            open: |label| Err(Error::Store(format!("store `{label}` cannot be reopened"))),
            opened,
        }
    }

    /// The label.
    pub fn label(&self) -> &'static str {
        self.label
    }

    /// The open store, opening it now if this is its first use.
    pub fn store(&self) -> Result<&K> {
        if let Some(store) = self.opened.get() {
            return Ok(store);
        }
        let store = (self.open)(self.label)?;
        // Another thread may have opened it meanwhile: either store is fine.
        let _ = self.opened.set(store);
        self.opened
            .get()
            .ok_or_else(|| Error::Store(format!("store `{}` did not open", self.label)))
    }
}

impl<K: KeyValue> KeyValue for LazyStore<K> {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.store()?.get(key)
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<()> {
        self.store()?.set(key, value)
    }
    fn delete(&self, key: &str) -> Result<()> {
        self.store()?.delete(key)
    }
    fn get_keys(&self) -> Result<Vec<String>> {
        self.store()?.get_keys()
    }
}

impl<K> Stores<K> {
    /// Every label, each opened with `open` when first used.
    pub fn lazy(open: Opener<K>) -> Self {
        let [data, claims, work, vins, failures, audit, seen] = STORE_LABELS;
        Self {
            data: LazyStore::new(data, open),
            claims: LazyStore::new(claims, open),
            work: LazyStore::new(work, open),
            vins: LazyStore::new(vins, open),
            failures: LazyStore::new(failures, open),
            audit: LazyStore::new(audit, open),
            seen: LazyStore::new(seen, open),
        }
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
    /// Empty in-memory stores, one per label.
    pub fn in_memory() -> Self {
        let [data, claims, work, vins, failures, audit, seen] =
            STORE_LABELS.map(|label| LazyStore::opened(label, MemoryKv::default()));
        Self {
            data,
            claims,
            work,
            vins,
            failures,
            audit,
            seen,
        }
    }
}

impl LazyStore<MemoryKv> {
    /// Number of keys.
    pub fn len(&self) -> usize {
        self.store().map(MemoryKv::len).unwrap_or(0)
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn a_label_opens_on_first_use_only() {
        let stores: Stores<MemoryKv> = Stores::lazy(|label| match label {
            "default" => Ok(MemoryKv::default()),
            other => Err(Error::Store(format!("access to `{other}` denied"))),
        });
        stores.data.set("k", b"v").unwrap();
        assert_eq!(stores.data.get("k").unwrap().as_deref(), Some(&b"v"[..]));
        let refused = stores.failures.get_keys().unwrap_err();
        assert!(
            refused.to_string().contains("`failures` denied"),
            "{refused}"
        );
    }
}
