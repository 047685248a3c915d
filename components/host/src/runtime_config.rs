//! `runtime-config.toml` in Spin's format: which backend serves each key-value label, and the
//! client TLS settings of outbound HTTPS (`[[client_tls]]`, see [`crate::client_tls`]).
//!
//! ```toml
//! [key_value_store.default]
//! type = "spin"                 # SQLite file
//! path = "sqlite_key_value.db"  # relative to the state folder (`--state-dir`)
//!
//! [key_value_store.shared]
//! type = "redis"
//! url = "redis://127.0.0.1:6379"
//! ```
//!
//! The `default` label always has a backend: without configuration it is the SQLite file
//! `<state-dir>/sqlite_key_value.db`, the same place Spin uses.
//!
//! **State stays under the state folder.** A relative SQLite `path` is resolved against the state
//! folder, so `ecoc up --state-dir X` keeps every store under `X` and two hosts started from one
//! checkout with different `--state-dir` never share a file; only an absolute `path` puts a store
//! elsewhere. (Spin resolves a relative `path` against the runtime config's folder instead: under
//! `spin up` the shipped file's stores are `./sqlite_key_value.db`.) Files named by
//! `[[client_tls]]` are read relative to the runtime config's folder, as in Spin.
//!
//! **Each label is its own key space.** Several labels may share one SQLite file (its table keys
//! every entry by label, as Spin's does), but Redis keys are stored as given, by Spin as by this
//! host: two labels on one Redis database would see, list and delete each other's keys. So two
//! labels on the same Redis server and database are refused at start, naming both; give each its
//! own database (`redis://host:6379/0`, `/1`, ...), which real Spin honours the same way.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::client_tls::ClientTlsConfigs;
use crate::error::{Error, Result};

/// File name of the default SQLite store inside the state folder (Spin's name).
pub const DEFAULT_SQLITE_FILE: &str = "sqlite_key_value.db";

/// Backend settings for one label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    Sqlite { path: PathBuf },
    Redis { url: String },
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
enum RawStore {
    Spin {
        #[serde(default)]
        path: Option<PathBuf>,
    },
    Redis {
        url: String,
    },
}

#[derive(Deserialize)]
struct RawRuntimeConfig {
    #[serde(default)]
    key_value_store: BTreeMap<String, RawStore>,
}

/// Parsed runtime configuration.
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    pub key_value_stores: BTreeMap<String, StoreConfig>,
    /// `[[client_tls]]` entries, read and checked (PEM files loaded) at start.
    pub client_tls: ClientTlsConfigs,
}

/// What one runtime-config file says.
#[derive(Debug)]
struct Parsed {
    stores: BTreeMap<String, StoreConfig>,
    client_tls: ClientTlsConfigs,
}

impl RuntimeConfig {
    /// Reads `path` if given; `state_dir` places the default SQLite file and every relative one.
    pub fn load(path: Option<&Path>, state_dir: &Path) -> Result<Self> {
        let mut stores = BTreeMap::new();
        let mut client_tls = ClientTlsConfigs::default();
        if let Some(path) = path {
            let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
                path: path.to_owned(),
                source,
            })?;
            let folder = path.parent().unwrap_or(Path::new("."));
            let parsed =
                Self::parse(&text, folder, state_dir).map_err(|message| Error::RuntimeConfig {
                    path: path.to_owned(),
                    message,
                })?;
            stores = parsed.stores;
            client_tls = parsed.client_tls;
        }
        stores
            .entry("default".to_string())
            .or_insert_with(|| StoreConfig::Sqlite {
                path: state_dir.join(DEFAULT_SQLITE_FILE),
            });
        check_key_spaces(&stores).map_err(|message| Error::RuntimeConfig {
            path: path.map_or_else(|| PathBuf::from("(no runtime config)"), Path::to_owned),
            message,
        })?;
        Ok(Self {
            key_value_stores: stores,
            client_tls,
        })
    }

    /// Adds the `[[client_tls]]` entries of `text` (the embedding program's, e.g. `ecoc up --dev`'s
    /// link to its EU NAP sandbox; paths absolute) after the file's own.
    pub fn add_client_tls(&mut self, text: &str) -> Result<()> {
        let invalid = |message: String| Error::RuntimeConfig {
            path: PathBuf::from("(client TLS of the embedding program)"),
            message,
        };
        let table: toml::Table = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let more = ClientTlsConfigs::from_value(table.get("client_tls"), Path::new("."))
            .map_err(invalid)?;
        self.client_tls.extend(more);
        Ok(())
    }

    /// `folder` is the file's own (for `[[client_tls]]` files), `state_dir` the stores'.
    fn parse(text: &str, folder: &Path, state_dir: &Path) -> std::result::Result<Parsed, String> {
        let table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        for key in table.keys() {
            if key != "key_value_store" && key != "client_tls" {
                tracing::warn!("runtime config: `{key}` is not used by this host; ignored");
            }
        }
        let client_tls = ClientTlsConfigs::from_value(table.get("client_tls"), folder)?;
        let raw: RawRuntimeConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        let stores = raw
            .key_value_store
            .into_iter()
            .map(|(label, store)| {
                let config = match store {
                    RawStore::Spin { path } => StoreConfig::Sqlite {
                        // `join` keeps an absolute path as it is.
                        path: state_dir
                            .join(path.unwrap_or_else(|| PathBuf::from(DEFAULT_SQLITE_FILE))),
                    },
                    RawStore::Redis { url } => StoreConfig::Redis { url },
                };
                Ok((label, config))
            })
            .collect::<std::result::Result<_, String>>()?;
        Ok(Parsed { stores, client_tls })
    }
}

