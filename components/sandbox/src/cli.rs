//! The command line the sandboxes share: the flags every `ecoc sandbox <name>` takes
//! ([`SandboxArgs`], flattened into each sandbox's own arguments) and the run loop behind them.
//!
//! What differs between the sandboxes in those flags (default address, environment variables,
//! what the state folder holds) comes from a [`Sandbox`] marker type: `qtsp::Qtsp`, `nap::Nap`,
//! `mail::Mail`.

use std::future::Future;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::Result;
use crate::availability::{Availability, Down};

/// What sets one sandbox's shared flags apart.
pub trait Sandbox {
    /// Its name in log lines (`QTSP`, `NAP`, `mail`).
    const NAME: &'static str;
    /// Default of `--listen`.
    const DEFAULT_LISTEN: &'static str;
    /// Environment variable that sets `--listen`.
    const LISTEN_ENV: &'static str;
    /// Environment variable that sets `--state-dir`.
    const STATE_DIR_ENV: &'static str;
    /// Help of `--state-dir`: what the folder holds.
    const STATE_DIR_HELP: &'static str;
}

/// The flags every sandbox takes: where it listens and keeps its state, its fault file, and the
/// fault flags all of them have. Flatten it into a sandbox's arguments with `#[command(flatten)]`.
#[derive(Debug, Clone, clap::Args)]
pub struct SandboxArgs<S: Sandbox> {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = S::DEFAULT_LISTEN, env = S::LISTEN_ENV)]
    pub listen: SocketAddr,
    /// The state folder, created and filled at first start (help: [`Sandbox::STATE_DIR_HELP`]).
    #[arg(long, env = S::STATE_DIR_ENV, help = S::STATE_DIR_HELP)]
    pub state_dir: PathBuf,
    /// Fault configuration file (JSON, see the sandbox's `Faults`); default
    /// `<state-dir>/faults.json` when present.
    #[arg(long)]
    pub faults: Option<PathBuf>,
    /// Fixed delay before every answer, in milliseconds.
    #[arg(long)]
    pub latency_ms: Option<u64>,
    /// Percentage of requests answered with a 5xx.
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub error_rate: Option<u8>,
    /// Seed for the random choices: a run with a seed misbehaves the same way every time.
    #[arg(long)]
    pub seed: Option<u64>,
    #[arg(skip)]
    sandbox: PhantomData<S>,
}

impl<S: Sandbox> SandboxArgs<S> {
    /// The starting faults before the flags: `--faults FILE` (which must exist), else
    /// `<state-dir>/faults.json` when present, else the defaults, read with `parse`.
    ///
    /// # Errors
    /// [`crate::Error::Faults`] / [`crate::Error::StateIo`] when the file is missing (explicit
    /// only), unreadable or invalid.
    pub(crate) fn read_faults<F: Default>(&self, parse: impl Fn(&str) -> Result<F>) -> Result<F> {
        crate::support::read_faults(self.faults.as_deref(), &self.state_dir, parse)
    }

    /// Sets a sandbox's latency, error rate and seed from the flags that were given.
    pub(crate) fn override_faults(
        &self,
        latency_ms: &mut u64,
        error_rate_percent: &mut u8,
        seed: &mut Option<u64>,
    ) {
        if let Some(v) = self.latency_ms {
            *latency_ms = v;
        }
        if let Some(v) = self.error_rate {
            *error_rate_percent = v;
        }
        if let Some(v) = self.seed {
            *seed = Some(v);
        }
    }

    /// Sets the NAP's or the mail sink's availability from the flags that were given, `down`
    /// (their `--down`) included.
    pub(crate) fn override_availability(&self, a: &mut Availability, down: Option<Down>) {
        self.override_faults(&mut a.latency_ms, &mut a.error_rate_percent, &mut a.seed);
        if let Some(v) = down {
            a.down = v;
        }
    }
}

/// What `ecoc sandbox <name>` does once the sandbox is started and has said where it is: serves
/// until `shutdown` completes, then stops it with `stop` (its `shutdown()`).
pub(crate) async fn serve_until<S: Sandbox>(
    shutdown: impl Future<Output = ()>,
    stop: impl Future<Output = ()>,
) -> Result<()> {
    shutdown.await;
    tracing::info!("{} sandbox shutting down", S::NAME);
    stop.await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use crate::{mail, nap, qtsp};

    #[derive(Debug, Parser)]
    enum Sandboxes {
        Qtsp(qtsp::QtspArgs),
        Nap(nap::NapArgs),
        Mail(mail::MailArgs),
    }

    #[test]
    fn each_sandbox_keeps_its_defaults_environment_and_help() {
        Sandboxes::command().debug_assert();
        let parse = |args: &[&str]| Sandboxes::try_parse_from(args).map_err(|e| e.to_string());
        let Ok(Sandboxes::Qtsp(q)) = parse(&["x", "qtsp", "--state-dir", "q", "--seed", "7"])
        else {
            panic!("qtsp arguments refused");
        };
        assert_eq!(q.common.listen.to_string(), qtsp::DEFAULT_LISTEN);
        assert_eq!(q.common.seed, Some(7));
        let Ok(Sandboxes::Nap(n)) = parse(&["x", "nap", "--state-dir", "n", "--error-rate", "5"])
        else {
            panic!("nap arguments refused");
        };
        assert_eq!(n.common.listen.to_string(), nap::DEFAULT_LISTEN);
        assert_eq!(n.common.error_rate, Some(5));
        let Ok(Sandboxes::Mail(m)) = parse(&["x", "mail", "--state-dir", "m", "--down", "close"])
        else {
            panic!("mail arguments refused");
        };
        assert_eq!(m.common.listen.to_string(), mail::DEFAULT_LISTEN);
        assert!(parse(&["x", "mail", "--state-dir", "m", "--error-rate", "101"]).is_err());
        assert!(parse(&["x", "qtsp"]).is_err(), "--state-dir is required");

        let mut command = Sandboxes::command();
        for (name, env, state) in [
            ("qtsp", "ECOC_QTSP_LISTEN", "test PKI"),
            ("nap", "ECOC_NAP_LISTEN", "submissions journal"),
            ("mail", "ECOC_MAIL_LISTEN", "outbox"),
        ] {
            let help = command
                .find_subcommand_mut(name)
                .map(|c| c.render_help().to_string())
                .unwrap_or_default();
            assert!(help.contains(env), "{name}: {help}");
            assert!(help.contains(state), "{name}: {help}");
            assert!(help.contains("--latency-ms"), "{name}: {help}");
        }
    }
}
