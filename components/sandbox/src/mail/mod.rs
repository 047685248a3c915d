//! A local email API sink: what ecoc's `notify` step sends its end-of-day digests to in
//! development and tests. Each accepted message is written as an RFC 5322 `.eml` file.
//!
//! | method | path | what |
//! |---|---|---|
//! | POST | `/v1/messages` | send: JSON `from`, `to` (list), `subject`, `text`, optional `html`, `headers`; 202 `{"id"}` |
//! | GET | `/v1/messages` | the stored messages, oldest first (for tests) |
//! | GET/POST | `/sandbox/faults` | read / replace the [`Faults`] (down, latency, 5xx) |
//! | GET | `/sandbox/stats` | accepted, refusals per code, injected failures |
//!
//! The API key is generated at first start into `<state-dir>/mail.json` (mode 0600) and sent as
//! `Authorization: Bearer <api_key>`. Messages land in `<state-dir>/outbox/<id>.eml` (temp file +
//! rename) with `<id>.json` metadata beside them. Errors are `{"error": ..., "message": ...}`.
//!
//! ```no_run
//! # async fn demo() -> sandbox::Result<()> {
//! let config = sandbox::mail::MailConfig::new("127.0.0.1:0".parse().unwrap(), "/tmp/mail-state".into());
//! let mail = sandbox::mail::start(config).await?;
//! println!("POST {} with Bearer from mail.json", mail.messages_url());
//! mail.shutdown().await;
//! # Ok(())
//! # }
//! ```

pub mod eml;

mod api;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::availability::{self, Availability, Down};
use crate::cli::{self, Sandbox, SandboxArgs};
use crate::http::{self, Server};
use crate::support::{self, random_hex};
use crate::{Error, Result};

/// Default listen address of `ecoc sandbox mail`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8789";
/// API key file in the state directory (mode 0600).
pub const MAIL_JSON: &str = "mail.json";
/// Folder of stored messages in the state directory.
pub const OUTBOX: &str = "outbox";
pub use crate::support::FAULTS_JSON;

/// The mail sink's failure modes: availability only. JSON is flat (`{"down": "close"}`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Down, latency and injected 5xx.
    #[serde(flatten)]
    pub availability: Availability,
}

impl Faults {
    /// Parses and checks a JSON configuration; unknown fields are refused.
    ///
    /// # Errors
    /// [`Error::Faults`] naming the offending field or value.
    pub fn from_json(json: &str) -> Result<Self> {
        let faults: Self = availability::parse_strict(json, &[availability::FIELDS])?;
        faults.availability.check()?;
        Ok(faults)
    }
}

/// Content of `mail.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailDescription {
    /// The Bearer API key.
    pub api_key: String,
}

