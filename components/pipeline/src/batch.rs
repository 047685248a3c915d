//! A CSV batch through the `map` step: each row is mapped, the mapped files go to `validate` in
//! chunks (several chunks at once), and the caller gets one line per row as results come in, then
//! a summary. Nothing is streamed until something was stored (or a full chunk was judged), so a
//! batch in which every row is refused is answered as a whole, with a 4xx ([`Refused`]).

use crate::calls::{Admitted, Outcome};
use crate::csv_batch::Row;
use crate::record::Status;
use crate::{Error, Result};

/// Files per `validate` call (one schema compile each).
pub const CHUNK: usize = 50;

/// `validate` calls kept in flight (one per core of a small host).
pub const IN_FLIGHT: usize = 2;

/// One row's result.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RowResult {
    /// The CSV row number (the header is row 1).
    pub row: usize,
    /// 202 when stored; otherwise the status the row alone would have got.
    pub status: u16,
    /// The record id, when stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The VIN, when stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vin: Option<String>,
    /// The record's status, when stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<Status>,
    /// The refusal, as a single upload would have been answered.
    #[serde(default, skip_serializing_if = "Option::is_none", flatten)]
    pub refusal: Option<crate::ErrorBody>,
}

impl RowResult {
    fn new(row: usize, outcome: Result<crate::record::RecordView>) -> Self {
        match outcome {
            Ok(view) => Self {
                row,
                status: 202,
                id: Some(view.record.id),
                vin: Some(view.record.vin),
                state: Some(view.record.status),
                refusal: None,
            },
            Err(e) => Self {
                row,
                status: e.status(),
                id: None,
                vin: None,
                state: None,
                refusal: Some(e.to_body()),
            },
        }
    }
}

/// Counts of a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// Rows read.
    pub rows: usize,
    /// Rows stored.
    pub accepted: usize,
    /// Rows refused.
    pub refused: usize,
}

/// The last line of a streamed batch answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SummaryLine {
    /// The counts.
    pub summary: Summary,
}

/// The answer to a batch of which no row was stored, with every row's result: 422 when the rows
/// were refused (each line says why), 400 for a CSV without rows, and the status and code of the
/// failure when a step failed (5xx: not the rows' fault, and worth sending again).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Refused {
    /// The code of the answer (`invalid_fields`, `duplicate`, `store_unavailable`, ...).
    pub error: String,
    /// Why, in words.
    pub message: String,
    /// Every row's result.
    pub rows: Vec<RowResult>,
    /// The counts.
    pub summary: Summary,
    /// The answer's status.
    #[serde(skip)]
    pub status: u16,
}

impl Refused {
    /// The status it is answered with.
    pub fn status(&self) -> u16 {
        self.status
    }
}

/// Where the lines go.
pub trait Lines {
    /// One row's result.
    fn line(&mut self, line: RowResult);
    /// From now on the answer is a 200 stream: something was stored, or more rows may follow.
    fn open(&mut self);
}

/// Admits chunks of mapped files (one `validate` call per chunk, several at once): one answer per
/// chunk, in order.
pub type AdmitChunks<'a> = dyn FnMut(&[Vec<String>]) -> Vec<Result<Admitted>> + 'a;

/// Maps one row's record to IVI XML (the tenant's mapper and mapping: [`crate::mapper::record_to_xml`]).
pub type RowToXml<'a> = dyn FnMut(&serde_json::Value) -> Result<String> + 'a;

/// Runs a batch: maps every row, admits the mapped files [`CHUNK`] at a time ([`IN_FLIGHT`] chunks
/// at once), and tells `lines` each row's result in row order per chunk.
pub fn run(
    rows: impl Iterator<Item = Row>,
    to_xml: &mut RowToXml<'_>,
    admit: &mut AdmitChunks<'_>,
    lines: &mut dyn Lines,
) -> Summary {
    let mut summary = Summary::default();
    let mut pending: Vec<(usize, String)> = Vec::new();
    for row in rows {
        summary.rows += 1;
        match row
            .record
            .map_err(Error::Fields)
            .and_then(|record| to_xml(&record))
        {
            Ok(xml) => pending.push((row.number, xml)),
            Err(e) => {
                summary.refused += 1;
                lines.line(RowResult::new(row.number, Err(e)));
            }
        }
        if pending.len() >= CHUNK * IN_FLIGHT {
            flush(&mut pending, admit, lines, &mut summary);
        }
    }
    flush(&mut pending, admit, lines, &mut summary);
    summary
}

fn flush(
    pending: &mut Vec<(usize, String)>,
    admit: &mut AdmitChunks<'_>,
    lines: &mut dyn Lines,
    summary: &mut Summary,
) {
    if pending.is_empty() {
        return;
    }
    let full_chunk = pending.len() >= CHUNK;
    let chunks: Vec<Vec<String>> = pending
        .chunks(CHUNK)
        .map(|c| c.iter().map(|(_, xml)| xml.clone()).collect())
        .collect();
    let answers = admit(&chunks);
    let mut accepted = 0;
    let mut rows = pending.drain(..);
    for (chunk, answer) in chunks.iter().zip(answers) {
        let outcomes: Vec<Result<crate::record::RecordView>> = match answer {
            // A short answer leaves no row without a line.
            Ok(admitted) => admitted
                .results
                .into_iter()
                .map(Outcome::into_result)
                .chain(std::iter::repeat_with(|| {
                    Err(Error::Internal(
                        "validate answered no result for the row".into(),
                    ))
                }))
                .take(chunk.len())
                .collect(),
            Err(e) => chunk.iter().map(|_| Err(e.clone())).collect(),
        };
        // Outcomes first: `zip` pulls from its first side first, and a row pulled for an outcome
        // that is not there would be lost.
        for (outcome, (row, _)) in outcomes.into_iter().zip(rows.by_ref()) {
            accepted += usize::from(outcome.is_ok());
            summary.refused += usize::from(outcome.is_err());
            lines.line(RowResult::new(row, outcome));
        }
    }
    summary.accepted += accepted;
    if accepted > 0 || full_chunk {
        lines.open();
    }
}

/// The whole-batch refusal for a batch of which nothing was stored (see [`Refused`]).
pub fn refused(summary: Summary, rows: Vec<RowResult>) -> Refused {
    let worst = rows.iter().max_by_key(|r| (r.status >= 500, r.status));
    let (status, error, message) = match worst {
        None => (
            400,
            "bad_request".to_owned(),
            "the CSV has a header but no rows".to_owned(),
        ),
        Some(row) if row.status >= 500 => {
            let body = row.refusal.as_ref();
            (
                row.status,
                body.map_or_else(|| "internal".to_owned(), |b| b.error.clone()),
                format!(
                    "no row of the batch was accepted; row {}: {}",
                    row.row,
                    body.map_or("", |b| b.message.as_str())
                ),
            )
        }
        Some(_) => (
            422,
            "invalid_fields".to_owned(),
            "no row of the batch was accepted".to_owned(),
        ),
    };
    Refused {
        error,
        message,
        rows,
        summary,
        status,
    }
}
