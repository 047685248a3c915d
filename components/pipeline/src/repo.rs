//! Where records live, and the indexes that keep reads from scanning every key.
//!
//! The record itself and its XML live in `default` (kept apart so listings stay small); the index
//! stores (see [`crate::kv::Stores`]) are `vins` (new records by VIN, until the sweep folds them
//! into the VIN index: [`crate::vin_index`]), `work` (records that still need work, with their due
//! time) and `failures` (records that failed or were rejected, by day). The keys are built in
//! [`crate::keys`].
//!
//! Each index entry is its own key, written by whoever changes the record: no read-modify-write of a
//! shared document, so concurrent writers cannot lose entries without compare-and-swap (the VIN
//! index's buckets have one writer, the fold).

use crate::kv::{KeyValue, Stores};
use crate::record::{Record, Status};
use std::ops::ControlFlow;

use crate::{Error, Result, clock, ids, keys, vin_index};

/// Days the `failures` index keeps a day's entries: longer than any summary window (90 days)
/// and any digest a scheduler sends late. The records themselves stay.
pub const FAILURES_KEPT_DAYS: u64 = 100;

const DAY_SECS: u64 = 86_400;

/// Which XML of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XmlKind {
    /// As mapped (with a placeholder signature), before signing.
    Mapped,
    /// As signed and verified: what the NAP gets.
    Signed,
}

impl XmlKind {
    /// `?kind=mapped|signed` of `GET /v1/submissions/{id}/xml`; none: the newest.
    pub fn from_query(query: &str) -> Result<Option<Self>> {
        let mut kind = None;
        for pair in query_pairs(query) {
            kind = match pair {
                ("kind", "mapped") => Some(Self::Mapped),
                ("kind", "signed") => Some(Self::Signed),
                ("kind", other) => {
                    return Err(Error::BadRequest(format!(
                        "kind `{other}` must be mapped or signed"
                    )));
                }
                (other, _) => {
                    return Err(Error::BadRequest(format!(
                        "unknown query parameter `{other}` (kind)"
                    )));
                }
            };
        }
        Ok(kind)
    }

    /// The word in the XML's key: `mapped` or `signed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mapped => "mapped",
            Self::Signed => "signed",
        }
    }
}

fn xml_key(tenant: &str, id: &str, kind: XmlKind) -> String {
    keys::xml(tenant, id, kind.as_str())
}

/// Record access over the pipeline's [`Stores`].
#[derive(Debug)]
pub struct Repo<'s, K> {
    /// The stores.
    pub stores: &'s Stores<K>,
}

impl<'s, K: KeyValue> Repo<'s, K> {
    /// Record access over `stores`.
    pub fn new(stores: &'s Stores<K>) -> Self {
        Self { stores }
    }

    /// Reads a record of `tenant`; 404 for an unknown id or another tenant's.
    pub fn load(&self, tenant: &str, id: &str) -> Result<Record> {
        if !ids::is_record_id(id) {
            return Err(Error::NotFound(format!("no submission `{id}`")));
        }
        self.stores
            .data
            .get_json(&keys::record(tenant, id))?
            .ok_or_else(|| Error::NotFound(format!("no submission `{id}`")))
    }

    /// Writes a record and brings its index entries up to date (work list, day's failures); its
    /// new events go to the audit trail's queue first ([`crate::audit::queue_record_events`]).
    pub fn save(&self, record: &mut Record) -> Result<()> {
        // The record's own key is the commit point. Index entries that point at it are written
        // before it and removed after it, so a crash between two writes leaves at most an entry
        // whose record says otherwise (read and corrected), never a record the indexes miss.
        let s = self.stores;
        crate::audit::queue_record_events(s, record)?;
        let work = keys::work(&record.tenant, &record.id);
        if record.needs_work() {
            s.work
                .set(&work, record.not_before.to_string().as_bytes())?;
        }
        if matches!(record.status, Status::Failed | Status::Rejected) {
            let day = record
                .updated_at
                .get(..10)
                .ok_or_else(|| Error::corrupt("record", format!("{} has no date", record.id)))?;
            s.failures
                .set(&keys::failure(day, &record.tenant, &record.id), b"")?;
        }
        s.data
            .set_json(&keys::record(&record.tenant, &record.id), record)?;
        if !record.needs_work() {
            s.work.delete(&work)?;
        }
        Ok(())
    }