impl MailDescription {
    /// Reads `<state_dir>/mail.json`, creating it with a random key at first start.
    ///
    /// # Errors
    /// [`Error::StateIo`] / [`Error::StateFormat`] / [`Error::Random`].
    pub fn load_or_create(state_dir: &Path) -> Result<Self> {
        support::create_dir(state_dir)?;
        let path = state_dir.join(MAIL_JSON);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| Error::StateFormat {
                path,
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let description = Self {
                    api_key: random_hex(24)?,
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
}

/// The mail sink among the sandboxes' shared flags ([`SandboxArgs`]).
#[derive(Debug, Clone, Copy)]
pub struct Mail;

impl Sandbox for Mail {
    const NAME: &'static str = "mail";
    const DEFAULT_LISTEN: &'static str = DEFAULT_LISTEN;
    const LISTEN_ENV: &'static str = "ECOC_MAIL_LISTEN";
    const STATE_DIR_ENV: &'static str = "ECOC_MAIL_STATE_DIR";
    const STATE_DIR_HELP: &'static str =
        "Directory for `mail.json` and the outbox; created at first start";
}

/// Command-line arguments of `ecoc sandbox mail`.
#[derive(Debug, Clone, clap::Args)]
pub struct MailArgs {
    /// Address, state folder, fault file, latency, error rate and seed.
    #[command(flatten)]
    pub common: SandboxArgs<Mail>,
    /// Start down: `unavailable` (503) or `close` (connections closed without an answer).
    #[arg(long, value_enum)]
    pub down: Option<Down>,
}

impl MailArgs {
    /// Turns the arguments into a [`MailConfig`]: the fault file first, then the flags on top.
    ///
    /// # Errors
    /// [`Error::Faults`] / [`Error::StateIo`] when the fault file is unreadable or invalid.
    pub fn into_config(self) -> Result<MailConfig> {
        let mut f = self.common.read_faults(Faults::from_json)?;
        self.common
            .override_availability(&mut f.availability, self.down);
        f.availability.check()?;
        Ok(MailConfig {
            listen: self.common.listen,
            state_dir: self.common.state_dir,
            faults: f,
        })
    }
}

/// Everything [`start`] needs.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// State directory (`mail.json`, `outbox/`).
    pub state_dir: PathBuf,
    /// Initial failure modes.
    pub faults: Faults,
}

impl MailConfig {
    /// A well-behaved mail sink on `listen` keeping its state in `state_dir`.
    pub fn new(listen: SocketAddr, state_dir: PathBuf) -> Self {
        Self {
            listen,
            state_dir,
            faults: Faults::default(),
        }
    }
}

/// A mail sink running in the background.
#[derive(Debug)]
pub struct RunningMail {
    server: Server,
    state: Arc<api::State>,
    state_dir: PathBuf,
}

impl RunningMail {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// `http://<addr>`.
    pub fn base_url(&self) -> &str {
        &self.state.base_url
    }

    /// `http://<addr>/v1/messages`.
    pub fn messages_url(&self) -> String {
        format!("{}/v1/messages", self.state.base_url)
    }

    /// The state directory.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// `<state-dir>/outbox`.
    pub fn outbox_dir(&self) -> PathBuf {
        self.state_dir.join(OUTBOX)
    }

    /// The Bearer API key (`mail.json`).
    pub fn api_key(&self) -> &str {
        &self.state.description.api_key
    }

    /// The current failure modes.
    pub fn faults(&self) -> Faults {
        self.state.faults()
    }

    /// Replaces the failure modes (same as `POST /sandbox/faults`).
    ///
    /// # Errors
    /// [`Error::Faults`] when a value is out of range.
    pub fn set_faults(&self, faults: Faults) -> Result<()> {
        faults.availability.check()?;
        self.state.set_faults(faults);
        Ok(())
    }

    /// Stops the server, letting in-flight answers finish for a short grace period.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// Loads (or creates) the state, binds and serves in the background.
///
/// # Errors
/// [`Error::Bind`] when the address is taken, state-directory errors otherwise.
pub async fn start(config: MailConfig) -> Result<RunningMail> {
    config.faults.availability.check()?;
    let state_dir = config.state_dir.clone();
    let (description, messages) = {
        let dir = state_dir.clone();
        tokio::task::spawn_blocking(move || {
            let description = MailDescription::load_or_create(&dir)?;
            support::create_dir(&dir.join(OUTBOX))?;
            Ok::<_, Error>((description, api::load_index(&dir.join(OUTBOX))))
        })
        .await
        .map_err(|e| Error::Faults(format!("state loading task failed: {e}")))??
    };
    let (listener, addr) = http::bind(config.listen).await?;
    let state = Arc::new(api::State::new(
        format!("http://{addr}"),
        description,
        state_dir.join(OUTBOX),
        messages,
        config.faults,
    ));
    let server = Server::spawn_streaming(listener, http::state_handler(&state, api::handle))?;
    tracing::info!(%addr, state_dir = %state_dir.display(), "mail sandbox listening (POST /v1/messages)");
    Ok(RunningMail {
        server,
        state,
        state_dir,
    })
}

/// Runs the mail sink until `shutdown` completes (`ecoc sandbox mail`).
///
/// # Errors
/// What [`MailArgs::into_config`] and [`start`] return.
pub async fn serve_mail(args: MailArgs, shutdown: impl Future<Output = ()>) -> Result<()> {
    let running = start(args.into_config()?).await?;
    tracing::info!(
        messages = %running.messages_url(),
        outbox = %running.outbox_dir().display(),
        "API key is in {}",
        running.state_dir().join(MAIL_JSON).display()
    );
    cli::serve_until::<Mail>(shutdown, running.shutdown()).await
}
