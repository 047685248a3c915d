//! CSV batches: one vehicle per row, read row by row. The header names each column with a JSON
//! pointer into the ERP record (`/vin`, `/masses/running_order`, `/axles/0/tyres/0/size`); numeric
//! segments make arrays. Cells stay strings (the mapping's `type` converts them); an empty cell is
//! absent. A bad row is reported and the next row is read.

use std::io::Read;

use serde_json::{Map, Value};

use crate::FieldError;

/// Most columns.
pub const MAX_COLUMNS: usize = 1_000;
/// Longest row, in bytes.
pub const MAX_ROW_BYTES: usize = 1024 * 1024;

/// The rows of a CSV upload.
pub struct CsvRows<R: Read> {
    reader: csv::Reader<R>,
    columns: Vec<Vec<String>>,
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

fn header_error(message: String) -> FieldError {
    FieldError::new("header", "CSV-HEADER", message)
}

fn segments(pointer: &str) -> Vec<String> {
    pointer[1..]
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect()
}

impl<R: Read> CsvRows<R> {
    /// Reads the header row and checks it.
    pub fn new(reader: R) -> Result<Self, FieldError> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(false)
            .has_headers(true)
            .from_reader(reader);
        let header = reader
            .byte_headers()
            .map_err(|e| header_error(format!("cannot read the header row: {e}")))?
            .clone();
        if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
            return Err(header_error("the header row is empty".into()));
        }
        if header.len() > MAX_COLUMNS {
            return Err(header_error(format!(
                "{} columns; at most {MAX_COLUMNS}",
                header.len()
            )));
        }
        let mut names = Vec::with_capacity(header.len());
        for (i, raw) in header.iter().enumerate() {
            let name = std::str::from_utf8(raw)
                .map_err(|_| header_error(format!("column {} is not UTF-8", i + 1)))?;
            let name = name.trim_start_matches('\u{feff}').trim().to_owned();
            if !name.starts_with('/') || name.len() < 2 || name.ends_with('/') {
                return Err(header_error(format!(
                    "column {} `{name}` is not a JSON pointer such as /vin or /masses/running_order",
                    i + 1
                )));
            }
            if names.contains(&name) {
                return Err(header_error(format!("column `{name}` appears twice")));
            }
            names.push(name);
        }
        for a in &names {
            if let Some(b) = names.iter().find(|b| b.starts_with(&format!("{a}/"))) {
                return Err(header_error(format!(
                    "columns `{a}` and `{b}` conflict: `{a}` cannot be both a value and a group"
                )));
            }
        }
        let columns = names.iter().map(|n| segments(n)).collect();
        Ok(Self {
            reader,
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

/// Puts `value` at `path` in `root`, creating objects, and arrays for numeric segments.
fn insert(root: &mut Value, path: &[String], value: Value) -> Result<(), String> {
    let mut current = root;
    for (i, seg) in path.iter().enumerate() {
        let last = i + 1 == path.len();
        let index = seg.parse::<usize>().ok().filter(|_| seg.len() < 5);
        if current.is_null() {
            *current = if index.is_some() {
                Value::Array(Vec::new())
            } else {
                Value::Object(Map::new())
            };
        }
        current = match (current, index) {
            (Value::Array(items), Some(n)) => {
                if items.len() <= n {
                    items.resize(n + 1, Value::Null);
                }
                &mut items[n]
            }
            (Value::Object(map), None) => map.entry(seg.clone()).or_insert(Value::Null),
            _ => return Err(format!("segment `{seg}` mixes array indexes and names")),
        };
        if last {
            *current = value;
            return Ok(());
        }
    }
    Ok(())
}

impl<R: Read> Iterator for CsvRows<R> {
    type Item = Row;

    fn next(&mut self) -> Option<Row> {
        if self.done {
            return None;
        }
        let read = self.reader.read_byte_record(&mut self.record);
        self.number += 1;
        let number = self.number;
        match read {
            Ok(false) => None,
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
                    _ => e.to_string(),
                };
                let stop = !matches!(
                    e.kind(),
                    csv::ErrorKind::UnequalLengths { .. } | csv::ErrorKind::Utf8 { .. }
                );
                // An I/O error ends the stream: report it once.
                self.done = stop;
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