    /// Writes a new record with its XML and VIN index entry (index and XML first: the record's
    /// key, written last, is what makes it exist).
    pub fn create(&self, record: &mut Record, mapped_xml: &[u8]) -> Result<()> {
        self.stores.vins.set(
            &keys::vin_entry(&record.tenant, &record.vin, &record.id),
            record.status.as_str().as_bytes(),
        )?;
        self.put_xml(record, XmlKind::Mapped, mapped_xml)?;
        self.save(record)
    }

    /// Whether a record exists.
    pub fn exists(&self, tenant: &str, id: &str) -> Result<bool> {
        Ok(self.stores.data.get(&keys::record(tenant, id))?.is_some())
    }

    /// Stores a record's XML.
    pub fn put_xml(&self, record: &Record, kind: XmlKind, xml: &[u8]) -> Result<()> {
        self.stores
            .data
            .set(&xml_key(&record.tenant, &record.id, kind), xml)
    }

    /// A record's XML.
    pub fn xml(&self, tenant: &str, id: &str, kind: XmlKind) -> Result<Option<Vec<u8>>> {
        self.stores.data.get(&xml_key(tenant, id, kind))
    }

    /// The newest XML of a record: signed if there is one, else as mapped.
    pub fn latest_xml(&self, tenant: &str, id: &str) -> Result<(XmlKind, Vec<u8>)> {
        if let Some(x) = self.xml(tenant, id, XmlKind::Signed)? {
            return Ok((XmlKind::Signed, x));
        }
        self.xml(tenant, id, XmlKind::Mapped)?
            .map(|x| (XmlKind::Mapped, x))
            .ok_or_else(|| Error::NotFound(format!("submission `{id}` has no XML")))
    }

    /// The XML of `tenant`'s record `id` as stored: `kind`, or the newest (signed when it is);
    /// 404 for an unknown record or a kind it does not have (not signed yet).
    pub fn record_xml(
        &self,
        tenant: &str,
        id: &str,
        kind: Option<XmlKind>,
    ) -> Result<(XmlKind, Vec<u8>)> {
        self.load(tenant, id)?;
        match kind {
            None => self.latest_xml(tenant, id),
            Some(kind) => self
                .xml(tenant, id, kind)?
                .map(|x| (kind, x))
                .ok_or_else(|| {
                    Error::NotFound(format!("submission `{id}` has no {} XML", kind.as_str()))
                }),
        }
    }

    /// Ids of `tenant`'s records with exactly this VIN, oldest first.
    pub fn ids_for_vin(&self, tenant: &str, vin: &str) -> Result<Vec<String>> {
        vin_index::ids_for_vin(self.stores, tenant, vin)
    }

    /// When the record of a `work` key is due (Unix seconds; 0, at once, when unreadable).
    pub fn due_at(&self, work_key: &str) -> Result<u64> {
        Ok(self
            .stores
            .work
            .get(work_key)?
            .and_then(|v| String::from_utf8(v).ok()?.parse::<u64>().ok())
            .unwrap_or(0))
    }

    /// Records of `tenant` that still need work and whose time has come, oldest first, at most `limit`.
    pub fn due(&self, now: u64, limit: usize) -> Result<Vec<(String, String)>> {
        let mut due = Vec::new();
        let mut keys = self.stores.work.get_keys()?;
        keys.sort_by(|a, b| a.rsplit('/').next().cmp(&b.rsplit('/').next()));
        for key in keys {
            let Some((tenant, id)) = keys::split_work(&key) else {
                continue;
            };
            let not_before = self.due_at(&key)?;
            if not_before <= now {
                due.push((tenant.to_owned(), id.to_owned()));
                if due.len() >= limit {
                    break;
                }
            }
        }
        Ok(due)
    }

    /// Ids of records that failed or were rejected on `date` (YYYY-MM-DD), per tenant.
    pub fn failures_on(&self, date: &str) -> Result<Vec<(String, String)>> {
        let mut out: Vec<(String, String)> = self
            .stores
            .failures
            .get_keys()?
            .into_iter()
            .filter_map(|k| {
                let (tenant, id) = keys::split_failure(&k, date)?;
                Some((tenant.to_owned(), id.to_owned()))
            })
            .collect();
        out.sort();
        Ok(out)
    }

