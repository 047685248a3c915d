//! The NAP's persistent state: client credentials (`nap.json`), the inbox of accepted files and the
//! submissions journal (`submissions.jsonl`, one JSON record per line, the last record of an id
//! wins), so a restarted sandbox still refuses duplicates and still knows every status.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use crate::support::{self, random_hex};
use crate::{Error, Result};

/// Client credentials file in the state directory (mode 0600).
pub const NAP_JSON: &str = "nap.json";
/// The submissions journal in the state directory.
pub const JOURNAL: &str = "submissions.jsonl";
/// The inbox folder in the state directory: `<id>.xml` and `<id>.json` per accepted file.
pub const INBOX: &str = "inbox";

/// One OAuth2 client: one manufacturer's account at the NAP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NapClient {
    /// OAuth2 `client_id`.
    pub client_id: String,
    /// OAuth2 `client_secret` (random, generated at first start).
    pub client_secret: String,
    /// The manufacturer this account belongs to (display only).
    pub manufacturer: String,
}

/// Content of `nap.json`: the configured clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NapDescription {
    /// At least two clients, so isolation between manufacturers can be tested.
    pub clients: Vec<NapClient>,
}

impl NapDescription {
    /// Reads `<state_dir>/nap.json`, creating it (two clients, random secrets) at first start.
    ///
    /// # Errors
    /// [`Error::StateIo`] / [`Error::StateFormat`] / [`Error::Random`].
    pub fn load_or_create(state_dir: &Path) -> Result<Self> {
        support::create_dir(state_dir)?;
        let path = state_dir.join(NAP_JSON);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let description: Self =
                    serde_json::from_str(&text).map_err(|e| Error::StateFormat {
                        path: path.clone(),
                        reason: e.to_string(),
                    })?;
                if description.clients.is_empty() {
                    return Err(Error::StateFormat {
                        path,
                        reason: "no clients".into(),
                    });
                }
                Ok(description)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let description = Self {
                    clients: vec![
                        NapClient {
                            client_id: "manufacturer-a".into(),
                            client_secret: random_hex(24)?,
                            manufacturer: "Sandbox Motors A".into(),
                        },
                        NapClient {
                            client_id: "manufacturer-b".into(),
                            client_secret: random_hex(24)?,
                            manufacturer: "Sandbox Motors B".into(),
                        },
                    ],
                };
                let json =
                    serde_json::to_vec_pretty(&description).map_err(|e| Error::StateFormat {
                        path: path.clone(),
                        reason: e.to_string(),
                    })?;
                support::write_atomic(&path, &json, true)?;
                Ok(description)
            }
            Err(source) => Err(Error::StateIo { path, source }),
        }
    }

    /// The client with this id.
    pub fn client(&self, client_id: &str) -> Option<&NapClient> {
        self.clients.iter().find(|c| c.client_id == client_id)
    }
}

/// Processing status, as the VCA portal names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Status {
    /// Accepted, waiting to be processed.
    Received,
    /// Being processed.
    Processing,
    /// Processed: the eCoC is registered.
    Succeeded,
    /// Processed and refused; `reason` says why.
    Failed,
}

impl Status {
    /// Received or Processing.
    pub fn is_pending(self) -> bool {
        matches!(self, Self::Received | Self::Processing)
    }

    /// All four, in lifecycle order.
    pub const ALL: [Self; 4] = [
        Self::Received,
        Self::Processing,
        Self::Succeeded,
        Self::Failed,
    ];
}

/// One accepted submission (a journal record and the inbox metadata file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    /// Order of acceptance.
    pub seq: u64,
    /// UUID v4.
    pub submission_id: String,
    /// The OAuth2 client (manufacturer) that submitted it.
    pub client_id: String,
    /// Current status.
    pub status: Status,
    /// Why it Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// RFC 3339 UTC.
    pub received_at: String,
    /// RFC 3339 UTC, last status change.
    pub updated_at: String,
    /// `VehicleIdentificationNumber`.
    pub vin: String,
    /// `IviVersionNumber`.
    pub version: u32,
    /// `ManufacturerStageNumber`.
    pub stage: u32,
    /// `IviReferenceId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_id: Option<String>,
    /// `TypeApprovalNumber`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_number: Option<String>,
    /// Size of the file in bytes.
    pub size: usize,
}

/// The duplicate key: client, VIN, version, stage.
type Key = (String, String, u32, u32);

fn key_of(s: &Submission) -> Key {
    (s.client_id.clone(), s.vin.clone(), s.version, s.stage)
}

#[derive(Debug, Default)]
struct Index {
    by_id: HashMap<String, Submission>,
    /// Keys of submissions that block a resend (every status but Failed).
    active: HashMap<Key, String>,
    next_seq: u64,
}

/// The result of trying to reserve a key.
#[derive(Debug)]
pub(crate) enum Reserve {
    /// Inserted as Received.
    Reserved(Submission),
    /// An earlier submission holds the key.
    Duplicate(Submission),
}

