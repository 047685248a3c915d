//! Signatures per second for `ecoc sign`'s signing path, beside the hand-scripted peer.
//!
//! For each sandbox key (RSA-2048, P-256), one IVI document, enveloped XML-DSig:
//!
//! 0. **ecoc sign**: dsig's `run_sign`, what `ecoc sign` runs per invocation (new client, token,
//!    `credentials/info`, authorize, signHash, verify, write the file), minus process start-up;
//! 1. **http**: dsig's CSC client against the QTSP sandbox over real HTTP (token cached;
//!    `credentials/authorize` + `signatures/signHash` per document, as `ecoc sign` does);
//! 2. **in-process**: the same dsig assembly with the sandbox's own signing code called directly
//!    (`TestPki::sign_hash`, no HTTP, no SAD);
//! 3. **xmlsec1**: one `xmlsec1 --sign` process per document with the same key, certificate and
//!    document (a template made from dsig's own output with the values blanked).
//!
//! ```text
//! cargo run --release -p sandbox --example bench_sign -- [--seconds 2] [--doc FILE] [--state-dir DIR]
//! ```
//!
//! Without `--doc` it signs the official specimen `M1-01` read from `../shared/ivi2/samples`
//! next to the project (not copied), or a small built-in document when that folder is missing.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use common::{InProcess, xmlsec1_template};
use dsig::csc::{AuthData, CscClient, CscConfig, CscSigner};
use dsig::{Profile, SignOptions, VerifyOptions};
use sandbox::qtsp::{self, KeyType, QtspConfig};
use transport::UreqTransport;

#[derive(Debug, Parser)]
struct Args {
    /// Time spent on each measurement (seconds, fractions allowed).
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Cap on iterations per measurement.
    #[arg(long, default_value_t = 2000)]
    max_iterations: usize,
    /// The document to sign (default: the official specimen M1-01).
    #[arg(long)]
    doc: Option<PathBuf>,
    /// Sandbox state directory (reused between runs; default in the system temp dir).
    #[arg(long)]
    state_dir: Option<PathBuf>,
}

const FALLBACK_DOC: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<InitialVehicleInformation xmlns="http://eu.ereg.initialvehicleinformation.v2"><Header><VehicleIdentificationNumber>VF1AB000000000001</VehicleIdentificationNumber></Header><CocDataGroup><Mass>1500</Mass></CocDataGroup></InitialVehicleInformation>"#;

/// `ecoc sign`'s arguments, parsed as the CLI parses them.
#[derive(Debug, Parser)]
struct SignCli {
    #[command(flatten)]
    args: dsig::cli::SignArgs,
}

/// Runs `op` until the time or iteration budget is spent; returns operations per second.
fn rate(args: &Args, mut op: impl FnMut() -> Result<()>) -> Result<(f64, usize)> {
    op()?; // warm-up: connections, lazy tables
    let budget = Duration::from_secs_f64(args.seconds);
    let started = Instant::now();
    let mut n = 0;
    while n < args.max_iterations && (n == 0 || started.elapsed() < budget) {
        op()?;
        n += 1;
    }
    Ok((n as f64 / started.elapsed().as_secs_f64(), n))
}

