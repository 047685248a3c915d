//! The VIN index: every record of a tenant by VIN and by creation, kept in sorted buckets in
//! `default`, so a search, a lookup of a vehicle's earlier stage or a summary reads a few small
//! documents instead of listing a key per record of every tenant.
//!
//! Spin's key-value interface lists only a whole label and has no compare-and-swap, so:
//! - A new record writes its own key in `vins` (`{tenant}/{VIN}/{id}`, [`crate::keys::vin_entry`]):
//!   no shared document is read and rewritten on the way in, and concurrent admissions cannot lose
//!   an entry. `vins` holds only entries not yet folded.
//! - The sweep's tick ([`fold`]) moves them, under a lock of its own (one writer), into two
//!   [`SortedIndex`]es per tenant: `vin` (`{VIN}/{id}`) and `new` (`{id}/{VIN}`; ids sort by
//!   creation time, [`crate::ids::record_id`]). It writes the buckets, then the directory, and
//!   only then deletes the `vins` keys it folded.
//! - A reader lists `vins` first and reads the index after: an entry deleted from `vins` in
//!   between was in the index before it was deleted. So every record is found, folded or not.
//!   Where no sweep runs, `vins` keeps growing and reads cost what a listing costs; nothing is lost.
//!
//! A [`SortedIndex`] is a two-level tree: a directory document (each bucket's lowest entry, id and
//! size) and bucket documents of at most [`BUCKET_MAX`] entries, one per line. A bucket that
//! grows past that is split copy-on-write (new buckets, then the directory, then the old bucket
//! deleted), so a fold killed at any point leaves the index as it was or with its entries; the
//! `vins` keys still there fold again (inserting an entry twice changes nothing).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};

use crate::kv::{KeyValue, Stores};
use crate::{Error, Result, claims, keys};

/// Most entries of one bucket document (about 45 bytes each: ~90 KB).
pub const BUCKET_MAX: usize = 2_000;

/// Entries a bucket split leaves in each new bucket: room to grow before the next split.
const BUCKET_FILL: usize = BUCKET_MAX * 3 / 4;

/// Most `vins` entries one [`fold`] moves (each costs a durable delete): a store carried over from
/// before the index folds over several ticks.
pub const FOLD_LIMIT: usize = 5_000;

/// Above every character of an entry (letters, digits, `-`, `/`): the end of a prefix range.
const AFTER_ALL: char = '\u{7f}';

/// The index by VIN: entries `{VIN}/{id}`.
pub const BY_VIN: &str = "vin";
/// The index by creation: entries `{id}/{VIN}`.
pub const BY_CREATION: &str = "new";

/// A sorted set of short text entries in one key-value store, bucketed under one directory.
#[derive(Debug)]
pub struct SortedIndex<'s, K> {
    store: &'s K,
    tenant: &'s str,
    name: &'static str,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Directory {
    /// The id the next new bucket gets (ids are never reused).
    next: u64,
    /// By `lo`; the first bucket's `lo` is empty.
    buckets: Vec<Bucket>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Bucket {
    /// Its lowest possible entry: it holds entries from `lo` up to the next bucket's `lo`.
    lo: String,
    id: u64,
    len: usize,
}

impl<'s, K: KeyValue> SortedIndex<'s, K> {
    /// `tenant`'s index `name` ([`BY_VIN`], [`BY_CREATION`]) in `store`.
    pub fn new(store: &'s K, tenant: &'s str, name: &'static str) -> Self {
        SortedIndex {
            store,
            tenant,
            name,
        }
    }

    fn directory(&self) -> Result<Directory> {
        let key = keys::index_directory(self.tenant, self.name);
        Ok(self.store.get_json(&key)?.unwrap_or_default())
    }

