//! `ecoc`: the one command of the project. Each subcommand is a thin shell over a library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

mod audit;
mod dev;
mod map;
mod up;

/// Electronic Certificates of Conformity: from ERP data to signed IVI 2.0 XML at the authority.
#[derive(Debug, Parser)]
#[command(name = "ecoc", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the app described by spin.toml on the embedded host.
    Up(up::UpArgs),
    /// Build every component of spin.toml (its `[component.<id>.build]` commands).
    Build(BuildArgs),
    /// Validate IVI 2.0 files against the schema and the domain rules (exit 0 only if all pass).
    Validate(ivi::cli::ValidateArgs),
    /// Map one ERP record with a mapping file and run every check of an upload, storing nothing
    /// (the mapping preview, offline): exit 0 when an upload would be accepted.
    Map(map::MapArgs),
    /// Sign an IVI file through a remote QTSP (CSC API v2); the result is verified before it is written.
    Sign(dsig::cli::SignArgs),
    /// Verify signed IVI files: references, signature value, certificate validity and chain.
    Verify(dsig::cli::VerifyArgs),
    /// Pre-initialise a component: run its `wizer-initialize` export once and write the snapshot
    /// (`ecoc build` does this for components with `[component.<id>.tool.ecoc] preinit = true`).
    Preinit(PreinitArgs),
    /// Run a WASI 0.2 command component (benchmarks of libraries compiled to wasm).
    #[command(name = "wasi-run")]
    WasiRun(WasiRunArgs),
    /// Run a local sandbox that behaves like a remote service.
    #[command(subcommand)]
    Sandbox(SandboxCommand),
    /// A tenant's audit trail: export it from a deployment, verify an export offline.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
}

#[derive(Debug, Subcommand)]
enum SandboxCommand {
    /// A QTSP speaking CSC API v2, with a generated test PKI and switchable failure modes.
    Qtsp(sandbox::qtsp::QtspArgs),
    /// A national access point behaving like the VCA eCoC API (OAuth2, XML only, duplicates, async status).
    Nap(sandbox::nap::NapArgs),
    /// An email API sink that stores each message as an .eml file.
    Mail(sandbox::mail::MailArgs),
}

#[derive(Debug, clap::Args)]
struct BuildArgs {
    /// The Spin manifest.
    #[arg(long, short = 'f', default_value = "spin.toml")]
    manifest: PathBuf,
    /// Build only these components (repeatable).
    #[arg(long = "component-id", short = 'c')]
    components: Vec<String>,
}

#[derive(Debug, clap::Args)]
struct PreinitArgs {
    /// The component (`.wasm`) to pre-initialise.
    input: PathBuf,
    /// Where to write the result (default: over the input).
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct WasiRunArgs {
    /// The command component (`.wasm`).
    wasm: PathBuf,
    /// Extra folder to preopen read-only (folders of existing paths among ARGS are preopened).
    #[arg(long = "dir")]
    dirs: Vec<PathBuf>,
    /// Arguments passed to the component.
    #[arg(last = true)]
    args: Vec<String>,
}

fn main() -> ExitCode {
    init_logging();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Up(args) => up::run(args),
        Command::Build(args) => build(&args),
        Command::WasiRun(args) => wasi_run(&args),
        Command::Preinit(args) => preinit(&args),
        Command::Validate(args) => {
            ivi::cli::run(&args, &mut std::io::stdout().lock()).map_err(Into::into)
        }
        Command::Map(args) => map::run(&args),
        Command::Audit(command) => audit::run(&command),
        Command::Sign(args) => {
            dsig::cli::run_sign(&args, &mut std::io::stdout().lock()).map_err(Into::into)
        }
        Command::Verify(args) => {
            dsig::cli::run_verify(&args, &mut std::io::stdout().lock()).map_err(Into::into)
        }
        Command::Sandbox(SandboxCommand::Qtsp(args)) => {
            serve_sandbox(|| sandbox::qtsp::serve_qtsp(args, ecoc_host::shutdown_signal()))
        }
        Command::Sandbox(SandboxCommand::Nap(args)) => {
            serve_sandbox(|| sandbox::nap::serve_nap(args, ecoc_host::shutdown_signal()))
        }
        Command::Sandbox(SandboxCommand::Mail(args)) => {
            serve_sandbox(|| sandbox::mail::serve_mail(args, ecoc_host::shutdown_signal()))
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a sandbox server; `serve` is called inside the runtime (signal handlers need it).
fn serve_sandbox<E, F>(serve: impl FnOnce() -> F) -> anyhow::Result<ExitCode>
where
    E: std::error::Error + Send + Sync + 'static,
    F: Future<Output = Result<(), E>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async { serve().await })?;
    Ok(ExitCode::SUCCESS)
}

fn preinit(args: &PreinitArgs) -> anyhow::Result<ExitCode> {
    let output = args.output.as_ref().unwrap_or(&args.input);
    let started = std::time::Instant::now();
    match ecoc_host::preinit::preinit_blocking(&args.input, output)? {
        ecoc_host::preinit::Preinit::Done => println!(
            "pre-initialised {} -> {} in {} ms",
            args.input.display(),
            output.display(),
            started.elapsed().as_millis()
        ),
        ecoc_host::preinit::Preinit::NotApplicable => println!(
            "{}: no `{}` export (not made for pre-initialisation, or done already): left as it is",
            args.input.display(),
            ecoc_host::preinit::INIT_EXPORT
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn wasi_run(args: &WasiRunArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let ok = runtime.block_on(ecoc_host::wasi_run::run(&args.wasm, &args.args, &args.dirs))?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ECOC_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,wasmtime=warn,cranelift=warn")
    });
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}

fn build(args: &BuildArgs) -> anyhow::Result<ExitCode> {
    let outcomes = ecoc_host::build::build_all(&args.manifest, &args.components)?;
    let failed: Vec<_> = outcomes.iter().filter(|o| o.result.is_err()).collect();
    for o in &outcomes {
        match &o.result {
            Ok(()) => eprintln!("built    {}", o.component),
            Err(e) => eprintln!("FAILED   {}: {e}", o.component),
        }
    }
    if failed.is_empty() {
        eprintln!("{} component(s) built", outcomes.len());
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "{} of {} component(s) failed: {}",
            failed.len(),
            outcomes.len(),
            failed
                .iter()
                .map(|o| o.component.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(ExitCode::FAILURE)
    }
}

/// Parses `30s`, `500ms`, `2m` or a bare number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, ""), |i| s.split_at(i));
    let n: u64 = num.parse().map_err(|_| format!("invalid duration {s:?}"))?;
    match unit {
        "" | "s" => Ok(Duration::from_secs(n)),
        "ms" => Ok(Duration::from_millis(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("invalid duration unit in {s:?} (use ms, s or m)")),
    }
}
