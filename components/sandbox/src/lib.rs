//! Local stand-ins for the remote peers ecoc talks to, served over real HTTP.
//!
//! ecoc signs each eCoC with a key held by a qualified trust service provider (QTSP) that it reaches
//! over the Cloud Signature Consortium API v2, submits the signed file to a national access point,
//! and mails end-of-day digests. None of these peers is available to a developer's laptop or to CI,
//! so this crate provides local ones:
//!
//! - [`qtsp`]: a CSC API v2 server with a generated test PKI (root CA, issuing CA, an RSA-2048 and a
//!   P-256 signing credential, and a deliberately expired one), OAuth2 client credentials, SAD bound to
//!   the authorised hashes, and switchable failure modes (latency, 5xx, short-lived tokens, rejected
//!   SAD, hangs) so clients can be tested against a misbehaving provider.
//! - [`nap`]: a national access point behaving like the UK VCA eCoC API (OAuth2, XML only, one
//!   vehicle per file, under 1 MB, a signature present, duplicates refused on VIN + version + stage,
//!   Received -> Processing -> Succeeded / Failed in the background) that keeps every accepted file
//!   in an inbox folder.
//! - [`mail`]: an HTTP email API sink writing each message as an RFC 5322 `.eml` file.
//! - [`availability`]: the down / latency / 5xx faults the NAP and mail sandboxes share.
//! - [`cli`]: the flags every `ecoc sandbox <name>` takes (address, state folder, fault file,
//!   latency, error rate, seed) and the run loop of [`qtsp::serve_qtsp`] and its siblings.
//! - [`http`]: the small HTTP-serving layer the sandboxes share (hyper 1, graceful shutdown, JSON and
//!   form helpers).
//!
//! The sandboxes are native only: they are tools for development and tests, never part of the
//! WebAssembly components.
//!
//! ```no_run
//! # async fn demo() -> sandbox::Result<()> {
//! let config = sandbox::qtsp::QtspConfig::new("127.0.0.1:0".parse().unwrap(), "/tmp/qtsp-state".into());
//! let running = sandbox::qtsp::start(config).await?;
//! println!("CSC API v2 at {}/csc/v2, trust {}", running.base_url(), running.state_dir().join("root-ca.pem").display());
//! running.shutdown().await;
//! # Ok(())
//! # }
//! ```

pub mod availability;
pub mod cli;
pub mod http;
pub mod mail;
pub mod nap;
pub mod qtsp;

mod error;
mod support;

pub use error::{Error, Result};
