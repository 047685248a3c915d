//! The native floor of the end-to-end benchmark, and the hand-scripted pipeline's inputs.
//!
//! Runs the pipeline's own libraries in one process with no HTTP and no wasm, per ERP record: the
//! tenant mapping (`pipeline::mapping`), the validate step (`pipeline::validate::admit`: official schema, rules,
//! type approvals, duplicate claim, record written to an in-memory store) and the sign step
//! (`pipeline::sign::sign_record`: dsig prepares the signature, the QTSP sandbox's own key code
//! signs the digest, the value is embedded unchecked as the sign step embeds the QTSP's answer,
//! then the document is verified whole against the root and stored). That is everything ecoc
//! does for a record except HTTP, wasm, durable storage and the NAP. The signing itself is the
//! QTSP's work, not ecoc's: its time is reported apart (`qtsp_sign_s`), so a reader can take it
//! out of the floor as the end-to-end run's ecoc figure leaves out the QTSP sandbox's process.
//! It signs with the credential the end-to-end run uses (`rsa-signer`: RSA-SHA256, the EUCARIS
//! method) unless `--credential` says otherwise.
//!
//! With `--write DIR` it also leaves, for each record, the document `validate` admitted
//! (`NNNNN.xml`, placeholder signature) and an xmlsec1 template of the same signature shape
//! (`NNNNN.template.xml`), so `bench/ecoc_bench.py` can time `xmllint --schema` + `xmlsec1 --sign`
//! on the same documents.
//!
//! ```text
//! cargo run --release -p sandbox --example bench_floor -- --records 1000 --state-dir DIR [--write DIR]
//! ```
//!
//! Prints one JSON object: records, seconds per phase (the QTSP's signing apart), CPU seconds
//! of the loop, key and certificate
//! paths. Needs the official XSD (`../shared/ivi2` beside the checkout, or `ECOC_IVI2_XSD`).

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use clap::Parser;
use common::{InProcess, xmlsec1_template};
use dsig::{Certificate, Signer};
use ivi::Profile;
use ivi::profile::ProfileValidator;
use pipeline::approvals::Approvals;
use pipeline::calls::Source;
use pipeline::kv::Stores;
use pipeline::mapping::Mapping;
use pipeline::record::Status;
use pipeline::repo::{Repo, XmlKind};
use pipeline::retry::RetryPolicy;
use pipeline::sign;
use pipeline::tenant::{self, Tenant};
use pipeline::validate::{self, Candidate};
use sandbox::qtsp::TestPki;

const MAPPING: &str = include_str!("../../pipeline/demo/mapping.json");
const APPROVALS: &str = include_str!("../../pipeline/demo/approvals.json");
const RECORD: &str = include_str!("../../pipeline/demo/records/m1.json");

#[derive(Debug, Parser)]
struct Args {
    /// Number of ERP records (the demo M1 record with VINs numbered from `--first-serial`).
    #[arg(long, default_value_t = 1000)]
    records: usize,
    /// Serial number of the first VIN (its last seven characters).
    #[arg(long, default_value_t = 1_000_000)]
    first_serial: usize,
    /// The QTSP sandbox's state folder (its test PKI; made there when missing).
    #[arg(long)]
    state_dir: PathBuf,
    /// Records per call of the sign step (a CSV batch hands it chunks of `pipeline::batch::CHUNK`):
    /// the certificate chain is checked once per call.
    #[arg(long, default_value_t = pipeline::batch::CHUNK)]
    sign_batch: usize,
    /// The QTSP sandbox credential to sign with (`ecoc up --dev` signs with `rsa-signer`).
    #[arg(long, default_value = "rsa-signer")]
    credential: String,
    /// Write each admitted document and an xmlsec1 template here (outside the timed loop).
    #[arg(long)]
    write: Option<PathBuf>,
}

/// CPU seconds (user + system) this process has used so far.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat(5); `fields[0]` is field 3.
    (ticks(11) + ticks(12)) / 100.0
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> Result<u64> {
    let since = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH)?;
    Ok(u64::try_from(since.as_millis())?)
}

/// The demo record with VIN serial `serial`.
fn record(template: &serde_json::Value, serial: usize) -> serde_json::Value {
    let mut record = template.clone();
    let vin = template["vin"].as_str().unwrap_or_default();
    record["vin"] = format!("{}{serial:07}", &vin[..10]).into();
    record
}

