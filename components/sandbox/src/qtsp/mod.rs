//! A local qualified trust service provider: a CSC API v2 server over real HTTP.
//!
//! It serves what a remote-signing client needs, exactly as a QTSP would:
//!
//! | method | path | what |
//! |---|---|---|
//! | GET/POST | `/csc/v2/info` | service description (no token needed) |
//! | POST | `/oauth2/token` (also `/csc/v2/oauth2/token`) | OAuth2 client credentials grant, form-encoded, client auth by HTTP Basic or body |
//! | POST | `/csc/v2/credentials/list` | credential ids (and infos on request) |
//! | POST | `/csc/v2/credentials/info` | key algorithms, certificate (single or chain, base64 DER), status, auth mode |
//! | POST | `/csc/v2/credentials/authorize` | PIN check; SAD bound to the credential, the client and exactly the given hashes |
//! | POST | `/csc/v2/signatures/signHash` | signs the authorised hashes; ECDSA as DER (default) or raw `r \|\| s` |
//! | GET/POST | `/sandbox/faults` | read / replace the [`Faults`] |
//! | POST | `/sandbox/tokens/expire` | expire every issued access token now |
//! | GET | `/sandbox/stats` | request, failure and signature counters |
//!
//! Errors are always `{"error": ..., "error_description": ...}`: `invalid_request` (400, also for a
//! wrong, expired or mismatched SAD, as CSC section 11.9 specifies), `invalid_pin` (400),
//! `unsupported_grant_type` (400), `invalid_client` (401), `invalid_token` (401, missing, unknown or
//! expired access token), and `temporarily_unavailable` / `server_error` for injected 5xx.
//!
//! The test PKI ([`pki`]) is created in the state directory at first start and reused afterwards.
//! [`start`] runs the server in the background (tests, `ecoc up --dev`); [`serve_qtsp`] runs it
//! until a shutdown future completes (`ecoc sandbox qtsp`).

pub mod faults;
pub mod pki;

mod api;
mod rsa_signer;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use faults::{Faults, Lie};
pub use pki::{Credential, CredentialEntry, KeyType, SandboxDescription, TestPki};

use crate::Result;
use crate::cli::{self, Sandbox, SandboxArgs};
use crate::http::{self, Server};

/// Default listen address of `ecoc sandbox qtsp`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";

/// How `signatures/signHash` encodes an ECDSA signature value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum EcdsaFormat {
    /// DER `ECDSA-Sig-Value` (SEQUENCE of two INTEGERs), what many QTSPs return.
    #[default]
    Der,
    /// Fixed-size `r || s` (64 bytes for P-256), what XML-DSig (RFC 6931) puts in `SignatureValue`.
    Raw,
}

/// The QTSP among the sandboxes' shared flags ([`SandboxArgs`]).
#[derive(Debug, Clone, Copy)]
pub struct Qtsp;

impl Sandbox for Qtsp {
    const NAME: &'static str = "QTSP";
    const DEFAULT_LISTEN: &'static str = DEFAULT_LISTEN;
    const LISTEN_ENV: &'static str = "ECOC_QTSP_LISTEN";
    const STATE_DIR_ENV: &'static str = "ECOC_QTSP_STATE_DIR";
    const STATE_DIR_HELP: &'static str = "Directory for the test PKI, `sandbox.json` and `faults.json`; created and filled at first start";
}

/// Command-line arguments of `ecoc sandbox qtsp`.
#[derive(Debug, Clone, clap::Args)]
pub struct QtspArgs {
    /// Address, state folder, fault file, latency, error rate and seed.
    #[command(flatten)]
    pub common: SandboxArgs<Qtsp>,
    /// ECDSA encoding of signHash answers (overrides the fault file).
    #[arg(long, value_enum)]
    pub ecdsa_format: Option<EcdsaFormat>,
    /// Extra random delay up to this many milliseconds.
    #[arg(long)]
    pub latency_jitter_ms: Option<u64>,
    /// Lifetime of access tokens in seconds.
    #[arg(long)]
    pub token_lifetime_secs: Option<u64>,
    /// Refuse every SAD in signatures/signHash.
    #[arg(long)]
    pub reject_sad: bool,
    /// Stall each request this many milliseconds, then answer 5xx (client timeout tests).
    #[arg(long)]
    pub hang_ms: Option<u64>,
}

impl QtspArgs {
    /// Turns the arguments into a [`QtspConfig`]: the fault file first, then the flags on top.
    ///
    /// # Errors
    /// [`crate::Error::Faults`] / [`crate::Error::StateIo`] when the fault file is unreadable or invalid.
    pub fn into_config(self) -> Result<QtspConfig> {
        let mut f = self.common.read_faults(Faults::from_json)?;
        self.common
            .override_faults(&mut f.latency_ms, &mut f.error_rate_percent, &mut f.seed);
        if let Some(v) = self.ecdsa_format {
            f.ecdsa_format = v;
        }
        if let Some(v) = self.latency_jitter_ms {
            f.latency_jitter_ms = v;
        }
        if let Some(v) = self.token_lifetime_secs {
            f.token_lifetime_secs = v;
        }
        if self.reject_sad {
            f.reject_sad = true;
        }
        if let Some(v) = self.hang_ms {
            f.hang_ms = v;
        }
        f.check()?;
        Ok(QtspConfig {
            listen: self.common.listen,
            state_dir: self.common.state_dir,
            faults: f,
        })
    }
}

