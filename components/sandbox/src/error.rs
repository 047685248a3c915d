//! The crate's error type.

use std::net::SocketAddr;
use std::path::PathBuf;

/// What can go wrong while starting or running a sandbox.
///
/// Protocol errors a sandbox *answers* with (bad token, wrong SAD, ...) are not `Error`s: they are
/// HTTP responses. These are the sandbox's own failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A file in the state directory could not be read or written.
    #[error("state file {path}: {source}")]
    StateIo {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A file in the state directory exists but its content is not what the sandbox wrote.
    #[error("state file {path} is not usable: {reason}")]
    StateFormat {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Generating or encoding a key or certificate failed.
    #[error("test pki: {0}")]
    Pki(String),
    /// The operating system's random number generator failed.
    #[error("system random number generator failed: {0}")]
    Random(String),
    /// A signing request named a credential the sandbox does not hold.
    #[error("unknown credential {0:?}")]
    UnknownCredential(String),
    /// A signing request named an algorithm the credential cannot sign with.
    #[error("credential {credential:?} cannot sign with algorithm {algorithm:?}")]
    UnsupportedAlgorithm {
        /// The credential.
        credential: String,
        /// The signature or hash algorithm OID asked for.
        algorithm: String,
    },
    /// A hash to sign has the wrong length for its algorithm.
    #[error("hash of {len} bytes does not fit algorithm {algorithm:?}")]
    BadHash {
        /// Its length in bytes.
        len: usize,
        /// The hash algorithm OID.
        algorithm: String,
    },
    /// The private key operation itself failed.
    #[error("signing with credential {credential:?} failed: {reason}")]
    Sign {
        /// The credential.
        credential: String,
        /// The crypto library's reason.
        reason: String,
    },
    /// A fault configuration could not be parsed.
    #[error("fault configuration: {0}")]
    Faults(String),
}

/// `Result` with this crate's [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
