//! CSV batches as ERPs write them: one vehicle per row, read row by row.
//!
//! The dialect: the delimiter is `,`, `;` or a tab, given by the tenant ([`Delimiter`]) or detected
//! from the header row (the most frequent of the three outside quotes; none, or a tie, is refused
//! with the counts, except that a lone JSON-pointer column such as `/vin` needs none). Cells may be quoted with `"` (a `""` inside is one quote, and a quoted cell may
//! hold the delimiter and line ends); lines end in LF or CRLF; a UTF-8 byte order mark at the start
//! is skipped.
//!
//! The header row names the columns, trimmed. A name that starts with `/` is a JSON pointer into the
//! ERP record (`/vin`, `/masses/running_order`, `/axles/0/tyres/0/size`); numeric segments make
//! arrays. Any other name is the ERP's own column name and becomes a top-level key of the record as
//! it is (`Datum vrijgave`), so the mapping reads it with `"from": "/Datum vrijgave"` (RFC 6901
//! escapes in the mapping: `~1` for a `/` in the name, `~0` for a `~`: `Massa/gewicht` is
//! `/Massa~1gewicht`). Both kinds may be mixed. An empty name, a name with a control character or
//! one that starts like a spreadsheet formula, and two columns naming the same field (`vin` and
//! `/vin` too) are refused.
//!
//! Cells stay strings (the mapping's `type` converts them); an empty cell is absent. A bad row
//! (wrong number of cells, invalid UTF-8, a formula-like cell, two filled columns that clash) is
//! reported with its row number, and column where there is one, and the next row is read.
//!
//! ```
//! use pipeline::csv_batch::CsvRows;
//! let csv = "/vin,/axles/0/number,/axles/1/number\nWEX1M1AB2C3456789,1,2\n";
//! let rows: Vec<_> = CsvRows::new(csv.as_bytes()).expect("a good header").collect();
//! let record = rows[0].record.as_ref().expect("a good row");
//! assert_eq!(record["axles"][1]["number"], "2");
//!
//! let erp = "\u{feff}Chassisnummer;Merk;Opmerking\r\nWEX1M1AB2C3456789;\"Van Dam; Zn\";\"12\"\" wiel\"\r\n";
//! let rows: Vec<_> = CsvRows::new(erp.as_bytes()).expect("a good header").collect();
//! let record = rows[0].record.as_ref().expect("a good row");
//! assert_eq!(record.pointer("/Merk").unwrap(), "Van Dam; Zn");
//! assert_eq!(record["Opmerking"], "12\" wiel");
//! ```

use std::io::{Chain, Cursor, Read};
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

/// A CSV cell separator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Delimiter {
    /// `,`
    #[serde(rename = ",")]
    Comma,
    /// `;`
    #[serde(rename = ";")]
    Semicolon,
    /// A tab (`"\t"` in JSON, or `"tab"`).
    #[serde(rename = "\t", alias = "tab")]
    Tab,
}

impl Delimiter {
    const ALL: [Self; 3] = [Self::Comma, Self::Semicolon, Self::Tab];

    /// The byte.
    pub fn byte(self) -> u8 {
        match self {
            Self::Comma => b',',
            Self::Semicolon => b';',
            Self::Tab => b'\t',
        }
    }

    fn shown(self) -> &'static str {
        match self {
            Self::Comma => "`,`",
            Self::Semicolon => "`;`",
            Self::Tab => "tab",
        }
    }
}

/// The upload's bytes: the header row, read ahead to find the delimiter, then the rest.
type Input<R> = Chain<Cursor<Vec<u8>>, R>;

/// The rows of a CSV upload.
pub struct CsvRows<R: Read> {
    reader: csv::Reader<Budgeted<Input<R>>>,
    /// Bytes pulled from the input since the current row began.
    used: Arc<AtomicUsize>,
    columns: Vec<Vec<Segment>>,
    names: Vec<String>,
    delimiter: Delimiter,
    number: usize,
    record: csv::ByteRecord,
    done: bool,
}

impl<R: Read> std::fmt::Debug for CsvRows<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvRows")
            .field("columns", &self.names)
            .field("delimiter", &self.delimiter)
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

const BOM: &[u8] = b"\xef\xbb\xbf";

