//! Runs the QTSP sandbox from the command line with the same arguments as `ecoc sandbox qtsp`,
//! without building the whole CLI:
//!
//! ```text
//! cargo run -p sandbox --example qtsp -- --listen 127.0.0.1:8787 --state-dir .sandbox/qtsp
//! ```

use clap::Parser;
use sandbox::qtsp::{QtspArgs, serve_qtsp};

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    qtsp: QtspArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    serve_qtsp(cli.qtsp, async {
        // An error here means no signal handler: then run until killed.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    })
    .await?;
    Ok(())
}
