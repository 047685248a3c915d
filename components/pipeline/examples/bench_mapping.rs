//! What mapping one ERP record costs: `bench_mapping ROUNDS MAPPING.json RECORDS...`.
//!
//! RECORDS are `.json` files (one record, or an array of records) or `.csv` files (every row, read
//! as `POST /v1/batches` reads it). The mapping is compiled once, then every record is mapped
//! `ROUNDS` times. Prints one JSON line: the number of records, nanoseconds per record (the
//! median of 5 passes), what reading the stored mapping takes (once per upload: the expressions
//! compiled as one program) and what storing it takes (every expression checked on its own). `bench/ecoc_bench.py mapping` runs
//! it natively and as WebAssembly (wasm32-wasip1 under wasmtime) and prints both side by side.

use std::time::{Instant, SystemTime};

use pipeline::csv_batch::CsvRows;
use pipeline::mapping::Mapping;
use serde_json::Value;

fn records(path: &str) -> Result<Vec<Value>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    if path.ends_with(".csv") {
        let rows = CsvRows::new(&bytes[..]).map_err(|e| format!("{path}: {}", e.message))?;
        return rows
            .map(|row| {
                row.record
                    .map_err(|e| format!("{path} row {}: {e:?}", row.number))
            })
            .collect();
    }
    match serde_json::from_slice(&bytes).map_err(|e| format!("{path}: {e}"))? {
        Value::Array(items) => Ok(items),
        one => Ok(vec![one]),
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [rounds, mapping, inputs @ ..] = args.as_slice() else {
        return Err("usage: bench_mapping ROUNDS MAPPING.json RECORDS...".into());
    };
    let rounds: usize = rounds.parse().map_err(|e| format!("ROUNDS: {e}"))?;
    let text = std::fs::read(mapping).map_err(|e| format!("{mapping}: {e}"))?;
    // What `PUT /v1/tenant/mapping` pays (every expression checked on its own, then the program)
    // and what each upload pays to read the stored mapping (the program only).
    let started = Instant::now();
    Mapping::from_json(&text).map_err(|e| format!("{mapping}: {e:?}"))?;
    let check_ns = started.elapsed().as_nanos();
    let started = Instant::now();
    let mapping = Mapping::from_stored(&text).map_err(|e| format!("{mapping}: {e:?}"))?;
    let compile_ns = started.elapsed().as_nanos();
    let mut all = Vec::new();
    for input in inputs {
        all.extend(records(input)?);
    }
    if all.is_empty() {
        return Err("no records".into());
    }
    // Every record must map: a refusal would be measured as a (cheaper) error path.
    for (i, r) in all.iter().enumerate() {
        mapping
            .apply(r, SystemTime::now())
            .map_err(|e| format!("record {i} does not map: {e:?}"))?;
    }
    let mut passes: Vec<f64> = (0..5)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..rounds {
                for r in &all {
                    std::hint::black_box(mapping.apply(r, SystemTime::now()).is_ok());
                }
            }
            started.elapsed().as_nanos() as f64 / (rounds * all.len()) as f64
        })
        .collect();
    passes.sort_by(f64::total_cmp);
    println!(
        "{}",
        serde_json::json!({
            "records": all.len(),
            "rounds": rounds,
            "ns_per_record": passes[2].round(),
            "compile_ns": compile_ns,
            "check_ns": check_ns,
        })
    );
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("bench_mapping: {e}");
        std::process::exit(2);
    }
}