/// Where the header row ends, and how often each delimiter occurs in it outside quotes. A quote
/// opens a quoted cell only at the start of a cell (after any of the three delimiters); `""`
/// inside is an escaped quote.
#[derive(Debug, Default)]
struct HeaderScan {
    /// Bytes scanned.
    pos: usize,
    /// A byte other than a line end was seen (blank lines before the header are skipped, as the
    /// csv reader skips them).
    started: bool,
    quoted: bool,
    /// Inside quotes, a `"` was just seen: it closes the cell unless another follows.
    quote_seen: bool,
    cell_start: bool,
    counts: [usize; 3],
    /// The offset of the header's line end, once found.
    end: Option<usize>,
}

impl HeaderScan {
    fn new() -> Self {
        Self {
            cell_start: true,
            ..Self::default()
        }
    }

    fn scan(&mut self, bytes: &[u8]) {
        while self.end.is_none() && self.pos < bytes.len() {
            let b = bytes[self.pos];
            self.started |= b != b'\n' && b != b'\r';
            if self.quoted {
                if self.quote_seen {
                    self.quote_seen = false;
                    if b != b'"' {
                        self.quoted = false;
                        continue; // this byte is outside the quotes: look again
                    }
                } else if b == b'"' {
                    self.quote_seen = true;
                }
            } else if let Some(i) = Delimiter::ALL.iter().position(|d| d.byte() == b) {
                self.counts[i] += 1;
                self.cell_start = true;
            } else if b == b'\n' || b == b'\r' {
                if self.started {
                    self.end = Some(self.pos);
                }
            } else {
                self.quoted = self.cell_start && b == b'"';
                self.cell_start = false;
            }
            self.pos += 1;
        }
    }
}

/// Reads the header row ahead (at most [`MAX_ROW_BYTES`]), without a leading BOM. Returns what was
/// read (the header and maybe more) and the header's delimiter counts.
fn read_header(reader: &mut impl Read) -> Result<(Vec<u8>, usize, [usize; 3]), FieldError> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8 * 1024];
    let mut scan = HeaderScan::new();
    let mut bom_checked = false;
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(header_error(format!("cannot read the header row: {e}"))),
        };
        buf.extend_from_slice(&chunk[..n]);
        if !bom_checked {
            if buf.len() < BOM.len() && n > 0 {
                continue;
            }
            if buf.starts_with(BOM) {
                buf.drain(..BOM.len());
            }
            bom_checked = true;
        }
        scan.scan(&buf);
        if n == 0 || scan.end.is_some() {
            let end = scan.end.unwrap_or(buf.len());
            if end > MAX_ROW_BYTES {
                break;
            }
            return Ok((buf, end, scan.counts));
        }
        if buf.len() > MAX_ROW_BYTES {
            break;
        }
    }
    Err(header_error(format!(
        "the header row is longer than {MAX_ROW_BYTES} bytes"
    )))
}