/// The Redis key space of a URL: server address and database, whatever else the URL says (user,
/// password, query). `None` when the URL cannot be read (connecting will say why).
fn redis_key_space(url: &str) -> Option<String> {
    use redis::IntoConnectionInfo;
    let info = url.into_connection_info().ok()?;
    Some(format!("{} database {}", info.addr, info.redis.db))
}

/// Refuses two labels configured onto one Redis key space.
fn check_key_spaces(stores: &BTreeMap<String, StoreConfig>) -> std::result::Result<(), String> {
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for (label, config) in stores {
        let StoreConfig::Redis { url } = config else {
            continue;
        };
        let Some(space) = redis_key_space(url) else {
            continue;
        };
        if let Some(first) = seen.insert(space.clone(), label) {
            return Err(format!(
                "key-value labels `{first}` and `{label}` are both on Redis {space}: they would read, \
                 list and delete each other's keys. Give each label its own database, e.g. \
                 `redis://host:6379/0` for one and `redis://host:6379/1` for the other"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_and_redis_labels_with_default_fallback() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("runtime-config.toml");
        let elsewhere = dir.path().join("elsewhere.db");
        std::fs::write(
            &file,
            format!(
                "[key_value_store.shared]\ntype = \"redis\"\nurl = \"redis://127.0.0.1:6379\"\n\
                 [key_value_store.audit]\ntype = \"spin\"\npath = \"data/audit.db\"\n\
                 [key_value_store.work]\ntype = \"spin\"\n\
                 [key_value_store.vins]\ntype = \"spin\"\npath = {:?}\n",
                elsewhere.display().to_string()
            ),
        )
        .unwrap();
        let rc = RuntimeConfig::load(Some(&file), Path::new("/state")).unwrap();
        let sqlite = |label: &str| match &rc.key_value_stores[label] {
            StoreConfig::Sqlite { path } => path.clone(),
            other => panic!("{label}: {other:?}"),
        };
        assert_eq!(sqlite("default"), Path::new("/state/sqlite_key_value.db"));
        // Relative paths and a missing one are under the state folder, not the file's.
        assert_eq!(sqlite("audit"), Path::new("/state/data/audit.db"));
        assert_eq!(sqlite("work"), Path::new("/state/sqlite_key_value.db"));
        // Only an absolute path leaves it.
        assert_eq!(sqlite("vins"), elsewhere);
        assert!(matches!(
            rc.key_value_stores["shared"],
            StoreConfig::Redis { .. }
        ));
    }

    #[test]
    fn two_labels_on_one_redis_key_space_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("runtime-config.toml");
        let write = |text: &str| std::fs::write(&file, text).unwrap();
        // Same server, database 0 spelled two ways: refused, naming both labels.
        write(
            "[key_value_store.default]\ntype = \"redis\"\nurl = \"redis://127.0.0.1:6379\"\n\
             [key_value_store.work]\ntype = \"redis\"\nurl = \"redis://:secret@127.0.0.1:6379/0\"\n",
        );
        let err = RuntimeConfig::load(Some(&file), Path::new("/state"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`default`") && err.contains("`work`"), "{err}");
        assert!(!err.contains("secret"), "no password in the message: {err}");
        // One database each: accepted; SQLite labels may share a file.
        write(
            "[key_value_store.default]\ntype = \"redis\"\nurl = \"redis://127.0.0.1:6379/0\"\n\
             [key_value_store.work]\ntype = \"redis\"\nurl = \"redis://127.0.0.1:6379/1\"\n\
             [key_value_store.vins]\ntype = \"spin\"\npath = \"kv.db\"\n\
             [key_value_store.claims]\ntype = \"spin\"\npath = \"kv.db\"\n",
        );
        assert!(RuntimeConfig::load(Some(&file), Path::new("/state")).is_ok());
    }

    #[test]
    fn unknown_store_type_is_refused() {
        let err = RuntimeConfig::parse(
            "[key_value_store.x]\ntype = \"azure\"\n",
            Path::new("."),
            Path::new("."),
        )
        .unwrap_err();
        assert!(err.contains("azure"), "{err}");
    }
}
