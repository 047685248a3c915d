//! CSV batches: one vehicle per row, read row by row. The header names each column with a JSON
//! pointer into the ERP record (`/vin`, `/masses/running_order`, `/axles/0/tyres/0/size`); numeric
//! segments make arrays. Cells stay strings (the mapping's `type` converts them); an empty cell is
//! absent. A bad row is reported and the next row is read.
//!
//! ```
//! use pipeline::csv_batch::CsvRows;
//! let csv = "/vin,/axles/0/number,/axles/1/number\nWEX1M1AB2C3456789,1,2\n";
//! let rows: Vec<_> = CsvRows::new(csv.as_bytes()).expect("a good header").collect();
//! let record = rows[0].record.as_ref().expect("a good row");
//! assert_eq!(record["axles"][1]["number"], "2");
//! ```

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Map, Value};

use crate::FieldError;

/// Most columns.
pub const MAX_COLUMNS: usize = 1_000;
/// Longest row, in bytes.
pub const MAX_ROW_BYTES: usize = 1024 * 1024;
/// Largest array index a column may name (`/axles/999/number`): a bound on the nulls one cell makes.
pub const MAX_INDEX: usize = 999;
/// What the reader may pull beyond a row's own bytes (the csv reader buffers 8 KiB ahead).
const READ_AHEAD: usize = 64 * 1024;

/// The rows of a CSV upload.
pub struct CsvRows<R: Read> {
    reader: csv::Reader<Budgeted<R>>,
    /// Bytes pulled from the input since the current row began.
    used: Arc<AtomicUsize>,
    columns: Vec<Vec<Segment>>,
    names: Vec<String>,
    number: usize,
    record: csv::ByteRecord,
    done: bool,
}

impl<R: Read> std::fmt::Debug for CsvRows<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvRows")
            .field("columns", &self.names)
            .field("row", &self.number)
            .finish()
    }
}

/// One data row: its 1-based number and the record it makes, or why it cannot.
#[derive(Debug)]
pub struct Row {
    /// 1-based data row number (the header is row 0).
    pub number: usize,
    /// The ERP record, or the row's problems.
    pub record: Result<Value, Vec<FieldError>>,
}

/// One step of a column's pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// The input, refusing to hand over more than a row's worth of bytes per row, so one endless row
/// cannot fill the memory before its length is checked.
struct Budgeted<R> {
    inner: R,
    used: Arc<AtomicUsize>,
}

impl<R: Read> Read for Budgeted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.used.load(Ordering::Relaxed) > MAX_ROW_BYTES + READ_AHEAD {
            return Err(std::io::Error::other(format!(
                "a row is longer than {MAX_ROW_BYTES} bytes"
            )));
        }
        let n = self.inner.read(buf)?;
        self.used.fetch_add(n, Ordering::Relaxed);
        Ok(n)
    }
}

fn header_error(message: String) -> FieldError {
    FieldError::new("header", "CSV-HEADER", message)
}

/// The segments of a column name, or why it is not a usable pointer.
fn segments(name: &str) -> Result<Vec<Segment>, String> {
    let Some(rest) = name.strip_prefix('/') else {
        return Err("is not a JSON pointer such as /vin or /masses/running_order".into());
    };
    let mut out = Vec::new();
    for raw in rest.split('/') {
        if raw.is_empty() {
            return Err("has an empty segment".into());
        }
        if raw
            .split('~')
            .skip(1)
            .any(|after| !(after.starts_with('0') || after.starts_with('1')))
        {
            return Err("has a `~` that is not `~0` or `~1` (RFC 6901)".into());
        }
        if raw.bytes().all(|b| b.is_ascii_digit()) {
            // RFC 6901 array indexes have no leading zeros.
            match raw.parse::<usize>() {
                Ok(n) if n <= MAX_INDEX && (raw == "0" || !raw.starts_with('0')) => {
                    out.push(Segment::Index(n));
                }
                _ => {
                    return Err(format!(
                        "has the array index `{raw}`; indexes run from 0 to {MAX_INDEX} without leading zeros"
                    ));
                }
            }
        } else {
            out.push(Segment::Key(raw.replace("~1", "/").replace("~0", "~")));
        }
    }
    Ok(out)
}

