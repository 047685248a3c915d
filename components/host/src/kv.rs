//! Key-value backends behind `fermyon:spin/key-value`: a SQLite file laid out as Spin lays
//! it out (so a `.spin/` folder moves between Spin and this host) and Redis.
//!
//! SQLite runs in WAL mode. Writes go through one writer thread that commits every write
//! waiting at that moment in one transaction (group commit), and a write is visible to every
//! reader once its `set` returns. What reaches the disk when is decided by [`Durability`], not
//! by each commit: the connection runs `synchronous = NORMAL` (a commit is not fsynced; a crash
//! of the process loses nothing, the kernel holds the pages), and the host calls
//! [`Durability::wait`] before anything leaves the process: an answer to a client, a request to
//! a remote service. That one fsync of the write-ahead log covers every commit made before it,
//! by any request, so an effect seen outside never depends on a write a power cut could take
//! back, and a step that writes ten keys costs one fsync instead of ten. SQLite itself fsyncs
//! the log before a checkpoint copies it into the database file and the file after, so what the
//! log no longer holds is on disk in the database.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
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

    /// Makes every write this backend committed so far survive a power cut (see [`Durability`]).
    /// Redis does that itself before it answers, when run as the README says
    /// (`appendfsync always`).
    pub async fn make_durable(&self) -> KvResult<()> {
        match self {
            Self::Sqlite(b) => b.make_durable().await,
            Self::Redis(_) => Ok(()),
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

/// The durability barrier over an app's stores: [`Durability::wait`] returns once every write
/// committed before the call, to any of them, is on disk. The host calls it before an answer
/// leaves for a client and before a request leaves for a remote service; requests chained inside
/// the process need none, since they live and die with it.
#[derive(Debug, Clone, Default)]
pub struct Durability {
    backends: Arc<[Arc<Backend>]>,
}

impl Durability {
    /// The barrier over `stores`, each backend once (several labels may share one file).
    pub fn over<'a>(stores: impl IntoIterator<Item = &'a Arc<Backend>>) -> Self {
        let mut backends: Vec<Arc<Backend>> = Vec::new();
        for store in stores {
            if !backends.iter().any(|b| Arc::ptr_eq(b, store)) {
                backends.push(store.clone());
            }
        }
        Self {
            backends: backends.into(),
        }
    }

    /// Waits until every write committed so far is durable; an error says which store failed.
    pub async fn wait(&self) -> KvResult<()> {
        for backend in self.backends.iter() {
            backend
                .make_durable()
                .await
                .map_err(|e| other(format!("{}: {e}", backend.summary())))?;
        }
        Ok(())
    }
}

/// What the writer thread is asked to do.
enum Job {
    Write(WriteOp),
    /// Fsync the write-ahead log, then answer.
    Sync(oneshot::Sender<KvResult<()>>),
}

struct WriteOp {
    store: String,
    key: String,
    /// `None` deletes.
    value: Option<Vec<u8>>,
    reply: oneshot::Sender<KvResult<()>>,
}

/// How far the writer has got: commits made, and how many of them a fsync has covered.
#[derive(Debug, Default)]
struct Progress {
    committed: AtomicU64,
    synced: AtomicU64,
    fsyncs: AtomicU64,
}

/// SQLite file with Spin's `spin_key_value` table.
#[derive(Debug)]
pub struct SqliteBackend {
    path: PathBuf,
    /// Held for the backend's life: a second `ecoc up` on the same file is refused (see
    /// [`SqliteBackend::open`]); the operating system lets go when the process ends, however.
    _lock: std::fs::File,
    writer: std::sync::mpsc::Sender<Job>,
    readers: Arc<Mutex<Vec<Connection>>>,
    progress: Arc<Progress>,
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
        // The database and its log exist now; their names in the folder must survive a power
        // cut too, or a fsynced log could be lost with its directory entry.
        sync_folder(path)
            .map_err(|e| format!("cannot fsync the folder of {}: {e}", path.display()))?;
        let progress = Arc::new(Progress::default());
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let writer = Writer {
            conn,
            wal: PathBuf::from(format!("{}-wal", path.display())),
            progress: progress.clone(),
        };
        std::thread::Builder::new()
            .name("kv-sqlite-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| format!("cannot start the writer thread: {e}"))?;
        Ok(Self {
            path: path.to_owned(),
            _lock: lock,
            writer: tx,
            readers: Arc::new(Mutex::new(Vec::new())),
            progress,
        })
    }

    /// See [`Durability`]. Returns at once when no commit has been made since the last fsync.
    async fn make_durable(&self) -> KvResult<()> {
        let committed = self.progress.committed.load(Ordering::Acquire);
        if self.progress.synced.load(Ordering::Acquire) >= committed {
            return Ok(());
        }
        let (reply, answer) = oneshot::channel();
        self.writer
            .send(Job::Sync(reply))
            .map_err(|_| other("the key-value writer has stopped"))?;
        answer
            .await
            .map_err(|_| other("the key-value writer has stopped"))?
    }

    /// How many times the writer has fsynced the log (for tests and benchmarks).
    pub fn fsyncs(&self) -> u64 {
        self.progress.fsyncs.load(Ordering::Acquire)
    }

    async fn write(&self, store: &str, key: &str, value: Option<Vec<u8>>) -> KvResult<()> {
        let (reply, answer) = oneshot::channel();
        self.writer
            .send(Job::Write(WriteOp {
                store: store.to_owned(),
                key: key.to_owned(),
                value,
                reply,
            }))
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
        .and_then(|()| {
            conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
        })
        .map_err(|e| format!("cannot configure {}: {e}", path.display()))?;
    Ok(conn)
}

/// The one connection that writes, on its own thread.
struct Writer {
    conn: Connection,
    /// The write-ahead log, `<database>-wal`.
    wal: PathBuf,
    progress: Arc<Progress>,
}

impl Writer {
    /// Takes what is waiting (up to [`MAX_GROUP_COMMIT`] writes), commits the writes in one
    /// transaction, then, if anyone asked, fsyncs the log once for all of them.
    fn run(mut self, rx: std::sync::mpsc::Receiver<Job>) {
        while let Ok(first) = rx.recv() {
            let mut writes = Vec::new();
            let mut syncs = Vec::new();
            let mut next = Some(first);
            while let Some(job) = next {
                match job {
                    Job::Write(op) => writes.push(op),
                    Job::Sync(reply) => syncs.push(reply),
                }
                next = if writes.len() < MAX_GROUP_COMMIT {
                    rx.try_recv().ok()
                } else {
                    None
                };
            }
            if !writes.is_empty() {
                // Counted before the commit: a reader may see its writes the moment it is made,
                // and a barrier that reader asks for must then not find "nothing to sync".
                self.progress.committed.fetch_add(1, Ordering::AcqRel);
                let outcome = apply_batch(&mut self.conn, &writes);
                for (op, result) in writes.into_iter().zip(outcome) {
                    let _ = op.reply.send(result);
                }
            }
            if !syncs.is_empty() {
                let result = self.sync();
                for reply in syncs {
                    let _ = reply.send(result.clone());
                }
            }
        }
    }

    /// Fsyncs the log, covering every commit made so far.
    fn sync(&self) -> KvResult<()> {
        let covered = self.progress.committed.load(Ordering::Acquire);
        match std::fs::File::open(&self.wal).and_then(|f| f.sync_data()) {
            Ok(()) => {}
            // No log: every commit is in the database file, which SQLite fsynced when it
            // checkpointed the log into it.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(other(format!("cannot fsync {}: {e}", self.wal.display()))),
        }
        self.progress.fsyncs.fetch_add(1, Ordering::AcqRel);
        self.progress.synced.fetch_max(covered, Ordering::AcqRel);
        Ok(())
    }
}

/// Fsyncs the folder that holds `path`, so the names in it are on disk.
fn sync_folder(path: &Path) -> std::io::Result<()> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::File::open(folder)?.sync_all()
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

    #[tokio::test(flavor = "multi_thread")]
    async fn one_fsync_makes_every_write_before_it_durable() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Arc::new(Backend::Sqlite(
            SqliteBackend::open(&dir.path().join("kv.db")).unwrap(),
        ));
        let Backend::Sqlite(db) = &*backend else {
            unreachable!()
        };
        // Two labels on one file: the barrier syncs that file once.
        let barrier = Durability::over([&backend, &backend]);
        for i in 0..10 {
            backend
                .set("default", &format!("k{i}"), vec![i])
                .await
                .unwrap();
        }
        assert_eq!(db.fsyncs(), 0, "a commit alone does not fsync");
        barrier.wait().await.unwrap();
        assert_eq!(db.fsyncs(), 1, "one fsync for the ten writes before it");
        barrier.wait().await.unwrap();
        backend.get("default", "k1").await.unwrap();
        barrier.wait().await.unwrap();
        assert_eq!(db.fsyncs(), 1, "nothing written since: nothing to sync");
        backend.delete("default", "k1").await.unwrap();
        barrier.wait().await.unwrap();
        assert_eq!(db.fsyncs(), 2, "a delete is a write");
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
