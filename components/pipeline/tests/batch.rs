//! A CSV batch through `pipeline::batch::run` with a stand-in for `validate` (the real one is
//! exercised end to end in tests/pipeline.rs): one line per row whatever the chunking, in row
//! order, and the stream opened only once something was stored.

#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

use std::path::PathBuf;

use pipeline::batch::{self, Lines, RowResult};
use pipeline::calls::{Admitted, Outcome};
use pipeline::csv_batch::CsvRows;
use pipeline::mapping::Mapping;

/// The mapping as a batch applies it (no mapper component).
fn through(mapping: &Mapping) -> impl FnMut(&serde_json::Value) -> pipeline::Result<String> + '_ {
    |record| pipeline::mapper::record_to_xml(record, None, Some(mapping)).map(|(xml, _)| xml)
}
use pipeline::{Error, Result};

fn demo(file: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("demo")
            .join(file),
    )
    .unwrap()
}

/// The demo CSV's first row `n` times with distinct VINs, and one row the mapping refuses.
fn csv(n: usize) -> Vec<u8> {
    let text = String::from_utf8(demo("records.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let template = lines.next().unwrap();
    let vin = template.split(',').next().unwrap();
    let mut out = format!("{header}\n");
    for i in 0..n {
        out.push_str(&template.replacen(vin, &format!("{}{:07}", &vin[..10], i), 1));
        out.push('\n');
    }
    // A row without its VIN: the mapping refuses it (`required`).
    out.push_str(&template.replacen(vin, "", 1));
    out.push('\n');
    out.into_bytes()
}

#[derive(Default)]
struct Collected {
    lines: Vec<RowResult>,
    opened_after: Option<usize>,
}

impl Lines for Collected {
    fn line(&mut self, line: RowResult) {
        self.lines.push(line);
    }
    fn open(&mut self) {
        self.opened_after.get_or_insert(self.lines.len());
    }
}

/// A `validate` that refuses every file whose chunk position is a multiple of 7 and stores the rest;
/// `short` drops the last answer of every chunk (a step answering less than it was asked).
fn admit(short: bool) -> impl FnMut(&[Vec<String>]) -> Vec<Result<Admitted>> {
    move |chunks: &[Vec<String>]| {
        chunks
            .iter()
            .map(|items| {
                let mut results: Vec<_> = items
                    .iter()
                    .enumerate()
                    .map(|(i, _)| {
                        if i % 7 == 0 {
                            Outcome::Err(Error::Conflict(format!("item {i} refused")).to_body())
                        } else {
                            Outcome::Err(
                                Error::Duplicate {
                                    message: format!("item {i} is a duplicate"),
                                    existing: format!("r{i}"),
                                }
                                .to_body(),
                            )
                        }
                    })
                    .collect();
                if short {
                    results.pop();
                }
                Ok(Admitted { results })
            })
            .collect()
    }
}

#[test]
fn every_row_gets_one_line_in_order_across_chunks() {
    let mapping = Mapping::from_json(&demo("mapping.json")).unwrap();
    let total = batch::CHUNK * batch::IN_FLIGHT * 2 + 7;
    for short in [false, true] {
        let bytes = csv(total);
        let rows = CsvRows::new(&bytes[..]).unwrap();
        let mut out = Collected::default();
        let summary = batch::run(rows, &mut through(&mapping), &mut admit(short), &mut out);
        assert_eq!(summary.rows, total + 1, "short={short}");
        assert_eq!(
            out.lines.len(),
            total + 1,
            "one line per row (short={short})"
        );
        assert_eq!((summary.accepted, summary.refused), (0, total + 1));
        let mut numbers: Vec<usize> = out.lines.iter().map(|l| l.row).collect();
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(numbers.len(), total + 1, "no row twice, none missing");
        // The refused mapping row says why, with the field.
        let unmapped = out.lines.iter().find(|l| l.status == 422).unwrap();
        assert_eq!(unmapped.refusal.as_ref().unwrap().error, "invalid_fields");
        // A full chunk was judged: the answer streams even though nothing was stored.
        assert_eq!(out.opened_after, Some(batch::CHUNK * batch::IN_FLIGHT));
        let dup = out
            .lines
            .iter()
            .filter_map(|l| l.refusal.as_ref())
            .find(|r| r.error == "duplicate")
            .unwrap();
        assert!(dup.duplicate_of.is_some(), "{dup:?}");
        if short {
            assert!(
                out.lines.iter().any(|l| l.status == 500),
                "a missing answer is a 500 line"
            );
        }
    }
}

#[test]
fn a_small_batch_refused_whole_is_held_for_one_answer() {
    let mapping = Mapping::from_json(&demo("mapping.json")).unwrap();
    let bytes = csv(3);
    let rows = CsvRows::new(&bytes[..]).unwrap();
    let mut out = Collected::default();
    let summary = batch::run(rows, &mut through(&mapping), &mut admit(false), &mut out);
    assert_eq!(
        out.opened_after, None,
        "nothing stored, no full chunk: not streamed"
    );
    let refused = batch::refused(summary, out.lines);
    assert_eq!(
        (refused.status(), refused.rows.len()),
        (422, 4),
        "refused rows"
    );
    assert_eq!(refused.error, "invalid_fields");
    // A step that failed is not the rows' fault: 503 stays 503.
    let rows = CsvRows::new(&bytes[..]).unwrap();
    let mut out = Collected::default();
    let mut unavailable = |chunks: &[Vec<String>]| {
        chunks
            .iter()
            .map(|_| Err(Error::Store("cannot open store `vins`".into())))
            .collect()
    };
    let summary = batch::run(rows, &mut through(&mapping), &mut unavailable, &mut out);
    let down = batch::refused(summary, out.lines);
    assert_eq!(
        (down.status(), down.error.as_str()),
        (503, "store_unavailable")
    );
    let header_only = CsvRows::new(&b"/vin\n"[..]).unwrap();
    let mut out = Collected::default();
    let summary = batch::run(
        header_only,
        &mut through(&mapping),
        &mut admit(false),
        &mut out,
    );
    assert_eq!(batch::refused(summary, out.lines).status(), 400);
}