impl<R: Read> CsvRows<R> {
    /// Reads the header row and checks it: not empty, at most [`MAX_COLUMNS`], every name a JSON
    /// pointer, no name twice. Errors have the path `header`.
    pub fn new(reader: R) -> Result<Self, FieldError> {
        let used = Arc::new(AtomicUsize::new(0));
        let mut reader = csv::ReaderBuilder::new()
            .flexible(false)
            .has_headers(true)
            .from_reader(Budgeted {
                inner: reader,
                used: Arc::clone(&used),
            });
        let header = reader
            .byte_headers()
            .map_err(|e| header_error(format!("cannot read the header row: {e}")))?
            .clone();
        if header.is_empty() || header.iter().all(<[u8]>::is_empty) {
            return Err(header_error("the header row is empty".into()));
        }
        if header.len() > MAX_COLUMNS {
            return Err(header_error(format!(
                "{} columns; at most {MAX_COLUMNS}",
                header.len()
            )));
        }
        let mut names = Vec::with_capacity(header.len());
        let mut columns = Vec::with_capacity(header.len());
        for (i, raw) in header.iter().enumerate() {
            let name = std::str::from_utf8(raw)
                .map_err(|_| header_error(format!("column {} is not UTF-8", i + 1)))?;
            // The csv reader drops a leading BOM; trimming it again costs nothing.
            let name = name.trim_start_matches('\u{feff}').trim().to_owned();
            let path = segments(&name)
                .map_err(|why| header_error(format!("column {} `{name}` {why}", i + 1)))?;
            if names.contains(&name) {
                return Err(header_error(format!("column `{name}` appears twice")));
            }
            names.push(name);
            columns.push(path);
        }
        Ok(Self {
            reader,
            used,
            columns,
            names,
            number: 0,
            record: csv::ByteRecord::new(),
            done: false,
        })
    }

    fn build(&self) -> Result<Value, Vec<FieldError>> {
        let mut root = Value::Object(Map::new());
        let mut errors = Vec::new();
        for (i, cell) in self.record.iter().enumerate() {
            let at = || format!("row {}, column {}", self.number, self.names[i]);
            let Ok(text) = std::str::from_utf8(cell) else {
                errors.push(FieldError::new(at(), "CSV-UTF8", "the cell is not UTF-8"));
                continue;
            };
            if text.trim().is_empty() {
                continue;
            }
            if looks_like_formula(text) {
                errors.push(FieldError::new(
                    at(),
                    "CSV-FORMULA",
                    "the cell starts like a spreadsheet formula (=, +, -, @ or a control character); eCoC data never does",
                ));
                continue;
            }
            if let Err(message) =
                insert(&mut root, &self.columns[i], Value::String(text.to_owned()))
            {
                errors.push(FieldError::new(at(), "CSV-COLUMN", message));
            }
        }
        if errors.is_empty() {
            Ok(root)
        } else {
            Err(errors)
        }
    }
}

/// Whether a cell would run as a formula when the data is opened in a spreadsheet: it starts with
/// `=`, `@`, a tab or carriage return, or `+`/`-` not followed by a digit (a signed number is data).
fn looks_like_formula(text: &str) -> bool {
    let mut chars = text.chars();
    match chars.next() {
        Some('=' | '@' | '\t' | '\r') => true,
        Some('+' | '-') => !chars.next().is_some_and(|c| c.is_ascii_digit()),
        _ => false,
    }
}

