//! The audit trail: every event of every record and every settings change, in one append-only,
//! hash-chained log per tenant, with checkpoints of its head signed with Ed25519.
//!
//! **Writing.** Whoever changes a record or a setting puts the change in the `audit` store as a
//! pending key of its own ([`crate::keys::audit_pending`], deterministic for record events), and
//! nothing else: writers never touch the chain, so they need no lock and cannot contend.
//! [`chain`] (the sweep's tick, and every read of the log) takes the single-flight lock
//! [`crate::keys::AUDIT_LOCK`], and appends each tenant's pending changes in key order (time,
//! then record and event index) as entries `seq = head + 1`, `prev = head's hash`; then it marks
//! the pending key as chained and deletes it. A chainer killed half-way leaves an entry beyond the
//! stored head, which the next one adopts ([`Head`] is only a shortcut), and a pending key written
//! again after it was chained (a save retried after a crash) is recognised by its mark.
//!
//! **The chain.** An [`Entry`]'s `hash` is SHA-256 over its canonical JSON without `hash`
//! ([`canonical_json`]: keys sorted, no spaces), so an entry's bytes are its identity: a changed
//! byte breaks its own hash; a removed or swapped entry breaks the `seq` run and the `prev` links.
//! Someone who may write the store could rewrite the whole chain consistently; [`Checkpoint`]s
//! stop that: a signature by the deployment's key (variable `audit_signing_key`) over a tenant, a
//! `seq` and its hash, made once a day for every chain that grew and on demand. [`verify_export`]
//! checks an exported log against them offline and names the first entry that is wrong.

use std::collections::{BTreeMap, BTreeSet};

use base64ct::Encoding;
use ed25519_dalek::{Signer, Verifier};
pub use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::kv::{KeyValue, Stores};
use crate::record::Record;
use crate::{Error, Result, claims, clock, ids, keys};

/// The `prev` of a chain's first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// First line of an export ([`export_header`]).
pub const EXPORT_FORMAT: &str = "ecoc-audit-log/1";

/// What happened, as a writer records it (the pending value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// When (RFC 3339 UTC).
    pub at: String,
    /// Who: `token:<name>`, `admin`, or the step (`validate`, `sign`, `submit`, `sweep`).
    pub actor: String,
    /// What it happened to: `record/<id>` or `settings/<what>`.
    pub subject: String,
    /// What happened: the record's new status, or `updated`, `created`, `revoked`, `deleted`.
    pub what: String,
    /// Why, in words (a record event's note).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Facts that identify the change: a record's VIN, version and stage; a setting's SHA-256.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub detail: BTreeMap<String, String>,
}

/// One entry of a tenant's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Position in the chain, 1 first.
    pub seq: u64,
    /// The previous entry's hash ([`GENESIS`] for the first).
    pub prev: String,
    /// SHA-256 (hex) of this entry's [`canonical_json`] without `hash`.
    pub hash: String,
    /// The tenant.
    pub tenant: String,
    /// The pending key it was chained from, without the tenant (`{at}/{what}`).
    pub source: String,
    /// The change.
    #[serde(flatten)]
    pub change: Change,
}

impl Entry {
    fn next(head: &Head, tenant: &str, source: &str, change: Change) -> Result<Self> {
        let mut entry = Self {
            seq: head.seq + 1,
            prev: head.hash.clone(),
            hash: String::new(),
            tenant: tenant.to_owned(),
            source: source.to_owned(),
            change,
        };
        entry.hash = content_hash(&entry.to_value()?);
        Ok(entry)
    }

    fn to_value(&self) -> Result<serde_json::Value> {
        serde_json::to_value(self).map_err(|e| Error::Internal(format!("audit entry: {e}")))
    }

    /// The entry as one line of canonical JSON: how it is stored and exported.
    pub fn to_line(&self) -> Result<String> {
        Ok(canonical_json(&self.to_value()?))
    }
}

/// SHA-256 (hex) of an entry's canonical JSON without its `hash` member.
fn content_hash(entry: &serde_json::Value) -> String {
    let mut content = entry.clone();
    if let Some(object) = content.as_object_mut() {
        object.remove("hash");
    }
    ids::sha256_hex(canonical_json(&content).as_bytes())
}

