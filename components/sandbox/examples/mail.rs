//! Runs the Mail sandbox from the command line with the same arguments as `ecoc sandbox mail`,
//! without building the whole CLI:
//!
//! ```text
//! cargo run -p sandbox --example mail -- --state-dir .sandbox/mail
//! ```

use clap::Parser;
use sandbox::mail::{MailArgs, serve_mail};

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    mail: MailArgs,
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
    serve_mail(cli.mail, async {
        // An error here means no signal handler: then run until killed.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    })
    .await?;
    Ok(())
}