/// Puts `value` at `path` in `root`, creating objects, and arrays for index segments. A place
/// that already holds something else (`/a` and `/a/b` both filled, `/a/0` and `/a/b`) is refused.
fn insert(root: &mut Value, path: &[Segment], value: Value) -> Result<(), String> {
    let mut current = root;
    for seg in path {
        if current.is_null() {
            *current = match seg {
                Segment::Index(_) => Value::Array(Vec::new()),
                Segment::Key(_) => Value::Object(Map::new()),
            };
        }
        current = match (current, seg) {
            (Value::Array(items), Segment::Index(n)) => {
                if items.len() <= *n {
                    items.resize(n + 1, Value::Null);
                }
                &mut items[*n]
            }
            (Value::Object(map), Segment::Key(k)) => map.entry(k.clone()).or_insert(Value::Null),
            (Value::String(_), _) => {
                return Err(
                    "another column already puts a value where this one needs a group".into(),
                );
            }
            (_, Segment::Index(n)) => {
                return Err(format!("index {n} where another column names a field"));
            }
            (_, Segment::Key(k)) => {
                return Err(format!(
                    "field `{k}` where another column puts an array index"
                ));
            }
        };
    }
    if current.is_null() {
        *current = value;
        Ok(())
    } else {
        Err("another column already puts a group of values here".into())
    }
}

impl<R: Read> Iterator for CsvRows<R> {
    type Item = Row;

    fn next(&mut self) -> Option<Row> {
        if self.done {
            return None;
        }
        self.used.store(0, Ordering::Relaxed);
        let read = self.reader.read_byte_record(&mut self.record);
        self.number += 1;
        let number = self.number;
        match read {
            Ok(false) => {
                self.done = true;
                None
            }
            Ok(true) => {
                let size: usize = self.record.iter().map(<[u8]>::len).sum();
                let record = if size > MAX_ROW_BYTES {
                    Err(vec![FieldError::new(
                        format!("row {number}"),
                        "CSV-ROW",
                        format!("the row has {size} bytes; at most {MAX_ROW_BYTES}"),
                    )])
                } else {
                    self.build()
                };
                Some(Row { number, record })
            }
            Err(e) => {
                let message = match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        len, expected_len, ..
                    } => {
                        format!("the row has {len} cells; the header has {expected_len}")
                    }
                    csv::ErrorKind::Io(io) => {
                        format!("{io}; the rest of the upload is not read")
                    }
                    _ => e.to_string(),
                };
                // A ragged row is that row's problem; anything else (I/O, a row too long to
                // buffer) ends the stream, reported once.
                self.done = !matches!(
                    e.kind(),
                    csv::ErrorKind::UnequalLengths { .. } | csv::ErrorKind::Utf8 { .. }
                );
                Some(Row {
                    number,
                    record: Err(vec![FieldError::new(
                        format!("row {number}"),
                        "CSV-ROW",
                        message,
                    )]),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

    use super::*;

    #[test]
    fn header_pointers() {
        assert_eq!(
            segments("/axles/0/tyres/12/a~1b~0c").unwrap(),
            vec![
                Segment::Key("axles".into()),
                Segment::Index(0),
                Segment::Key("tyres".into()),
                Segment::Index(12),
                Segment::Key("a/b~c".into()),
            ]
        );
        for bad in ["vin", "/", "/a//b", "/a/01", "/a/1000", "/a~2"] {
            assert!(segments(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_endless_row_stops_the_stream_with_bounded_memory() {
        let mut text = String::from("/vin,/note\nV1,\"");
        text.push_str(&"x".repeat(MAX_ROW_BYTES + 2 * READ_AHEAD));
        text.push_str("\"\nV2,ok\n");
        let rows: Vec<_> = CsvRows::new(text.as_bytes()).unwrap().collect();
        assert_eq!(rows.len(), 1, "the stream ends at the long row");
        let err = rows[0].record.as_ref().unwrap_err();
        assert_eq!(
            (err[0].path.as_str(), err[0].code.as_str()),
            ("row 1", "CSV-ROW")
        );
        assert!(err[0].message.contains("longer than"), "{}", err[0].message);
    }

    #[test]
    fn a_long_row_within_the_read_ahead_is_refused_alone() {
        let mut text = String::from("/vin,/note\nV1,\"");
        text.push_str(&"x".repeat(MAX_ROW_BYTES + 10));
        text.push_str("\"\nV2,ok\n");
        let rows: Vec<_> = CsvRows::new(text.as_bytes()).unwrap().collect();
        assert_eq!(rows.len(), 2);
        assert!(
            rows[0].record.as_ref().unwrap_err()[0]
                .message
                .contains("bytes")
        );
        assert_eq!(rows[1].record.as_ref().unwrap()["note"], "ok");
    }
}