    /// Drops the `failures` index's entries of days before `date` (YYYY-MM-DD); how many.
    pub fn prune_failures(&self, date: &str) -> Result<usize> {
        let mut pruned = 0;
        for key in self.stores.failures.get_keys()? {
            if key.get(..10).is_some_and(|day| day < date) {
                self.stores.failures.delete(&key)?;
                pruned += 1;
            }
        }
        Ok(pruned)
    }

    /// Searches `tenant`'s records, newest first. A VIN pattern that starts with letters reads
    /// the VIN index from there; otherwise the walk goes back in time from the cursor (or the
    /// `to` day) and stops at the page's end (or the `from` day).
    pub fn search(&self, tenant: &str, query: &Query) -> Result<Page> {
        let mut page = Page {
            items: Vec::new(),
            next: None,
        };
        let mut take = |id: &str| -> Result<ControlFlow<()>> {
            let record = match self.load(tenant, id) {
                Ok(r) => r,
                Err(Error::NotFound(_)) => return Ok(ControlFlow::Continue(())),
                Err(e) => return Err(e),
            };
            if !query.matches(&record) {
                return Ok(ControlFlow::Continue(()));
            }
            if page.items.len() == query.limit {
                page.next = page.items.last().map(|r| r.id.clone());
                return Ok(ControlFlow::Break(()));
            }
            page.items.push(record);
            Ok(ControlFlow::Continue(()))
        };
        // Ids sort by creation time: the day bounds are id bounds (a day wider each way, for a
        // record made across midnight: `matches` has the last word).
        let day = |text: &str| clock::parse_date(text);
        let after_to = query
            .to
            .as_deref()
            .and_then(day)
            .map(|secs| ids::first_id_at(secs + 2 * DAY_SECS));
        let below = match (query.cursor.clone(), after_to) {
            (Some(c), Some(t)) => Some(c.min(t)),
            (c, t) => c.or(t),
        };
        let lowest = query
            .from
            .as_deref()
            .and_then(day)
            .map(|secs| ids::first_id_at(secs.saturating_sub(DAY_SECS)));
        let too_old = |id: &str| lowest.as_deref().is_some_and(|l| id < l);
        let glob_ok = |vin: &str| query.vin.as_deref().is_none_or(|p| glob_match(p, vin));
        match query.vin_literal_prefix() {
            Some(prefix) => {
                let mut hits: Vec<String> = vin_index::by_vin_prefix(self.stores, tenant, prefix)?
                    .into_iter()
                    .filter(|(vin, id)| {
                        glob_ok(vin) && below.as_deref().is_none_or(|b| id.as_str() < b)
                    })
                    .map(|(_, id)| id)
                    .collect();
                hits.sort_unstable_by(|a, b| b.cmp(a));
                for id in hits.iter().filter(|id| !too_old(id)) {
                    if take(id)?.is_break() {
                        break;
                    }
                }
            }
            None => vin_index::newest_first(self.stores, tenant, below.as_deref(), |id, vin| {
                if too_old(id) {
                    return Ok(ControlFlow::Break(()));
                }
                if !glob_ok(vin) {
                    return Ok(ControlFlow::Continue(()));
                }
                take(id)
            })?,
        }
        Ok(page)
    }
}

/// `GET /v1/submissions` filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// VIN pattern: `*` any run, `?` one character (`WVW*`).
    pub vin: Option<String>,
    /// Our status or the VCA's name (`failed` matches failed and rejected, as the VCA shows both).
    pub status: Option<String>,
    /// First day (YYYY-MM-DD, by creation), inclusive.
    pub from: Option<String>,
    /// Last day, inclusive.
    pub to: Option<String>,
    /// Page size (1-500, default 50).
    pub limit: usize,
    /// Continue after this record id (the previous page's `next`).
    pub cursor: Option<String>,
}