/// JSON with object keys sorted at every level and no insignificant space: one text per value,
/// whatever map order the JSON library keeps.
pub fn canonical_json(value: &serde_json::Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::Object(map) => {
            out.push('{');
            let sorted: BTreeMap<&String, &serde_json::Value> = map.iter().collect();
            for (i, (key, member)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(member, out);
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The last entry of a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// Its seq (0: the chain is empty).
    pub seq: u64,
    /// Its hash ([`GENESIS`] for an empty chain).
    pub hash: String,
}

impl Head {
    fn genesis() -> Self {
        Self {
            seq: 0,
            hash: GENESIS.to_owned(),
        }
    }
}

/// A signed statement that a tenant's chain had `hash` at `seq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The tenant.
    pub tenant: String,
    /// The entry the checkpoint covers (and every one before it).
    pub seq: u64,
    /// That entry's hash.
    pub hash: String,
    /// When it was signed (RFC 3339 UTC).
    pub at: String,
    /// The Ed25519 public key (base64) that verifies it.
    pub public_key: String,
    /// Ed25519 signature (base64) over [`Checkpoint::message`].
    pub signature: String,
}

impl Checkpoint {
    /// The bytes signed: a fixed text naming tenant, seq, hash and time.
    pub fn message(&self) -> Vec<u8> {
        format!(
            "ecoc audit checkpoint\ntenant={}\nseq={}\nhash={}\nat={}\n",
            self.tenant, self.seq, self.hash, self.at
        )
        .into_bytes()
    }

    /// Whether `key` made the signature.
    pub fn verifies_with(&self, key: &VerifyingKey) -> bool {
        let Ok(bytes) = base64ct::Base64::decode_vec(&self.signature) else {
            return false;
        };
        let Ok(signature) = ed25519_dalek::Signature::from_slice(&bytes) else {
            return false;
        };
        key.verify(&self.message(), &signature).is_ok()
    }
}

/// The deployment's checkpoint key from its variable: 32 bytes in base64 (an Ed25519 seed).
pub fn signing_key(text: &str) -> Result<SigningKey> {
    let bytes = base64ct::Base64::decode_vec(text.trim()).map_err(|_| {
        Error::Config("variable `audit_signing_key` is not base64 (32 random bytes)".into())
    })?;
    let seed: [u8; 32] = bytes.try_into().map_err(|_| {
        Error::Config("variable `audit_signing_key` must be 32 bytes (an Ed25519 seed)".into())
    })?;
    Ok(SigningKey::from_bytes(&seed))
}

/// A fresh checkpoint key in the variable's form (base64 of 32 random bytes).
pub fn new_signing_key() -> Result<String> {
    let seed = ids::random::<32>()?;
    Ok(base64ct::Base64::encode_string(&seed))
}

/// The public key (base64) of a checkpoint key.
pub fn public_key(key: &SigningKey) -> String {
    base64ct::Base64::encode_string(key.verifying_key().as_bytes())
}

/// An Ed25519 public key from its base64.
pub fn decode_public_key(text: &str) -> Result<VerifyingKey> {
    crate::tenant::ed25519_public_key(text, "the audit public key")
}

/// Queues the events of `record` not yet queued, and counts them as queued (`audited`): called by
/// [`crate::repo::Repo::save`] before the record is written, so an event is queued before anyone
/// can read it on the record.
pub fn queue_record_events<K: KeyValue>(stores: &Stores<K>, record: &mut Record) -> Result<()> {
    let from = usize::try_from(record.audited).unwrap_or(usize::MAX);
    for (index, event) in record.events.iter().enumerate().skip(from) {
        let mut detail = BTreeMap::from([
            ("vin".to_owned(), record.vin.clone()),
            ("version".to_owned(), record.version.to_string()),
            ("stage".to_owned(), record.stage.to_string()),
        ]);
        if let Some(destination) = &record.destination {
            detail.insert("destination".to_owned(), destination.clone());
        }
        let change = Change {
            at: event.at.clone(),
            actor: event.actor.clone(),
            subject: format!("record/{}", record.id),
            what: event.status.as_str().to_owned(),
            reason: event.note.clone(),
            detail,
        };
        let what = format!("r/{}/{index:05}", record.id);
        stores.audit.set_json(
            &keys::audit_pending(&record.tenant, &event.at, &what),
            &change,
        )?;
    }
    record.audited = u32::try_from(record.events.len()).unwrap_or(u32::MAX);
    Ok(())
}

impl Change {
    /// A settings change made now by `actor`: `subject` is what changed (`mapping`, `approvals`,
    /// `tenant`, `tokens/<name>`, `secrets/<name>`), `what` how (`updated`, `created`, ...).
    pub fn settings(actor: &str, subject: &str, what: &str) -> Self {
        Self {
            at: clock::rfc3339(clock::now_secs()),
            actor: actor.to_owned(),
            subject: format!("settings/{subject}"),
            what: what.to_owned(),
            reason: None,
            detail: BTreeMap::new(),
        }
    }

    /// The same, saying why (or with what: a token's role).
    pub fn because(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// The same, naming the new content by its SHA-256 (the content itself, a secret say, is
    /// not kept).
    pub fn content(mut self, content: &[u8]) -> Self {
        self.detail
            .insert("sha256".to_owned(), ids::sha256_hex(content));
        self
    }
}

/// Queues a settings change of `tenant` for the chain.
pub fn queue_change<K: KeyValue>(stores: &Stores<K>, tenant: &str, change: &Change) -> Result<()> {
    // Time-ordered (milliseconds first), so changes of one second chain in the order made.
    let unique = ids::record_id(clock::now_millis())?;
    let key = keys::audit_pending(tenant, &change.at, &format!("s/{unique}"));
    stores.audit.set_json(&key, change)
}

/// What a [`chain`] run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainReport {
    /// Entries appended.
    pub chained: usize,
    /// Another run held the lock: nothing done.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub busy: bool,
    /// Daily checkpoints signed.
    pub checkpoints: usize,
}

/// Appends every pending change to its tenant's chain, under the chainer's lock; with a key,
/// signs the day's checkpoints once a day (the first run of each UTC day). `now` is Unix seconds.
pub fn chain<K: KeyValue>(
    stores: &Stores<K>,
    key: Option<&SigningKey>,
    now: u64,
) -> Result<ChainReport> {
    let pending = stores.audit.get_keys()?;
    let daily_due = key.is_some()
        && stores.data.get(keys::AUDIT_DAILY)?.as_deref() != Some(clock::date(now).as_bytes());
    if pending.is_empty() && !daily_due {
        return Ok(ChainReport::default());
    }
    locked(stores, |stores| {
        let mut report = ChainReport {
            chained: append_pending(stores, pending)?,
            ..ChainReport::default()
        };
        if let Some(key) = key.filter(|_| daily_due) {
            report.checkpoints = daily_checkpoints(stores, key, now)?;
        }
        Ok(report)
    })
    .map(|done| {
        done.unwrap_or(ChainReport {
            busy: true,
            ..ChainReport::default()
        })
    })
}

/// Runs `work` holding the chainer's lock; `None` when another run holds it.
fn locked<K: KeyValue, T>(
    stores: &Stores<K>,
    work: impl FnOnce(&Stores<K>) -> Result<T>,
) -> Result<Option<T>> {
    claims::locked(stores, keys::AUDIT_LOCK, work)
}

/// Runs `work` holding the chainer's lock, waiting up to ~5 s for another run to finish.
fn when_locked<K: KeyValue, T>(
    stores: &Stores<K>,
    work: impl Fn(&Stores<K>) -> Result<T>,
) -> Result<T> {
    for _ in 0..50 {
        if let Some(done) = locked(stores, &work)? {
            return Ok(done);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Err(Error::Store(
        "the audit chain is busy (another chainer holds its lock); try again".into(),
    ))
}

fn append_pending<K: KeyValue>(stores: &Stores<K>, mut pending: Vec<String>) -> Result<usize> {
    pending.sort();
    let mut by_tenant: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
    for key in &pending {
        if let Some((tenant, source)) = keys::split_audit_pending(key) {
            by_tenant
                .entry(tenant)
                .or_default()
                .push((key.as_str(), source));
        }
    }
    let mut known: BTreeSet<String> = stores
        .data
        .get_json(keys::AUDIT_TENANTS)?
        .unwrap_or_default();
    let mut chained = 0;
    for (tenant, keys) in by_tenant {
        if known.insert(tenant.to_owned()) {
            stores.data.set_json(keys::AUDIT_TENANTS, &known)?;
        }
        chained += append_tenant(stores, tenant, &keys)?;
    }
    Ok(chained)
}

fn append_tenant<K: KeyValue>(
    stores: &Stores<K>,
    tenant: &str,
    pending: &[(&str, &str)],
) -> Result<usize> {
    let mut head = current_head(stores, tenant)?;
    let mut chained = 0;
    for &(key, source) in pending {
        let mark = keys::audit_chained(tenant, source);
        if stores.data.get(&mark)?.is_some() {
            stores.audit.delete(key)?;
            continue;
        }
        let Some(bytes) = stores.audit.get(key)? else {
            continue;
        };
        let change = serde_json::from_slice(&bytes).unwrap_or_else(|e| unreadable(&bytes, &e));
        let entry = Entry::next(&head, tenant, source, change)?;
        stores.data.set(
            &keys::audit_entry(tenant, entry.seq),
            entry.to_line()?.as_bytes(),
        )?;
        stores.data.set(&mark, entry.seq.to_string().as_bytes())?;
        stores.audit.delete(key)?;
        head = Head {
            seq: entry.seq,
            hash: entry.hash,
        };
        chained += 1;
    }
    if chained > 0 {
        stores.data.set_json(&keys::audit_head(tenant), &head)?;
    }
    Ok(chained)
}

/// A pending value that does not read still goes into the chain, as what it is.
fn unreadable(bytes: &[u8], error: &serde_json::Error) -> Change {
    Change {
        at: clock::rfc3339(clock::now_secs()),
        actor: "audit".to_owned(),
        subject: "audit/pending".to_owned(),
        what: "unreadable".to_owned(),
        reason: Some(format!("a queued change could not be read: {error}")),
        detail: BTreeMap::from([("sha256".to_owned(), ids::sha256_hex(bytes))]),
    }
}

/// The chain's last entry: the stored head, moved past entries a chainer killed before it wrote
/// the head had already appended.
fn current_head<K: KeyValue>(stores: &Stores<K>, tenant: &str) -> Result<Head> {
    let mut head = stores
        .data
        .get_json(&keys::audit_head(tenant))?
        .unwrap_or_else(Head::genesis);
    while let Some(entry) = load_entry(stores, tenant, head.seq + 1)? {
        head = Head {
            seq: entry.seq,
            hash: entry.hash,
        };
    }
    Ok(head)
}

fn load_entry<K: KeyValue>(stores: &Stores<K>, tenant: &str, seq: u64) -> Result<Option<Entry>> {
    let key = keys::audit_entry(tenant, seq);
    stores.data.get_json(&key)
}

/// One page of a tenant's chain.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    /// The tenant.
    pub tenant: String,
    /// Entries after `after`, in order, each as stored.
    pub entries: Vec<serde_json::Value>,
    /// The `after` of the next page, when there is one.
    pub next: Option<u64>,
    /// The chain's head when read.
    pub head: Head,
}

/// Entries `after + 1 ..` (at most `limit`) of `tenant`'s chain, once pending changes are chained.
pub fn page<K: KeyValue>(stores: &Stores<K>, tenant: &str, after: u64, limit: u64) -> Result<Page> {
    chain(stores, None, clock::now_secs())?;
    let head = current_head(stores, tenant)?;
    let last = head.seq.min(after.saturating_add(limit));
    let mut entries = Vec::new();
    for seq in after + 1..=last {
        let key = keys::audit_entry(tenant, seq);
        let value: serde_json::Value = stores
            .data
            .get_json(&key)?
            .ok_or_else(|| Error::corrupt("audit entry", format!("{key} is missing")))?;
        entries.push(value);
    }
    Ok(Page {
        tenant: tenant.to_owned(),
        entries,
        next: (last < head.seq).then_some(last),
        head,
    })
}

/// `after=SEQ&limit=N` of `GET /v1/audit/log` (after 0, limit 500 unless given; limit 1-1000).
pub fn page_query(query: &str) -> Result<(u64, u64)> {
    let (mut after, mut limit) = (0, 500);
    for (k, v) in crate::repo::query_pairs(query) {
        let number = v.parse::<u64>().ok();
        match (k, number) {
            ("after", Some(n)) => after = n,
            ("limit", Some(n)) if (1..=1000).contains(&n) => limit = n,
            ("after", None) => {
                return Err(Error::BadRequest(format!(
                    "after `{v}` must be a seq (0 or more)"
                )));
            }
            ("limit", _) => return Err(Error::BadRequest(format!("limit `{v}` must be 1-1000"))),
            (other, _) => {
                return Err(Error::BadRequest(format!(
                    "unknown query parameter `{other}` (after, limit)"
                )));
            }
        }
    }
    Ok((after, limit))
}

/// The signed checkpoints of `tenant`'s chain, oldest first.
pub fn checkpoints<K: KeyValue>(stores: &Stores<K>, tenant: &str) -> Result<Vec<Checkpoint>> {
    Ok(stores
        .data
        .get_json(&keys::audit_checkpoints(tenant))?
        .unwrap_or_default())
}

/// Chains what is pending and signs a checkpoint of `tenant`'s head now (on demand).
pub fn checkpoint_now<K: KeyValue>(
    stores: &Stores<K>,
    tenant: &str,
    key: &SigningKey,
    now: u64,
) -> Result<Checkpoint> {
    when_locked(stores, |stores| {
        append_pending(stores, stores.audit.get_keys()?)?;
        sign_head(stores, tenant, key, now)
    })
}

fn sign_head<K: KeyValue>(
    stores: &Stores<K>,
    tenant: &str,
    key: &SigningKey,
    now: u64,
) -> Result<Checkpoint> {
    let head = current_head(stores, tenant)?;
    let mut checkpoint = Checkpoint {
        tenant: tenant.to_owned(),
        seq: head.seq,
        hash: head.hash,
        at: clock::rfc3339(now),
        public_key: public_key(key),
        signature: String::new(),
    };
    checkpoint.signature =
        base64ct::Base64::encode_string(&key.sign(&checkpoint.message()).to_bytes());
    let mut all = checkpoints(stores, tenant)?;
    all.push(checkpoint.clone());
    stores
        .data
        .set_json(&keys::audit_checkpoints(tenant), &all)?;
    Ok(checkpoint)
}

/// Signs a checkpoint of every chain that grew since its last one; marks the day done.
fn daily_checkpoints<K: KeyValue>(stores: &Stores<K>, key: &SigningKey, now: u64) -> Result<usize> {
    let tenants: BTreeSet<String> = stores
        .data
        .get_json(keys::AUDIT_TENANTS)?
        .unwrap_or_default();
    let mut signed = 0;
    for tenant in &tenants {
        let covered = checkpoints(stores, tenant)?.last().map_or(0, |c| c.seq);
        if current_head(stores, tenant)?.seq > covered {
            sign_head(stores, tenant, key, now)?;
            signed += 1;
        }
    }
    stores
        .data
        .set(keys::AUDIT_DAILY, clock::date(now).as_bytes())?;
    Ok(signed)
}

/// The first line of an export: format, tenant, when, and the key its checkpoints name.
pub fn export_header(tenant: &str, exported_at: &str, public_key: Option<&str>) -> String {
    canonical_json(&serde_json::json!({
        "format": EXPORT_FORMAT,
        "tenant": tenant,
        "exported_at": exported_at,
        "public_key": public_key,
    }))
}

/// One checkpoint as a line of an export.
pub fn checkpoint_line(checkpoint: &Checkpoint) -> Result<String> {
    let value = serde_json::to_value(checkpoint).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(canonical_json(&serde_json::json!({ "checkpoint": value })))
}

/// What [`verify_export`] found in a log that holds together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The tenant.
    pub tenant: String,
    /// Entries checked.
    pub entries: u64,
    /// Checkpoints whose signature and hash matched.
    pub checkpoints: usize,
    /// The seq the last checkpoint covers.
    pub covered: u64,
    /// Things to know that do not make the log wrong.
    pub warnings: Vec<String>,
}

/// Where an exported log is wrong: the first bad line and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// 1-based line of the export (0: the log as a whole).
    pub line: usize,
    /// The entry's seq, when the line is an entry that reads.
    pub seq: Option<u64>,
    /// What is wrong, in words.
    pub problem: String,
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.seq) {
            (0, _) => write!(f, "{}", self.problem),
            (line, Some(seq)) => write!(f, "line {line}, entry {seq}: {}", self.problem),
            (line, None) => write!(f, "line {line}: {}", self.problem),
        }
    }
}

