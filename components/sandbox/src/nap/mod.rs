//! A local national access point that behaves like the UK VCA eCoC API: OAuth2 client
//! credentials, XML only, one vehicle per file, files under 1 MB, a signature present (not
//! verified), duplicates refused on VIN + `IviVersionNumber` + `ManufacturerStageNumber`, and
//! asynchronous processing Received -> Processing -> Succeeded / Failed.
//!
//! | method | path | what |
//! |---|---|---|
//! | POST | `/oauth2/token` | OAuth2 client credentials (form body; client by HTTP Basic or form) |
//! | POST | `/ecoc/v1/submissions` | submit one signed eCoC (`application/xml`); 202 + `Location` |
//! | GET | `/ecoc/v1/submissions/{id}` | status of one of the client's own submissions |
//! | GET | `/ecoc/v1/submissions[?status=...]` | the client's own submissions |
//! | GET | `/ecoc/v1/vehicles/{vin}/stages/{stage}` | Phase 2 retrieval: any manufacturer's accepted file of that stage |
//! | POST | `/sandbox/vehicles` | put a file at the authority as accepted (client `authority-seed`) |
//! | GET/POST | `/sandbox/faults` | read / replace the [`Faults`] (down, latency, 5xx, token lifetime, processing time, failure rate) |
//! | POST | `/sandbox/tokens/expire` | expire every access token |
//! | GET | `/sandbox/stats` | counters: accepted, duplicates refused, refusals per code, per status |
//! | GET | `/sandbox/inbox` | the accepted files in the inbox |
//!
//! Every accepted file is kept in `<state-dir>/inbox/<submission_id>.xml` (written to a temporary
//! file and renamed), with `<submission_id>.json` beside it once it is Succeeded or Failed; the
//! submissions journal (`submissions.jsonl`) makes duplicates, statuses and pending work survive a
//! restart. The crate README holds the full contract.
//!
//! ```no_run
//! # async fn demo() -> sandbox::Result<()> {
//! let config = sandbox::nap::NapConfig::new("127.0.0.1:0".parse().unwrap(), "/tmp/nap-state".into());
//! let nap = sandbox::nap::start(config).await?;
//! let client = &nap.description().clients[0];
//! println!("POST {} as {}", nap.submissions_url(), client.client_id);
//! nap.shutdown().await;
//! # Ok(())
//! # }
//! ```

pub mod eu;
pub mod faults;
pub mod store;
pub mod xml;

mod api;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::watch;

pub use api::{API_BASE, MAX_FILE_BYTES, SEED_CLIENT};
pub use faults::Faults;
pub use store::{NapClient, NapDescription, Status, Submission};
pub use xml::XmlLimits;

use crate::Result;
use crate::availability::Down;
use crate::cli::{self, Sandbox, SandboxArgs};
use crate::http::{self, Server};

/// Default listen address of `ecoc sandbox nap`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8788";

/// The NAP among the sandboxes' shared flags ([`SandboxArgs`]).
#[derive(Debug, Clone, Copy)]
pub struct Nap;

impl Sandbox for Nap {
    const NAME: &'static str = "NAP";
    const DEFAULT_LISTEN: &'static str = DEFAULT_LISTEN;
    const LISTEN_ENV: &'static str = "ECOC_NAP_LISTEN";
    const STATE_DIR_ENV: &'static str = "ECOC_NAP_STATE_DIR";
    const STATE_DIR_HELP: &'static str =
        "Directory for `nap.json`, the inbox and the submissions journal; created at first start";
}

/// Command-line arguments of `ecoc sandbox nap`.
#[derive(Debug, Clone, clap::Args)]
pub struct NapArgs {
    /// Address, state folder, fault file, latency, error rate and seed.
    #[command(flatten)]
    pub common: SandboxArgs<Nap>,
    /// Time a submission spends in Received, then in Processing, in milliseconds each.
    #[arg(long)]
    pub processing_ms: Option<u64>,
    /// Percentage of submissions that end Failed (with a reason).
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub failure_rate: Option<u8>,
    /// Lifetime of access tokens in seconds.
    #[arg(long)]
    pub token_lifetime_secs: Option<u64>,
    /// Start down: `unavailable` (503) or `close` (connections closed without an answer).
    #[arg(long, value_enum)]
    pub down: Option<Down>,
    /// Behave like an EU member state's NAP instead of the VCA: HTTPS with mutual TLS (client
    /// certificates the sandbox issues, in `<state-dir>/eu/`), EUCARIS-style API under
    /// `/eucaris/v1`.
    #[arg(long)]
    pub eu: bool,
}

impl NapArgs {
    /// Turns the arguments into a [`NapConfig`]: the fault file first, then the flags on top.
    ///
    /// # Errors
    /// [`crate::Error::Faults`] / [`crate::Error::StateIo`] when the fault file is unreadable or invalid.
    pub fn into_config(self) -> Result<NapConfig> {
        let mut f = self.common.read_faults(Faults::from_json)?;
        self.common
            .override_availability(&mut f.availability, self.down);
        if let Some(v) = self.processing_ms {
            f.processing_ms = v;
        }
        if let Some(v) = self.failure_rate {
            f.failure_rate_percent = v;
        }
        if let Some(v) = self.token_lifetime_secs {
            f.token_lifetime_secs = v;
        }
        f.check()?;
        Ok(NapConfig {
            listen: self.common.listen,
            state_dir: self.common.state_dir,
            faults: f,
            limits: XmlLimits::default(),
            eu: self.eu,
        })
    }
}