fn main() -> Result<()> {
    let args = Args::parse();
    let setup_started = Instant::now();
    let pki = TestPki::load_or_create(&args.state_dir)?;
    let credential = pki
        .credential(&args.credential)
        .with_context(|| format!("no credential `{}` in the QTSP sandbox", args.credential))?;
    let algorithm = common::algorithm_of(credential.key_type());
    let chain = vec![
        credential.certificate_der().to_vec(),
        pki.issuing_der().to_vec(),
    ];
    let anchors = vec![Certificate::from_der(pki.root_der())?];
    let signer = InProcess {
        pki: &pki,
        credential: &args.credential,
        algorithm,
    };
    let qtsp_time = std::cell::Cell::new(Duration::ZERO);
    // As `CscSigning::sign_many` does with the QTSP's answer: prepare, sign the digest, embed
    // unchecked (`sign_record` verifies the document whole next).
    let sign = |xml: &[u8], profile: dsig::Profile| -> dsig::Result<Vec<u8>> {
        let mut options = dsig::SignOptions::new(profile, chain.clone());
        options.replace_existing = true;
        let prepared = dsig::prepare(xml, &options)?;
        let started = Instant::now();
        let value = signer.sign_digest(&prepared.digest())?;
        qtsp_time.set(qtsp_time.get() + started.elapsed());
        prepared.finish_unchecked(&value)
    };
    let sign_many = |xmls: &[&[u8]], profile: dsig::Profile| -> Vec<pipeline::Result<Vec<u8>>> {
        let qtsp_error = |e: dsig::Error| pipeline::Error::Upstream {
            service: pipeline::Service::Qtsp,
            message: e.to_string(),
            retryable: false,
        };
        xmls.iter()
            .map(|xml| sign(xml, profile).map_err(qtsp_error))
            .collect()
    };
    if ivi::profile::official_xsd().is_none() {
        bail!(
            "the official IVI 2.0 XSD is needed: put ../shared/ivi2 beside the checkout or set ECOC_IVI2_XSD"
        );
    }
    let checker = ProfileValidator::new(Profile::Eu, None)?;
    let mapping = Mapping::from_json(MAPPING.as_bytes())
        .map_err(|e| anyhow::anyhow!("demo mapping: {e:?}"))?;
    let approvals = Approvals::from_json(APPROVALS.as_bytes())?;
    let template: serde_json::Value = serde_json::from_str(RECORD)?;
    let stores = Stores::in_memory();
    let tenant = Tenant::new("bench", "Bench Vehicles");
    tenant::create_tenant(&stores.data, &tenant, "owner", None)?;
    let policy = RetryPolicy::default();
    let setup = setup_started.elapsed();

    let (mut map_time, mut admit_time, mut sign_time) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut ids = Vec::with_capacity(args.records);
    let mut first_unsigned = 0;
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    for i in 0..args.records {
        let t0 = Instant::now();
        let erp = record(&template, args.first_serial + i);
        let mapped = mapping
            .apply(&erp, SystemTime::now())
            .map_err(|e| anyhow::anyhow!("mapping record {i}: {e:?}"))?;
        let t1 = Instant::now();
        let admitted = validate::admit(
            &stores,
            &checker,
            &approvals,
            Candidate {
                tenant: &tenant.id,
                actor: "token:bench",
                source: Source::Json,
                xml: mapped.xml.as_bytes(),
                leased: true,
                authority: None,
                also: None,
            },
            now_ms()?,
        )?;
        let t2 = Instant::now();
        ids.push(admitted.id);
        let pending = &ids[first_unsigned..];
        if pending.len() >= args.sign_batch.max(1) || i + 1 == args.records {
            let pending: Vec<&str> = pending.iter().map(String::as_str).collect();
            let signed = sign::sign_records(
                &stores,
                &tenant,
                &pending,
                (&sign_many, "in-process"),
                &anchors,
                &policy,
                now_ms()? / 1000,
            )?;
            if let Some(r) = signed.iter().find(|r| r.status != Status::Signed) {
                bail!("record {} ended {:?}, not signed", r.id, r.status);
            }
            first_unsigned = i + 1;
        }
        let t3 = Instant::now();
        map_time += t1 - t0;
        admit_time += t2 - t1;
        sign_time += t3 - t2;
    }
    let elapsed = started.elapsed();
    let cpu = cpu_seconds() - cpu_before;

    if let Some(dir) = &args.write {
        std::fs::create_dir_all(dir)?;
        let repo = Repo::new(&stores);
        for (i, id) in ids.iter().enumerate() {
            let admitted = repo
                .xml(&tenant.id, id, XmlKind::Mapped)?
                .context("admitted XML")?;
            let signed = repo
                .xml(&tenant.id, id, XmlKind::Signed)?
                .context("signed XML")?;
            std::fs::write(dir.join(format!("{i:05}.xml")), admitted)?;
            let template = xmlsec1_template(std::str::from_utf8(&signed)?)?;
            std::fs::write(dir.join(format!("{i:05}.template.xml")), template)?;
        }
    }
    let entry = &credential.entry();
    let summary = serde_json::json!({
        "records": args.records,
        "setup_s": setup.as_secs_f64(),
        "wall_s": elapsed.as_secs_f64(),
        "cpu_s": cpu,
        "map_s": map_time.as_secs_f64(),
        "admit_s": admit_time.as_secs_f64(),
        "sign_s": sign_time.as_secs_f64(),
        "qtsp_sign_s": qtsp_time.get().as_secs_f64(),
        "credential": args.credential,
        "key_pem": args.state_dir.join(&entry.key),
        "certificate_pem": args.state_dir.join(&entry.certificate),
        "issuing_ca_pem": args.state_dir.join(&pki.description().issuing_ca),
        "root_ca_pem": args.state_dir.join(&pki.description().root_ca),
    });
    println!("{summary}");
    Ok(())
}
