//! The host's one error type.

use std::path::PathBuf;

/// Everything that can stop the host from loading or serving an app.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid manifest {path}: {message}")]
    Manifest { path: PathBuf, message: String },
    #[error("invalid runtime config {path}: {message}")]
    RuntimeConfig { path: PathBuf, message: String },
    #[error("variable `{name}` is required but has no value (set it with SPIN_VARIABLE_{env})")]
    MissingVariable { name: String, env: String },
    #[error("invalid variable: {0}")]
    Variable(String),
    #[error("invalid route {route:?} for component `{component}`: {message}")]
    Route {
        route: String,
        component: String,
        message: String,
    },
    #[error("invalid allowed_outbound_hosts entry {entry:?} of component `{component}`: {message}")]
    OutboundHost {
        entry: String,
        component: String,
        message: String,
    },
    #[error("key-value store `{label}`: {message}")]
    KeyValue { label: String, message: String },
    #[error("component `{component}` ({path}): {message}")]
    Component {
        component: String,
        path: PathBuf,
        message: String,
    },
    #[error("build of component `{component}` failed: {message}")]
    Build { component: String, message: String },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Wasmtime(String),
}

/// Result with the host's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn wasmtime(context: &str, err: impl std::fmt::Display) -> Self {
        Self::Wasmtime(format!("{context}: {err:#}"))
    }
}