/// Everything [`start`] needs.
#[derive(Debug, Clone)]
pub struct NapConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// State directory (`nap.json`, `inbox/`, `submissions.jsonl`).
    pub state_dir: PathBuf,
    /// Initial behaviour and failure modes.
    pub faults: Faults,
    /// Bounds on submitted XML.
    pub limits: XmlLimits,
    /// An EU member state's NAP (mutual TLS, EUCARIS-style API, see [`eu`]) instead of the VCA.
    pub eu: bool,
}

impl NapConfig {
    /// A well-behaved NAP on `listen` keeping its state in `state_dir`.
    pub fn new(listen: SocketAddr, state_dir: PathBuf) -> Self {
        Self {
            listen,
            state_dir,
            faults: Faults::default(),
            limits: XmlLimits::default(),
            eu: false,
        }
    }
}

/// A NAP sandbox running in the background. Dropping it without [`RunningNap::shutdown`] leaves
/// the server running until the tokio runtime ends.
#[derive(Debug)]
pub struct RunningNap {
    server: Server,
    state: Arc<api::State>,
    state_dir: PathBuf,
    stop: watch::Sender<bool>,
}

impl RunningNap {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// `http://<addr>`.
    pub fn base_url(&self) -> &str {
        &self.state.base_url
    }

    /// `http://<addr>/oauth2/token`.
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/token", self.state.base_url)
    }

    /// `http://<addr>/ecoc/v1/submissions`.
    pub fn submissions_url(&self) -> String {
        format!("{}{API_BASE}/submissions", self.state.base_url)
    }

    /// The EU mode's certificates (the NAP's CA, each client's certificate and key).
    pub fn eu_files(&self) -> eu::EuFiles {
        eu::EuFiles::new(&self.state_dir)
    }

    /// The state directory.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// `<state-dir>/inbox`.
    pub fn inbox_dir(&self) -> PathBuf {
        self.state_dir.join(store::INBOX)
    }

    /// The configured clients and their secrets (`nap.json`).
    pub fn description(&self) -> &NapDescription {
        &self.state.description
    }

    /// Every submission, in order of acceptance.
    pub fn submissions(&self) -> Vec<Submission> {
        self.state.store.all()
    }

    /// The current behaviour and failure modes.
    pub fn faults(&self) -> Faults {
        api::lock(&self.state.faults).faults.clone()
    }

    /// Replaces the behaviour and failure modes (same as `POST /sandbox/faults`).
    ///
    /// # Errors
    /// [`crate::Error::Faults`] when a value is out of range.
    pub fn set_faults(&self, faults: Faults) -> Result<()> {
        faults.check()?;
        *api::lock(&self.state.faults) = api::FaultRuntime::new(faults);
        Ok(())
    }

    /// Expires every access token issued so far (same as `POST /sandbox/tokens/expire`).
    pub fn expire_tokens(&self) -> usize {
        self.state.expire_tokens()
    }

    /// Stops processing and the server, letting in-flight answers finish for a short grace
    /// period. Pending submissions stay pending on disk and continue after the next start.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        self.server.shutdown().await;
    }
}

/// Loads (or creates) the state, binds, resumes pending submissions and serves in the background.
///
/// # Errors
/// [`crate::Error::Bind`] when the address is taken, state-directory errors otherwise.
pub async fn start(config: NapConfig) -> Result<RunningNap> {
    config.faults.check()?;
    let state_dir = config.state_dir.clone();
    let (description, store) = {
        let dir = state_dir.clone();
        let eu = config.eu;
        tokio::task::spawn_blocking(move || {
            let description = NapDescription::load_or_create(&dir)?;
            if eu {
                eu::load_or_create(&eu::EuFiles::new(&dir), &description.clients)?;
            }
            Ok::<_, crate::Error>((description, store::Store::open(&dir)?))
        })
        .await
        .map_err(|e| crate::Error::Faults(format!("state loading task failed: {e}")))??
    };
    let (listener, addr) = http::bind(config.listen).await?;
    let (stop, stopped) = watch::channel(false);
    let scheme = if config.eu { "https" } else { "http" };
    let state = Arc::new(api::State::new(
        format!("{scheme}://{addr}"),
        description,
        store,
        (config.faults, config.limits),
        config.eu,
        stopped,
    ));
    let pending: Vec<String> = state
        .store
        .all()
        .into_iter()
        .filter(|s| s.status.is_pending())
        .map(|s| s.submission_id)
        .collect();
    for id in &pending {
        api::spawn_processing(Arc::clone(&state), id.clone());
    }
    let handler = http::state_handler(&state, api::handle);
    let server = if config.eu {
        Server::spawn_streaming_tls(
            listener,
            handler,
            eu::server_config(&eu::EuFiles::new(&state_dir))?,
        )?
    } else {
        Server::spawn_streaming(listener, handler)?
    };
    tracing::info!(
        %addr,
        state_dir = %state_dir.display(),
        resumed = pending.len(),
        "NAP sandbox listening (token at /oauth2/token, submissions at {API_BASE}/submissions)"
    );
    Ok(RunningNap {
        server,
        state,
        state_dir,
        stop,
    })
}

/// Runs the NAP sandbox until `shutdown` completes (`ecoc sandbox nap`).
///
/// # Errors
/// What [`NapArgs::into_config`] and [`start`] return.
pub async fn serve_nap(args: NapArgs, shutdown: impl Future<Output = ()>) -> Result<()> {
    let running = start(args.into_config()?).await?;
    tracing::info!(
        submissions = %running.submissions_url(),
        token = %running.token_url(),
        clients = ?running.description().clients.iter().map(|c| c.client_id.as_str()).collect::<Vec<_>>(),
        inbox = %running.inbox_dir().display(),
        "client secrets are in {}",
        running.state_dir().join(store::NAP_JSON).display()
    );
    cli::serve_until::<Nap>(shutdown, running.shutdown()).await
}
