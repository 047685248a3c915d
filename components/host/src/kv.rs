//! Key-value backends behind `fermyon:spin/key-value`: a SQLite file laid out as Spin lays
//! it out (so a `.spin/` folder moves between Spin and this host) and Redis.
//!
//! SQLite runs in WAL mode with `synchronous = FULL`: a `set` that returned is on disk. To
//! keep that affordable under load, writes go through one writer thread that commits every
//! write waiting at that moment in one transaction (group commit): one fsync serves many
//! concurrent requests, and none of them is answered before its commit.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::oneshot;

/// Errors of a store operation, as the guest sees them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    #[error("{0}")]
    Other(String),
}

type KvResult<T> = std::result::Result<T, KvError>;

fn other(e: impl std::fmt::Display) -> KvError {
    KvError::Other(e.to_string())
}

/// Most writes one commit carries.
pub const MAX_GROUP_COMMIT: usize = 512;

/// A configured store backend, shared by every component that opens its label.
#[derive(Debug)]
pub enum Backend {
    Sqlite(SqliteBackend),
    Redis(RedisBackend),
}

impl Backend {
    pub async fn get(&self, store: &str, key: &str) -> KvResult<Option<Vec<u8>>> {
        match self {
            Self::Sqlite(b) => b.get(store, key).await,
            Self::Redis(b) => b.get(key).await,
        }
    }

    pub async fn set(&self, store: &str, key: &str, value: Vec<u8>) -> KvResult<()> {
        match self {
            Self::Sqlite(b) => b.write(store, key, Some(value)).await,
            Self::Redis(b) => b.set(key, value).await,
        }
    }

    pub async fn delete(&self, store: &str, key: &str) -> KvResult<()> {
        match self {
            Self::Sqlite(b) => b.write(store, key, None).await,
            Self::Redis(b) => b.delete(key).await,
        }
    }

    pub async fn exists(&self, store: &str, key: &str) -> KvResult<bool> {
        match self {
            Self::Sqlite(b) => b.exists(store, key).await,
            Self::Redis(b) => b.exists(key).await,
        }
    }

    pub async fn get_keys(&self, store: &str) -> KvResult<Vec<String>> {
        match self {
            Self::Sqlite(b) => b.keys(store).await,
            Self::Redis(b) => b.keys().await,
        }
    }

    /// A one-line description for the start-up log.
    pub fn summary(&self) -> String {
        match self {
            Self::Sqlite(b) => format!("SQLite file {}", b.path.display()),
            Self::Redis(b) => format!("Redis at {}", b.display_url),
        }
    }
}

struct WriteOp {
    store: String,
    key: String,
    /// `None` deletes.
    value: Option<Vec<u8>>,
    reply: oneshot::Sender<KvResult<()>>,
}

/// SQLite file with Spin's `spin_key_value` table.
#[derive(Debug)]
pub struct SqliteBackend {
    path: PathBuf,
    /// Held for the backend's life: a second `ecoc up` on the same file is refused (see
    /// [`SqliteBackend::open`]); the operating system lets go when the process ends, however.
    _lock: std::fs::File,
    writer: std::sync::mpsc::Sender<WriteOp>,
    readers: Arc<Mutex<Vec<Connection>>>,
}

