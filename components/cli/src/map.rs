//! `ecoc map`: the mapping preview offline: maps one ERP record with a mapping file, then runs
//! every check an upload meets (schema, rules, the approvals file, correction rules), storing
//! nothing (`pipeline::validate::preview_offline`). The XML goes to stdout (or `--output`), what
//! an upload would meet to stderr; exit 0 when the record would be accepted (validated or held).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

/// Arguments of `ecoc map`.
#[derive(Debug, clap::Args)]
pub struct MapArgs {
    /// The tenant's mapping (JSON, as `PUT /v1/tenant/mapping` takes it).
    #[arg(long)]
    mapping: PathBuf,
    /// The tenant's type-approval records (JSON, as `PUT /v1/tenant/approvals` takes it).
    #[arg(long)]
    approvals: PathBuf,
    /// Market profile: `eu` (official schema) or `uk`.
    #[arg(long, value_enum, default_value_t = ivi::cli::ProfileArg::Eu)]
    profile: ivi::cli::ProfileArg,
    /// Schema to use instead of the profile's (eu: the official ivi-2.0.xsd, default from
    /// $ECOC_IVI2_XSD).
    #[arg(long)]
    xsd: Option<PathBuf>,
    /// Where to write the mapped XML (default: stdout).
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
    /// The ERP record (JSON).
    record: PathBuf,
}

fn read(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

pub fn run(args: &MapArgs) -> anyhow::Result<ExitCode> {
    let mapping =
        pipeline::mapping::Mapping::from_json(&read(&args.mapping)?).map_err(|errors| {
            anyhow::anyhow!(
                "{}: {}",
                args.mapping.display(),
                errors
                    .iter()
                    .map(|e| format!("{} [{}] {}", e.path, e.code, e.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        })?;
    let approvals = pipeline::approvals::Approvals::from_json(&read(&args.approvals)?)
        .with_context(|| args.approvals.display().to_string())?;
    let record: serde_json::Value = pipeline::json::parse(&read(&args.record)?)
        .map_err(|e| anyhow::anyhow!("{}: not JSON: {e}", args.record.display()))?;
    let checker = ivi::profile::ProfileValidator::new(args.profile.into(), args.xsd.as_deref())?;
    let (xml, checked) =
        match pipeline::validate::preview_offline(&mapping, &approvals, &checker, &record) {
            Ok(answer) => answer,
            Err(pipeline::Error::Fields(errors)) => {
                for e in &errors {
                    eprintln!(
                        "{}: {} [{}] {}",
                        args.record.display(),
                        e.path,
                        e.code,
                        e.message
                    );
                }
                eprintln!("{}: the mapping refuses the record", args.record.display());
                return Ok(ExitCode::FAILURE);
            }
            Err(e) => return Err(e.into()),
        };
    match &args.output {
        Some(path) => std::fs::write(path, &xml).with_context(|| path.display().to_string())?,
        None => println!("{xml}"),
    }
    for f in checked.findings.iter().chain(&checked.drift) {
        eprintln!(
            "{}: {} [{}] {}",
            args.record.display(),
            f.path,
            f.code,
            f.message
        );
    }
    if let Some(note) = &checked.note {
        eprintln!("{}: note: {note}", args.record.display());
    }
    eprintln!(
        "{}: an upload would be {}",
        args.record.display(),
        checked.outcome
    );
    Ok(if checked.outcome == "refused" {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
