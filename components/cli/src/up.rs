//! `ecoc up`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use ecoc_host::{App, HostOptions, Server};

#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// The Spin manifest.
    #[arg(long, short = 'f', default_value = "spin.toml")]
    manifest: PathBuf,
    /// Spin runtime config (key-value backends). Default: runtime-config.toml beside the
    /// manifest, if there is one.
    #[arg(long)]
    runtime_config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: String,
    /// Folder for state: the default SQLite key-value file and the compile cache.
    #[arg(long, default_value = ".spin")]
    state_dir: PathBuf,
    /// Largest request body accepted, in bytes (larger ones get 413).
    #[arg(long, default_value_t = ecoc_host::app::DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,
    /// Time a component has to answer before the host answers 504 (e.g. 30s, 500ms).
    #[arg(long, default_value = "30s", value_parser = crate::parse_duration)]
    request_timeout: Duration,
    /// Component instances running at once, all components together; a request beyond them
    /// gets 503 `busy` with `Retry-After: 1` (nothing of it kept).
    #[arg(long, default_value_t = ecoc_host::app::DEFAULT_MAX_INSTANCES, value_parser = clap::value_parser!(u32).range(1..))]
    max_instances: u32,
    /// Do not cache compiled components.
    #[arg(long)]
    no_compile_cache: bool,
    /// Where compiled components are cached (default: <state-dir>/cache).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Development mode: start local QTSP, NAP and mail sandboxes in-process, point the app at them
    /// and seed a demo tenant (mapping, type approvals, a primary token printed at start).
    #[arg(long)]
    dev: bool,
}

pub fn run(args: UpArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(args))
}

async fn serve(args: UpArgs) -> anyhow::Result<ExitCode> {
    let runtime_config = args.runtime_config.clone().or_else(|| {
        let beside = args
            .manifest
            .parent()
            .unwrap_or(std::path::Path::new("."))
            .join("runtime-config.toml");
        beside.exists().then_some(beside)
    });
    let sandboxes = if args.dev {
        let (running, variables) = crate::dev::Sandboxes::start(&args.state_dir).await?;
        Some((running, variables))
    } else {
        None
    };
    let options = HostOptions {
        manifest: args.manifest.clone(),
        runtime_config,
        state_dir: args.state_dir.clone(),
        max_body_bytes: args.max_body_bytes,
        request_timeout: args.request_timeout,
        max_instances: args.max_instances,
        compile_cache: !args.no_compile_cache,
        cache_dir: args.cache_dir.clone(),
        variables: sandboxes
            .as_ref()
            .map(|(_, v)| v.clone())
            .unwrap_or_default(),
        client_tls: sandboxes.as_ref().map(|(s, _)| s.client_tls.clone()),
        ..HostOptions::new(&args.manifest)
    };
    let started = std::time::Instant::now();
    let app = App::load(options).await?;
    let server = Server::bind(app.clone(), &args.listen).await?;
    ecoc_host::timer::start(&app);
    let addr = server.local_addr()?;
    for (label, summary) in app.store_summaries() {
        tracing::info!(store = %label, backend = %summary, "key-value store");
    }
    tracing::info!(
        app = app.name(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "serving on http://{addr}"
    );
    // Signal handlers first, then the line scripts and tests wait for.
    let shutdown = ecoc_host::shutdown_signal();
    let serving = tokio::spawn(server.serve(shutdown));
    if let Some((running, variables)) = &sandboxes {
        let url = format!("http://{addr}");
        let state = args.state_dir.clone();
        let admin = variables.get("admin_token").cloned().unwrap_or_default();
        let token =
            tokio::task::spawn_blocking(move || crate::dev::seed(&url, &state, &admin)).await??;
        println!(
            "ecoc: development mode: sandboxes and the demo tenant `{}`\n{}\n  demo tenant primary token: {token}\n  try: curl http://{addr}/v1/vehicles -H \"Authorization: Bearer {token}\" -H 'content-type: application/json' --data @components/pipeline/demo/records/m1.json",
            crate::dev::DEMO_TENANT,
            running.describe(),
        );
    }
    println!("ecoc: serving {} on http://{addr}", app.name());
    serving.await??;
    if let Some((running, _)) = sandboxes {
        running.shutdown().await;
    }
    Ok(ExitCode::SUCCESS)
}