impl SqliteBackend {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> std::result::Result<Self, String> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        let lock = hold_lock(path)?;
        let conn = open_connection(path)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS spin_key_value (
                 store TEXT NOT NULL,
                 key   TEXT NOT NULL,
                 value BLOB NOT NULL,
                 PRIMARY KEY (store, key)
             );",
        )
        .map_err(|e| format!("cannot create table in {}: {e}", path.display()))?;
        let (tx, rx) = std::sync::mpsc::channel::<WriteOp>();
        std::thread::Builder::new()
            .name("kv-sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx))
            .map_err(|e| format!("cannot start the writer thread: {e}"))?;
        Ok(Self {
            path: path.to_owned(),
            _lock: lock,
            writer: tx,
            readers: Arc::new(Mutex::new(Vec::new())),
        })
    }

    async fn write(&self, store: &str, key: &str, value: Option<Vec<u8>>) -> KvResult<()> {
        let (reply, answer) = oneshot::channel();
        self.writer
            .send(WriteOp {
                store: store.to_owned(),
                key: key.to_owned(),
                value,
                reply,
            })
            .map_err(|_| other("the key-value writer has stopped"))?;
        answer
            .await
            .map_err(|_| other("the key-value writer has stopped"))?
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> KvResult<T> {
        let readers = self.readers.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || with_reader(&readers, &path, f))
            .await
            .map_err(other)?
    }

    /// A point read on the calling thread: an indexed lookup in a WAL database takes
    /// microseconds, less than handing it to a blocking thread and back (which `read` does for
    /// listings, whose time grows with the store).
    fn read_inline<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> KvResult<T> {
        with_reader(&self.readers, &self.path, f)
    }

    async fn get(&self, store: &str, key: &str) -> KvResult<Option<Vec<u8>>> {
        self.read_inline(|c| {
            c.prepare_cached("SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                .query_row(params![store, key], |row| row.get(0))
                .optional()
        })
    }

    async fn exists(&self, store: &str, key: &str) -> KvResult<bool> {
        self.read_inline(|c| {
            c.prepare_cached("SELECT 1 FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                .exists(params![store, key])
        })
    }

    async fn keys(&self, store: &str) -> KvResult<Vec<String>> {
        let store = store.to_owned();
        self.read(move |c| {
            let mut stmt =
                c.prepare_cached("SELECT key FROM spin_key_value WHERE store = ?1 ORDER BY key")?;
            let rows = stmt.query_map(params![store], |row| row.get(0))?;
            rows.collect()
        })
        .await
    }
}

/// Runs `f` on a pooled reader connection (opened on first need) and puts it back.
fn with_reader<T>(
    readers: &Mutex<Vec<Connection>>,
    path: &Path,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> KvResult<T> {
    let pooled = readers.lock().map_err(other)?.pop();
    let conn = match pooled {
        Some(c) => c,
        None => open_connection(path).map_err(KvError::Other)?,
    };
    let result = f(&conn).map_err(other);
    readers.lock().map_err(other)?.push(conn);
    result
}

fn open_connection(path: &Path) -> std::result::Result<Connection, String> {
    let conn =
        Connection::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .and_then(|()| conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"))
        .map_err(|e| format!("cannot configure {}: {e}", path.display()))?;
    Ok(conn)
}

fn writer_loop(mut conn: Connection, rx: std::sync::mpsc::Receiver<WriteOp>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_GROUP_COMMIT {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let outcome = apply_batch(&mut conn, &batch);
        for (op, result) in batch.into_iter().zip(outcome) {
            let _ = op.reply.send(result);
        }
    }
}

/// Applies every write in one transaction; each op gets its own result, and all fail if the
/// commit fails (nothing was written then).
fn apply_batch(conn: &mut Connection, batch: &[WriteOp]) -> Vec<KvResult<()>> {
    let run = |conn: &mut Connection| -> rusqlite::Result<Vec<KvResult<()>>> {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut results = Vec::with_capacity(batch.len());
        for op in batch {
            let r = match &op.value {
                Some(v) => tx
                    .prepare_cached(
                        "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
                         ON CONFLICT(store, key) DO UPDATE SET value = excluded.value",
                    )
                    .and_then(|mut s| s.execute(params![op.store, op.key, v])),
                None => tx
                    .prepare_cached("DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2")
                    .and_then(|mut s| s.execute(params![op.store, op.key])),
            };
            results.push(r.map(|_| ()).map_err(other));
        }
        tx.commit()?;
        Ok(results)
    };
    match run(conn) {
        Ok(results) => results,
        Err(e) => batch.iter().map(|_| Err(other(&e))).collect(),
    }
}

/// Takes the file lock beside `path` (`<path>.ecoc-lock`), or says which file another host holds.
/// Two hosts on one SQLite file would each run its own sweep, claims and dev seeding over a store
/// the other changes under it; a host that outgrows one process shares a Redis store instead.
fn hold_lock(path: &Path) -> std::result::Result<std::fs::File, String> {
    let lock_path = PathBuf::from(format!("{}.ecoc-lock", path.display()));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("cannot open {}: {e}", lock_path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(format!(
            "{} is in use by another ecoc up (it holds {}): give each host its own --state-dir \
             (and a runtime config whose paths lie under it), or share a Redis store",
            path.display(),
            lock_path.display()
        )),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(format!("cannot lock {}: {e}", lock_path.display()))
        }
    }
}

/// A Redis server; keys are stored as given, as Spin does.
///
/// Through a connection manager: when Redis restarts (or the network drops), the command in flight
/// fails, which the caller sees as a store error (the step answers 503 and is retried), and the
/// next commands wait for a new connection instead of failing for the rest of the host's life.
pub struct RedisBackend {
    display_url: String,
    conn: redis::aio::ConnectionManager,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("url", &self.display_url)
            .finish_non_exhaustive()
    }
}

impl RedisBackend {
    /// Connects to `url` (`redis://host:port[/db]`).
    pub async fn connect(url: &str) -> std::result::Result<Self, String> {
        let display_url = redact_url(url);
        let client = redis::Client::open(url).map_err(|e| format!("{display_url}: {e}"))?;
        // A command waits at most 5 s for its answer; reconnecting retries for about 6 s
        // (0.1, 0.2, ... 2 s apart) before the command that waits for it fails.
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(std::time::Duration::from_secs(2))
            .set_response_timeout(std::time::Duration::from_secs(5))
            .set_max_delay(2_000);
        let conn = redis::aio::ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| format!("cannot connect to {display_url}: {e}"))?;
        Ok(Self { display_url, conn })
    }

    /// Runs `cmd`; when the connection was lost under it (Redis restarted, the network dropped),
    /// once more on the connection the manager makes anew. Every command here is idempotent (GET,
    /// SET of one value, DEL, EXISTS, a SCAN step), so running one twice changes nothing.
    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> KvResult<T> {
        match cmd.query_async(&mut self.conn.clone()).await {
            Err(e) if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() => {
                tracing::warn!(redis = %self.display_url, error = %e, "Redis connection lost; trying again");
                cmd.query_async(&mut self.conn.clone())
                    .await
                    .map_err(|e| KvError::Other(format!("Redis {}: {e}", self.display_url)))
            }
            result => result.map_err(other),
        }
    }

    async fn get(&self, key: &str) -> KvResult<Option<Vec<u8>>> {
        self.query(redis::cmd("GET").arg(key)).await
    }

    async fn set(&self, key: &str, value: Vec<u8>) -> KvResult<()> {
        self.query(redis::cmd("SET").arg(key).arg(value)).await
    }

    async fn delete(&self, key: &str) -> KvResult<()> {
        self.query::<i64>(redis::cmd("DEL").arg(key))
            .await
            .map(|_| ())
    }

    async fn exists(&self, key: &str) -> KvResult<bool> {
        self.query(redis::cmd("EXISTS").arg(key)).await
    }

    async fn keys(&self) -> KvResult<Vec<String>> {
        let mut cursor: u64 = 0;
        let mut keys = Vec::new();
        loop {
            let (next, batch): (u64, Vec<String>) = self
                .query(redis::cmd("SCAN").arg(cursor).arg("COUNT").arg(1000))
                .await?;
            keys.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }
}

/// Hides a password in a Redis URL before it reaches a log.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread")]
    async fn sqlite_set_get_delete_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.db");
        {
            let db = SqliteBackend::open(&path).unwrap();
            db.write("default", "a", Some(b"1".to_vec())).await.unwrap();
            db.write("default", "b", Some(b"2".to_vec())).await.unwrap();
            db.write("other", "a", Some(b"x".to_vec())).await.unwrap();
            db.write("default", "b", None).await.unwrap();
            assert_eq!(db.get("default", "a").await.unwrap(), Some(b"1".to_vec()));
        }
        let db = SqliteBackend::open(&path).unwrap();
        assert_eq!(db.keys("default").await.unwrap(), vec!["a".to_string()]);
        assert_eq!(db.get("other", "a").await.unwrap(), Some(b"x".to_vec()));
        assert!(!db.exists("default", "b").await.unwrap());
        // Spin's own layout, read with plain SQL.
        let conn = Connection::open(&path).unwrap();
        let n: i64 = conn
            .query_row("SELECT count(*) FROM spin_key_value", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 2);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn concurrent_writes_all_land() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(SqliteBackend::open(&dir.path().join("kv.db")).unwrap());
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let db = db.clone();
                tokio::spawn(async move {
                    db.write("s", &format!("k{i:03}"), Some(vec![i as u8]))
                        .await
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(db.keys("s").await.unwrap().len(), 200);
    }

    #[test]
    fn a_second_host_on_one_sqlite_file_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.db");
        let first = SqliteBackend::open(&path).unwrap();
        let Err(refused) = SqliteBackend::open(&path) else {
            panic!("two backends on one file");
        };
        assert!(
            refused.contains("kv.db") && refused.contains("in use"),
            "{refused}"
        );
        drop(first);
        assert!(
            SqliteBackend::open(&path).is_ok(),
            "free again once the first is gone"
        );
    }

    #[test]
    fn redis_password_is_redacted() {
        assert_eq!(redact_url("redis://:pw@host:6379"), "redis://***@host:6379");
        assert_eq!(redact_url("redis://host"), "redis://host");
    }
}
