//! `ecoc audit`: a tenant's audit trail out of a running deployment, checked offline
//! ([`pipeline::audit`] holds the chain and its verification; this is only HTTP and files).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use pipeline::audit;
use transport::http::Method;
use transport::{Transport, UreqTransport};

/// The audit trail's commands.
#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Write a tenant's audit log and its signed checkpoints to a file (one JSON object per line),
    /// asking the deployment for a fresh checkpoint first.
    Export(ExportArgs),
    /// Check an exported log offline: every entry's hash, the order, the links between entries, and
    /// the signed checkpoints; names the first entry that was changed, removed or moved.
    Verify(VerifyArgs),
    /// Print a new checkpoint key for the variable `audit_signing_key` (stdout), and its public
    /// key (stderr).
    Keygen,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The deployment (`http://127.0.0.1:3000`).
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    url: String,
    /// An API token of the tenant (a primary token also makes a fresh checkpoint); else
    /// `ECOC_TOKEN`.
    #[arg(long, env = "ECOC_TOKEN", hide_env_values = true)]
    token: String,
    /// Where to write the export.
    #[arg(long, short = 'o')]
    output: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The deployment's audit public key (base64, or `@FILE` holding it): who must have signed the
    /// checkpoints. Without it, the key the export names is used, with a warning.
    #[arg(long)]
    public_key: Option<String>,
    /// The export to check.
    file: PathBuf,
}

/// Runs an audit command.
pub fn run(command: &AuditCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuditCommand::Export(args) => export(args),
        AuditCommand::Verify(args) => verify(args),
        AuditCommand::Keygen => {
            let seed = audit::new_signing_key()?;
            let public = audit::public_key(&audit::signing_key(&seed)?);
            println!("{seed}");
            eprintln!("public key (for ecoc audit verify --public-key): {public}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn export(args: &ExportArgs) -> anyhow::Result<ExitCode> {
    let api = Api {
        http: UreqTransport::default(),
        url: args.url.trim_end_matches('/').to_owned(),
        authorization: format!("Bearer {}", args.token.trim()),
    };
    let (status, body) = api.call(Method::POST, "/v1/audit/checkpoint")?;
    match status {
        201 => {}
        403 | 503 => eprintln!(
            "note: no fresh checkpoint ({}); the export holds the checkpoints made so far",
            body["message"].as_str().unwrap_or("refused")
        ),
        _ => anyhow::bail!("POST /v1/audit/checkpoint answered {status}: {body}"),
    }
    let mut entries = Vec::new();
    let mut after = 0;
    let tenant = loop {
        let (status, page) = api.call(Method::GET, &format!("/v1/audit/log?after={after}"))?;
        if status != 200 {
            anyhow::bail!("GET /v1/audit/log answered {status}: {page}");
        }
        let items = page["entries"].as_array().cloned().unwrap_or_default();
        eprint!("\rexporting: {} entries", entries.len() + items.len());
        entries.extend(items);
        match page["next"].as_u64() {
            Some(next) => after = next,
            None => break page["tenant"].as_str().unwrap_or_default().to_owned(),
        }
    };
    eprintln!();
    let (status, signed) = api.call(Method::GET, "/v1/audit/checkpoints")?;
    if status != 200 {
        anyhow::bail!("GET /v1/audit/checkpoints answered {status}: {signed}");
    }
    let checkpoints: Vec<audit::Checkpoint> =
        serde_json::from_value(signed["checkpoints"].clone())?;
    let exported_at = pipeline::clock::rfc3339(pipeline::clock::now_secs());
    let mut lines = vec![audit::export_header(
        &tenant,
        &exported_at,
        signed["public_key"].as_str(),
    )];
    lines.extend(entries.iter().map(audit::canonical_json));
    for checkpoint in &checkpoints {
        lines.push(audit::checkpoint_line(checkpoint)?);
    }
    std::fs::write(&args.output, lines.join("\n") + "\n")
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", args.output.display()))?;
    eprintln!(
        "wrote {}: tenant {tenant}, {} entries, {} checkpoints",
        args.output.display(),
        entries.len(),
        checkpoints.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn verify(args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let text = read(&args.file)?;
    let trusted = args
        .public_key
        .as_deref()
        .map(|given| match given.strip_prefix('@') {
            Some(file) => read(Path::new(file)),
            None => Ok(given.to_owned()),
        })
        .transpose()?
        .map(|key| audit::decode_public_key(&key))
        .transpose()?;
    match audit::verify_export(&text, trusted.as_ref()) {
        Ok(verified) => {
            for warning in &verified.warnings {
                eprintln!("warning: {warning}");
            }
            println!(
                "OK {}: tenant {}, {} entries, {} signed checkpoints (the last covers entry {})",
                args.file.display(),
                verified.tenant,
                verified.entries,
                verified.checkpoints,
                verified.covered
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(broken) => {
            println!("FAILED {}: {broken}", args.file.display());
            Ok(ExitCode::FAILURE)
        }
    }
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))
}

/// The deployment's API, as one token.
struct Api {
    http: UreqTransport,
    url: String,
    authorization: String,
}

impl Api {
    fn call(&self, method: Method, path: &str) -> anyhow::Result<(u16, serde_json::Value)> {
        let request = transport::request(
            method.clone(),
            &format!("{}{path}", self.url),
            &[("authorization", &self.authorization)],
            Vec::new(),
        )?;
        let answer = self
            .http
            .send(request)
            .map_err(|e| anyhow::anyhow!("{method} {path}: {e}"))?;
        let body = serde_json::from_slice(answer.body()).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(answer.body()).into_owned())
        });
        Ok((answer.status().as_u16(), body))
    }
}