fn document(args: &Args) -> Result<(String, Vec<u8>)> {
    if let Some(path) = &args.doc {
        return Ok((path.display().to_string(), std::fs::read(path)?));
    }
    let specimen = Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../../../shared/ivi2/samples/M1-01_-_Toyota_-_LexusRZ450e_M1_Electric_COC_Specimen.xml",
    );
    match std::fs::read(&specimen) {
        Ok(bytes) => Ok(("specimen M1-01".to_owned(), bytes)),
        Err(_) => Ok((
            "built-in small document".to_owned(),
            FALLBACK_DOC.as_bytes().to_vec(),
        )),
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let (doc_name, xml) = document(&args)?;
    let state_dir = args
        .state_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("ecoc-bench-qtsp-sandbox"));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let running = runtime.block_on(qtsp::start(QtspConfig::new(
        "127.0.0.1:0".parse()?,
        state_dir.clone(),
    )))?;
    let pki = running.pki();
    let description = running.description().clone();
    let client = CscClient::new(
        UreqTransport::new(Duration::from_secs(30)),
        CscConfig::new(
            running.csc_url(),
            &description.client_id,
            &description.client_secret,
        ),
    );
    let have_xmlsec1 = Command::new("xmlsec1")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let work = tempfile::tempdir()?;
    let root = std::fs::read_to_string(running.root_ca_pem())?;
    let verify_options = VerifyOptions {
        trust_anchors: dsig::parse_pem_certificates(&root)?,
        ..VerifyOptions::default()
    };

    let mut peer_options = verify_options.clone();
    peer_options
        .trust_anchors
        .extend(dsig::parse_pem_certificates(&std::fs::read_to_string(
            state_dir.join(&running.description().issuing_ca),
        )?)?);

    println!(
        "document: {doc_name} ({} bytes), profile xmldsig, {:.1} s per measurement",
        xml.len(),
        args.seconds
    );
    println!(
        "{:<8} {:>13} {:>11} {:>13} {:>13} {:>16} {:>13} {:>16}",
        "key",
        "ecoc sign/s",
        "http sig/s",
        "in-proc sig/s",
        "xmlsec1 sig/s",
        "ecoc sign/xmlsec1",
        "http/xmlsec1",
        "in-proc/xmlsec1"
    );
    for (credential, key_type) in [
        ("rsa-signer", KeyType::Rsa2048),
        ("p256-signer", KeyType::P256),
    ] {
        let entry = description
            .credential(credential)
            .context("credential in sandbox.json")?;
        let cred = pki.credential(credential).context("credential")?;
        let algorithm = common::algorithm_of(key_type);
        let chain = vec![cred.certificate_der().to_vec(), pki.issuing_der().to_vec()];
        let mut options = SignOptions::new(Profile::XmlDsig, chain);
        options.replace_existing = true;

        // 0. `ecoc sign`'s runner, one invocation per document.
        let input = work.path().join("input.xml");
        std::fs::write(&input, &xml)?;
        let sign_args = SignCli::try_parse_from([
            "ecoc-sign".to_owned(),
            "--qtsp".to_owned(),
            running.csc_url(),
            "--client-id".to_owned(),
            description.client_id.clone(),
            "--client-secret".to_owned(),
            description.client_secret.clone(),
            "--credential".to_owned(),
            credential.to_owned(),
            "--pin".to_owned(),
            entry.pin.clone(),
            "--replace-existing".to_owned(),
            "--trust".to_owned(),
            running.root_ca_pem().display().to_string(),
            input.display().to_string(),
            work.path().join("ecoc-sign-out.xml").display().to_string(),
        ])?;
        let (cli_rate, _) = rate(&args, || {
            let mut sink = Vec::new();
            let code = dsig::cli::run_sign(&sign_args.args, &mut sink)?;
            if code != std::process::ExitCode::SUCCESS {
                bail!("ecoc sign failed: {}", String::from_utf8_lossy(&sink));
            }
            Ok(())
        })?;

        // 1. Through the sandbox over HTTP.
        let remote = CscSigner::new(
            &client,
            credential,
            AuthData {
                pin: Some(entry.pin.clone()),
                otp: None,
            },
        )?;
        let mut last = Vec::new();
        let (http_rate, _) = rate(&args, || {
            last = dsig::sign(&xml, &options, &remote)?;
            Ok(())
        })?;
        dsig::verify(&last, &verify_options).context("http-signed document verifies")?;

        // 2. The sandbox's signing in-process.
        let local = InProcess {
            pki: &pki,
            credential,
            algorithm,
        };
        let (local_rate, _) = rate(&args, || {
            last = dsig::sign(&xml, &options, &local)?;
            Ok(())
        })?;
        dsig::verify(&last, &verify_options).context("in-process-signed document verifies")?;

        // 3. xmlsec1 --sign, one process per document, same key, certificate and document.
        let xmlsec_rate = if have_xmlsec1 {
            let template = work.path().join(format!("{credential}-template.xml"));
            std::fs::write(&template, xmlsec1_template(std::str::from_utf8(&last)?)?)?;
            let key_and_cert = format!(
                "{},{}",
                state_dir.join(&entry.key).display(),
                state_dir.join(&entry.certificate).display()
            );
            let output = work.path().join(format!("{credential}-xmlsec1.xml"));
            let run = || -> Result<()> {
                let out = Command::new("xmlsec1")
                    .arg("--sign")
                    .arg("--privkey-pem")
                    .arg(&key_and_cert)
                    .arg("--output")
                    .arg(&output)
                    .arg(&template)
                    .output()?;
                if !out.status.success() {
                    bail!("xmlsec1 --sign: {}", String::from_utf8_lossy(&out.stderr));
                }
                Ok(())
            };
            let (r, _) = rate(&args, run)?;
            // Same shape, same key: dsig's verifier accepts xmlsec1's result. xmlsec1 puts only
            // the leaf in KeyInfo, so the issuing CA is given as a trust anchor here.
            dsig::verify(&std::fs::read(&output)?, &peer_options)
                .with_context(|| format!("dsig verify of xmlsec1's output for {credential}"))?;
            Some(r)
        } else {
            None
        };

        let cell = |v: Option<f64>| v.map_or("n/a".to_owned(), |v| format!("{v:.1}"));
        let ratio = |a: f64| xmlsec_rate.map_or("n/a".to_owned(), |x| format!("{:.1}x", a / x));
        println!(
            "{:<8} {:>13} {:>11} {:>13} {:>13} {:>16} {:>13} {:>16}",
            match key_type {
                KeyType::Rsa2048 => "rsa2048",
                KeyType::P256 => "p256",
            },
            cell(Some(cli_rate)),
            cell(Some(http_rate)),
            cell(Some(local_rate)),
            cell(xmlsec_rate),
            ratio(cli_rate),
            ratio(http_rate),
            ratio(local_rate)
        );
    }
    if !have_xmlsec1 {
        println!("xmlsec1 not installed: no peer figures");
    }
    runtime.block_on(running.shutdown());
    Ok(())
}