/// Checks an export ([`export_header`], entry lines, checkpoint lines) offline: every entry in
/// canonical form with its own hash, seqs 1, 2, 3... in order, each `prev` the hash before it,
/// every checkpoint signed by `trusted` (else by the key the export names, with a warning) and
/// matching the entry it covers, and no checkpoint beyond the log's end (a cut). A log with no
/// checkpoint at all is refused: nothing would vouch for it.
pub fn verify_export(
    text: &str,
    trusted: Option<&VerifyingKey>,
) -> std::result::Result<Verified, Broken> {
    let broken = |line: usize, seq: Option<u64>, problem: String| Broken { line, seq, problem };
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    let header: serde_json::Value = lines
        .next()
        .and_then(|(_, l)| serde_json::from_str(l).ok())
        .filter(|h: &serde_json::Value| h["format"] == EXPORT_FORMAT)
        .ok_or_else(|| broken(1, None, format!("not an audit export (`{EXPORT_FORMAT}`)")))?;
    let tenant = header["tenant"].as_str().unwrap_or_default().to_owned();
    let mut warnings = Vec::new();
    let named_key = header["public_key"].as_str().map(decode_public_key);
    let key = match (trusted, named_key) {
        (Some(k), _) => Some(*k),
        (None, Some(Ok(k))) => {
            warnings.push(
                "checkpoints checked against the key the export names; pass the deployment's \
                 public key to check who signed them"
                    .to_owned(),
            );
            Some(k)
        }
        (None, Some(Err(e))) => return Err(broken(1, None, e.to_string())),
        (None, None) => None,
    };

    // Entries first: their seqs tell a reordering from a removal.
    let mut entries: Vec<(usize, serde_json::Value)> = Vec::new();
    let mut checkpoint_lines: Vec<(usize, Checkpoint)> = Vec::new();
    for (line, text) in lines {
        if text.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| broken(line, None, format!("not JSON ({e}): edited")))?;
        if let Some(checkpoint) = value.get("checkpoint") {
            let checkpoint: Checkpoint = serde_json::from_value(checkpoint.clone())
                .map_err(|e| broken(line, None, format!("a checkpoint that does not read: {e}")))?;
            checkpoint_lines.push((line, checkpoint));
            continue;
        }
        if canonical_json(&value) != text {
            let seq = value["seq"].as_u64();
            return Err(broken(line, seq, "not in canonical form: edited".into()));
        }
        entries.push((line, value));
    }
    let seqs: BTreeSet<u64> = entries
        .iter()
        .filter_map(|(_, v)| v["seq"].as_u64())
        .collect();
    let mut hashes: BTreeMap<u64, String> = BTreeMap::new();
    let mut expected = 1;
    let mut prev = GENESIS.to_owned();
    for (line, value) in &entries {
        let seq = value["seq"].as_u64();
        let Some(seq) = seq else {
            return Err(broken(*line, None, "an entry without a seq: edited".into()));
        };
        let stated = value["hash"].as_str().unwrap_or_default();
        if content_hash(value) != stated {
            return Err(broken(
                *line,
                Some(seq),
                "its content does not match its hash: edited".into(),
            ));
        }
        if value["tenant"].as_str() != Some(tenant.as_str()) {
            return Err(broken(*line, Some(seq), "another tenant's entry".into()));
        }
        if seq != expected {
            let problem = if seq < expected || seqs.contains(&expected) {
                format!("out of order: entry {expected} should come here (reordered)")
            } else {
                format!("entry {expected} is missing before it (removed)")
            };
            return Err(broken(*line, Some(seq), problem));
        }
        if value["prev"].as_str() != Some(prev.as_str()) {
            return Err(broken(
                *line,
                Some(seq),
                format!(
                    "its prev is not entry {}'s hash: the chain is broken",
                    seq - 1
                ),
            ));
        }
        prev = stated.to_owned();
        hashes.insert(seq, prev.clone());
        expected = seq + 1;
    }
    let last = expected - 1;

    let mut covered = 0;
    for (line, checkpoint) in &checkpoint_lines {
        let Some(key) = key.as_ref() else {
            return Err(broken(
                *line,
                None,
                "a checkpoint, but no public key to check it with".into(),
            ));
        };
        if !checkpoint.verifies_with(key) {
            return Err(broken(
                *line,
                None,
                format!(
                    "the checkpoint of entry {} is not signed by the audit key",
                    checkpoint.seq
                ),
            ));
        }
        if checkpoint.tenant != tenant {
            return Err(broken(*line, None, "another tenant's checkpoint".into()));
        }
        if checkpoint.seq > last {
            return Err(broken(
                *line,
                None,
                format!(
                    "signed checkpoint covers entry {} but the log ends at entry {last}: cut",
                    checkpoint.seq
                ),
            ));
        }
        let at_seq = hashes.get(&checkpoint.seq).map_or(GENESIS, String::as_str);
        if at_seq != checkpoint.hash {
            // Entries are in seq order by now: entry `seq` is at index `seq - 1`.
            let index = usize::try_from(checkpoint.seq)
                .unwrap_or(0)
                .saturating_sub(1);
            let entry_line = entries.get(index).map_or(*line, |(l, _)| *l);
            return Err(broken(
                entry_line,
                Some(checkpoint.seq),
                "differs from the signed checkpoint of it: the chain was rewritten".into(),
            ));
        }
        covered = covered.max(checkpoint.seq);
    }
    if checkpoint_lines.is_empty() {
        return Err(broken(
            0,
            None,
            "no signed checkpoint: nothing vouches for this log".into(),
        ));
    }
    if covered < last {
        warnings.push(format!(
            "entries {}..{last} come after the last signed checkpoint",
            covered + 1
        ));
    }
    Ok(Verified {
        tenant,
        entries: last,
        checkpoints: checkpoint_lines.len(),
        covered,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;
    use crate::kv::MemoryKv;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[9u8; 32])
    }

    fn change(at: &str, what: &str) -> Change {
        Change {
            at: at.into(),
            actor: "token:owner".into(),
            subject: "settings/mapping".into(),
            what: what.into(),
            reason: None,
            detail: BTreeMap::new(),
        }
    }

    fn queue(stores: &Stores<MemoryKv>, tenant: &str, at: &str, n: usize) {
        for i in 0..n {
            let key = keys::audit_pending(tenant, at, &format!("s/mapping/{i:03}"));
            stores
                .audit
                .set_json(&key, &change(at, &format!("step {i}")))
                .unwrap();
        }
    }

    /// An export of `tenant` made the way `ecoc audit export` makes it.
    fn export(stores: &Stores<MemoryKv>, tenant: &str) -> String {
        let k = key();
        checkpoint_now(stores, tenant, &k, 1_764_700_000).unwrap();
        let page = page(stores, tenant, 0, 1000).unwrap();
        let mut lines = vec![export_header(tenant, "now", Some(&public_key(&k)))];
        lines.extend(page.entries.iter().map(canonical_json));
        lines.extend(
            checkpoints(stores, tenant)
                .unwrap()
                .iter()
                .map(|c| checkpoint_line(c).unwrap()),
        );
        lines.join("\n") + "\n"
    }

    fn trusted() -> VerifyingKey {
        key().verifying_key()
    }

    #[test]
    fn changes_chain_in_order_per_tenant_and_verify() {
        let stores = Stores::in_memory();
        queue(&stores, "acme", "2026-12-03T05:00:00Z", 3);
        queue(&stores, "beta", "2026-12-03T05:00:01Z", 2);
        let report = chain(&stores, None, 0).unwrap();
        assert_eq!(report.chained, 5);
        assert!(stores.audit.is_empty(), "chained changes leave the queue");
        let acme = page(&stores, "acme", 0, 10).unwrap();
        assert_eq!(acme.head.seq, 3);
        assert_eq!(acme.entries[0]["prev"], GENESIS);
        assert_eq!(acme.entries[1]["prev"], acme.entries[0]["hash"]);
        assert_eq!(acme.entries[2]["what"], "step 2");
        let verified = verify_export(&export(&stores, "acme"), Some(&trusted())).unwrap();
        assert_eq!((verified.entries, verified.covered), (3, 3));
        assert!(verified.warnings.is_empty(), "{:?}", verified.warnings);
    }

    #[test]
    fn paging_walks_the_whole_chain() {
        let stores = Stores::in_memory();
        queue(&stores, "acme", "2026-12-03T05:00:00Z", 5);
        let first = page(&stores, "acme", 0, 2).unwrap();
        assert_eq!((first.entries.len(), first.next), (2, Some(2)));
        let last = page(&stores, "acme", 4, 2).unwrap();
        assert_eq!((last.entries.len(), last.next), (1, None));
    }

    #[test]
    fn one_edited_byte_is_named() {
        let stores = Stores::in_memory();
        queue(&stores, "acme", "2026-12-03T05:00:00Z", 4);
        let log = export(&stores, "acme").replacen("step 2", "step 3", 1);
        let broken = verify_export(&log, Some(&trusted())).unwrap_err();
        assert_eq!((broken.line, broken.seq), (4, Some(3)), "{broken}");
        assert!(broken.problem.contains("edited"), "{broken}");
    }

    #[test]
    fn a_removed_entry_is_named() {
        let stores = Stores::in_memory();
        queue(&stores, "acme", "2026-12-03T05:00:00Z", 4);
        let log = export(&stores, "acme");
        let without: Vec<&str> = log
            .lines()
            .enumerate()
            .filter(|(i, _)| *i != 2)
            .map(|(_, l)| l)
            .collect();
        let broken = verify_export(&without.join("\n"), Some(&trusted())).unwrap_err();
        assert_eq!(broken.seq, Some(3), "{broken}");
        assert!(broken.problem.contains("entry 2 is missing"), "{broken}");
    }

    #[test]
    fn two_swapped_entries_are_named() {
        let stores = Stores::in_memory();
        queue(&stores, "acme", "2026-12-03T05:00:00Z", 4);
        let log = export(&stores, "acme");
        let mut lines: Vec<&str> = log.lines().collect();
        lines.swap(2, 3);
        let broken = verify_export(&lines.join("\n"), Some(&trusted())).unwrap_err();
        assert_eq!((broken.line, broken.seq), (3, Some(3)), "{broken}");
        assert!(broken.problem.contains("reordered"), "{broken}");
    }

    #[test]
    fn a_cut_tail_and_a_rewritten_chain_are_refused() {
        let stores = Stores::in_memory();
        queue(&stores, "acme", "2026-12-03T05:00:00Z", 4);
        let log = export(&stores, "acme");
        let lines: Vec<&str> = log.lines().collect();
        let cut = [&lines[..4], &lines[5..]].concat().join("\n");
        let broken = verify_export(&cut, Some(&trusted())).unwrap_err();
        assert!(broken.problem.contains("cut"), "{broken}");

        // A consistent rewrite (every hash recomputed) still differs from the signed checkpoint.
        let mut rewritten = Vec::new();
        let mut prev = GENESIS.to_owned();
        for line in &lines[1..5] {
            let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
            if v["seq"] == 2 {
                v["what"] = "nothing to see".into();
            }
            v["prev"] = prev.clone().into();
            let hash = content_hash(&v);
            v["hash"] = hash.clone().into();
            prev = hash;
            rewritten.push(canonical_json(&v));
        }
        let forged = [
            vec![lines[0].to_owned()],
            rewritten,
            vec![lines[5].to_owned()],
        ]
        .concat()
        .join("\n");
        let broken = verify_export(&forged, Some(&trusted())).unwrap_err();
        assert!(broken.problem.contains("rewritten"), "{broken}");
    }

    #[test]
    fn another_key_and_no_checkpoint_are_refused() {
        let stores = Stores::in_memory();
        queue(&stores, "acme", "2026-12-03T05:00:00Z", 2);
        let log = export(&stores, "acme");
        let stranger = SigningKey::from_bytes(&[1u8; 32]).verifying_key();
        let broken = verify_export(&log, Some(&stranger)).unwrap_err();
        assert!(broken.problem.contains("not signed"), "{broken}");
        let unsigned: Vec<&str> = log.lines().filter(|l| !l.contains("checkpoint")).collect();
        let broken = verify_export(&unsigned.join("\n"), Some(&trusted())).unwrap_err();
        assert!(broken.problem.contains("no signed checkpoint"), "{broken}");
        let self_named = verify_export(&log, None).unwrap();
        assert_eq!(self_named.warnings.len(), 1, "{:?}", self_named.warnings);
    }

    #[test]
    fn a_chainer_killed_half_way_is_carried_on_without_gaps_or_twins() {
        let stores = Stores::in_memory();
        queue(&stores, "acme", "2026-12-03T05:00:00Z", 2);
        chain(&stores, None, 0).unwrap();
        // Killed after appending entry 3 but before writing the head or deleting the queue key.
        queue(&stores, "acme", "2026-12-03T05:00:05Z", 1);
        let head = current_head(&stores, "acme").unwrap();
        let source = "2026-12-03T05:00:05Z/s/mapping/000";
        let entry =
            Entry::next(&head, "acme", source, change("2026-12-03T05:00:05Z", "x")).unwrap();
        stores
            .data
            .set(
                &keys::audit_entry("acme", 3),
                entry.to_line().unwrap().as_bytes(),
            )
            .unwrap();
        stores
            .data
            .set(&keys::audit_chained("acme", source), b"3")
            .unwrap();
        chain(&stores, None, 0).unwrap();
        let all = page(&stores, "acme", 0, 10).unwrap();
        assert_eq!(all.head.seq, 3, "the queued key was not chained twice");
        verify_export(&export(&stores, "acme"), Some(&trusted())).unwrap();
    }

    #[test]
    fn daily_checkpoints_cover_chains_that_grew_once_a_day() {
        let stores = Stores::in_memory();
        queue(&stores, "acme", "2026-12-03T05:00:00Z", 2);
        let day = 1_764_720_000;
        assert_eq!(chain(&stores, Some(&key()), day).unwrap().checkpoints, 1);
        queue(&stores, "acme", "2026-12-03T06:00:00Z", 1);
        assert_eq!(
            chain(&stores, Some(&key()), day + 60).unwrap().checkpoints,
            0
        );
        assert_eq!(
            chain(&stores, Some(&key()), day + 86_400)
                .unwrap()
                .checkpoints,
            1
        );
        let all = checkpoints(&stores, "acme").unwrap();
        assert_eq!(all.iter().map(|c| c.seq).collect::<Vec<_>>(), [2, 3]);
    }

    #[test]
    fn a_record_queues_each_event_once() {
        let stores = Stores::in_memory();
        let mut record: Record = serde_json::from_value(serde_json::json!({
            "id": "r0000000000010000000000ab", "tenant": "acme", "vin": "WVWZZZ1JZXW000001",
            "version": 1, "stage": 1, "reference_id": "x", "approval_number": "e1*1",
            "category": "M1", "source": "json", "status": "validated",
            "created_at": "2026-12-03T05:00:00Z", "updated_at": "2026-12-03T05:00:00Z",
            "events": [
                {"at": "2026-12-03T05:00:00Z", "actor": "map", "status": "received"},
                {"at": "2026-12-03T05:00:00Z", "actor": "validate", "status": "validated"}
            ]
        }))
        .unwrap();
        queue_record_events(&stores, &mut record).unwrap();
        queue_record_events(&stores, &mut record).unwrap();
        assert_eq!(stores.audit.len(), 2);
        chain(&stores, None, 0).unwrap();
        let log = page(&stores, "acme", 0, 10).unwrap();
        assert_eq!(log.entries[1]["what"], "validated");
        assert_eq!(log.entries[1]["detail"]["vin"], "WVWZZZ1JZXW000001");
        assert_eq!(
            log.entries[1]["subject"],
            "record/r0000000000010000000000ab"
        );
    }
}
