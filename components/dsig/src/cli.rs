//! `ecoc sign` and `ecoc verify` (feature `cli`): argument structs for clap and their runners.
//! components/cli mounts them as subcommands; the logic stays here.
//!
//! Secrets (`--client-secret`, `--pin`, `--otp`) can come from the environment
//! (`ECOC_QTSP_CLIENT_SECRET`, `ECOC_QTSP_PIN`, `ECOC_QTSP_OTP`) and are never printed: clap
//! hides their values in help, and `Debug` redacts them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use transport::UreqTransport;

use crate::csc::{AuthData, CscClient, CscConfig, CscSigner};
use crate::{Certificate, Error, Profile, Result, SignOptions, VerifyOptions};

/// The signature profile, as a command-line value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ProfileArg {
    /// Enveloped XML-DSig (EUCARIS profile).
    #[default]
    Xmldsig,
    /// XAdES-B-B.
    Xades,
}

impl From<ProfileArg> for Profile {
    fn from(p: ProfileArg) -> Self {
        match p {
            ProfileArg::Xmldsig => Profile::XmlDsig,
            ProfileArg::Xades => Profile::Xades,
        }
    }
}

/// `ecoc sign`: sign an IVI document through a QTSP (CSC API v2).
#[derive(Clone, clap::Args)]
pub struct SignArgs {
    /// Base URL of the QTSP's CSC API, e.g. `https://qtsp.example/csc/v2`.
    #[arg(long, env = "ECOC_QTSP_URL")]
    pub qtsp: String,
    /// OAuth2 client id.
    #[arg(long, env = "ECOC_QTSP_CLIENT_ID")]
    pub client_id: String,
    /// OAuth2 client secret.
    #[arg(long, env = "ECOC_QTSP_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: String,
    /// Credential id at the QTSP.
    #[arg(long)]
    pub credential: String,
    /// Credential PIN (explicit authorisation).
    #[arg(long, env = "ECOC_QTSP_PIN", hide_env_values = true)]
    pub pin: Option<String>,
    /// One-time password (explicit authorisation).
    #[arg(long, env = "ECOC_QTSP_OTP", hide_env_values = true)]
    pub otp: Option<String>,
    /// Signature profile.
    #[arg(long, value_enum, default_value_t = ProfileArg::Xmldsig)]
    pub profile: ProfileArg,
    /// Replace a signature already in the document (e.g. a placeholder) instead of refusing.
    #[arg(long)]
    pub replace_existing: bool,
    /// Trust anchors (PEM, every certificate in the file) for the check after signing; without
    /// it the last certificate of the QTSP's chain is used.
    #[arg(long)]
    pub trust: Vec<PathBuf>,
    /// HTTP timeout per request, in seconds.
    #[arg(long, default_value_t = 30)]
    pub timeout_secs: u64,
    /// The document to sign.
    pub input: PathBuf,
    /// Where to write the signed document.
    pub output: PathBuf,
}

impl std::fmt::Debug for SignArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignArgs")
            .field("qtsp", &self.qtsp)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("credential", &self.credential)
            .field("pin", &self.pin.as_ref().map(|_| "<redacted>"))
            .field("otp", &self.otp.as_ref().map(|_| "<redacted>"))
            .field("profile", &self.profile)
            .field("input", &self.input)
            .field("output", &self.output)
            .finish_non_exhaustive()
    }
}

/// `ecoc verify`: verify signed documents.
#[derive(Debug, Clone, clap::Args)]
pub struct VerifyArgs {
    /// Trust anchors (PEM; every certificate in each file is read).
    #[arg(long)]
    pub trust: Vec<PathBuf>,
    /// Verification time as xs:dateTime (default: now).
    #[arg(long)]
    pub at: Option<String>,
    /// Files to verify.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        context: format!("reading {}", path.display()),
        source,
    })
}

fn load_anchors(paths: &[PathBuf]) -> Result<Vec<Certificate>> {
    let mut out = Vec::new();
    for p in paths {
        let text = String::from_utf8(read(p)?)
            .map_err(|_| Error::Certificate(format!("{} is not pem text", p.display())))?;
        out.extend(
            crate::parse_pem_certificates(&text)
                .map_err(|e| Error::Certificate(format!("{}: {e}", p.display())))?,
        );
    }
    Ok(out)
}

fn io(context: String) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io { context, source }
}

/// Runs `ecoc sign`: signs through the QTSP, verifies the result, writes it. Progress goes to
/// `out`; failures are returned (the caller prints them and exits non-zero).
pub fn run_sign(args: &SignArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let xml = read(&args.input)?;
    let client = CscClient::new(
        UreqTransport::new(Duration::from_secs(args.timeout_secs)),
        CscConfig::new(&args.qtsp, &args.client_id, &args.client_secret),
    );
    let signer = CscSigner::new(
        &client,
        &args.credential,
        AuthData {
            pin: args.pin.clone(),
            otp: args.otp.clone(),
        },
    )?;
    let profile: crate::Profile = args.profile.into();
    profile.check_algorithm(crate::Signer::algorithm(&signer))?;
    let mut opts = SignOptions::new(profile, signer.certificates().to_vec());
    opts.replace_existing = args.replace_existing;
    let signed = crate::sign(&xml, &opts, &signer)?;

    // ecoc never hands on a signature that does not verify.
    let anchors = if args.trust.is_empty() {
        let last = signer
            .certificates()
            .last()
            .ok_or_else(|| Error::Signer("the qtsp returned no certificate".into()))?;
        vec![Certificate::from_der(last)?]
    } else {
        load_anchors(&args.trust)?
    };
    let v = crate::verify(
        &signed,
        &VerifyOptions {
            trust_anchors: anchors,
            ..VerifyOptions::default()
        },
    )
    .map_err(|e| {
        Error::Signer(format!(
            "the signed document does not verify, not written: {e}"
        ))
    })?;
    std::fs::write(&args.output, &signed)
        .map_err(io(format!("writing {}", args.output.display())))?;
    writeln!(
        out,
        "signed {} -> {} ({}, {:?}, credential {}, signer {})",
        args.input.display(),
        args.output.display(),
        v.profile.name(),
        v.algorithm,
        args.credential,
        v.signer.subject()
    )
    .map_err(io("writing output".into()))?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `ecoc verify`: one line per file, `ok` or the reason; success only when every file
/// verifies.
pub fn run_verify(args: &VerifyArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let anchors = load_anchors(&args.trust)?;
    let at = match &args.at {
        Some(t) => Some(
            crate::verify::parse_date_time(t)
                .map_err(|_| Error::Sign(format!("--at {t} is not an xs:dateTime")))?,
        ),
        None => None,
    };
    let opts = VerifyOptions {
        trust_anchors: anchors,
        at,
        ..VerifyOptions::default()
    };
    let mut all_ok = true;
    for file in &args.files {
        let line = match read(file).and_then(|xml| crate::verify(&xml, &opts)) {
            Ok(v) => format!(
                "{}: ok ({}, {:?}, signer {}, anchor {})",
                file.display(),
                v.profile.name(),
                v.algorithm,
                v.signer.subject(),
                v.chain.last().map(Certificate::subject).unwrap_or_default()
            ),
            Err(e) => {
                all_ok = false;
                format!("{}: FAILED: {e}", file.display())
            }
        };
        writeln!(out, "{line}").map_err(io("writing output".into()))?;
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