    /// A bucket's entries; `None` when it is gone (a concurrent split replaced it).
    fn bucket(&self, id: u64) -> Result<Option<Vec<String>>> {
        let key = keys::index_bucket(self.tenant, self.name, id);
        let Some(bytes) = self.store.get(&key)? else {
            return Ok(None);
        };
        let text = String::from_utf8(bytes).map_err(|e| Error::corrupt(&key, e))?;
        Ok(Some(text.lines().map(str::to_owned).collect()))
    }

    fn put_bucket(&self, id: u64, entries: &[String]) -> Result<()> {
        self.store.set(
            &keys::index_bucket(self.tenant, self.name, id),
            entries.join("\n").as_bytes(),
        )
    }

    /// Every entry from `lo` (inclusive) to `hi` (exclusive), ascending.
    pub fn range(&self, lo: &str, hi: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        self.descending(Some(hi), |entry| {
            if entry < lo {
                return Ok(ControlFlow::Break(()));
            }
            out.push(entry.to_owned());
            Ok(ControlFlow::Continue(()))
        })?;
        out.reverse();
        Ok(out)
    }

    /// Every entry starting with `prefix`, ascending.
    pub fn with_prefix(&self, prefix: &str) -> Result<Vec<String>> {
        self.range(prefix, &format!("{prefix}{AFTER_ALL}"))
    }

    /// Shows `visit` each entry below `below` (all when `None`), highest first, until it breaks.
    /// Reads one bucket at a time; a bucket a concurrent split replaced is found again from a
    /// fresh directory, from where the walk stopped.
    pub fn descending(
        &self,
        below: Option<&str>,
        mut visit: impl FnMut(&str) -> Result<ControlFlow<()>>,
    ) -> Result<()> {
        let mut below: Option<String> = below.map(str::to_owned);
        for _attempt in 0..4 {
            let directory = self.directory()?;
            let mut replaced = false;
            for bucket in directory.buckets.iter().rev() {
                if below.as_deref().is_some_and(|b| bucket.lo.as_str() >= b) {
                    continue;
                }
                let Some(entries) = self.bucket(bucket.id)? else {
                    replaced = true;
                    break;
                };
                for entry in entries.iter().rev() {
                    if below.as_deref().is_some_and(|b| entry.as_str() >= b) {
                        continue;
                    }
                    if visit(entry)?.is_break() {
                        return Ok(());
                    }
                    below = Some(entry.clone());
                }
            }
            if !replaced {
                return Ok(());
            }
        }
        Err(Error::Internal(format!(
            "index `{}` of tenant {} kept changing while it was read",
            self.name, self.tenant
        )))
    }

    /// Adds `entries` (one writer at a time: [`fold`] holds the lock). An entry already there is
    /// left as it is.
    pub fn insert(&self, entries: &BTreeSet<String>) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut directory = self.directory()?;
        if directory.buckets.is_empty() {
            directory.buckets.push(Bucket {
                lo: String::new(),
                id: directory.next,
                len: 0,
            });
            directory.next += 1;
        }
        // Each new entry goes to the last bucket whose `lo` is not above it.
        let mut by_bucket: BTreeMap<usize, Vec<&String>> = BTreeMap::new();
        for entry in entries {
            let at = directory
                .buckets
                .partition_point(|b| b.lo.as_str() <= entry.as_str())
                .saturating_sub(1);
            by_bucket.entry(at).or_default().push(entry);
        }
        let mut replaced = Vec::new();
        // From the highest bucket down, so the positions of those still to do stay put.
        for (at, new) in by_bucket.into_iter().rev() {
            let old = directory.buckets[at].clone();
            let mut merged: BTreeSet<String> = self
                .bucket(old.id)?
                .unwrap_or_default()
                .into_iter()
                .collect();
            merged.extend(new.into_iter().cloned());
            let merged: Vec<String> = merged.into_iter().collect();
            if merged.len() <= BUCKET_MAX {
                // A superset of what it held: a reader sees the old or the new, both right.
                self.put_bucket(old.id, &merged)?;
                directory.buckets[at].len = merged.len();
                continue;
            }
            let pieces = merged.len().div_ceil(BUCKET_FILL);
            let size = merged.len().div_ceil(pieces);
            let mut split = Vec::with_capacity(pieces);
            for (n, chunk) in merged.chunks(size).enumerate() {
                let id = directory.next;
                directory.next += 1;
                self.put_bucket(id, chunk)?;
                let lo = if n == 0 {
                    old.lo.clone()
                } else {
                    chunk[0].clone()
                };
                split.push(Bucket {
                    lo,
                    id,
                    len: chunk.len(),
                });
            }
            directory.buckets.splice(at..=at, split);
            replaced.push(old.id);
        }
        self.store
            .set_json(&keys::index_directory(self.tenant, self.name), &directory)?;
        for id in replaced {
            self.store
                .delete(&keys::index_bucket(self.tenant, self.name, id))?;
        }
        Ok(())
    }
}