impl Query {
    /// Reads a query string (`vin=WVW*&status=failed&from=2026-11-01&to=2026-11-21&limit=50&cursor=...`).
    pub fn parse(query: &str) -> Result<Self> {
        let mut q = Query {
            limit: 50,
            ..Query::default()
        };
        for (k, v) in query_pairs(query) {
            let v = percent_decode(v)?;
            match k {
                "vin" => {
                    if v.len() > 17
                        || !v
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'*' || b == b'?')
                    {
                        return Err(Error::BadRequest(format!(
                            "vin `{v}` must be up to 17 letters, digits, `*` or `?`"
                        )));
                    }
                    q.vin = Some(v.to_ascii_uppercase());
                }
                "status" => {
                    // Ours, or a name users see (`Not delivered` as `not_delivered`).
                    let lower = v.to_ascii_lowercase().replace([' ', '-'], "_");
                    if ![
                        "failed",
                        "received",
                        "processing",
                        "pending",
                        "not_delivered",
                    ]
                    .contains(&lower.as_str())
                    {
                        lower.parse::<Status>().map_err(|_| {
                            Error::BadRequest(format!(
                                "unknown status `{v}` (ours: received, mapped, validated, held, signed, submitted, processing, succeeded, failed, rejected; as shown: pending, not_delivered)"
                            ))
                        })?;
                    }
                    q.status = Some(lower);
                }
                "from" | "to" => {
                    if clock::parse_date(&v).is_none() {
                        return Err(Error::BadRequest(format!(
                            "{k} `{v}` must be a date YYYY-MM-DD"
                        )));
                    }
                    if k == "from" {
                        q.from = Some(v);
                    } else {
                        q.to = Some(v);
                    }
                }
                "limit" => {
                    q.limit = v
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=500).contains(n))
                        .ok_or_else(|| Error::BadRequest(format!("limit `{v}` must be 1-500")))?;
                }
                "cursor" => {
                    if !ids::is_record_id(&v) {
                        return Err(Error::BadRequest(format!(
                            "cursor `{v}` is not a record id"
                        )));
                    }
                    q.cursor = Some(v);
                }
                other => {
                    return Err(Error::BadRequest(format!(
                        "unknown query parameter `{other}` (vin, status, from, to, limit, cursor)"
                    )));
                }
            }
        }
        Ok(q)
    }

    /// The letters a VIN pattern starts with, before any wildcard; `None` for none.
    fn vin_literal_prefix(&self) -> Option<&str> {
        let pattern = self.vin.as_deref()?;
        let prefix = &pattern[..pattern.find(['*', '?']).unwrap_or(pattern.len())];
        (!prefix.is_empty()).then_some(prefix)
    }

    fn matches(&self, r: &Record) -> bool {
        let day = r.created_at.get(..10).unwrap_or("");
        let status_ok = match self.status.as_deref() {
            None => true,
            // The names users see cover several of ours.
            Some("received") => r.vca_status() == Some("Received"),
            Some("pending") => r.status_name() == "Pending",
            Some("not_delivered") => r.status_name() == "Not delivered",
            Some(s) => r.status.as_str() == s,
        };
        status_ok
            && self.from.as_deref().is_none_or(|f| day >= f)
            && self.to.as_deref().is_none_or(|t| day <= t)
    }
}

/// One page of search results, newest first.
#[derive(Debug)]
pub struct Page {
    /// The records.
    pub items: Vec<Record>,
    /// Cursor for the next page, if there is one.
    pub next: Option<String>,
}

/// The `key=value` pairs of a query string, as written (values still encoded: [`percent_decode`]);
/// a key without `=` has an empty value.
pub fn query_pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
}

/// A query-string value, `%XX` and `+` decoded.
pub fn percent_decode(text: &str) -> Result<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| Error::BadRequest(format!("bad percent escape in `{text}`")))?;
                out.push(hex);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| Error::BadRequest(format!("`{text}` is not UTF-8")))
}