/// Submissions in memory, journaled to disk.
#[derive(Debug)]
pub(crate) struct Store {
    dir: PathBuf,
    inbox: PathBuf,
    index: Mutex<Index>,
    journal: Mutex<std::fs::File>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Store {
    /// Opens (or creates) the inbox and the journal under `dir` and replays the journal.
    pub fn open(dir: &Path) -> Result<Self> {
        let inbox = dir.join(INBOX);
        support::create_dir(&inbox)?;
        let path = dir.join(JOURNAL);
        let mut index = Index::default();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                for (n, line) in text.lines().enumerate() {
                    if line.trim().is_empty() {
                        continue;
                    }
                    match serde_json::from_str::<Submission>(line) {
                        Ok(s) => {
                            index.next_seq = index.next_seq.max(s.seq + 1);
                            index.by_id.insert(s.submission_id.clone(), s);
                        }
                        // A crash during an append leaves a torn last line: skip it.
                        Err(e) => {
                            tracing::warn!(line = n + 1, error = %e, path = %path.display(), "skipping unreadable journal line")
                        }
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(Error::StateIo { path, source }),
        }
        for s in index.by_id.values() {
            if s.status != Status::Failed {
                index.active.insert(key_of(s), s.submission_id.clone());
            }
        }
        let journal = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|source| Error::StateIo {
                path: path.clone(),
                source,
            })?;
        Ok(Self {
            dir: dir.to_owned(),
            inbox,
            index: Mutex::new(index),
            journal: Mutex::new(journal),
        })
    }

    pub fn inbox(&self) -> &Path {
        &self.inbox
    }

    /// Reserves the key of a new submission, or names the submission that already holds it.
    pub fn reserve(&self, mut new: Submission) -> Reserve {
        let mut index = lock(&self.index);
        let key = key_of(&new);
        if let Some(existing) = index.active.get(&key).and_then(|id| index.by_id.get(id)) {
            return Reserve::Duplicate(existing.clone());
        }
        new.seq = index.next_seq;
        index.next_seq += 1;
        index.active.insert(key, new.submission_id.clone());
        index.by_id.insert(new.submission_id.clone(), new.clone());
        Reserve::Reserved(new)
    }

    /// Forgets a reservation whose file could not be stored.
    pub fn release(&self, id: &str) {
        let mut index = lock(&self.index);
        if let Some(s) = index.by_id.remove(id) {
            index.active.remove(&key_of(&s));
        }
    }

    /// Writes the file into the inbox (temp file + rename, fsynced), then journals the record and
    /// fsyncs the journal: an accepted file and its record are on disk before the answer. Its
    /// metadata copy comes with its final status ([`Store::set_status`]). Blocking: call from a
    /// blocking thread.
    pub fn persist_new(&self, submission: &Submission, xml: &[u8]) -> Result<()> {
        let id = &submission.submission_id;
        support::write_atomic(&self.inbox.join(format!("{id}.xml")), xml, false)?;
        self.journal(submission, true)
    }

    fn write_meta(&self, submission: &Submission) -> Result<()> {
        let path = self
            .inbox
            .join(format!("{}.json", submission.submission_id));
        let json = serde_json::to_vec_pretty(submission).map_err(|e| Error::StateFormat {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        // The journal holds the same record; this file is its readable copy.
        support::write_atomic_unsynced(&path, &json)
    }

    /// Appends `submission` to the journal; `durable` fsyncs it.
    fn journal(&self, submission: &Submission, durable: bool) -> Result<()> {
        let path = self.dir.join(JOURNAL);
        let mut line = serde_json::to_vec(submission).map_err(|e| Error::StateFormat {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        line.push(b'\n');
        let mut journal = lock(&self.journal);
        journal
            .write_all(&line)
            .and_then(|()| if durable { journal.sync_data() } else { Ok(()) })
            .map_err(|source| Error::StateIo { path, source })
    }

    /// Moves a submission to `status`: journals the change (and, for Succeeded or Failed, writes
    /// its metadata copy) first, then shows it, so a status read over HTTP is always already
    /// written (to the kernel: a status change is not fsynced, a power cut may take it back to
    /// the previous status, which the NAP then processes again after its restart). Blocking.
    pub fn set_status(
        &self,
        id: &str,
        status: Status,
        reason: Option<String>,
        now: String,
    ) -> Result<Option<Submission>> {
        let Some(mut updated) = self.get(id) else {
            return Ok(None);
        };
        updated.status = status;
        updated.reason = reason;
        updated.updated_at = now;
        self.journal(&updated, false)?;
        // One metadata file per submission, written once: each file the NAP creates or replaces
        // costs the file system an inode, which was most of this sandbox's CPU.
        if !updated.status.is_pending() {
            self.write_meta(&updated)?;
        }
        let mut index = lock(&self.index);
        if status == Status::Failed {
            // A failed file does not block a resend of the same key.
            let key = key_of(&updated);
            if index.active.get(&key) == Some(&updated.submission_id) {
                index.active.remove(&key);
            }
        }
        index
            .by_id
            .insert(updated.submission_id.clone(), updated.clone());
        Ok(Some(updated))
    }

    pub fn get(&self, id: &str) -> Option<Submission> {
        lock(&self.index).by_id.get(id).cloned()
    }

    /// Every submission, in order of acceptance.
    pub fn all(&self) -> Vec<Submission> {
        let mut all: Vec<Submission> = lock(&self.index).by_id.values().cloned().collect();
        all.sort_by_key(|s| s.seq);
        all
    }
}