/// `tenant`'s VIN entries not folded yet (store `vins`), as `(VIN, id)`. List these before reading
/// the index (see the module docs).
pub fn unfolded<K: KeyValue>(stores: &Stores<K>, tenant: &str) -> Result<Vec<(String, String)>> {
    Ok(stores
        .vins
        .get_keys()?
        .iter()
        .filter_map(|k| keys::split_vin_entry(k, tenant))
        .map(|(vin, id)| (vin.to_owned(), id.to_owned()))
        .collect())
}

/// Ids of `tenant`'s records with this exact VIN, oldest first.
pub fn ids_for_vin<K: KeyValue>(
    stores: &Stores<K>,
    tenant: &str,
    vin: &str,
) -> Result<Vec<String>> {
    let mut ids: BTreeSet<String> = unfolded(stores, tenant)?
        .into_iter()
        .filter(|(v, _)| v == vin)
        .map(|(_, id)| id)
        .collect();
    let prefix = format!("{vin}/");
    for entry in SortedIndex::new(&stores.data, tenant, BY_VIN).with_prefix(&prefix)? {
        if let Some(id) = entry.strip_prefix(&prefix) {
            ids.insert(id.to_owned());
        }
    }
    Ok(ids.into_iter().collect())
}

/// Every record of `tenant` whose VIN starts with `prefix` (all with an empty one), as
/// `(VIN, id)`, by VIN.
pub fn by_vin_prefix<K: KeyValue>(
    stores: &Stores<K>,
    tenant: &str,
    prefix: &str,
) -> Result<BTreeSet<(String, String)>> {
    let mut out: BTreeSet<(String, String)> = unfolded(stores, tenant)?
        .into_iter()
        .filter(|(vin, _)| vin.starts_with(prefix))
        .collect();
    for entry in SortedIndex::new(&stores.data, tenant, BY_VIN).with_prefix(prefix)? {
        if let Some((vin, id)) = entry.split_once('/') {
            out.insert((vin.to_owned(), id.to_owned()));
        }
    }
    Ok(out)
}

/// Shows `visit` each record of `tenant` created before the record id `below` (all when `None`),
/// newest first, as `(id, VIN)`, until it breaks.
pub fn newest_first<K: KeyValue>(
    stores: &Stores<K>,
    tenant: &str,
    below: Option<&str>,
    mut visit: impl FnMut(&str, &str) -> Result<ControlFlow<()>>,
) -> Result<()> {
    let below_ok = |id: &str| below.is_none_or(|b| id < b);
    // Popped from the end: the newest first.
    let mut waiting: Vec<(String, String)> = unfolded(stores, tenant)?
        .into_iter()
        .map(|(vin, id)| (id, vin))
        .filter(|(id, _)| below_ok(id))
        .collect();
    waiting.sort();
    let mut stopped = false;
    let index = SortedIndex::new(&stores.data, tenant, BY_CREATION);
    index.descending(below, |entry| {
        let Some((id, vin)) = entry.split_once('/') else {
            return Ok(ControlFlow::Continue(()));
        };
        while let Some(newer) = waiting.pop_if(|(w, _)| w.as_str() >= id) {
            if newer.0 != id && visit(&newer.0, &newer.1)?.is_break() {
                stopped = true;
                return Ok(ControlFlow::Break(()));
            }
        }
        let flow = visit(id, vin)?;
        stopped = flow.is_break();
        Ok(flow)
    })?;
    if stopped {
        return Ok(());
    }
    while let Some((id, vin)) = waiting.pop() {
        if visit(&id, &vin)?.is_break() {
            break;
        }
    }
    Ok(())
}