/// Glob match with `*` (any run) and `?` (one character).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use crate::record::sample;

    #[test]
    fn the_failures_index_forgets_old_days_only() {
        let stores = Stores::in_memory();
        for day in ["2026-08-01", "2026-08-02", "2026-12-03"] {
            stores
                .failures
                .set(&keys::failure(day, "acme", "r1"), b"")
                .unwrap();
        }
        let repo = Repo::new(&stores);
        assert_eq!(repo.prune_failures("2026-08-02").unwrap(), 1);
        assert_eq!(repo.failures_on("2026-08-02").unwrap().len(), 1);
        assert_eq!(repo.failures_on("2026-12-03").unwrap().len(), 1);
    }

    #[test]
    fn an_xml_kind_is_asked_by_name() {
        assert_eq!(XmlKind::from_query("").unwrap(), None);
        assert_eq!(
            XmlKind::from_query("kind=signed").unwrap(),
            Some(XmlKind::Signed)
        );
        let bad = XmlKind::from_query("kind=raw").unwrap_err();
        assert!(bad.to_string().contains("mapped or signed"), "{bad}");
        let stores = Stores::in_memory();
        let mut r = sample(&ids::record_id(1_000).unwrap(), "WVWZZZ1JZXW000001");
        Repo::new(&stores).create(&mut r, b"<mapped/>").unwrap();
        let repo = Repo::new(&stores);
        let (kind, xml) = repo.record_xml("acme", &r.id, None).unwrap();
        assert_eq!((kind, xml.as_slice()), (XmlKind::Mapped, &b"<mapped/>"[..]));
        let unsigned = repo
            .record_xml("acme", &r.id, Some(XmlKind::Signed))
            .unwrap_err();
        assert!(unsigned.to_string().contains("no signed XML"), "{unsigned}");
    }

    #[test]
    fn globs() {
        assert!(glob_match("WVW*", "WVWZZZ1JZXW000001"));
        assert!(glob_match("*0001", "WVWZZZ1JZXW000001"));
        assert!(glob_match("W?W*1", "WVWZZZ1JZXW000001"));
        assert!(!glob_match("WVX*", "WVWZZZ1JZXW000001"));
        assert!(glob_match("WVWZZZ1JZXW000001", "WVWZZZ1JZXW000001"));
    }

    #[test]
    fn search_indexes_and_isolation() {
        let stores = Stores::in_memory();
        let repo = Repo::new(&stores);
        let mut ids = Vec::new();
        for (n, vin) in [
            "WVWZZZ1JZXW000001",
            "WVWZZZ1JZXW000002",
            "VF1AAAAA000000003",
        ]
        .iter()
        .enumerate()
        {
            let id = ids::record_id(1_000 + n as u64).unwrap();
            let mut r = sample(&id, vin);
            if n == 1 {
                r.status = Status::Failed;
                r.updated_at = "2026-11-21T10:00:00Z".into();
            }
            repo.create(&mut r, b"<x/>").unwrap();
            ids.push(id);
        }
        let mut other = sample(&ids::record_id(5_000).unwrap(), "WVWZZZ1JZXW000009");
        other.tenant = "other".into();
        repo.create(&mut other, b"<x/>").unwrap();

        // The same answers from new records' own keys and, once folded, from the VIN index.
        for folded in [false, true] {
            if folded {
                assert_eq!(vin_index::fold(&stores).unwrap().folded, 4);
                assert!(stores.vins.is_empty());
            }
            let q = Query::parse("vin=wvw*").unwrap();
            let page = repo.search("acme", &q).unwrap();
            assert_eq!(
                page.items.len(),
                2,
                "the other tenant's WVW record stays out"
            );
            assert_eq!(page.items[0].id, ids[1], "newest first");
            let failed = repo
                .search("acme", &Query::parse("status=Failed").unwrap())
                .unwrap();
            assert_eq!(failed.items.len(), 1);
            let paged = repo
                .search("acme", &Query::parse("limit=1").unwrap())
                .unwrap();
            assert_eq!(
                (paged.items.len(), paged.next.as_deref()),
                (1, Some(ids[2].as_str()))
            );
            let rest = repo
                .search(
                    "acme",
                    &Query::parse(&format!("limit=5&cursor={}", ids[2])).unwrap(),
                )
                .unwrap();
            assert_eq!(rest.items.len(), 2);
            let exact = repo
                .search("acme", &Query::parse("vin=VF1AAAAA000000003").unwrap())
                .unwrap();
            assert_eq!(exact.items.len(), 1, "folded: {folded}");
            let dated = Query::parse("from=2026-01-01").unwrap();
            assert!(repo.search("acme", &dated).unwrap().items.is_empty());
            let dated = Query::parse("to=1970-01-02&vin=*01").unwrap();
            assert_eq!(repo.search("acme", &dated).unwrap().items.len(), 1);
        }
        assert_eq!(
            repo.failures_on("2026-11-21").unwrap(),
            vec![("acme".into(), ids[1].clone())]
        );
        assert!(matches!(
            repo.load("other", &ids[0]),
            Err(Error::NotFound(_))
        ));
        assert!(Query::parse("vin=../x").is_err());
        assert!(Query::parse("from=2026-13-01").is_err());
        assert!(Query::parse("bogus=1").is_err());
        assert_eq!(
            repo.due(u64::MAX, 10).unwrap().len(),
            3,
            "non-final records are work"
        );
    }
}
