//! Documents per second: `ecoc validate`'s engine beside `xmllint --schema` on the same files, in the
//! same run, as a ratio; optionally the same library compiled to wasm, as a second ratio.
//!
//! ```sh
//! cargo run --release -p ivi --example bench_validate -- [--iterations N] [--xsd ivi-2.0.xsd] \
//!     [--wasm "ecoc wasi-run target/wasm32-wasip2/release/examples/wasi_validate.wasm --"] [FILE...]
//! ```
//!
//! Defaults: the official schema from `ECOC_IVI2_XSD` or `../shared/ivi2/xsd`, and the nine official
//! specimens beside it. xmllint runs once over all documents (N copies of the file list), so both sides
//! load the schema once and pay per document; a second xmllint figure runs one process per document,
//! the hand-scripted peer's way. `--wasm CMD` runs `CMD --iterations N --xsd XSD FILE...` (the
//! `wasi_validate` example under a WASI runtime) and reads its `docs_per_sec=`.

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Instant;

use ivi::profile::official_xsd;
use ivi::validate::Validator;

fn main() -> ExitCode {
    let mut iterations = 50usize;
    let mut xsd: Option<PathBuf> = None;
    let mut wasm: Option<String> = None;
    let mut files: Vec<PathBuf> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--iterations" => {
                iterations = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(iterations)
            }
            "--xsd" => xsd = args.next().map(PathBuf::from),
            "--wasm" => wasm = args.next(),
            _ => files.push(PathBuf::from(a)),
        }
    }
    let Some(xsd) = xsd.or_else(official_xsd) else {
        eprintln!("no schema: pass --xsd or set ECOC_IVI2_XSD");
        return ExitCode::from(2);
    };
    if files.is_empty() {
        let samples = xsd
            .parent()
            .and_then(|p| p.parent())
            .map(|p| p.join("samples"));
        if let Some(Ok(rd)) = samples.map(std::fs::read_dir) {
            files = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "xml"))
                .collect();
            files.sort();
        }
    }
    // Plain absolute paths: a WASI runtime preopens directories and cannot follow `..` out of them.
    let xsd = std::fs::canonicalize(&xsd).unwrap_or(xsd);
    let files: Vec<PathBuf> = files
        .into_iter()
        .map(|f| std::fs::canonicalize(&f).unwrap_or(f))
        .collect();
    let docs: Vec<Vec<u8>> = match files.iter().map(std::fs::read).collect() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("cannot read an input file: {e}");
            return ExitCode::from(2);
        }
    };
    let n = iterations * docs.len();

    // Schema load (parse + compile), median of 5.
    let mut loads = Vec::new();
    let mut validator = None;
    for _ in 0..5 {
        match Validator::from_path(&xsd) {
            Ok(v) => {
                loads.push(v.compile_time.as_secs_f64() * 1000.0);
                validator = Some(v);
            }
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(validator) = validator else {
        return ExitCode::from(2);
    };
    loads.sort_by(f64::total_cmp);
    let load_ms = loads[loads.len() / 2];

    let started = Instant::now();
    let mut invalid = 0usize;
    for _ in 0..iterations {
        for d in &docs {
            if !validator.validate(d).is_empty() {
                invalid += 1;
            }
        }
    }
    let ecoc_secs = started.elapsed().as_secs_f64();
    let ecoc_rate = n as f64 / ecoc_secs;

    // xmllint, one process for all documents.
    let mut list: Vec<&PathBuf> = Vec::with_capacity(n);
    for _ in 0..iterations {
        list.extend(files.iter());
    }
    let started = Instant::now();
    let out = Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(&xsd)
        .args(&list)
        .output();
    let xmllint_secs = started.elapsed().as_secs_f64();
    let xmllint_rate = match &out {
        Ok(o) => {
            let ok = String::from_utf8_lossy(&o.stderr)
                .lines()
                .filter(|l| l.ends_with(" validates"))
                .count();
            if ok != n {
                eprintln!("warning: xmllint validated {ok} of {n} documents");
            }
            Some(n as f64 / xmllint_secs)
        }
        Err(e) => {
            eprintln!("xmllint not run: {e}");
            None
        }
    };
    // xmllint, one process per document (schema loaded every time), over one pass.
    let started = Instant::now();
    let mut ran = 0usize;
    for f in &files {
        if Command::new("xmllint")
            .args(["--noout", "--nonet", "--schema"])
            .arg(&xsd)
            .arg(f)
            .output()
            .is_ok()
        {
            ran += 1;
        }
    }
    let per_process_rate = (ran > 0).then(|| ran as f64 / started.elapsed().as_secs_f64());

    println!(
        "documents: {} files x {iterations} iterations = {n} ({invalid} invalid)",
        docs.len()
    );
    println!("ecoc schema load: {load_ms:.2} ms (median of 5)");
    println!("ecoc validate (native):        {ecoc_rate:>10.1} docs/s");
    if let Some(r) = xmllint_rate {
        println!("xmllint --schema (1 process):  {r:>10.1} docs/s");
        println!("ratio ecoc/xmllint:            {:>10.2}", ecoc_rate / r);
    }
    if let Some(r) = per_process_rate {
        println!("xmllint --schema (per file):   {r:>10.1} docs/s");
        println!("ratio ecoc/xmllint per file:   {:>10.2}", ecoc_rate / r);
    }
    if let Some(cmd) = wasm {
        let mut parts = cmd.split_whitespace();
        let Some(program) = parts.next() else {
            return ExitCode::from(2);
        };
        let out = Command::new(program)
            .args(parts)
            .arg("--iterations")
            .arg(iterations.to_string())
            .arg("--xsd")
            .arg(&xsd)
            .args(&files)
            .output();
        let line = out
            .as_ref()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let rate = line
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix("docs_per_sec="))
            .and_then(|v| v.parse::<f64>().ok());
        match rate {
            Some(r) => {
                println!("wasm: {}", line.trim());
                println!("ecoc validate (wasm):          {r:>10.1} docs/s");
                println!("ratio wasm/native:             {:>10.2}", r / ecoc_rate);
                if let Some(x) = xmllint_rate {
                    println!("ratio wasm/xmllint:            {:>10.2}", r / x);
                }
            }
            None => eprintln!("wasm run gave no docs_per_sec: {out:?}"),
        }
    }
    ExitCode::SUCCESS
}
