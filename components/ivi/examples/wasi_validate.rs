//! A plain WASI command that validates IVI files with the official schema and prints the rate.
//!
//! Build: `cargo build --release -p ivi --example wasi_validate --target wasm32-wasip2`
//! Run:   `ecoc wasi-run target/wasm32-wasip2/release/examples/wasi_validate.wasm -- \
//!            --iterations 50 --xsd /shared/ivi2/xsd/ivi-2.0.xsd FILE...`
//!        (or any WASI 0.2 runtime, e.g. `wasmtime run --dir /shared ...`), with the directories of the
//!        schema and the files preopened.
//! Output: `compile_ms=<schema load> docs=<n> seconds=<t> docs_per_sec=<rate> invalid=<n>` on one line,
//! which `bench_validate --wasm` parses. It also builds and runs natively (`cargo run --example`).

use std::process::ExitCode;
use std::time::Instant;

use ivi::validate::Validator;

fn main() -> ExitCode {
    let mut iterations = 20usize;
    let mut xsd = None;
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--iterations" => {
                iterations = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(iterations)
            }
            "--xsd" => xsd = args.next(),
            _ => files.push(a),
        }
    }
    let Some(xsd) = xsd else {
        eprintln!("usage: wasi_validate [--iterations N] --xsd ivi-2.0.xsd FILE...");
        return ExitCode::from(2);
    };
    let docs: Vec<Vec<u8>> = match files.iter().map(std::fs::read).collect() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("cannot read an input file: {e}");
            return ExitCode::from(2);
        }
    };
    let validator = match Validator::from_path(std::path::Path::new(&xsd)) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let mut invalid = 0usize;
    for _ in 0..iterations {
        for d in &docs {
            if !validator.validate(d).is_empty() {
                invalid += 1;
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let n = iterations * docs.len();
    println!(
        "compile_ms={:.2} docs={n} seconds={secs:.4} docs_per_sec={:.1} invalid={invalid}",
        validator.compile_time.as_secs_f64() * 1000.0,
        n as f64 / secs
    );
    ExitCode::SUCCESS
}