/// What one [`fold`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoldReport {
    /// Another fold held the lock: this one did nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub busy: bool,
    /// `vins` entries moved into the index.
    pub folded: usize,
    /// Entries left in `vins` for the next tick.
    pub left: usize,
}

/// Moves up to [`FOLD_LIMIT`] entries of `vins` into their tenants' indexes, under the fold lock;
/// writes nothing when `vins` is empty.
pub fn fold<K: KeyValue>(stores: &Stores<K>) -> Result<FoldReport> {
    let mut waiting = stores.vins.get_keys()?;
    if waiting.is_empty() {
        return Ok(FoldReport::default());
    }
    let folded = claims::locked(stores, keys::VIN_INDEX_LOCK, |stores| {
        waiting.sort();
        let left = waiting.len().saturating_sub(FOLD_LIMIT);
        waiting.truncate(FOLD_LIMIT);
        // Keys are `{tenant}/{VIN}/{id}`; tenant ids hold no `/`.
        let mut by_tenant: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
        for key in &waiting {
            let mut parts = key.splitn(3, '/');
            if let (Some(tenant), Some(vin), Some(id)) = (parts.next(), parts.next(), parts.next())
            {
                by_tenant.entry(tenant).or_default().push((vin, id));
            }
        }
        for (tenant, entries) in &by_tenant {
            let by_vin = entries.iter().map(|(v, id)| format!("{v}/{id}")).collect();
            SortedIndex::new(&stores.data, tenant, BY_VIN).insert(&by_vin)?;
            let by_new = entries.iter().map(|(v, id)| format!("{id}/{v}")).collect();
            SortedIndex::new(&stores.data, tenant, BY_CREATION).insert(&by_new)?;
        }
        // Only now: a reader that no longer finds a key in `vins` finds it in the index.
        for key in &waiting {
            stores.vins.delete(key)?;
        }
        Ok(FoldReport {
            busy: false,
            folded: waiting.len(),
            left,
        })
    })?;
    Ok(folded.unwrap_or(FoldReport {
        busy: true,
        ..FoldReport::default()
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use crate::kv::MemoryKv;
    use crate::{clock, ids};

    fn entries(range: std::ops::Range<usize>) -> BTreeSet<String> {
        range.map(|n| format!("E{n:06}")).collect()
    }

    #[test]
    fn buckets_split_and_every_entry_stays_in_order() {
        let store = MemoryKv::default();
        let index = SortedIndex::new(&store, "acme", BY_VIN);
        // Appends in order (as ids arrive), then entries in between, then some again.
        index.insert(&entries(0..4_500)).unwrap();
        index
            .insert(&(0..9_000).step_by(2).map(|n| format!("E{n:06}x")).collect())
            .unwrap();
        index.insert(&entries(100..200)).unwrap();
        let all = index.range("", "~").unwrap();
        assert_eq!(all.len(), 4_500 + 4_500);
        assert!(all.windows(2).all(|w| w[0] < w[1]), "sorted, no doubles");
        let directory = index.directory().unwrap();
        assert!(directory.buckets.len() >= 5, "{directory:?}");
        assert!(directory.buckets.iter().all(|b| b.len <= BUCKET_MAX));
        assert_eq!(
            directory.buckets.iter().map(|b| b.len).sum::<usize>(),
            all.len()
        );
        // Replaced buckets are gone: only the directory and its buckets are left.
        assert_eq!(store.len(), directory.buckets.len() + 1);
        let expected: Vec<String> = (120..130)
            .flat_map(|n| {
                let plain = format!("E{n:06}");
                let between = (n % 2 == 0).then(|| format!("{plain}x"));
                std::iter::once(plain).chain(between)
            })
            .collect();
        assert_eq!(index.with_prefix("E00012").unwrap(), expected);
        let mut newest = Vec::new();
        index
            .descending(Some("E004000"), |e| {
                newest.push(e.to_owned());
                Ok(if newest.len() == 3 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                })
            })
            .unwrap();
        assert_eq!(newest, ["E003999", "E003998x", "E003998"]);
    }

    #[test]
    fn a_reader_finds_every_record_folded_or_not() {
        let stores = Stores::in_memory();
        let made: Vec<String> = (0..100)
            .map(|n| ids::record_id(1_000_000 + n).unwrap())
            .collect();
        let id = |n: u64| made[n as usize].clone();
        for n in 0..30 {
            let vin = format!("WVWZZZ1JZXW{:06}", n % 10);
            stores
                .vins
                .set(&keys::vin_entry("acme", &vin, &id(n)), b"")
                .unwrap();
        }
        stores
            .vins
            .set(&keys::vin_entry("other", "WVWZZZ1JZXW000001", &id(99)), b"")
            .unwrap();
        let before = ids_for_vin(&stores, "acme", "WVWZZZ1JZXW000001").unwrap();
        assert_eq!(before, [id(1), id(11), id(21)]);
        let report = fold(&stores).unwrap();
        assert_eq!((report.folded, report.left), (31, 0));
        assert!(stores.vins.is_empty() && stores.claims.is_empty());
        assert_eq!(
            ids_for_vin(&stores, "acme", "WVWZZZ1JZXW000001").unwrap(),
            before
        );
        // Half folded, half not: a newest-first walk merges both, without doubles.
        for n in 30..40 {
            stores
                .vins
                .set(&keys::vin_entry("acme", "VF1AAAAA000000001", &id(n)), b"")
                .unwrap();
        }
        // An entry both folded and still in `vins` (a fold killed before its deletes).
        stores
            .vins
            .set(&keys::vin_entry("acme", "WVWZZZ1JZXW000005", &id(5)), b"")
            .unwrap();
        let mut seen = Vec::new();
        newest_first(&stores, "acme", Some(&id(35)), |id, _| {
            seen.push(id.to_owned());
            Ok(ControlFlow::Continue(()))
        })
        .unwrap();
        assert_eq!(seen, (0..35).rev().map(id).collect::<Vec<_>>());
        assert_eq!(by_vin_prefix(&stores, "acme", "VF1").unwrap().len(), 10);
        assert_eq!(by_vin_prefix(&stores, "other", "").unwrap().len(), 1);
        assert_eq!(fold(&stores).unwrap().folded, 11);
        assert_eq!(by_vin_prefix(&stores, "acme", "").unwrap().len(), 40);
    }

    #[test]
    fn a_fold_waits_for_the_one_running() {
        let stores = Stores::in_memory();
        stores
            .vins
            .set(&keys::vin_entry("acme", "VF1AAAAA000000001", "r1"), b"")
            .unwrap();
        let (owner, lock) = keys::VIN_INDEX_LOCK;
        let running = ids::record_id(clock::now_millis()).unwrap();
        claims::claim(&stores, owner, lock, &running).unwrap();
        assert!(fold(&stores).unwrap().busy);
        assert_eq!(stores.vins.len(), 1, "nothing moved");
        claims::release(&stores, owner, lock, &running).unwrap();
        assert_eq!(fold(&stores).unwrap().folded, 1);
    }
}
