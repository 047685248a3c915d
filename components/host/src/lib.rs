//! The embedded Spin-compatible host behind `ecoc up`.
//!
//! It reads the same `spin.toml` (manifest v2) and `runtime-config.toml` that Spin reads and
//! serves the same `.wasm` components, providing exactly the interfaces a Spin 3.x/4.x host
//! gives an HTTP component and nothing more:
//!
//! - `wasi:http/incoming-handler` behind Spin's routing ([`routing`]), with Spin's `spin-*`
//!   request headers, a body cap (413), a per-request timeout (504) and traps answered 500;
//! - `wasi:http/outgoing-handler` checked against `allowed_outbound_hosts` ([`outbound`]),
//!   with `http://<component>.spin.internal` and `http://self` served in-process;
//! - `fermyon:spin/key-value@2.0.0` on SQLite (Spin's table layout) or Redis ([`kv`]);
//! - `fermyon:spin/variables@2.0.0` from `[variables]`, templates and `SPIN_VARIABLE_*`.
//!
//! Following wasmtime's recipe: one [`wasmtime::Engine`] with the pooling allocator, each
//! component compiled once and pre-instantiated (`ProxyPre`), a fresh `Store` per request.
//!
//! ```no_run
//! # async fn demo() -> ecoc_host::Result<()> {
//! let app = ecoc_host::App::load(ecoc_host::HostOptions::new("spin.toml")).await?;
//! let server = ecoc_host::Server::bind(app.clone(), "127.0.0.1:3000").await?;
//! ecoc_host::timer::start(&app);
//! server.serve(ecoc_host::shutdown_signal()).await
//! # }
//! ```

pub mod app;
pub mod build;
mod chaining;
pub mod client_tls;
pub mod compiled;
mod component;
pub mod error;
pub mod kv;
pub mod manifest;
pub mod outbound;
mod platform;
pub mod preinit;
mod request;
pub mod routing;
pub mod runtime_config;
mod schedule;
pub mod server;
pub mod timer;
pub mod variables;
pub mod wasi_run;

pub use app::{App, HostOptions};
pub use error::{Error, Result};
pub use server::{Server, shutdown_signal};