/// The delimiter the header row uses most, outside quotes; none, or a tie, is an error.
fn detect(counts: [usize; 3]) -> Result<Delimiter, FieldError> {
    let most = counts.iter().copied().max().unwrap_or(0);
    let counted = || {
        Delimiter::ALL
            .iter()
            .zip(counts)
            .map(|(d, n)| format!("{} {n}", d.shown()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if most == 0 {
        return Err(header_error(
            "the header row has none of the delimiters `,` `;` or tab outside quotes; \
             a file with one column, or another delimiter, needs the tenant's `csv_delimiter`"
                .into(),
        ));
    }
    let top: Vec<Delimiter> = Delimiter::ALL
        .into_iter()
        .zip(counts)
        .filter(|&(_, n)| n == most)
        .map(|(d, _)| d)
        .collect();
    if let [one] = top[..] {
        Ok(one)
    } else {
        let tied: Vec<&str> = top.iter().map(|d| d.shown()).collect();
        Err(header_error(format!(
            "cannot tell the delimiter: the header row has as many {} outside quotes ({}); \
             set the tenant's `csv_delimiter`",
            tied.join(" as "),
            counted()
        )))
    }
}

/// Where a header cell puts its value in the record, or why it cannot be a column.
fn column(name: &str) -> Result<Vec<Segment>, String> {
    if name.is_empty() {
        return Err("has no name".into());
    }
    if name.chars().any(char::is_control) {
        return Err("has a control character in its name".into());
    }
    if name.starts_with('/') {
        segments(name)
    } else if looks_like_formula(name) {
        Err("starts like a spreadsheet formula (=, +, -, @)".into())
    } else {
        Ok(vec![Segment::Key(name.to_owned())])
    }
}

impl<R: Read> CsvRows<R> {
    /// Reads the header row, detecting the delimiter, and checks it (see [`CsvRows::with_delimiter`]).
    pub fn new(reader: R) -> Result<Self, FieldError> {
        Self::with_delimiter(reader, None)
    }

    /// Reads the header row and checks it: not empty, at most [`MAX_COLUMNS`], every name a JSON
    /// pointer or a column name, no field twice. `delimiter` `None` detects it from the header row.
    /// Errors have the path `header`.
    pub fn with_delimiter(mut reader: R, delimiter: Option<Delimiter>) -> Result<Self, FieldError> {
        let (ahead, end, counts) = read_header(&mut reader)?;
        if ahead[..end].iter().all(u8::is_ascii_whitespace) {
            return Err(header_error("the header row is empty".into()));
        }
        let delimiter = match delimiter {
            Some(d) => d,
            // One pointer column (`/vin`), as before: nothing to detect, and nothing to mistake.
            None if counts == [0; 3] && ahead.trim_ascii_start().starts_with(b"/") => {
                Delimiter::Comma
            }
            None => detect(counts)?,
        };
        let used = Arc::new(AtomicUsize::new(0));
        let mut reader = csv::ReaderBuilder::new()
            .flexible(false)
            .has_headers(true)
            .delimiter(delimiter.byte())
            .from_reader(Budgeted {
                inner: Cursor::new(ahead).chain(reader),
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
            let name = name.trim().to_owned();
            let path = column(&name).map_err(|why| {
                header_error(if name.is_empty() {
                    format!("column {} {why}", i + 1)
                } else {
                    format!("column {} `{name}` {why}", i + 1)
                })
            })?;
            if let Some(j) = columns.iter().position(|c| *c == path) {
                return Err(header_error(format!(
                    "column {} `{name}` appears twice: column {} `{}` names the same field",
                    i + 1,
                    j + 1,
                    names[j]
                )));
            }
            names.push(name);
            columns.push(path);
        }
        Ok(Self {
            reader,
            used,
            columns,
            names,
            delimiter,
            number: 0,
            record: csv::ByteRecord::new(),
            done: false,
        })
    }

    /// The delimiter in use (given, or detected).
    pub fn delimiter(&self) -> Delimiter {
        self.delimiter
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

    use serde_json::json;

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

    fn rows(text: &str) -> Vec<Row> {
        CsvRows::new(text.as_bytes()).unwrap().collect()
    }

    fn header_message(text: &str) -> String {
        let e = CsvRows::new(text.as_bytes()).unwrap_err();
        assert_eq!((e.path.as_str(), e.code.as_str()), ("header", "CSV-HEADER"));
        e.message
    }

    #[test]
    fn the_delimiter_is_the_most_frequent_outside_quotes() {
        let detected = |text: &str| CsvRows::new(text.as_bytes()).unwrap().delimiter();
        assert_eq!(detected("/a,/b\n1,2\n"), Delimiter::Comma);
        assert_eq!(detected("a;b;c\r\n1;2;3\r\n"), Delimiter::Semicolon);
        assert_eq!(detected("a\tb\n1\t2\n"), Delimiter::Tab);
        // Delimiters inside quotes do not count, nor does anything after the header row.
        assert_eq!(
            detected("\"a,b,c\";\"d,\"\"e\"\",f\";g\n1,2,3,4,5,6\n"),
            Delimiter::Semicolon
        );
        // A quoted line end is not the end of the header (such a name is refused afterwards).
        let mut scan = HeaderScan::new();
        scan.scan(b"\"x\ny,z,w\";v\n1;2\n");
        assert_eq!((scan.end, scan.counts), (Some(11), [0, 1, 0]));
        assert_eq!(detect(scan.counts).unwrap(), Delimiter::Semicolon);
        // A quote inside an unquoted cell is just a character.
        assert_eq!(detected("a\"b;c;d\",e\n1;2;3\n"), Delimiter::Semicolon);
        // Blank lines before the header are skipped, as the reader skips them.
        let r = rows("\r\n\na;b\n1;2\n");
        assert_eq!(r[0].record.as_ref().unwrap(), &json!({"a": "1", "b": "2"}));
    }

    #[test]
    fn no_delimiter_or_a_tie_is_refused_with_the_counts() {
        let none = header_message("Chassisnummer\nV1\n");
        assert!(none.contains("none of the delimiters"), "{none}");
        assert!(none.contains("csv_delimiter"), "{none}");
        let tie = header_message("a,b;c\n1,2;3\n");
        assert!(tie.contains("`,` as `;`"), "{tie}");
        assert!(tie.contains("`,` 1, `;` 1, tab 0"), "{tie}");
        let three = header_message("a,b;c\td\n");
        assert!(three.contains("`,` as `;` as tab"), "{three}");
        // Quoted delimiters do not make a tie.
        assert_eq!(
            CsvRows::new("\"a;b\",c\n".as_bytes()).unwrap().delimiter(),
            Delimiter::Comma
        );
        let foreign = header_message("Chassisnummer|Merk\nV1|M\n");
        assert!(foreign.contains("none of the delimiters"), "{foreign}");
        // One pointer column needs no delimiter (as before).
        let one: Vec<_> = rows("/vin\r\nV1\r\n");
        assert_eq!(one[0].record.as_ref().unwrap(), &json!({"vin": "V1"}));
        assert!(header_message("").contains("empty"));
        assert!(header_message("\u{feff}\r\n").contains("empty"));
    }

    #[test]
    fn a_given_delimiter_is_used_as_it_is() {
        let read = |text: &str, d| -> Vec<Row> {
            CsvRows::with_delimiter(text.as_bytes(), Some(d))
                .unwrap()
                .collect()
        };
        // One column: nothing to detect, so the tenant says.
        let one = read("/vin\nV1\n", Delimiter::Semicolon);
        assert_eq!(one[0].record.as_ref().unwrap(), &json!({"vin": "V1"}));
        // The given delimiter wins over what the header has more of.
        let given = read(
            "Naam, voornaam;Plaats, land\nA, B;C, D\n",
            Delimiter::Semicolon,
        );
        assert_eq!(
            given[0].record.as_ref().unwrap(),
            &json!({"Naam, voornaam": "A, B", "Plaats, land": "C, D"})
        );
        let tab = read("a,b\tc\n1,2\t3\n", Delimiter::Tab);
        assert_eq!(
            tab[0].record.as_ref().unwrap(),
            &json!({"a,b": "1,2", "c": "3"})
        );
    }

    #[test]
    fn an_erp_export_semicolons_crlf_bom_quotes_and_own_names() {
        let text = "\u{feff}Chassisnummer; Datum vrijgave ;Merk;Opmerking;/axles/0/number\r\n\
                    XNB1;21-11-2026;\"Van Dam; Zn\";\"12\"\" wiel\r\ntweede regel\";1\r\n\
                    XNB2;;Merk;;\r\n\
                    XNB3;x\r\n";
        let r = rows(text);
        assert_eq!(r.len(), 3);
        assert_eq!(
            r[0].record.as_ref().unwrap(),
            &json!({
                "Chassisnummer": "XNB1",
                "Datum vrijgave": "21-11-2026",
                "Merk": "Van Dam; Zn",
                "Opmerking": "12\" wiel\r\ntweede regel",
                "axles": [{"number": "1"}],
            }),
            "the BOM is skipped, names are trimmed, quotes keep the delimiter, quotes and line ends"
        );
        assert_eq!(
            r[1].record.as_ref().unwrap(),
            &json!({"Chassisnummer": "XNB2", "Merk": "Merk"})
        );
        let ragged = r[2].record.as_ref().unwrap_err();
        assert_eq!((r[2].number, ragged[0].path.as_str()), (3, "row 3"));
        assert!(
            ragged[0].message.contains("2 cells"),
            "{}",
            ragged[0].message
        );
    }

    #[test]
    fn a_tab_file() {
        let r = rows("Chassisnummer\tMerk\tMassa (kg)\nXNB1\t\"A\tB\"\t4.780\n");
        assert_eq!(
            r[0].record.as_ref().unwrap(),
            &json!({"Chassisnummer": "XNB1", "Merk": "A\tB", "Massa (kg)": "4.780"})
        );
        // A cell starting with a tab (quoted) is still formula-like.
        let r = rows("a\tb\n\"\tx\"\ty\n");
        let e = r[0].record.as_ref().unwrap_err();
        assert_eq!(
            (e[0].code.as_str(), e[0].path.as_str()),
            ("CSV-FORMULA", "row 1, column a")
        );
    }

    #[test]
    fn column_names_and_their_refusals() {
        // Names are keys as they are: a `/` or `~` in a name is the mapping's `~1` / `~0`.
        let r = rows("Massa/gewicht;a~b;2024;/x~1y\n1;2;3;4\n");
        let record = r[0].record.as_ref().unwrap();
        assert_eq!(record.pointer("/Massa~1gewicht").unwrap(), "1");
        assert_eq!(record.pointer("/a~0b").unwrap(), "2");
        assert_eq!(record.pointer("/2024").unwrap(), "3");
        assert_eq!(record.pointer("/x~1y").unwrap(), "4");
        // The same field twice, by name or by pointer.
        for twice in ["Merk;Merk", "Merk; Merk ", "vin;/vin", "/a~1b;a/b"] {
            let m = header_message(&format!("{twice}\n1;2\n"));
            assert!(
                m.contains("appears twice") && m.contains("column 1"),
                "{twice}: {m}"
            );
        }
        let m = header_message("Merk;;Type\n1;2;3\n");
        assert!(m.contains("column 2 has no name"), "{m}");
        let m = header_message("Merk;=HYPERLINK(1);Type\n1;2;3\n");
        assert!(
            m.contains("column 2 `=HYPERLINK(1)`") && m.contains("formula"),
            "{m}"
        );
        let m = header_message("Merk;\"a\nb\"\n1;2\n");
        assert!(m.contains("control character"), "{m}");
        // A pointer is still checked as one.
        assert!(header_message("Merk;/a/01\n1;2\n").contains("index"));
        // A signed number is a name, not a formula.
        assert!(CsvRows::new("-1;+2\n1;2\n".as_bytes()).is_ok());
    }

    #[test]
    fn cell_refusals_name_row_and_column_names() {
        let r = rows("Chassisnummer;Merk\r\nXNB1;=1+1\r\n@x;M\r\n");
        assert_eq!(
            r[0].record.as_ref().unwrap_err()[0].path,
            "row 1, column Merk"
        );
        assert_eq!(
            r[1].record.as_ref().unwrap_err()[0].path,
            "row 2, column Chassisnummer"
        );
        let mut bytes = b"Chassisnummer;Merk\r\nXNB1;".to_vec();
        bytes.extend_from_slice(&[0xff, 0xfe]);
        bytes.extend_from_slice(b"\r\n");
        let r: Vec<_> = CsvRows::new(&bytes[..]).unwrap().collect();
        let e = r[0].record.as_ref().unwrap_err();
        assert_eq!(
            (e[0].code.as_str(), e[0].path.as_str()),
            ("CSV-UTF8", "row 1, column Merk")
        );
    }

    #[test]
    fn the_header_is_read_in_pieces_and_bounded() {
        /// Hands over one byte at a time.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let Some((&first, rest)) = self.0.split_first() else {
                    return Ok(0);
                };
                buf[0] = first;
                self.0 = rest;
                Ok(1)
            }
        }
        let text = "\u{feff}Merk;\"Type\"\"s\"\r\nM;T\r\n".as_bytes();
        let r: Vec<_> = CsvRows::new(Trickle(text)).unwrap().collect();
        assert_eq!(
            r[0].record.as_ref().unwrap(),
            &json!({"Merk": "M", "Type\"s": "T"})
        );
        let long = format!("a;\"{}\"\n", "x".repeat(MAX_ROW_BYTES + 1));
        assert!(header_message(&long).contains("longer than"));
        let unclosed = format!("a;\"{}", "x".repeat(2 * MAX_ROW_BYTES));
        assert!(header_message(&unclosed).contains("longer than"));
    }

    #[test]
    fn the_tenant_names_a_delimiter() {
        let tenant = |extra: &str| {
            serde_json::from_str::<crate::tenant::Tenant>(&format!(
                r#"{{"id": "t1", "name": "T"{extra}}}"#
            ))
        };
        assert_eq!(tenant("").unwrap().csv_delimiter, None);
        assert_eq!(
            tenant(r#", "csv_delimiter": null"#).unwrap().csv_delimiter,
            None
        );
        for (given, d) in [
            (",", Delimiter::Comma),
            (";", Delimiter::Semicolon),
            ("\\t", Delimiter::Tab),
            ("tab", Delimiter::Tab),
        ] {
            let t = tenant(&format!(r#", "csv_delimiter": "{given}""#)).unwrap();
            assert_eq!(t.csv_delimiter, Some(d), "{given}");
            let back: crate::tenant::Tenant =
                serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
            assert_eq!(back, t);
        }
        assert!(tenant(r#", "csv_delimiter": "|""#).is_err());
    }
}