/// Everything [`start`] needs.
#[derive(Debug, Clone)]
pub struct QtspConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// State directory (test PKI, `sandbox.json`).
    pub state_dir: PathBuf,
    /// Initial failure modes.
    pub faults: Faults,
}

impl QtspConfig {
    /// A well-behaved sandbox on `listen` keeping its state in `state_dir`.
    pub fn new(listen: SocketAddr, state_dir: PathBuf) -> Self {
        Self {
            listen,
            state_dir,
            faults: Faults::default(),
        }
    }
}

/// A QTSP sandbox running in the background. Dropping it without [`RunningSandbox::shutdown`]
/// leaves the server running until the tokio runtime ends.
#[derive(Debug)]
pub struct RunningSandbox {
    server: Server,
    state: Arc<api::State>,
    state_dir: PathBuf,
}

impl RunningSandbox {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// `http://<addr>`: the OAuth2 base (`info` answers it as `oauth2`).
    pub fn base_url(&self) -> &str {
        &self.state.base_url
    }

    /// `http://<addr>/csc/v2`: the CSC service base URI.
    pub fn csc_url(&self) -> String {
        format!("{}/csc/v2", self.state.base_url)
    }

    /// The state directory.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// The root CA certificate (PEM file), the trust anchor for verifiers.
    pub fn root_ca_pem(&self) -> PathBuf {
        self.state_dir.join(&self.state.pki.description().root_ca)
    }

    /// The loaded test PKI: credentials, keys, and the in-process signer
    /// ([`TestPki::sign_hash`]).
    pub fn pki(&self) -> Arc<TestPki> {
        Arc::clone(&self.state.pki)
    }

    /// Client id, secret, credential ids and PINs.
    pub fn description(&self) -> &SandboxDescription {
        self.state.pki.description()
    }

    /// The current failure modes.
    pub fn faults(&self) -> Faults {
        self.state
            .faults
            .lock()
            .map(|f| f.faults.clone())
            .unwrap_or_default()
    }

    /// Replaces the failure modes (same as `POST /sandbox/faults`).
    ///
    /// # Errors
    /// [`crate::Error::Faults`] when a value is out of range.
    pub fn set_faults(&self, faults: Faults) -> Result<()> {
        faults.check()?;
        let mut guard = self
            .state
            .faults
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *guard = faults::FaultState::new(faults);
        Ok(())
    }

    /// Expires every access token issued so far (same as `POST /sandbox/tokens/expire`).
    pub fn expire_tokens(&self) -> usize {
        self.state.expire_tokens()
    }

    /// Stops the server, letting in-flight answers finish for a short grace period.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// Loads (or creates) the test PKI, binds, and serves in the background.
///
/// The PKI is generated on a blocking thread: RSA-2048 key generation takes a while.
///
/// # Errors
/// [`crate::Error::Bind`] when the address is taken, state-directory and PKI errors otherwise.
pub async fn start(config: QtspConfig) -> Result<RunningSandbox> {
    config.faults.check()?;
    let state_dir = config.state_dir.clone();
    let pki = {
        let dir = state_dir.clone();
        tokio::task::spawn_blocking(move || TestPki::load_or_create(&dir))
            .await
            .map_err(|e| crate::Error::Pki(format!("pki task failed: {e}")))??
    };
    let (listener, addr) = http::bind(config.listen).await?;
    let state = Arc::new(api::State::new(
        Arc::new(pki),
        format!("http://{addr}"),
        config.faults,
    ));
    let server = Server::spawn(listener, http::state_handler(&state, api::handle))?;
    tracing::info!(
        %addr,
        state_dir = %state_dir.display(),
        "QTSP sandbox listening (CSC API v2 at /csc/v2, trust root-ca.pem)"
    );
    Ok(RunningSandbox {
        server,
        state,
        state_dir,
    })
}

/// Runs the QTSP sandbox until `shutdown` completes (`ecoc sandbox qtsp`).
///
/// # Errors
/// What [`QtspArgs::into_config`] and [`start`] return.
pub async fn serve_qtsp(args: QtspArgs, shutdown: impl Future<Output = ()>) -> Result<()> {
    let running = start(args.into_config()?).await?;
    let description = running.description();
    tracing::info!(
        csc = %running.csc_url(),
        client_id = %description.client_id,
        credentials = ?description.credentials.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        "client secret and PINs are in {}",
        running.state_dir().join(pki::SANDBOX_JSON).display()
    );
    cli::serve_until::<Qtsp>(shutdown, running.shutdown()).await
}
